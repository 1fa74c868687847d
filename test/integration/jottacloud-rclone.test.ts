/**
 * THE INDEPENDENT CLIENT CHECK: an unmodified rclone, configured from a login token the emulator
 * issued, talks to the emulator as if it were Jottacloud (HTTPS on 127.0.X.Y:443, a private hosts
 * file in a mount namespace, a generated CA; see test/fakes/jottacloud/rclone.ts). Names, sizes and
 * MD5s rclone reports must equal the emulator's store. Runs against every rclone found (the
 * installer's choice, plus a v1.76.0 build when cached). rclone missing = failure, never a skip:
 * run `bash scripts/install-test-servers.sh`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRclones, INSTALL_HINT, RCLONE_JOTTA_ENCODING, type RcloneHarness, startRcloneHarness } from '../fakes/jottacloud/rclone.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const rclones = await findRclones();

interface LsEntry {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { md5?: string };
}

/** rclone's default encoding maps these to fullwidth look-alikes on the wire (jottacloud-api.md §8). */
const FULLWIDTH: Record<string, string> = { '％': '%', '？': '?', '＊': '*', '：': ':', '＜': '<', '＞': '>', '＂': '"', '｜': '|' };
const unFullwidth = (s: string): string => s.replace(/[％？＊：＜＞＂｜]/g, (c) => FULLWIDTH[c]);

/** Files whose names cover the hostile set of issue 3 (no raw `;`: see the README on servlet path parameters). */
const FILES: Record<string, Buffer> = {
  'plain.txt': Buffer.from('hello jotta\n'),
  'space name.txt': randomBytes(1000),
  'plus+sign.txt': randomBytes(10),
  'hash#tag.txt': randomBytes(11),
  'percent%41.txt': randomBytes(12),
  'question?.txt': randomBytes(13),
  'amp&equals=at@comma,.txt': randomBytes(14),
  'æøå ünïcödé 日本.txt': randomBytes(15),
  [`${'l'.repeat(240)}.txt`]: randomBytes(16),
  'empty.txt': Buffer.alloc(0),
  'deep/er/nested/file.bin': randomBytes(3 * 1024 * 1024 + 7),
};

if (rclones.length === 0) {
  describe('rclone against the Jottacloud emulator', () => {
    it('needs rclone', () => {
      throw new Error(INSTALL_HINT);
    });
  });
}

