/**
 * THE INDEPENDENT CLIENT CHECK of the Nextcloud emulator (test/fakes/nextcloud): an unmodified
 * rclone webdav backend (vendor nextcloud, and vendor owncloud to read MD5s) lists, uploads
 * (single PUT in 1.60.1; chunked uploads with 1.76's --webdav-nextcloud-chunk-size), hashes,
 * reads ranges, moves, deletes and checks against it. Names, sizes, mtimes and hashes rclone
 * reports must equal what was written. Runs with Debian's rclone 1.60.1 and with the v1.76.0
 * build when cached. rclone missing = failure, never a skip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NextcloudEmulator, startNextcloudEmulator } from '../fakes/nextcloud/index.js';
import { type NextcloudRclone, nextcloudRclones, RCLONE_INSTALL_HINT, startNextcloudRclone } from '../fakes/nextcloud/rclone.js';

const sha1 = (b: Buffer | string): string => createHash('sha1').update(b).digest('hex');
const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const rclones = nextcloudRclones();

interface LsEntry {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { sha1?: string; md5?: string };
}

/** A tree with the names a WebDAV client gets wrong (percent-encoding, `+`, `#`, `?`, `;`, non-ASCII). */
const TREE: Record<string, Buffer> = {
  'plain.txt': Buffer.from('hello nextcloud\n'),
  'space name.txt': randomBytes(1000),
  'plus+sign.txt': randomBytes(10),
  'hash#tag.txt': randomBytes(11),
  'percent%41.txt': randomBytes(12),
  'question?.txt': randomBytes(13),
  'amp&equals=at@comma,.txt': randomBytes(14),
  "semi;colon'quote.txt": randomBytes(15),
  'æøå ünïcödé 日本.txt': randomBytes(16),
  'brackets [x] {y}.txt': randomBytes(17),
  'empty.bin': Buffer.alloc(0),
  'deep/er/nested.bin': randomBytes(70_000),
  'deep/sibling.txt': Buffer.from('sib'),
};
const TREE_MTIME = 1_600_000_000;

const enc = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

