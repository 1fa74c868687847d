/**
 * rclone agrees: rclone's own onedrive backend, unmodified, pointed at the OneDrive emulator over
 * TLS on graph.microsoft.com / login.microsoftonline.com (shared/specs/providers.md D.1: a private
 * hosts file in a mount namespace and the emulator's CA), lists, uploads (one upload cut by the
 * emulator and resumed by rclone within its session), downloads and deletes; and what it reports
 * (names, sizes, quickXorHash, mtimes) equals what knarr's connector reports, for files rclone
 * wrote and for files knarr wrote, names that need the encoder included. With every rclone
 * available (Debian's 1.60.1 and the cached 1.76.0 build).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { createOneDriveConnector, type OneDriveConfig, type OneDriveConnector } from '../../connectors/onedrive/index.js';
import { quickXorOf } from '../../connectors/shared/quickxor.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { bufferSource, collect, expectKind, readAll, rejectionOf } from '../conformance/suite.js';
import { ONEDRIVE_HOSTS, startOneDriveEmulator, type OneDriveEmulator } from '../fakes/onedrive/index.js';
import { findRclones, namespacedRclone, onRandomLoopback443, type NamespacedRclone } from '../fakes/shared/rclone.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const hex = (data: Buffer) => Buffer.from(quickXorOf(data), 'base64').toString('hex');

/** Names rclone's default onedrive encoding and knarr's rules both have to carry. */
const NAMES = ['plain.txt', 'a:b?c.txt', 'star*pipe|.txt', ' lead', 'trail.', 'trail ', '~tilde', 'quote"lt<gt>', 'back\\slash', 'æøå ✓.txt', 'dir #1/inner %20.txt'];

interface LsEntry {
  Path: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: Record<string, string>;
}

const rclones = await findRclones();
if (rclones.length === 0) throw new Error('rclone not found: run `bash scripts/install-test-servers.sh`');

/** rclone's hash names by version (1.60.1: `SHA-1`, `QuickXorHash`; later: `sha1`, `quickxor`) as knarr's. */
function hashesOf(h: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const type = k.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (type === 'sha1') out.sha1 = v.toLowerCase();
    if (type === 'quickxor' || type === 'quickxorhash') out.quickxor = v.toLowerCase();
  }
  return out;
}

