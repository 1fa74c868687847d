import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialStore } from '../../activities/remotes.js';
import { createJottacloudConnector } from '../../connectors/jottacloud/index.js';
import { openDatabase, type OpenedDatabase } from '../../db/client.js';
import { CredentialCipher } from '../../db/credentials.js';
import { insertRemote } from '../../db/queries/remotes.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { adminUserId } from '../../db/queries/users.js';

/**
 * Jottacloud refresh tokens rotate and presenting a spent one kills the whole session family
 * (shared/specs/jottacloud-api.md §2.5). Two REAL worker processes share one remote row in
 * PostgreSQL; the emulator hands out access tokens that live 2 s and detects reuse. Both
 * processes hammer it across several expiries (and race for the single-use login token at the
 * start): the session must survive, with no reuse and no failed request.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const worker = fileURLToPath(new URL('../support/jottaRefreshWorker.ts', import.meta.url));

const LIFETIME_SEC = 2;
const DURATION_MS = 9_000;

interface WorkerResult {
  pid: number;
  ok: number;
  errors: string[];
  auth: { exchanges: number; refreshes: number; adoptedByRead: number; adoptedUnderLock: number };
}

interface Worker {
  ready: Promise<void>;
  go(): void;
  result: Promise<WorkerResult>;
}

function startWorker(env: Record<string, string>): Worker {
  const child = spawn(tsx, [worker], { cwd: repo, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('READY\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`worker exited with ${code ?? signal}; output:\n${out}`));
      resolve(JSON.parse(line.slice('RESULT '.length)) as WorkerResult);
    });
  });
  // An early exit rejects `result`; make `ready` fail with it instead of hanging.
  const readyOrExit = Promise.race([ready, result.then(() => Promise.reject(new Error(`worker exited before READY:\n${out}`)))]);
  return { ready: readyOrExit, go: () => child.stdin.end('go\n'), result };
}

describe('jottacloud token refresh across processes', () => {
  let emu: JottaEmulator;
  let pg: TestDatabase;
  let opened: OpenedDatabase;
  const key = randomBytes(32);

  beforeAll(async () => {
    emu = await startJottacloudEmulator();
    pg = await createTestDatabase('knarr_jotta_refresh');
    opened = await openDatabase({ url: pg.url });
  });

  afterAll(async () => {
    await opened?.close();
    await pg?.drop();
    await emu?.stop();
  });

  it('two worker processes sharing one credential row never reuse a rotated refresh token', async () => {
    const cipher = new CredentialCipher(key);
    const account = emu.addAccount(`refresh${randomBytes(3).toString('hex')}`);
    emu.faults.setAccessTokenLifetime(LIFETIME_SEC);
    const id = randomUUID();
    await insertRemote(opened.db, {
      id,
      ownerId: adminUserId,
      name: 'jotta',
      type: 'jottacloud',
      config: { device: 'Jotta', mountpoint: 'Archive', jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl },
      credentials: cipher.seal({ loginToken: emu.issueLoginToken(account) }, id),
    });

    const env = {
      DATABASE_URL: pg.url,
      KNARR_TEST_MASTER_KEY: key.toString('hex'),
      REMOTE_ID: id,
      DURATION_MS: String(DURATION_MS),
      CONCURRENCY: '4',
    };
    const workers = [startWorker(env), startWorker(env)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go(); // both start at the same moment
    const [a, b] = await Promise.all(workers.map((w) => w.result));

    const stats = emu.authStats();
    const sessions = emu.sessions(account);
    const summary = JSON.stringify({ a: { ...a, errors: a.errors.slice(0, 3) }, b: { ...b, errors: b.errors.slice(0, 3) }, stats, sessions });
    if (process.env.KNARR_TEST_VERBOSE) console.log(summary);
    expect(a.errors, summary).toEqual([]);
    expect(b.errors, summary).toEqual([]);
    expect(a.ok, summary).toBeGreaterThan(20);
    expect(b.ok, summary).toBeGreaterThan(20);
    expect(stats.reuseDetected, summary).toBe(0);
    // One login-token exchange for both processes; one session family, alive, refreshed across the expiries.
    expect(stats.passwordGrants, summary).toBe(1);
    expect(sessions, summary).toHaveLength(1);
    expect(sessions[0].revoked, summary).toBe(false);
    expect(sessions[0].refreshes, summary).toBeGreaterThanOrEqual(Math.floor(DURATION_MS / 1000 / LIFETIME_SEC) - 1);
    // Every grant the server saw was made by exactly one of the two processes, and tokens one
    // process stored were taken up by the other instead of refreshed again: the work was shared,
    // not duplicated. Which process wins each refresh is the scheduler's choice (on a loaded
    // machine one may win them all), so only the sum is certain.
    expect(a.auth.exchanges + b.auth.exchanges, summary).toBe(1);
    expect(a.auth.refreshes + b.auth.refreshes, summary).toBe(stats.refreshGrants);
    expect(a.auth.adoptedByRead + a.auth.adoptedUnderLock + b.auth.adoptedByRead + b.auth.adoptedUnderLock, summary).toBeGreaterThan(0);
    // Both processes did requests with the refreshed tokens.
    const users = new Set(emu.log.filter((l) => l.user?.toLowerCase() === account.toLowerCase() && l.status === 200).map((l) => l.role));
    expect(users.has('jfs')).toBe(true);

    // The row holds the newest tokens, and no login token any more.
    const stored = await credentialStore(opened.db, cipher, id).read();
    expect(stored.loginToken).toBeUndefined();
    expect(typeof stored.refreshToken).toBe('string');
    // ... and they still work for a third opener.
    const third = createJottacloudConnector({ jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl }, { host: unrestrictedHost, remoteName: 'jotta', credentials: credentialStore(opened.db, cipher, id) });
    await new Promise((r) => setTimeout(r, LIFETIME_SEC * 1000));
    expect((await third.stat('')).isDir).toBe(true);
    await third.close();
    expect(emu.authStats().reuseDetected).toBe(0);
  });

  it('control: two holders of copied tokens without the shared lock do trigger reuse detection', async () => {
    // What the row lock prevents (the "same rclone config on two machines" of §2.5): the emulator
    // must notice, or the test above would prove nothing.
    const account = emu.addAccount(`copied${randomBytes(3).toString('hex')}`);
    emu.faults.setAccessTokenLifetime(1);
    const first = memoryCredentials({ loginToken: emu.issueLoginToken(account) });
    const one = createJottacloudConnector({ jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl }, { host: unrestrictedHost, remoteName: 'one', credentials: first });
    await one.stat('');
    const two = createJottacloudConnector({ jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl }, { host: unrestrictedHost, remoteName: 'two', credentials: memoryCredentials(first.snapshot()) });
    const before = emu.authStats().reuseDetected;
    await new Promise((r) => setTimeout(r, 1100));
    await one.stat(''); // refreshes: the copied refresh token is now spent
    const err = await two.stat('').catch((e: unknown) => e);
    expect(String(err)).toMatch(/auth|Personal Login Token/);
    expect(emu.authStats().reuseDetected).toBe(before + 1);
    expect(emu.sessions(account)[0].revoked).toBe(true);
    await one.close();
    await two.close();
  });
});