describe.each(rclones)('rclone (%s) against the Jottacloud emulator', (bin) => {
  let h: RcloneHarness;
  let local: string;

  beforeAll(async () => {
    h = await startRcloneHarness({ rclone: bin });
    local = join(h.dir, 'local');
    for (const [name, data] of Object.entries(FILES)) {
      await mkdir(join(local, name, '..'), { recursive: true });
      await writeFile(join(local, name), data);
    }
  });
  afterAll(async () => {
    await h?.stop();
  });

  const storeFiles = (prefix: string, account?: string) =>
    h.emu
      .files(account)
      .filter((f) => !f.deleted && f.path.startsWith(`/Jotta/Archive/${prefix}/`))
      .map((f) => ({ path: f.path.slice(`/Jotta/Archive/${prefix}/`.length), size: f.size, md5: f.md5 }));

  const lsjson = async (args: string[]): Promise<LsEntry[]> => JSON.parse(await h.ok(['lsjson', ...args])) as LsEntry[];

  it('configures itself from a login token: only the well-known and token requests, one session', async () => {
    console.log(`rclone under test: ${h.version} (${bin}); emulator on ${h.address}:443`);
    expect(h.emu.log.slice(0, 2).map((e) => `${e.method} ${e.role} ${e.status}`)).toEqual(['GET wellknown 200', 'POST token 200']);
    const conf = await h.config();
    expect(conf).toContain(`tokenURL = https://${h.address}/auth/realms/jottacloud/protocol/openid-connect/token`);
    expect(conf).toMatch(/client_id = jottacli/);
    expect(conf).toMatch(/configVersion = 1/);
    expect(h.emu.sessions()).toHaveLength(1);
    // The login token is single-use: a second `config create` with the same token fails.
    const token = h.emu.issueLoginToken();
    const create = (name: string) => h.run(['config', 'create', name, 'jottacloud', 'config_type=standard', `config_login_token=${token}`, '--non-interactive']);
    expect((await create('once')).code).toBe(0);
    const again = await create('twice');
    expect(`${again.code} ${again.stdout} ${again.stderr}`).toMatch(/invalid_grant|401/);
  });

  it('uploads hostile names; lsjson (List and ListR/liststream) and check agree with the store', async () => {
    await h.ok(['copy', local, 'jotta:up', '--transfers', '4']);
    const want = Object.entries(FILES)
      .map(([path, data]) => ({ path, size: data.length, md5: md5(data) }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    const stored = storeFiles('up').map((f) => ({ ...f, path: unFullwidth(f.path) })).sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(stored).toEqual(want);
    for (const mode of [['--disable', 'ListR'], ['--fast-list']]) {
      const entries = (await lsjson(['-R', '--hash', '--files-only', ...mode, 'jotta:up']))
        .map((e) => ({ path: e.Path, size: e.Size, md5: e.Hashes?.md5 }))
        .sort((a, b) => (a.path < b.path ? -1 : 1));
      expect(entries).toEqual(want);
    }
    await h.ok(['check', local, 'jotta:up']); // rclone compares sizes and md5s itself
    // Modification times survive at one-second precision (§8), in rclone's view and the store's.
    const listed = await lsjson(['-R', '--files-only', 'jotta:up']);
    for (const name of Object.keys(FILES)) {
      const mtime = Math.floor((await stat(join(local, name))).mtimeMs / 1000) * 1000;
      const stored = h.emu.files().find((f) => unFullwidth(f.path) === `/Jotta/Archive/up/${name}`);
      expect(Date.parse(stored?.modified ?? ''), name).toBe(mtime);
      expect(Date.parse(listed.find((e) => e.Path === name)?.ModTime ?? ''), name).toBe(mtime);
    }
    for (const f of h.emu.files().filter((x) => x.path.startsWith('/Jotta/Archive/up/'))) expect(f.revisions).toHaveLength(1);
  });

  it('fails on a literal %XX name without the Percent encoding, as the real service does (rclone#9153)', async () => {
    const dir = join(h.dir, 'pct');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Pinus%20palustris.jpg'), randomBytes(20));
    // rclone's default before the fix: the name goes out as it is and every JFS request for it gets a bare 400.
    const before = RCLONE_JOTTA_ENCODING.replace(',Percent', '');
    const once = ['--retries', '1', '--low-level-retries', '1'];
    // 1.60.1 takes the upload's answer as the file and succeeds; releases that stat after an upload fail here already.
    await h.run(['copy', dir, 'jotta:pct', ...once], { encoding: before });
    const r = await h.run(['cat', 'jotta:pct/Pinus%20palustris.jpg', ...once], { encoding: before });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error 400: 400 Bad Request/i);
    // With today's default it is stored as Pinus％20palustris.jpg and reads back.
    await h.ok(['copy', dir, 'jotta:pct2']);
    expect(h.emu.file('Jotta/Archive/pct2/Pinus％20palustris.jpg')).toMatchObject({ deleted: false });
    expect((await lsjson(['--hash', 'jotta:pct2'])).map((e) => e.Name)).toEqual(['Pinus%20palustris.jpg']);
    await h.ok(['check', dir, 'jotta:pct2']);
  });

  it('resumes an upload after a cut connection, with no duplicate revision', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    await writeFile(join(h.dir, 'resume.bin'), data);
    const cutAt = 3 * 1024 * 1024;
    h.emu.faults.cutUploadAfter(cutAt);
    const out = await h.run(['copyto', join(h.dir, 'resume.bin'), 'jotta:resume/resume.bin', '-vv', '--low-level-retries', '5']);
    expect(out.code, out.stderr).toBe(0);
    const uploads = h.emu.log.filter((e) => e.role === 'upload' && e.path.startsWith('/files/v1/upload/'));
    const cut = uploads.findIndex((e) => e.cut);
    expect(cut).toBeGreaterThanOrEqual(0);
    expect(uploads[cut].bytes).toBe(cutAt);
    expect(uploads[cut + 1]).toMatchObject({ status: 200, range: `bytes=${cutAt}-${data.length - 1}`, bytes: data.length - cutAt });
    expect(h.emu.file('Jotta/Archive/resume/resume.bin')?.revisions).toEqual([{ number: 1, state: 'COMPLETED', size: data.length, md5: md5(data) }]);
    expect(await h.emu.storedMd5('Jotta/Archive/resume/resume.bin')).toBe(md5(data));
    const [entry] = await lsjson(['--hash', 'jotta:resume/resume.bin']);
    expect(entry).toMatchObject({ Size: data.length, Hashes: { md5: md5(data) } });
  });

  it('downloads whole, by Range, and resumes a read after a cut connection', async () => {
    const data = FILES['deep/er/nested/file.bin'];
    await h.ok(['copyto', 'jotta:up/deep/er/nested/file.bin', join(h.dir, 'back.bin')]);
    expect(md5(await readFile(join(h.dir, 'back.bin')))).toBe(md5(data));
    h.emu.faults.cutDownloadAfter(1024 * 1024);
    await h.ok(['copyto', 'jotta:up/deep/er/nested/file.bin', join(h.dir, 'back2.bin'), '-vv']);
    expect(md5(await readFile(join(h.dir, 'back2.bin')))).toBe(md5(data));
    const downloads = h.emu.log.filter((e) => e.role === 'download');
    expect(downloads.some((e) => e.cut && e.bytes === 1024 * 1024)).toBe(true);
    expect(downloads.some((e) => e.range === `bytes=${1024 * 1024}-${data.length - 1}` && e.status === 206)).toBe(true);
    expect(await h.ok(['cat', '--offset', '2', '--count', '5', 'jotta:up/plain.txt'])).toBe('llo j');
    expect(h.emu.log.some((e) => e.role === 'download' && e.range === 'bytes=2-6' && e.status === 206)).toBe(true);
  });

  it('overwrites as a new revision; re-sending the same content adds none', async () => {
    await writeFile(join(h.dir, 'v.txt'), 'version one');
    await h.ok(['copyto', join(h.dir, 'v.txt'), 'jotta:ver/v.txt']);
    await writeFile(join(h.dir, 'v.txt'), 'version two!');
    await h.ok(['copyto', join(h.dir, 'v.txt'), 'jotta:ver/v.txt']);
    await h.ok(['copyto', '--ignore-times', join(h.dir, 'v.txt'), 'jotta:ver/v.txt']);
    expect(h.emu.file('Jotta/Archive/ver/v.txt')?.revisions.map((r) => [r.number, r.md5])).toEqual([
      [1, md5('version one')],
      [2, md5('version two!')],
    ]);
    expect((await h.ok(['cat', 'jotta:ver/v.txt'])).toString()).toBe('version two!');
  });

  it('sets a modification time without an upload (cphash)', async () => {
    await h.ok(['touch', '--timestamp', '2021-02-03T04:05:06', 'jotta:ver/v.txt']);
    expect(h.emu.log.some((e) => e.method === 'POST' && e.path.includes('?cphash=true') && e.status === 200)).toBe(true);
    expect(h.emu.file('Jotta/Archive/ver/v.txt')).toMatchObject({ modified: '2021-02-03T04:05:06.000Z', md5: md5('version two!') });
    expect(h.emu.file('Jotta/Archive/ver/v.txt')?.revisions).toHaveLength(2);
    const [e] = await lsjson(['jotta:ver/v.txt']);
    expect(e.ModTime).toBe('2021-02-03T04:05:06Z');
  });

  it('moves and copies files and moves folders server-side', async () => {
    await h.ok(['moveto', 'jotta:up/plain.txt', 'jotta:moved/renamed.txt']);
    await h.ok(['copyto', 'jotta:moved/renamed.txt', 'jotta:copied/again.txt']);
    await h.ok(['moveto', 'jotta:up/deep', 'jotta:deep-moved']);
    const roles = h.emu.log.filter((e) => e.method === 'POST' && /[?&](mv|cp|mvDir)=/.test(e.path)).map((e) => /[?&](mv|cp|mvDir)=/.exec(e.path)?.[1]);
    expect(roles).toEqual(expect.arrayContaining(['mv', 'cp', 'mvDir']));
    expect(h.emu.file('Jotta/Archive/up/plain.txt')).toBeUndefined();
    expect(h.emu.file('Jotta/Archive/moved/renamed.txt')).toMatchObject({ md5: md5(FILES['plain.txt']), deleted: false });
    expect(h.emu.file('Jotta/Archive/copied/again.txt')).toMatchObject({ md5: md5(FILES['plain.txt']) });
    expect(h.emu.file('Jotta/Archive/deep-moved/er/nested/file.bin')).toMatchObject({ md5: md5(FILES['deep/er/nested/file.bin']) });
    const listed = await lsjson(['-R', '--hash', '--files-only', 'jotta:deep-moved']);
    expect(listed.map((e) => [e.Path, e.Hashes?.md5])).toEqual([['er/nested/file.bin', md5(FILES['deep/er/nested/file.bin'])]]);
  });

  it('deletes to the trash, hard-deletes, purges folders and empties the trash', async () => {
    await h.ok(['delete', 'jotta:copied/again.txt']);
    expect(h.emu.file('Jotta/Archive/copied/again.txt')).toMatchObject({ deleted: true });
    await h.ok(['purge', 'jotta:moved']);
    expect(h.emu.folders().find((f) => f.path === '/Jotta/Archive/moved')).toEqual({ path: '/Jotta/Archive/moved', deleted: true });
    expect((await lsjson(['jotta:'])).map((e) => e.Path)).not.toContain('moved');
    const trashed = await lsjson(['-R', '--files-only', '--jottacloud-trashed-only', 'jotta:']);
    expect(trashed.map((e) => e.Path).sort()).toEqual(['copied/again.txt', 'moved/renamed.txt']);
    await h.ok(['--jottacloud-hard-delete', 'delete', 'jotta:up/empty.txt']);
    expect(h.emu.file('Jotta/Archive/up/empty.txt')).toBeUndefined();
    await h.ok(['mkdir', 'jotta:empty-dir']);
    await h.ok(['rmdir', 'jotta:empty-dir']);
    expect(h.emu.folders().find((f) => f.path === '/Jotta/Archive/empty-dir')).toEqual({ path: '/Jotta/Archive/empty-dir', deleted: true });
    await h.ok(['cleanup', 'jotta:']);
    expect(h.emu.trash()).toEqual([]);
    expect(h.emu.folders().find((f) => f.path.startsWith('/Jotta/Archive/empty-dir'))).toBeUndefined();
    expect(h.emu.log.some((e) => e.path === '/files/v1/purge_trash' && e.status === 200)).toBe(true);
  });

  it('reports usage with about', async () => {
    const about = JSON.parse(await h.ok(['about', '--json', 'jotta:'])) as { used: number; total?: number };
    const usage = h.emu.files().reduce((n, f) => n + (f.size ?? 0), 0);
    expect(about.used).toBe(usage);
    expect(about.total).toBeUndefined(); // unlimited: capacity -1
  });

  it('rides out throttling (429 without and with Retry-After, 503)', async () => {
    const before = h.emu.faults.stats.throttled;
    h.emu.faults.throttle(3, { roles: ['jfs'] });
    expect((await lsjson(['jotta:up'])).length).toBeGreaterThan(0);
    h.emu.faults.throttle(2, { roles: ['jfs', 'download'], status: 503, retryAfterSec: 1 });
    expect(await h.ok(['cat', 'jotta:ver/v.txt'])).toBe('version two!');
    expect(h.emu.faults.stats.throttled - before).toBe(5);
  });

  it('refreshes rotating tokens on expiry, and a reused refresh token kills the family', async () => {
    h.emu.faults.setAccessTokenLifetime(1); // rclone refreshes 10 s before expiry: every run refreshes
    try {
      expect((await h.addRemote('short')).code).toBe(0);
      const before = h.emu.authStats();
      const stale = await h.config();
      expect((await lsjson(['short:up'])).length).toBeGreaterThan(0);
      expect((await lsjson(['short:up'])).length).toBeGreaterThan(0);
      const after = h.emu.authStats();
      expect(after.refreshGrants - before.refreshGrants).toBeGreaterThanOrEqual(2);
      expect(after.clientAuth.basic + after.clientAuth.body).toBeGreaterThan(before.clientAuth.basic + before.clientAuth.body);
      const fresh = await h.config();
      expect(fresh).not.toBe(stale); // rclone saved the rotated refresh token
      // Put back the old refresh token, as a copied config would: reuse → the whole family dies.
      await writeFile(join(h.dir, 'rclone.conf'), stale);
      const reuse = await h.run(['lsjson', 'short:up', '--low-level-retries', '1', '--retries', '1']);
      expect(reuse.code).not.toBe(0);
      expect(reuse.stderr).toMatch(/invalid_grant|Session doesn't have required client/);
      expect(h.emu.authStats().reuseDetected).toBeGreaterThan(before.reuseDetected);
      await writeFile(join(h.dir, 'rclone.conf'), fresh);
      expect((await h.run(['lsjson', 'short:up', '--low-level-retries', '1', '--retries', '1'])).code).not.toBe(0);
    } finally {
      h.emu.faults.setAccessTokenLifetime(null);
    }
    expect((await lsjson(['jotta:up'])).length).toBeGreaterThan(0); // the other family is untouched
  });

  it('fails cleanly on a revoked session', async () => {
    const acct = h.emu.addAccount('rclone-revoked');
    expect((await h.addRemote('rev', acct)).code).toBe(0);
    expect(await lsjson(['rev:'])).toEqual([]);
    h.emu.faults.revokeSessions(acct);
    const r = await h.run(['lsjson', 'rev:', '--low-level-retries', '1', '--retries', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/401|Bad credentials/);
  });

  it('is refused uploads when the quota is full', async () => {
    h.emu.faults.setQuotaFull(true, h.emu.defaultAccount);
    try {
      await writeFile(join(h.dir, 'q.bin'), randomBytes(1000));
      const r = await h.run(['copyto', join(h.dir, 'q.bin'), 'jotta:q/q.bin', '--retries', '1', '--low-level-retries', '1']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/460/);
    } finally {
      h.emu.faults.setQuotaFull(false, h.emu.defaultAccount);
    }
  });

  it('catches stored bytes that do not match the reported MD5', async () => {
    const data = randomBytes(100_000);
    await writeFile(join(h.dir, 'c.bin'), data);
    h.emu.faults.corruptMd5('bytes');
    await h.ok(['copyto', join(h.dir, 'c.bin'), 'jotta:corrupt/c.bin']);
    const r = await h.run(['copyto', 'jotta:corrupt/c.bin', join(h.dir, 'c-back.bin'), '--retries', '1', '--low-level-retries', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/corrupted on transfer|md5 hash differ/i);
  });
});
