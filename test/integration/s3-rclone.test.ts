/**
 * rclone agrees: an unmodified rclone (s3 backend, provider Other) on the same versitygw bucket
 * lists the names, sizes, MD5s and modification times of what knarr wrote, and knarr reads what
 * rclone wrote, multipart objects included. rclone runs without AWS_CA_BUNDLE in its environment
 * (these machines export it, and Debian's rclone 1.60.1 then fails every S3 call), with its own
 * config file. rclone missing = failure, never a skip.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPath } from '../../core/paths.js';
import { createS3Connector, type S3Config, type S3Connector } from '../../connectors/s3/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { bufferSource, collect, md5, readAll } from '../conformance/suite.js';
import { findRclone, INSTALL_HINT } from '../fakes/jottacloud/rclone.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;

interface LsEntry { Path: string; Size: number; ModTime: string; IsDir: boolean; Hashes?: { md5?: string; MD5?: string } }

const hostile = ['with space.txt', 'plus+sign', 'hash#tag', 'percent%20%25', 'question?mark', 'amp&ersand=1', "single'quote", 'emoji 🚢⚓ ship', 'Æ Ø Å æ ø å', ' leading space', 'trailing space ', 'back\\slash', 'tilde~dollar$at@'];

describe('rclone and knarr on one versitygw bucket', () => {
  let server: S3TestServer;
  let c: S3Connector;
  let dir: string;
  let rclone: string;

  const run = async (args: string[]): Promise<string> => {
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    const { stdout } = await execFileP(rclone, ['--config', join(dir, 'rclone.conf'), ...args], { env, maxBuffer: 64 * MiB, timeout: 120_000 });
    return stdout;
  };
  const lsjson = async (path: string): Promise<LsEntry[]> => JSON.parse(await run(['lsjson', '-R', '--hash', '--files-only', `vgw:${path}`])) as LsEntry[];
  /** A multipart object's ETag ends in -<parts>. */
  const etagOf = async (key: string): Promise<string> => {
    const res = await c.client.send({ method: 'HEAD', key, op: 'head' });
    await res.body.dump();
    return String(res.headers.etag);
  };
  const md5Of = (e: LsEntry) => e.Hashes?.md5 ?? e.Hashes?.MD5 ?? '';

  beforeAll(async () => {
    const found = await findRclone();
    if (!found) throw new Error(INSTALL_HINT);
    rclone = found;
    server = await startVersitygw();
    await server.createBucket('shared');
    dir = await mkdtemp(join(tmpdir(), 'knarr-s3-rclone-'));
    await writeFile(join(dir, 'rclone.conf'), [
      '[vgw]', 'type = s3', 'provider = Other', `access_key_id = ${server.accessKeyId}`, `secret_access_key = ${server.secretAccessKey}`,
      `endpoint = ${server.endpoint}`, `region = ${server.region}`, 'force_path_style = true', '',
    ].join('\n'));
    const { secretAccessKey, ...settings } = server.remoteConfig('shared');
    c = createS3Connector(settings as unknown as S3Config, { host: unrestrictedHost, remoteName: 'vgw', credentials: memoryCredentials({ secretAccessKey }) });
  });
  afterAll(async () => {
    await c?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rclone lists what knarr wrote: names, sizes, MD5s and modification times', async () => {
    console.log(`rclone under test: ${(await run(['version'])).split('\n')[0]} (${rclone})`);
    const files = new Map<string, { data: Buffer; mtimeMs: number }>();
    hostile.forEach((h, i) => files.set(joinPath('by-knarr', h), { data: Buffer.from(`knarr wrote ${h}`), mtimeMs: 1_600_000_000_000 + i * 1001 + 7 }));
    files.set('by-knarr/deep/er/small.bin', { data: randomBytes(1000), mtimeMs: 1_500_000_000_500 });
    // Multipart, with the source's MD5 known before the upload (kept as X-Amz-Meta-Md5chksum).
    files.set('by-knarr/multi part.bin', { data: randomBytes(11 * MiB + 3), mtimeMs: 1_650_000_000_250 });
    for (const [path, f] of files) {
      await c.write(path, bufferSource(f.data, { mtimeMs: f.mtimeMs, hashes: { md5: md5(f.data) } }), { chunkSize: 5 * MiB });
    }
    await c.mkdir('by-knarr/empty folder');
    expect(await etagOf('by-knarr/multi part.bin')).toMatch(/-3"?$/);

    const listed = await lsjson('shared/by-knarr');
    expect(listed.map((e) => e.Path).sort()).toEqual([...files.keys()].map((p) => p.slice('by-knarr/'.length)).sort());
    for (const e of listed) {
      const f = files.get(`by-knarr/${e.Path}`)!;
      expect(e.Size, e.Path).toBe(f.data.length);
      expect(md5Of(e), e.Path).toBe(md5(f.data));
      expect(Date.parse(e.ModTime), e.Path).toBe(f.mtimeMs);
    }
    const dirs = JSON.parse(await run(['lsjson', '--dirs-only', 'vgw:shared/by-knarr'])) as LsEntry[];
    expect(dirs.map((d) => d.Path).sort()).toEqual(['deep', 'empty folder']);
    // rclone's own check reads both sides' MD5s.
    expect(await run(['md5sum', 'vgw:shared/by-knarr/multi part.bin'])).toContain(md5(files.get('by-knarr/multi part.bin')!.data));
  });

  it('knarr reads what rclone wrote: names, sizes, modification times, MD5s and content, multipart too', async () => {
    const local = join(dir, 'up');
    const files = new Map<string, { data: Buffer; mtimeS: number }>();
    hostile.forEach((h, i) => files.set(h, { data: Buffer.from(`rclone wrote ${h}`), mtimeS: 1_600_000_000.25 + i }));
    files.set('sub/dir/small.bin', { data: randomBytes(2000), mtimeS: 1_400_000_000.5 });
    files.set('multi part.bin', { data: randomBytes(12 * MiB + 11), mtimeS: 1_650_000_000.125 });
    for (const [rel, f] of files) {
      const p = join(local, rel);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.data);
      await utimes(p, f.mtimeS, f.mtimeS);
    }
    await run(['copy', local, 'vgw:shared/by-rclone', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M']);

    const { entries } = await collect(c.walk('by-rclone'));
    const got = new Map(entries.filter((e) => !e.isDir).map((e) => [e.path.slice('by-rclone/'.length), e]));
    expect([...got.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [rel, f] of files) {
      const e = got.get(rel)!;
      expect(e.size, rel).toBe(f.data.length);
      expect(e.mtimeMs, rel).toBe(Math.round(f.mtimeS * 1000));
      // The multipart one's MD5 comes from rclone's X-Amz-Meta-Md5chksum.
      expect(e.hashes.md5, rel).toBe(md5(f.data));
      expect(md5(await readAll(await c.read(e.path))), rel).toBe(md5(f.data));
    }
    const listed = await collect(c.list('by-rclone'));
    expect(listed.entries.map((e) => e.path.slice('by-rclone/'.length)).sort()).toEqual([...hostile, 'multi part.bin', 'sub'].sort());
    expect(await etagOf('by-rclone/multi part.bin')).toMatch(/-3"?$/);
    const multi = await c.stat('by-rclone/multi part.bin');
    expect(multi).toMatchObject({ size: 12 * MiB + 11, mtimeMs: 1_650_000_000_125, hashes: { md5: md5(files.get('multi part.bin')!.data) } });
  });
});
