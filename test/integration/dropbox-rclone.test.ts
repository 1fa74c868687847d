/**
 * THE INDEPENDENT CLIENT CHECK of the Dropbox emulator and connector: an unmodified rclone
 * `dropbox` backend, pointed at the emulator's HTTPS listener for api/content.dropboxapi.com
 * (providers.md D.1: a private hosts file in a mount namespace, the test CA), refreshes its token
 * there, lists, uploads (batched small files, chunked sessions, a cut upload it sends again),
 * downloads (by id:) and deletes. What rclone reports (names, sizes, Dropbox content hashes,
 * mtimes) must equal what knarr's connector reports, both ways: rclone writes and knarr reads,
 * knarr writes (a resumed upload and a parallel-part upload included) and rclone reads. With
 * Debian's rclone 1.60.1 and the v1.76.0 build when cached; rclone missing is a failure, never a skip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { dropboxContentHash } from '../../connectors/shared/dropboxHash.js';
import { createDropboxConnector, type DropboxConfig, type DropboxConnector } from '../../connectors/dropbox/index.js';
import { unrestrictedHost, type ChangeBatch, type UploadState } from '../../connectors/types.js';
import { DROPBOX_HOSTS, startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { findRclones, INSTALL_HINT, namespacedRclone, onRandomLoopback443, type NamespacedRclone } from '../fakes/shared/rclone.js';
import { bufferSource, collect, expectKind, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const MiB = 1024 * KiB;
const rclones = await findRclones();

interface LsEntry {
  Path: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { dropbox?: string };
}

/** What both tools must agree on: path, size, content hash and mtime (ms) of each file; folders by path. */
function fromRclone(list: LsEntry[]): string[] {
  return list.map((x) => (x.IsDir ? `${x.Path}/` : `${x.Path} ${x.Size} ${x.Hashes?.dropbox ?? '-'} ${Date.parse(x.ModTime)}`)).sort();
}
function fromKnarr(entries: Entry[], under: string): string[] {
  return entries.map((x) => {
    const path = x.path.slice(under.length + 1);
    return x.isDir ? `${path}/` : `${path} ${x.size} ${x.hashes.dropbox ?? '-'} ${x.mtimeMs}`;
  }).sort();
}

if (rclones.length === 0) {
  it('rclone is installed', () => {
    throw new Error(INSTALL_HINT);
  });
}

