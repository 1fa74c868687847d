/**
 * The independent client check: an unmodified rclone (sftp backend, key_file, known_hosts_file)
 * on the same OpenSSH server lists the same names, sizes, MD5s (rclone runs md5sum through the
 * shell) and mtimes for what knarr wrote, and knarr reads what rclone wrote.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSftpConnector, type SftpConnector } from '../../connectors/sftp/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { bufferSource, collect, KiB, readAll } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';

const run = promisify(execFile);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const rcloneBin = [join(homedir(), '.cache/knarr/bin/rclone'), '/usr/bin/rclone'].find((p) => existsSync(p));

interface LsJson {
  Path: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { md5?: string };
}

describe('rclone agrees with knarr on an OpenSSH server', () => {
  let server: SftpTestServer;
  let c: SftpConnector;
  let dir: string;
  let conf: string;

  const rclone = async (...args: string[]): Promise<string> => {
    if (!rcloneBin) throw new Error('rclone is missing: run `bash scripts/install-test-servers.sh`');
    // Debian's rclone 1.60.1 fails with AWS_CA_BUNDLE set in the environment; it is not ours to use.
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    const { stdout } = await run(rcloneBin, ['--config', conf, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  };
  const remote = (p: string) => `knarr:${join(server.dataDir, p)}`;

  beforeAll(async () => {
    server = await startSshd();
    c = createSftpConnector(
      { host: server.host, port: server.port, user: server.user, root: server.dataDir, hostKey: server.hostKey },
      { remoteName: 'sftp-rclone', host: unrestrictedHost, credentials: memoryCredentials({ privateKey: server.privateKey }) },
    );
    dir = await mkdtemp(join(tmpdir(), 'knarr-sftp-rclone-'));
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `[${server.host}]:${server.port} ${server.hostPublicKey}\n`);
    conf = join(dir, 'rclone.conf');
    await writeFile(conf, [
      '[knarr]',
      'type = sftp',
      `host = ${server.host}`,
      `port = ${server.port}`,
      `user = ${server.user}`,
      `key_file = ${server.privateKeyFile}`,
      `known_hosts_file = ${knownHosts}`,
      'shell_type = unix',
      'md5sum_command = md5sum',
      'sha1sum_command = sha1sum',
      '',
    ].join('\n'));
  });
  afterAll(async () => {
    await c?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the names, sizes, MD5s and mtimes of what knarr wrote', async () => {
    const files = new Map<string, { data: Buffer; mtimeMs: number }>();
    const names = ['plain.txt', 'with space.txt', "single'quote $(x) `y`", 'colon:star*pipe|?', ' leading', 'trailing ', 'Æ Ø Å 🚢', 'percent%20', 'back\\slash', 'sub dir/#hash & more'];
    names.forEach((n, i) => files.set(n, { data: randomBytes(1000 + i * 37), mtimeMs: 1_600_000_000_000 + i * 1000 }));
    for (const [name, f] of files) await c.write(`knarr-wrote/${name}`, bufferSource(f.data, { mtimeMs: f.mtimeMs }));
    // A file of many chunks through write(), and one in parallel parts.
    const big = { data: randomBytes(5 * 1024 * KiB + 77), mtimeMs: 1_650_000_000_000 };
    await c.write('knarr-wrote/multi-chunk.bin', bufferSource(big.data, { mtimeMs: big.mtimeMs }), { chunkSize: 1024 * KiB });
    files.set('multi-chunk.bin', big);
    const parts = { data: randomBytes(3 * 1024 * KiB + 5), mtimeMs: 1_660_000_000_000 };
    const w = await c.openChunkWriter('knarr-wrote/parts.bin', { size: parts.data.length, mtimeMs: parts.mtimeMs, hashes: {} }, { partSize: 1024 * KiB });
    await Promise.all([0, 1, 2, 3].map((i) => w.writeChunk(i, parts.data.subarray(i * 1024 * KiB, (i + 1) * 1024 * KiB))));
    await w.close();
    files.set('parts.bin', parts);

    const listed = JSON.parse(await rclone('lsjson', '-R', '--files-only', '--hash', '--hash-type', 'MD5', remote('knarr-wrote'))) as LsJson[];
    const byPath = new Map(listed.map((e) => [e.Path, e]));
    expect([...byPath.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [name, f] of files) {
      const e = byPath.get(name)!;
      expect(e.Size, name).toBe(f.data.length);
      expect(e.Hashes?.md5, name).toBe(md5(f.data));
      expect(Date.parse(e.ModTime), name).toBe(Math.floor(f.mtimeMs / 1000) * 1000);
    }
    // And `rclone md5sum`, the command a user would run.
    const sums = new Map((await rclone('md5sum', remote('knarr-wrote'))).trim().split('\n').map((l) => [l.slice(34), l.slice(0, 32)]));
    for (const [name, f] of files) expect(sums.get(name), name).toBe(md5(f.data));
  });

  it('reads what rclone wrote, with the same listing', async () => {
    const src = join(dir, 'src');
    const data = new Map<string, Buffer>([['a.txt', randomBytes(10)], ['deep/er/b #1.bin', randomBytes(3 * 1024 * KiB + 1)], ["it's.txt", Buffer.alloc(0)]]);
    for (const [name, d] of data) {
      await run('mkdir', ['-p', join(src, name, '..')]);
      await writeFile(join(src, name), d);
    }
    await rclone('copy', src, remote('rclone-wrote'));
    const { entries } = await collect(c.walk('rclone-wrote'));
    const files = entries.filter((e) => !e.isDir);
    expect(files.map((e) => e.path).sort()).toEqual([...data.keys()].map((n) => `rclone-wrote/${n}`).sort());
    const listed = JSON.parse(await rclone('lsjson', '-R', '--files-only', remote('rclone-wrote'))) as LsJson[];
    for (const e of files) {
      const name = e.path.slice('rclone-wrote/'.length);
      expect(e.size).toBe(data.get(name)!.length);
      expect(e.mtimeMs).toBe(Date.parse(listed.find((l) => l.Path === name)!.ModTime));
      expect(md5(await readAll(await c.read(e.path)))).toBe(md5(data.get(name)!));
    }
  });
});
