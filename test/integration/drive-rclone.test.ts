/**
 * THE INDEPENDENT CLIENT CHECK of the Drive emulator and connector: an unmodified rclone `drive`
 * backend, pointed at the emulator's HTTPS listener for www.googleapis.com and
 * oauth2.googleapis.com (providers.md D.1: a private hosts file in a mount namespace, the test CA),
 * lists, uploads (multipart, resumable, a cut upload continued in its session by each client),
 * downloads and deletes. What rclone reports (names, sizes, MD5s, mtimes) must equal what knarr's connector
 * reports, both ways: rclone writes and knarr reads, knarr writes and rclone reads. With Debian's
 * rclone 1.60.1 and the v1.76.0 build when cached; rclone missing is a failure, never a skip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { createDriveConnector, type DriveConnector, type DriveUploadState } from '../../connectors/drive/index.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { DRIVE_HOSTS, startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { findRclones, INSTALL_HINT, namespacedRclone, onRandomLoopback443, type NamespacedRclone } from '../fakes/shared/rclone.js';
import { bufferSource, collect, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const MiB = 1024 * KiB;
const rclones = await findRclones();

interface LsEntry {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  MimeType?: string;
  Hashes?: { md5?: string };
}

/** What both tools must agree on: path, size, md5 and mtime (ms) of each file; folders by path. */
function fromRclone(list: LsEntry[]): string[] {
  return list.map((x) => (x.IsDir ? `${x.Path}/` : `${x.Path} ${x.Size} ${x.Hashes?.md5 ?? '-'} ${Date.parse(x.ModTime)}`)).sort();
}
function fromKnarr(entries: Entry[], under: string): string[] {
  return entries.map((x) => {
    const path = x.path.slice(under.length + 1);
    return x.isDir ? `${path}/` : `${path} ${x.size} ${x.hashes.md5 ?? '-'} ${x.mtimeMs}`;
  }).sort();
}

if (rclones.length === 0) {
  it('rclone is installed', () => {
    throw new Error(INSTALL_HINT);
  });
}