// rclone 1.60.1 checks SHA-1 on drive_type personal and quickXorHash on business; later ones quickXorHash on both.
for (const bin of rclones) for (const driveType of ['personal', 'business'] as const) {
  describe(`rclone (${bin}) and knarr agree on the OneDrive emulator (${driveType})`, () => {
    let emu: OneDriveEmulator;
    let rc: NamespacedRclone;
    let knarr: OneDriveConnector;
    let local: string;
    const mtimeOf = (i: number) => Date.UTC(2021, 4, 1 + i, 8, 19, 9);

    beforeAll(async () => {
      ({ server: emu } = await onRandomLoopback443((address) => startOneDriveEmulator({ host: address, port: 443, tls: true, driveType })));
      const token = JSON.stringify(emu.issueToken());
      rc = await namespacedRclone({
        rclone: bin,
        address: emu.address,
        hosts: ONEDRIVE_HOSTS,
        caCert: emu.caCert!,
        config: `[od]\ntype = onedrive\ndrive_id = ${emu.driveId}\ndrive_type = ${emu.driveType}\nclient_id = ${emu.clientId}\nclient_secret = ${emu.clientSecret}\ntoken = ${token}\n`,
      });
      const { token: t, clientSecret, ...config } = emu.remoteConfig();
      knarr = createOneDriveConnector(config as OneDriveConfig, { host: unrestrictedHost, remoteName: 'od', credentials: memoryCredentials({ token: t, clientSecret }) }, { ca: emu.caCert, copyPollMs: 20 });
      local = join(rc.dir, 'local');
      for (const [i, name] of NAMES.entries()) {
        await mkdir(join(local, name, '..'), { recursive: true });
        await writeFile(join(local, name), `data of ${name}`);
        await utimes(join(local, name), mtimeOf(i) / 1000, mtimeOf(i) / 1000);
      }
      console.log(`rclone under test: ${rc.version}; emulator on ${emu.address}:443`);
    }, 120_000);
    afterAll(async () => {
      await knarr?.close();
      await rc?.stop();
      await emu?.stop();
    });

    const lsjson = async (path: string): Promise<LsEntry[]> => (JSON.parse(await rc.ok(['lsjson', '-R', '--hash', '--files-only', path])) as LsEntry[]).sort((a, b) => (a.Path < b.Path ? -1 : 1));
    const rcloneView = (entries: LsEntry[]) => entries.map((e) => ({ path: e.Path, size: e.Size, mtimeMs: Date.parse(e.ModTime), hashes: hashesOf(e.Hashes) }));
    /** knarr's entries with the hashes rclone reports for this drive (each must be there, and equal). */
    const knarrView = (entries: Entry[], prefix: string, types: readonly string[]) =>
      entries
        .filter((e) => !e.isDir)
        .map((e) => ({ path: e.path.slice(prefix.length + 1), size: e.size, mtimeMs: e.mtimeMs, hashes: Object.fromEntries(types.map((t) => [t, e.hashes[t as 'sha1'] ?? ''])) }))
        .sort((a, b) => (a.path < b.path ? -1 : 1));
    const typesOf = (view: { hashes: Record<string, string> }[]) => {
      const types = Object.keys(view[0]?.hashes ?? {});
      expect(types.length, 'rclone reports a hash').toBeGreaterThan(0);
      return types;
    };

    it('rclone writes (names that need the encoder, a cut upload it resumes), knarr lists and reads the same', async () => {
      await rc.ok(['copy', local, 'od:from-rclone']);
      const big = randomBytes(12 * MiB + 321);
      await writeFile(join(local, '..', 'big.bin'), big);
      await utimes(join(local, '..', 'big.bin'), mtimeOf(50) / 1000, mtimeOf(50) / 1000);
      // The emulator cuts the session's second fragment: rclone sends that fragment again.
      emu.faults.cutNextUpload(10 * MiB + 100 * KiB);
      const before = emu.stats.uploadBytes;
      await rc.ok(['copyto', join(local, '..', 'big.bin'), 'od:from-rclone/big.bin']);
      expect(emu.stats.cutUploads).toBeGreaterThanOrEqual(1);
      expect(emu.stats.uploadBytes - before).toBe(big.length + 100 * KiB);

      const theirs = rcloneView(await lsjson('od:from-rclone'));
      const ours = knarrView((await collect(knarr.walk('from-rclone'))).entries, 'from-rclone', typesOf(theirs));
      expect(ours).toEqual(theirs);
      expect(ours.map((e) => e.path).sort()).toEqual([...NAMES, 'big.bin'].sort());
      for (const [i, name] of NAMES.entries()) {
        const e = ours.find((x) => x.path === name)!;
        expect(e.mtimeMs, name).toBe(mtimeOf(i));
        if (e.hashes.quickxor) expect(e.hashes.quickxor, name).toBe(hex(Buffer.from(`data of ${name}`)));
        expect((await readAll(await knarr.read(`from-rclone/${name}`))).toString(), name).toBe(`data of ${name}`);
      }
      expect((await readAll(await knarr.read('from-rclone/big.bin'))).equals(big)).toBe(true);
      expect(ours.find((e) => e.path === 'big.bin')).toMatchObject({ mtimeMs: mtimeOf(50) });
      expect((await knarr.stat('from-rclone/big.bin')).hashes.quickxor).toBe(hex(big));
      // The names as stored are rclone's substitutes, which knarr also writes.
      const stored = emu.list().filter((f) => f.path.startsWith('from-rclone/')).map((f) => f.path);
      expect(stored).toContain('from-rclone/a：b？c.txt');
      expect(stored).toContain('from-rclone/～tilde');
      expect(stored).toContain('from-rclone/␠lead');
    }, 240_000);

    it('knarr writes (a cut upload it resumes from nextExpectedRanges), rclone lists, hashes and reads the same', async () => {
      for (const [i, name] of NAMES.entries()) await knarr.write(`from-knarr/${name}`, bufferSource(Buffer.from(`data of ${name}`), { mtimeMs: mtimeOf(i) }));
      const big = randomBytes(3 * MiB + 7);
      const states: UploadState[] = [];
      emu.faults.cutNextUpload(MiB + 5);
      await rejectionOf(() => knarr.write('from-knarr/big.bin', bufferSource(big, { mtimeMs: mtimeOf(60) }), { chunkSize: 640 * KiB, onCheckpoint: (s) => void states.push(structuredClone(s)) }));
      const res = await knarr.write('from-knarr/big.bin', bufferSource(big, { mtimeMs: mtimeOf(60) }), { chunkSize: 640 * KiB, resume: states.at(-1) });
      expect(res.resumedFrom).toBe(640 * KiB);

      const theirs = rcloneView(await lsjson('od:from-knarr'));
      const ours = knarrView((await collect(knarr.walk('from-knarr'))).entries, 'from-knarr', typesOf(theirs));
      expect(theirs).toEqual(ours);
      expect(theirs.find((e) => e.path === 'big.bin')).toMatchObject({ size: big.length, mtimeMs: mtimeOf(60) });
      expect(res.hashes.quickxor).toBe(hex(big));
      expect((await knarr.stat('from-knarr/big.bin')).hashes.quickxor).toBe(hex(big));
      // rclone checks the quickXorHash of what it downloads against the listing's.
      const out = join(rc.dir, 'back');
      await rc.ok(['copy', 'od:from-knarr', out]);
      expect((await readFile(join(out, 'big.bin'))).equals(big)).toBe(true);
      for (const name of NAMES) expect((await readFile(join(out, name))).toString(), name).toBe(`data of ${name}`);
      await rc.ok(['check', out, 'od:from-knarr', '--download']);
    }, 240_000);

    it('deletes: what rclone deletes is gone for knarr, and the other way round', async () => {
      await rc.ok(['deletefile', 'od:from-knarr/plain.txt']);
      await expectKind(() => knarr.stat('from-knarr/plain.txt'), 'not_found');
      await knarr.delete('from-rclone/a:b?c.txt');
      const left = (await lsjson('od:from-rclone')).map((e) => e.Path);
      expect(left).not.toContain('a:b?c.txt');
      expect(left).toContain('star*pipe|.txt');
      await rc.ok(['purge', 'od:from-rclone/dir #1']);
      await expectKind(() => knarr.stat('from-rclone/dir #1'), 'not_found');
    }, 120_000);
  });
}
