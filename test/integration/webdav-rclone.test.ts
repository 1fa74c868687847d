/**
 * rclone agrees: an unmodified rclone (webdav backend) reads what knarr wrote and knarr reads what
 * rclone wrote, on a real Apache mod_dav_fs (vendor other) and on the Nextcloud emulator (vendor
 * nextcloud: rclone 1.60.1 sends X-OC-Mtime and OC-Checksum SHA1 and reads oc:checksums).
 *
 * What is comparable: names and sizes everywhere. On Apache, getlastmodified is the time of the
 * upload (a live property nobody can set), so both tools read the same server value and it is
 * compared as such, not against the source's time. On Nextcloud, mtimes (whole seconds) and SHA1
 * are compared against the source.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unrestrictedHost } from '../../connectors/types.js';
import { createWebdavConnector, type WebdavConfig, type WebdavConnector } from '../../connectors/webdav/index.js';
import { MIN_NEXTCLOUD_CHUNK } from '../../connectors/webdav/upload.js';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { bufferSource, collect, hostileNames, readAll } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startApacheDav, type WebdavTestServer } from '../support/servers/webdav.js';

const execFileP = promisify(execFile);
const RCLONE = '/usr/bin/rclone';
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

interface LsEntry {
  Path: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { sha1?: string; md5?: string };
}

/** rclone with its own config file, AWS_CA_BUNDLE removed (Debian's 1.60.1 trips on it). */
async function rcloneFor(remotes: Record<string, Record<string, string>>): Promise<{ ok(args: string[]): Promise<string>; dir: string; stop(): Promise<void> }> {
  if (!existsSync(RCLONE)) throw new Error(`rclone not found at ${RCLONE}: run \`bash scripts/install-test-servers.sh\``);
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };
  delete env.AWS_CA_BUNDLE;
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_')) delete env[k];
  const dir = await mkdtemp(join(tmpdir(), 'knarr-dav-rclone-'));
  let conf = '';
  for (const [name, fields] of Object.entries(remotes)) {
    const pass = (await execFileP(RCLONE, ['obscure', fields.pass], { env })).stdout.trim();
    conf += `[${name}]\n${Object.entries({ ...fields, pass }).map(([k, v]) => `${k} = ${v}`).join('\n')}\n\n`;
  }
  await writeFile(join(dir, 'rclone.conf'), conf);
  const ok = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(RCLONE, ['--config', join(dir, 'rclone.conf'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rclone ${args.join(' ')} exited ${code}: ${err}`))));
    });
  return { ok, dir, stop: () => rm(dir, { recursive: true, force: true }) };
}

/** The suite's hostile names (test/conformance/suite.ts) that any POSIX server stores, plus a nested folder. */
const HOSTILE = [...hostileNames, 'dir #1 & ?%/file ; + #'];

function connect(config: Record<string, unknown>): WebdavConnector {
  const { password, ...settings } = config;
  return createWebdavConnector(settings as unknown as WebdavConfig, { host: unrestrictedHost, remoteName: 'dav-rclone', credentials: memoryCredentials({ password }) });
}

const byPath = (entries: { path: string; size: number; isDir: boolean }[]) =>
  entries.filter((e) => !e.isDir).map((e) => [e.path, e.size] as const).sort(([a], [b]) => (a < b ? -1 : 1));

describe('rclone (webdav, vendor other) and knarr agree on Apache mod_dav_fs', () => {
  let server: WebdavTestServer;
  let rc: Awaited<ReturnType<typeof rcloneFor>>;
  let c: WebdavConnector;

  beforeAll(async () => {
    server = await startApacheDav();
    rc = await rcloneFor({ dav: { type: 'webdav', url: server.url, vendor: 'other', user: server.user, pass: server.password } });
    c = connect(server.remoteConfig());
  });
  afterAll(async () => {
    await c?.close();
    await rc?.stop();
    await server?.stop();
  });

  it('rclone lists what knarr wrote (hostile names, a file of several partial-PUT chunks) with the same names, sizes and times, and reads the same bytes', async () => {
    const files = new Map<string, Buffer>(HOSTILE.map((n) => [`knarr/${n}`, randomBytes(100 + n.length)]));
    const big = randomBytes(3 * 1024 * 1024 + 99);
    files.set('knarr/big/several chunks.bin', big);
    files.set('knarr/empty', Buffer.alloc(0));
    for (const [p, data] of files) await c.write(p, bufferSource(data), { chunkSize: 1024 * 1024 });
    expect(c.capabilities.resumableUpload).toBe(true);

    const ls = JSON.parse(await rc.ok(['lsjson', '-R', 'dav:knarr'])) as LsEntry[];
    const theirs = byPath(ls.map((e) => ({ path: `knarr/${e.Path}`, size: e.Size, isDir: e.IsDir })));
    const ours = byPath((await collect(c.walk('knarr'))).entries);
    expect(theirs).toEqual([...files].map(([p, d]) => [p, d.length] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(ours).toEqual(theirs);
    // Both read Apache's getlastmodified (the time of the upload), to the second.
    const mine = new Map((await collect(c.walk('knarr'))).entries.map((e) => [e.path, e.mtimeMs]));
    for (const e of ls.filter((x) => !x.IsDir)) expect(Math.abs(Date.parse(e.ModTime) - mine.get(`knarr/${e.Path}`)!)).toBeLessThan(1000);

    const out = join(rc.dir, 'down');
    await rc.ok(['copy', 'dav:knarr', out]);
    for (const [p, data] of files) expect(md5(await readFile(join(out, p.slice('knarr/'.length)))), p).toBe(md5(data));
  });

  it('knarr lists and reads what rclone wrote', async () => {
    const local = join(rc.dir, 'up');
    const files = new Map<string, Buffer>(HOSTILE.map((n) => [n, randomBytes(50 + n.length)]));
    files.set('big.bin', randomBytes(2 * 1024 * 1024 + 5));
    for (const [p, data] of files) {
      await mkdir(dirname(join(local, p)), { recursive: true });
      await writeFile(join(local, p), data);
    }
    await rc.ok(['copy', local, 'dav:rclone']);
    const { entries } = await collect(c.walk('rclone'));
    expect(byPath(entries)).toEqual([...files].map(([p, d]) => [`rclone/${p}`, d.length] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
    for (const [p, data] of files) expect(md5(await readAll(await c.read(`rclone/${p}`))), p).toBe(md5(data));
  });
});

describe('rclone (webdav, vendor nextcloud) and knarr agree on the Nextcloud emulator', () => {
  let emu: NextcloudEmulator;
  let rc: Awaited<ReturnType<typeof rcloneFor>>;
  let c: WebdavConnector;
  const mtimeMs = 1_650_000_000_000;

  beforeAll(async () => {
    emu = await startNextcloudEmulator();
    rc = await rcloneFor({ nc: { type: 'webdav', url: emu.davUrl, vendor: 'nextcloud', user: emu.user, pass: emu.password } });
    c = connect(emu.remoteConfig());
  });
  afterAll(async () => {
    await c?.close();
    await rc?.stop();
    await emu?.stop();
  });

  it('rclone reads the SHA1 and the modification time of what knarr wrote (one PUT, and a chunked upload)', async () => {
    const files = new Map<string, Buffer>([
      ['knarr/small.txt', randomBytes(1000)],
      ['knarr/hash #1 & ?%.bin', randomBytes(200 * 1024)],
      ['knarr/chunked.bin', randomBytes(2 * MIN_NEXTCLOUD_CHUNK + 3)],
    ]);
    for (const [p, data] of files) await c.write(p, bufferSource(data, { mtimeMs }), { chunkSize: MIN_NEXTCLOUD_CHUNK });
    const ls = JSON.parse(await rc.ok(['lsjson', '-R', '--hash', 'nc:knarr'])) as LsEntry[];
    expect(ls.map((e) => e.Path).sort()).toEqual([...files.keys()].map((p) => p.slice('knarr/'.length)).sort());
    for (const e of ls) {
      const data = files.get(`knarr/${e.Path}`)!;
      expect(e.Size).toBe(data.length);
      expect(e.Hashes?.sha1, e.Path).toBe(sha1(data));
      expect(Date.parse(e.ModTime)).toBe(Math.floor(mtimeMs / 1000) * 1000);
    }
  });

  it('knarr reads the SHA1 and the modification time of what rclone wrote', async () => {
    const local = join(rc.dir, 'nc-up');
    await mkdir(local, { recursive: true });
    const data = randomBytes(300 * 1024);
    await writeFile(join(local, 'from rclone #1.bin'), data);
    await utimes(join(local, 'from rclone #1.bin'), mtimeMs / 1000, mtimeMs / 1000);
    await rc.ok(['copy', local, 'nc:rclone']);
    const entry = await c.stat('rclone/from rclone #1.bin');
    expect(entry).toMatchObject({ size: data.length, hashes: { sha1: sha1(data) }, mtimeMs: Math.floor(mtimeMs / 1000) * 1000 });
    expect(sha1(await readAll(await c.read('rclone/from rclone #1.bin')))).toBe(sha1(data));
  });
});