describe.each(rclones)('rclone %s against the Drive emulator', (bin) => {
  let emu: DriveEmulator;
  let rc: NamespacedRclone;
  let knarr: DriveConnector;

  beforeAll(async () => {
    ({ server: emu } = await onRandomLoopback443((address) => startDriveEmulator({ host: address, port: 443, tls: true })));
    // An expired access token: rclone's first act is a refresh at oauth2.googleapis.com, the emulator's.
    const token = { ...emu.issueToken(), expiry: new Date(Date.now() - 60_000).toISOString() };
    const config = ['[gd]', 'type = drive', 'scope = drive', `client_id = ${emu.clientId}`, `client_secret = ${emu.clientSecret}`, `token = ${JSON.stringify(token)}`, ''].join('\n');
    rc = await namespacedRclone({ rclone: bin, address: emu.address, hosts: DRIVE_HOSTS, caCert: emu.caCert as string, config });
    const { token: t, clientSecret, ...settings } = emu.remoteConfig();
    knarr = createDriveConnector(settings, { host: unrestrictedHost, remoteName: 'gd', credentials: memoryCredentials({ token: t, clientSecret }) }, { ca: emu.caCert });
  });
  afterAll(async () => {
    await knarr?.close();
    await rc?.stop();
    await emu?.stop();
  });

  const lsjson = async (path: string): Promise<LsEntry[]> => JSON.parse(await rc.ok(['lsjson', '-R', '--hash', `gd:${path}`])) as LsEntry[];

  it('rclone writes (multipart, resumable, and a cut upload continued in its session); knarr lists and reads the same', async () => {
    const refreshes = emu.oauth.stats.refreshes;
    const src = join(rc.dir, 'up');
    await mkdir(join(src, 'deep/er'), { recursive: true });
    const files: Record<string, Buffer> = {
      'small.txt': Buffer.from('hello drive\n'),
      'æøå name #1.txt': randomBytes(1000),
      'deep/er/twenty.bin': randomBytes(20 * MiB + 123),
      'deep/cut.bin': randomBytes(10 * MiB + 5),
      'empty.bin': Buffer.alloc(0),
    };
    // Half a second is exact in utimes' floating-point seconds; .123 would come back as .122.
    const mtime = new Date(Date.UTC(2024, 4, 1, 8, 19, 9, 500));
    for (const [p, d] of Object.entries(files)) {
      await writeFile(join(src, p), d);
      await utimes(join(src, p), mtime, mtime);
    }
    // rclone's chunks are 8 MiB: the cut falls in the middle of the second one of the 10 MiB file (files go one at a time).
    await rc.ok(['copy', '--transfers', '1', '--checkers', '1', '--exclude', 'deep/cut.bin', src, 'gd:from-rclone']);
    const before = emu.stats;
    emu.faults.cutUploadAfter(9 * MiB);
    await rc.ok(['copy', '--transfers', '1', join(src, 'deep'), 'gd:from-rclone/deep', '--include', 'cut.bin', '--low-level-retries', '5']);
    const after = emu.stats;
    // rclone sends the cut chunk again into the same session (a low-level retry): the 8 MiB
    // before it are not sent twice.
    expect(after.resumableSessions - before.resumableSessions).toBe(1);
    expect(after.uploadBytes - before.uploadBytes).toBe(9 * MiB + (files['deep/cut.bin'].length - 8 * MiB));
    expect(emu.oauth.stats.refreshes).toBeGreaterThan(refreshes);

    const viaRclone = fromRclone(await lsjson('from-rclone'));
    const viaKnarr = fromKnarr((await collect(knarr.walk('from-rclone'))).entries, 'from-rclone');
    expect(viaKnarr).toEqual(viaRclone);
    for (const [p, d] of Object.entries(files)) {
      const line = viaKnarr.find((l) => l.startsWith(`${p} `));
      expect(line, p).toBe(`${p} ${d.length} ${md5(d)} ${mtime.getTime()}`);
      expect(md5(await readAll(await knarr.read(`from-rclone/${p}`)))).toBe(md5(d));
    }
  });

  it('knarr writes (multipart, resumable, resumed after a cut); rclone lists, hashes and downloads the same', async () => {
    const small = Buffer.from('from knarr');
    const big = randomBytes(3 * MiB + 17);
    const mtime = Date.UTC(2023, 0, 2, 3, 4, 5, 678);
    await knarr.write('from-knarr/small.txt', bufferSource(small, { mtimeMs: mtime }));
    const checkpoints: UploadState[] = [];
    emu.faults.cutUploadAfter(MiB + 100 * KiB);
    await rejectionOf(() => knarr.write('from-knarr/sub/big.bin', bufferSource(big, { mtimeMs: mtime }), { chunkSize: 512 * KiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    const resumed = await knarr.write('from-knarr/sub/big.bin', bufferSource(big, { mtimeMs: mtime }), { chunkSize: 512 * KiB, resume: checkpoints.at(-1) as DriveUploadState });
    expect(resumed.resumedFrom).toBe(MiB);

    const viaRclone = fromRclone(await lsjson('from-knarr'));
    expect(viaRclone).toEqual(fromKnarr((await collect(knarr.walk('from-knarr'))).entries, 'from-knarr'));
    expect(viaRclone).toEqual([`small.txt ${small.length} ${md5(small)} ${mtime}`, 'sub/', `sub/big.bin ${big.length} ${md5(big)} ${mtime}`].sort());
    expect(await rc.ok(['cat', 'gd:from-knarr/small.txt'])).toBe(small.toString());
    const sums = await rc.ok(['md5sum', '--download', 'gd:from-knarr']);
    expect(sums).toContain(`${md5(big)}  sub/big.bin`);
    expect(sums).toContain(`${md5(small)}  small.txt`);
  });

  it('agree on what Drive alone has: Google Docs under export names, "/" in names; of duplicates knarr lists the newest of what rclone lists', async () => {
    emu.createGoogleDoc('special/Notes', 'document');
    await emu.seed('special/dup.txt', 'older', { mtime: Date.UTC(2021, 0, 1) });
    await emu.seed('special/dup.txt', 'newer!', { mtime: Date.UTC(2022, 0, 1), duplicate: true });
    emu.createGoogleDoc('special/Sheet', 'spreadsheet');
    await emu.seed('special/x', 'slashed', { mtime: Date.UTC(2022, 1, 1) });
    emu.store.update(emu.item('special/x') as NonNullable<ReturnType<DriveEmulator['item']>>, { name: 'AC/DC' });
    const rcl = await lsjson('special');
    const knarrList = (await collect(knarr.list('special'))).entries;
    // rclone lists both duplicates (and logs "Duplicate object found"); knarr one, and a notice.
    expect(rcl.map((x) => x.Path).sort()).toEqual(['AC／DC', 'Notes.docx', 'Sheet.xlsx', 'dup.txt', 'dup.txt']);
    expect(knarrList.map((x) => x.path.slice('special/'.length)).sort()).toEqual(['AC／DC', 'Notes.docx', 'Sheet.xlsx', 'dup.txt']);
    const newest = rcl.filter((x) => x.Path === 'dup.txt').sort((a, b) => Date.parse(b.ModTime) - Date.parse(a.ModTime))[0];
    expect(knarrList.find((x) => x.path === 'special/dup.txt')).toMatchObject({ size: newest.Size, hashes: { md5: newest.Hashes?.md5 }, mtimeMs: Date.parse(newest.ModTime) });
    expect(rcl.find((x) => x.Path === 'Notes.docx')?.Size).toBe(-1);
    expect(knarrList.find((x) => x.path === 'special/Notes.docx')?.size).toBe(-1);
  });

  it('deletes: rclone to the trash, knarr sees it gone; knarr deletes, rclone sees it gone', async () => {
    await knarr.write('del/a.txt', bufferSource(Buffer.from('a')));
    await knarr.write('del/b.txt', bufferSource(Buffer.from('b')));
    await rc.ok(['deletefile', 'gd:del/a.txt']);
    await knarr.delete('del/b.txt');
    expect((await collect(knarr.list('del'))).entries).toEqual([]);
    expect(await lsjson('del')).toEqual([]);
    expect(emu.list({ includeTrashed: true }).filter((x) => x.path.startsWith('del/')).map((x) => [x.path, x.trashed])).toEqual([
      ['del/a.txt', true],
      ['del/b.txt', true],
    ]);
  });
});