describe.each(rclones)('rclone %s against the Dropbox emulator', (bin) => {
  let emu: DropboxEmulator;
  let rc: NamespacedRclone;
  let knarr: DropboxConnector;

  beforeAll(async () => {
    ({ server: emu } = await onRandomLoopback443((address) => startDropboxEmulator({ host: address, port: 443, tls: true })));
    // An expired access token: rclone's first act is a refresh at api.dropboxapi.com/oauth2/token, the emulator's.
    const token = { ...emu.issueToken(), expiry: new Date(Date.now() - 60_000).toISOString() };
    const config = ['[db]', 'type = dropbox', `client_id = ${emu.clientId}`, `client_secret = ${emu.clientSecret}`, `token = ${JSON.stringify(token)}`, ''].join('\n');
    rc = await namespacedRclone({ rclone: bin, address: emu.address, hosts: DROPBOX_HOSTS, caCert: emu.caCert as string, config });
    const { token: t, clientSecret, ...settings } = emu.remoteConfig();
    knarr = createDropboxConnector(settings as DropboxConfig, { host: unrestrictedHost, remoteName: 'db', credentials: memoryCredentials({ token: t, clientSecret }) }, { ca: emu.caCert });
  });
  afterAll(async () => {
    await knarr?.close();
    await rc?.stop();
    await emu?.stop();
  });

  const lsjson = async (path: string): Promise<LsEntry[]> => JSON.parse(await rc.ok(['lsjson', '-R', '--hash', `db:${path}`])) as LsEntry[];

  it('rclone writes (batched small files, a chunked session, a cut upload it sends again); knarr lists and reads the same', async () => {
    const refreshes = emu.oauth.stats.refreshes;
    const src = join(rc.dir, 'up');
    await mkdir(join(src, 'deep/er'), { recursive: true });
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('alpha'),
      'empty.bin': Buffer.alloc(0),
      'Æøå blåbær.txt': Buffer.from('norsk'),
      'back\\slash': Buffer.from('bs'),
      'trailing space ': Buffer.from('ts'),
      'deep/er/three-chunks.bin': randomBytes(3 * MiB + 123),
      'deep/cut.bin': randomBytes(2 * MiB + 5),
    };
    const mtime = new Date(Date.UTC(2022, 2, 3, 4, 5, 6));
    for (const [name, data] of Object.entries(files)) {
      await writeFile(join(src, name), data);
      await utimes(join(src, name), mtime, mtime);
    }
    const batchesBefore = emu.stats.finishBatches;
    // The connection of one upload is cut part-way: rclone sends that chunk again.
    emu.faults.cutUploadAfter(4 * MiB + 100 * KiB);
    await rc.ok(['copy', src, 'db:from-rclone', '--dropbox-chunk-size', '1M', '--transfers', '4'], { timeoutMs: 240_000 });
    expect(emu.stats.cuts).toBeGreaterThan(0);
    expect(emu.oauth.stats.refreshes).toBeGreaterThan(refreshes);
    expect(emu.stats.finishBatches).toBeGreaterThan(batchesBefore);

    const theirs = fromRclone(await lsjson('from-rclone'));
    const ours = fromKnarr((await collect(knarr.walk('from-rclone'))).entries, 'from-rclone');
    expect(ours).toEqual(theirs);
    expect(ours).toContain(`a.txt 5 ${dropboxContentHash(files['a.txt'])} ${mtime.getTime()}`);
    for (const [name, data] of Object.entries(files)) {
      expect(md5(await readAll(await knarr.read(`from-rclone/${name}`))), name).toBe(md5(data));
    }
    // How rclone stored the names the encoder maps: knarr's substitutes are rclone's.
    expect(emu.list().map((x) => x.path)).toEqual(expect.arrayContaining(['/from-rclone/back\uFF3Cslash', '/from-rclone/trailing space\u2420']));
  });

  it('knarr writes (batched, a session, a resumed upload, parallel parts, encoded names); rclone lists and downloads the same', async () => {
    const base = 'from-knarr';
    const small = { 'x.txt': Buffer.from('x'), 'Æøå 🚢.txt': Buffer.from('ship'), 'back\\slash': Buffer.from('b'), 'trailing space ': Buffer.from('t') };
    const mtime = Date.UTC(2023, 6, 7, 8, 9, 10);
    await Promise.all(Object.entries(small).map(([n, d]) => knarr.write(`${base}/${n}`, bufferSource(d, { mtimeMs: mtime }))));
    const session = randomBytes(3 * MiB + 1);
    await knarr.write(`${base}/session.bin`, bufferSource(session, { mtimeMs: mtime }), { chunkSize: MiB });

    const resumed = randomBytes(4 * MiB + 77);
    const states: UploadState[] = [];
    emu.faults.cutUploadAfter(2 * MiB + 10 * KiB);
    await rejectionOf(() => knarr.write(`${base}/resumed.bin`, bufferSource(resumed, { mtimeMs: mtime }), { chunkSize: MiB, onCheckpoint: (s) => void states.push(s) }));
    const res = await knarr.write(`${base}/resumed.bin`, bufferSource(resumed, { mtimeMs: mtime }), { chunkSize: MiB, resume: states.at(-1) });
    expect(res.resumedFrom).toBe(2 * MiB);

    const parts = randomBytes(2 * 4 * MiB + 999);
    const w = await knarr.openChunkWriter(`${base}/parts.bin`, { size: parts.length, mtimeMs: mtime, hashes: {} }, { partSize: 4 * MiB });
    await Promise.all([2, 0, 1].map((i) => w.writeChunk(i, parts.subarray(i * 4 * MiB, (i + 1) * 4 * MiB))));
    await w.close();

    const theirs = fromRclone(await lsjson(base));
    const ours = fromKnarr((await collect(knarr.walk(base))).entries, base);
    expect(theirs).toEqual(ours);
    expect(theirs).toContain(`resumed.bin ${resumed.length} ${dropboxContentHash(resumed)} ${mtime}`);

    // rclone downloads by id: and checks the content hash it computes against Dropbox's.
    const down = join(rc.dir, 'down');
    await rc.ok(['copy', `db:${base}`, down], { timeoutMs: 240_000 });
    const all: Record<string, Buffer> = { ...small, 'session.bin': session, 'resumed.bin': resumed, 'parts.bin': parts };
    for (const [name, data] of Object.entries(all)) expect(md5(await readFile(join(down, name))), name).toBe(md5(data));
    expect((await rc.ok(['cat', `db:${base}/Æøå 🚢.txt`])).toString()).toBe('ship');
    expect(await rc.ok(['hashsum', 'dropbox', `db:${base}/x.txt`])).toContain(dropboxContentHash(small['x.txt']));
  });

  it('rclone deletes; knarr sees it gone and its change feed says so', async () => {
    await knarr.write('del/keep.txt', bufferSource(Buffer.from('k')));
    await knarr.write('del/gone.txt', bufferSource(Buffer.from('g')));
    await knarr.write('del/dir/inner.txt', bufferSource(Buffer.from('i')));
    const cursor = await knarr.changeCursor();
    await rc.ok(['deletefile', 'db:del/gone.txt']);
    await rc.ok(['purge', 'db:del/dir']);
    await expectKind(() => knarr.stat('del/gone.txt'), 'not_found');
    expect((await collect(knarr.walk('del'))).entries.map((x) => x.path)).toEqual(['del/keep.txt']);
    const batches: ChangeBatch[] = [];
    for await (const b of knarr.changes(cursor)) batches.push(b);
    expect(batches.flatMap((b) => b.deleted).sort()).toEqual(['del/dir', 'del/gone.txt']);
  });

  it('knarr deletes; rclone no longer lists it', async () => {
    await rc.ok(['copyto', join(rc.dir, 'up', 'a.txt'), 'db:kdel/a.txt']);
    await rc.ok(['copyto', join(rc.dir, 'up', 'a.txt'), 'db:kdel/b.txt']);
    await knarr.delete('kdel/a.txt');
    expect((await lsjson('kdel')).map((x) => x.Path)).toEqual(['b.txt']);
  });
});
