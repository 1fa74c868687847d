import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import aws4 from 'aws4';
import { request } from 'undici';
import { freePort } from '../ports.js';

/**
 * versitygw (the S3 gateway, posix backend) as a child process on 127.0.0.1, for the S3
 * connector's tests, the end-to-end tests and the benchmark. Each call starts its own gateway in a
 * fresh temp dir (data, IAM and versioning folders: Object Lock needs the versioning dir).
 */
export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The posix backend's root: one folder per bucket, one file per object. */
  dataDir: string;
  /** Creates a bucket; `objectLock` makes one that takes retention on its objects. */
  createBucket(name: string, opts?: { objectLock?: boolean }): Promise<void>;
  /** The exact `config` for `POST /v1/remotes` of type s3 on this server (provider other, path style). */
  remoteConfig(bucket: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

const region = 'us-east-1';

/** The binary the install script builds, by its link or its versioned folder. */
export function versitygwPath(): string {
  const bin = join(homedir(), '.cache/knarr/bin');
  for (const p of [join(bin, 'versitygw'), join(bin, 'versitygw-1.8.0.d/versitygw')]) if (existsSync(p)) return p;
  throw new Error(`versitygw is not installed in ${bin}: run \`bash scripts/install-test-servers.sh\``);
}

export async function startVersitygw(): Promise<S3TestServer> {
  const binary = versitygwPath();
  const dir = await mkdtemp(join(tmpdir(), 'knarr-versitygw-'));
  const dataDir = join(dir, 'data');
  await Promise.all(['data', 'iam', 'vers'].map((d) => mkdir(join(dir, d))));
  const accessKeyId = 'knarrtest';
  const secretAccessKey = 'knarrtestsecret0123456789';
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(binary, ['--port', `127.0.0.1:${port}`, '--iam-dir', join(dir, 'iam'), '--quiet', '--keep-alive', 'posix', '--versioning-dir', join(dir, 'vers'), dataDir], {
      env: { ...process.env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => void (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const endpoint = `http://127.0.0.1:${port}`;
    const up = await answers(endpoint, child);
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      // Another process may have taken the free port between freePort() and the bind.
      if (attempt < 3 && /address already in use/i.test(output)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`versitygw did not start on ${endpoint}:\n${output}`);
    }
    const signed = async (method: string, path: string, headers: Record<string, string> = {}) => {
      const opts = aws4.sign({ host: `127.0.0.1:${port}`, method, path, service: 's3', region, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } }, { accessKeyId, secretAccessKey });
      const res = await request(`${endpoint}${path}`, { method: method as 'PUT', headers: opts.headers as Record<string, string> });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`versitygw ${method} ${path}: HTTP ${res.statusCode} ${text}`);
    };
    return {
      endpoint,
      region,
      accessKeyId,
      secretAccessKey,
      dataDir,
      createBucket: (name, opts = {}) => signed('PUT', `/${encodeURIComponent(name)}`, opts.objectLock ? { 'x-amz-bucket-object-lock-enabled': 'true' } : {}),
      remoteConfig: (bucket, extra = {}) => ({ provider: 'other', endpoint, region, bucket, pathStyle: true, accessKeyId, secretAccessKey, ...extra }),
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
          if (!killed) {
            child.kill('SIGKILL');
            await exited;
          }
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Polls until the gateway answers any HTTP request, or the child exits. */
async function answers(endpoint: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const res = await request(endpoint, { method: 'GET' });
      await res.body.dump();
      return true;
    } catch {
      await sleep(50);
    }
  }
  return false;
}