async function dav(emu: NextcloudEmulator, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Response> {
  const auth = `Basic ${Buffer.from(`${emu.user}:${emu.password}`).toString('base64')}`;
  return fetch(`${emu.davUrl}/${enc(path)}`, { method, headers: { Authorization: auth, ...headers }, body });
}

/** The tree, written with plain HTTP the way a Nextcloud desktop client would (mtime + both hashes). */
async function writeTree(emu: NextcloudEmulator, root: string): Promise<void> {
  const dirs = new Set<string>([root]);
  for (const p of Object.keys(TREE)) {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${root}/${parts.slice(0, i).join('/')}`);
  }
  for (const d of [...dirs].sort()) expect((await dav(emu, 'MKCOL', d)).status).toBe(201);
  for (const [p, data] of Object.entries(TREE)) {
    const res = await dav(emu, 'PUT', `${root}/${p}`, { 'X-OC-Mtime': String(TREE_MTIME), 'OC-Checksum': `SHA1:${sha1(data)} MD5:${md5(data)}` }, data);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-oc-mtime')).toBe('accepted');
  }
}

if (rclones.length === 0) {
  it('rclone is installed', () => {
    throw new Error(RCLONE_INSTALL_HINT);
  });
}

describe.each(rclones)('rclone %s against the Nextcloud emulator', (bin) => {
  let emu: NextcloudEmulator;
  let rc: NextcloudRclone;
  /** 1.76 has nextcloud chunked uploads (v1 protocol: no Destination header, offset-named chunks). */
  let chunked = false;
  let chunkFlags: string[] = [];

  beforeAll(async () => {
    emu = await startNextcloudEmulator({ user: 'nc user', password: 'p@ss:word' });
    rc = await startNextcloudRclone(emu, bin);
    chunked = rc.versionNumber[0] > 1 || rc.versionNumber[1] >= 65;
    chunkFlags = chunked ? ['--webdav-nextcloud-chunk-size', '5M'] : [];
  });
  afterAll(async () => {
    await rc?.stop();
    await emu?.stop();
  });

  it('lsjson -R lists a tree written over HTTP: names, sizes, folders and mtimes', async () => {
    await writeTree(emu, 'tree');
    const got = JSON.parse(await rc.ok(['lsjson', '-R', 'nc:tree'])) as LsEntry[];
    const files = got.filter((e) => !e.IsDir).map((e) => [e.Path, e.Size, e.ModTime]);
    const want = Object.entries(TREE).map(([p, d]) => [p, d.length, new Date(TREE_MTIME * 1000).toISOString().replace('.000Z', 'Z')]);
    const byPath = (a: unknown[], b: unknown[]): number => String(a[0]).localeCompare(String(b[0]));
    expect(files.sort(byPath)).toEqual(want.sort(byPath));
    expect(got.filter((e) => e.IsDir).map((e) => e.Path).sort()).toEqual(['deep', 'deep/er']);
  });

  it('sha1sum (vendor nextcloud) and md5sum (vendor owncloud) read oc:checksums and agree with the bytes', async () => {
    const parse = (out: string): Map<string, string> =>
      new Map(
        out
          .trim()
          .split('\n')
          .map((l) => [l.slice(l.indexOf('  ') + 2), l.slice(0, l.indexOf('  ')).trim()]),
      );
    const s = parse(await rc.ok(['sha1sum', 'nc:tree']));
    const m = parse(await rc.ok(['md5sum', 'oc:tree']));
    for (const [p, data] of Object.entries(TREE)) {
      expect(s.get(p), p).toBe(sha1(data));
      expect(m.get(p), p).toBe(md5(data));
    }
  });

  it('copy up: a small file and a 20 MB file (chunked upload in 1.76); mtimes and SHA1 are stored', async () => {
    const src = join(rc.dir, 'up');
    await mkdir(src, { recursive: true });
    const big = randomBytes(20_000_000);
    const small = Buffer.from('small file\n');
    await writeFile(join(src, 'big.bin'), big);
    await writeFile(join(src, 'small one.txt'), small);
    const mtime = new Date('2021-03-04T05:06:07Z');
    await utimes(join(src, 'big.bin'), mtime, mtime);
    await utimes(join(src, 'small one.txt'), mtime, mtime);
    emu.stats.reset();
    await rc.ok(['copy', src, 'nc:up', ...chunkFlags]);

    const b = emu.file('up/big.bin');
    expect(b?.size).toBe(big.length);
    expect(md5(b?.data ?? Buffer.alloc(0))).toBe(md5(big));
    expect(b?.mtimeMs).toBe(mtime.getTime());
    expect(b?.checksums).toEqual([`SHA1:${sha1(big)}`]);
    expect(emu.file('up/small one.txt')?.data.equals(small)).toBe(true);
    if (chunked) {
      // 20,000,000 bytes in 5 MiB chunks: 3 full chunks and a 4,271,360-byte tail.
      expect(emu.stats.chunkPuts).toBe(4);
      expect(emu.stats.chunkBytes).toBe(big.length);
      expect(emu.log.some((l) => l.method === 'MOVE' && l.path.endsWith('/.file') && l.status === 201)).toBe(true);
    } else {
      expect(emu.stats.chunkPuts).toBe(0);
    }
    expect(emu.stats.bytesReceived).toBe(big.length + small.length);
    expect(emu.uploads()).toEqual([]);

    const ls = JSON.parse(await rc.ok(['lsjson', '--hash', 'nc:up'])) as LsEntry[];
    const bigEntry = ls.find((e) => e.Name === 'big.bin');
    expect(bigEntry?.ModTime).toBe('2021-03-04T05:06:07Z');
    expect(bigEntry?.Hashes?.sha1).toBe(sha1(big));
    expect((await rc.ok(['sha1sum', 'nc:up/small one.txt'])).split(' ')[0]).toBe(sha1(small));
    // check: sizes and SHA1 of the local folder against the emulator.
    await rc.ok(['check', src, 'nc:up']);
    const download = await rc.ok(['md5sum', '--download', 'nc:up/big.bin']);
    expect(download.split(' ')[0]).toBe(md5(big));
  });

  it('cat, and a ranged cat --offset --count', async () => {
    const data = TREE['deep/er/nested.bin'];
    const whole = await rc.run(['cat', 'nc:tree/deep/er/nested.bin']);
    expect(whole.code).toBe(0);
    expect(Buffer.from(whole.stdout, 'latin1').length).toBeGreaterThan(0);
    expect(await rc.ok(['cat', 'nc:tree/plain.txt'])).toBe('hello nextcloud\n');
    const before = emu.log.length;
    expect(await rc.ok(['cat', '--offset', '6', '--count', '9', 'nc:tree/plain.txt'])).toBe('nextcloud');
    const gets = emu.log.slice(before).filter((l) => l.method === 'GET');
    expect(gets.map((g) => g.status)).toEqual([206]);
    // Binary bytes through a range: compare hashes of what rclone printed via a local copy.
    await rc.ok(['copyto', 'nc:tree/deep/er/nested.bin', join(rc.dir, 'nested.bin')]);
    expect(md5((await import('node:fs')).readFileSync(join(rc.dir, 'nested.bin')))).toBe(md5(data));
  });

  it('moveto, deletefile, mkdir and rmdir', async () => {
    const id = emu.file('tree/deep/sibling.txt')?.fileId;
    await rc.ok(['moveto', 'nc:tree/deep/sibling.txt', 'nc:moved/renamed sibling.txt']);
    expect(emu.file('tree/deep/sibling.txt')).toBeUndefined();
    const moved = emu.file('moved/renamed sibling.txt');
    expect(moved?.data.toString()).toBe('sib');
    expect(moved?.fileId).toBe(id);
    expect(moved?.mtimeMs).toBe(TREE_MTIME * 1000);

    await rc.ok(['deletefile', 'nc:moved/renamed sibling.txt']);
    expect(emu.file('moved/renamed sibling.txt')).toBeUndefined();

    await rc.ok(['mkdir', 'nc:made/inner dir']);
    expect(emu.folder('made/inner dir')).toBe(true);
    await rc.ok(['rmdir', 'nc:made/inner dir']);
    expect(emu.folder('made/inner dir')).toBe(false);
    expect(emu.folder('made')).toBe(true);
    // rmdir of a folder that has files refuses (rclone checks with a listing first).
    expect((await rc.run(['rmdir', 'nc:tree'])).code).not.toBe(0);
    expect(emu.folder('tree')).toBe(true);
  });

  it('throttling (429 + Retry-After) is retried by rclone', async () => {
    emu.stats.reset();
    emu.faults.throttleNext(2, 1);
    const got = JSON.parse(await rc.ok(['lsjson', 'nc:tree/deep'])) as LsEntry[];
    expect(got.map((e) => e.Name).sort()).toEqual(['er']);
    expect(emu.stats.throttled).toBe(2);
  });

  it('an upload cut mid-body keeps nothing and rclone uploads it again', async () => {
    const src = join(rc.dir, 'cut');
    await mkdir(src, { recursive: true });
    const data = randomBytes(12_000_000);
    await writeFile(join(src, 'cut.bin'), data);
    emu.stats.reset();
    emu.faults.cutNextUpload(3_000_000);
    await rc.ok(['copy', src, 'nc:cut', ...chunkFlags]);
    expect(emu.stats.cuts).toBe(1);
    expect(md5(emu.file('cut/cut.bin')?.data ?? Buffer.alloc(0))).toBe(md5(data));
    // Every byte of the file arrived once, plus the 3,000,000 of the cut attempt.
    expect(emu.stats.bytesReceived).toBeGreaterThanOrEqual(data.length + 3_000_000);
    expect(emu.uploads()).toEqual([]);
  });

  it('a server that reports a wrong SHA1 makes rclone fail the copy as corrupted', async () => {
    const src = join(rc.dir, 'corrupt');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'c.txt'), 'will be reported wrong');
    emu.faults.corruptNextChecksumReport();
    const r = await rc.run(['copy', '--retries', '1', src, 'nc:corrupt']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/corrupt/i);
    // rclone removes what it believes is a corrupted upload.
    expect(emu.file('corrupt/c.txt')).toBeUndefined();
  });

  it('quota: about reports it, and an upload beyond it fails with 507', async () => {
    const used = JSON.parse(await rc.ok(['about', '--json', 'nc:'])) as { used?: number; free?: number };
    emu.faults.quotaBytes((used.used ?? 0) + 1000);
    const about = JSON.parse(await rc.ok(['about', '--json', 'nc:'])) as { used?: number; free?: number };
    expect(about.free).toBe(1000);
    const src = join(rc.dir, 'quota');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'q.bin'), randomBytes(5000));
    const r = await rc.run(['copy', '--retries', '1', '--low-level-retries', '1', src, 'nc:quota']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/507|Insufficient/);
    expect(emu.file('quota/q.bin')).toBeUndefined();
    emu.faults.quotaBytes(null);
  });

  it('423 Locked on the assembling MOVE is waited out (1.76 chunked uploads)', async () => {
    if (!chunked) return;
    const src = join(rc.dir, 'locked');
    await mkdir(src, { recursive: true });
    const data = randomBytes(11_000_000);
    await writeFile(join(src, 'l.bin'), data);
    emu.faults.lockNextMove(1);
    const before = emu.log.length;
    await rc.ok(['copy', src, 'nc:locked', ...chunkFlags]);
    const moves = emu.log.slice(before).filter((l) => l.method === 'MOVE').map((l) => l.status);
    expect(moves).toEqual([423, 201]);
    expect(md5(emu.file('locked/l.bin')?.data ?? Buffer.alloc(0))).toBe(md5(data));
  });

  it('wrong credentials are refused with 401 and Basic realm="Nextcloud"', async () => {
    const res = await fetch(`${emu.davUrl}/`, { method: 'PROPFIND', headers: { Authorization: `Basic ${Buffer.from(`${emu.user}:nope`).toString('base64')}`, Depth: '0' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="Nextcloud"/);
    const r = await rc.run(['lsjson', 'nc:', '--webdav-pass', (await import('node:child_process')).execFileSync(bin, ['obscure', 'nope']).toString().trim()]);
    expect(r.code).not.toBe(0);
  });
});

describe('chunked upload v2 rules (plain HTTP)', () => {
  let emu: NextcloudEmulator;
  beforeAll(async () => {
    emu = await startNextcloudEmulator();
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const req = (method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> =>
    fetch(url, { method, headers: { Authorization: `Basic ${Buffer.from(`${emu.user}:${emu.password}`).toString('base64')}`, ...headers }, body });

  it('numeric names, Destination on every request, 5 MiB minimum but for the last, OC-Total-Length, assembly in number order', async () => {
    const up = `${emu.uploadsUrl}/v2-upload`;
    const dest = { Destination: `${emu.davUrl}/v2.bin` };
    expect((await req('MKCOL', up, dest)).status).toBe(201);
    const a = randomBytes(5 * 1024 * 1024);
    const b = randomBytes(100);
    const c = randomBytes(7);
    expect((await req('PUT', `${up}/abc`, dest, b)).status).toBe(400);
    expect((await req('PUT', `${up}/10001`, dest, b)).status).toBe(400);
    expect((await req('PUT', `${up}/2`, {}, b)).status).toBe(400);
    expect((await req('PUT', `${up}/10`, dest, c)).status).toBe(201);
    expect((await req('PUT', `${up}/2`, dest, b)).status).toBe(201);
    expect((await req('PUT', `${up}/1`, dest, a)).status).toBe(201);
    expect(emu.uploads()).toEqual([{ id: 'v2-upload', destination: 'v2.bin', chunks: [{ name: '1', size: a.length }, { name: '2', size: 100 }, { name: '10', size: 7 }] }]);
    expect((await req('GET', `${up}/1`, dest)).status).toBe(405);
    // chunk 2 (100 bytes) is not the last: refused at assembly.
    expect((await req('MOVE', `${up}/.file`, dest)).status).toBe(400);
    expect((await req('DELETE', `${up}/10`)).status).toBe(204);
    expect((await req('MOVE', `${up}/.file`, { ...dest, 'OC-Total-Length': '5' })).status).toBe(400);
    const done = await req('MOVE', `${up}/.file`, { ...dest, 'OC-Total-Length': String(a.length + 100), 'X-OC-Mtime': '1234567890', 'OC-Checksum': `SHA1:${sha1(Buffer.concat([a, b]))}` });
    expect(done.status).toBe(201);
    expect(done.headers.get('x-oc-mtime')).toBe('accepted');
    const f = emu.file('v2.bin');
    expect(f?.data.equals(Buffer.concat([a, b]))).toBe(true);
    expect(f?.mtimeMs).toBe(1_234_567_890_000);
    expect(emu.uploads()).toEqual([]);
  });

  it('a cut chunk PUT stores nothing; DELETE aborts; uploads expire after 24 h idle', async () => {
    let now = Date.now();
    const clocked = await startNextcloudEmulator({ now: () => now });
    try {
      const r = (method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> =>
        fetch(url, { method, headers: { Authorization: `Basic ${Buffer.from(`${clocked.user}:${clocked.password}`).toString('base64')}`, ...headers }, body });
      const up = `${clocked.uploadsUrl}/u`;
      const dest = { Destination: `${clocked.davUrl}/x.bin` };
      expect((await r('MKCOL', up, dest)).status).toBe(201);
      clocked.faults.cutNextUpload(1000);
      await expect(r('PUT', `${up}/1`, dest, randomBytes(6 * 1024 * 1024))).rejects.toThrow();
      expect(clocked.uploads()[0].chunks).toEqual([]);
      expect(clocked.stats.bytesReceived).toBe(1000);
      expect((await r('PUT', `${up}/1`, dest, randomBytes(10))).status).toBe(201);
      now += 24 * 3600 * 1000 + 1;
      expect(clocked.uploads()).toEqual([]);
      expect((await r('MKCOL', `${up}2`, dest)).status).toBe(201);
      expect((await r('DELETE', `${up}2`)).status).toBe(204);
      expect(clocked.uploads()).toEqual([]);
    } finally {
      await clocked.stop();
    }
  });
});

describe('files/ details a connector relies on (plain HTTP)', () => {
  it('hrefs, props, preconditions, X-Hash, checksum policy and Depth: infinity as configured', async () => {
    const emu = await startNextcloudEmulator({ user: 'u', password: 'p' });
    const strictOff = await startNextcloudEmulator({ user: 'u', password: 'p', verifyChecksums: false, depthInfinity: true });
    try {
      const auth = { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
      const at = (e: NextcloudEmulator, p: string): string => `${e.davUrl}/${enc(p)}`;
      expect((await fetch(at(emu, 'a+b c'), { method: 'MKCOL', headers: auth })).status).toBe(201);
      const put = await fetch(at(emu, 'a+b c/f.txt'), { method: 'PUT', headers: { ...auth, 'X-HASH': 'all', 'OC-Checksum': `MD5:${md5('x')}` }, body: 'x' });
      expect(put.status).toBe(201);
      expect(put.headers.get('x-hash-sha1')).toBe(sha1('x'));
      expect(put.headers.get('x-hash-md5')).toBe(md5('x'));
      const etag = put.headers.get('etag') as string;
      expect(put.headers.get('oc-etag')).toBe(etag);
      expect(put.headers.get('oc-fileid')).toMatch(/^\d{8}oc/);
      // Preconditions: If-None-Match: * refuses an overwrite; If-Match needs the current etag.
      expect((await fetch(at(emu, 'a+b c/f.txt'), { method: 'PUT', headers: { ...auth, 'If-None-Match': '*' }, body: 'y' })).status).toBe(412);
      expect((await fetch(at(emu, 'a+b c/f.txt'), { method: 'PUT', headers: { ...auth, 'If-Match': '"nope"' }, body: 'y' })).status).toBe(412);
      expect((await fetch(at(emu, 'a+b c/f.txt'), { method: 'PUT', headers: { ...auth, 'If-Match': etag }, body: 'y' })).status).toBe(204);
      // A PROPFIND: folder href with a trailing slash, `+` and space encoded, no checksum after an overwrite without one.
      const pf = await fetch(at(emu, 'a+b c'), {
        method: 'PROPFIND',
        headers: { ...auth, Depth: '1' },
        body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:getetag/><oc:checksums/><oc:fileid/><d:quota-available-bytes/></d:prop></d:propfind>',
      });
      expect(pf.status).toBe(207);
      const xml = await pf.text();
      expect(xml).toContain('<d:href>/remote.php/dav/files/u/a%2Bb%20c/</d:href>');
      expect(xml).toContain('<d:href>/remote.php/dav/files/u/a%2Bb%20c/f.txt</d:href>');
      expect(xml).toContain('<d:quota-available-bytes>-3</d:quota-available-bytes>');
      expect(emu.file('a+b c/f.txt')?.checksums).toEqual([]);
      expect((await fetch(at(emu, ''), { method: 'PROPFIND', headers: { ...auth, Depth: 'infinity' } })).status).toBe(403);
      // 429 carries Retry-After when asked for, and the ownCloud hint.
      emu.faults.throttleNext(1, 7);
      const t = await fetch(at(emu, ''), { method: 'PROPFIND', headers: { ...auth, Depth: '0' } });
      expect([t.status, t.headers.get('retry-after')]).toEqual([429, '7']);
      expect(await t.text()).toContain('<o:hint>too many requests</o:hint>');
      // Real Nextcloud's policy: the checksum is stored unchecked; Depth: infinity answers the tree.
      expect((await fetch(at(emu, 'bad.txt'), { method: 'PUT', headers: { ...auth, 'OC-Checksum': 'SHA1:00' }, body: 'z' })).status).toBe(400);
      expect((await fetch(at(strictOff, 'bad.txt'), { method: 'PUT', headers: { ...auth, 'OC-Checksum': 'SHA1:00' }, body: 'z' })).status).toBe(201);
      expect(strictOff.file('bad.txt')?.checksums).toEqual(['SHA1:00']);
      expect((await fetch(at(strictOff, 'd1'), { method: 'MKCOL', headers: auth })).status).toBe(201);
      expect((await fetch(at(strictOff, 'd1/d2'), { method: 'MKCOL', headers: auth })).status).toBe(201);
      const inf = await fetch(at(strictOff, ''), { method: 'PROPFIND', headers: { ...auth, Depth: 'infinity' } });
      expect(inf.status).toBe(207);
      expect(await inf.text()).toContain('/remote.php/dav/files/u/d1/d2/');
    } finally {
      await emu.stop();
      await strictOff.stop();
    }
  });
});
