import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { testAdminKey } from './knarr.js';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { freePort } from './ports.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface KnarrProcess {
  /** The process spawned: knarr itself, or its unreaping parent (see `unreapedParent`). */
  child: ChildProcess;
  /** knarr's own pid, which is also its process group. */
  pid: Promise<number>;
  output(): string;
  /** Resolves once a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Settles once knarr has exited (a zombie counts as exited). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals knarr's whole process group, as `kill -- -pgid` or a terminal's Ctrl-C does. */
  killGroup(signal: NodeJS.Signals): Promise<void>;
}

export interface SpawnKnarrOptions {
  /**
   * Runs knarr under a parent that never reaps it, as a container's pid 1 or a dead npm may be:
   * a killed knarr then stays a zombie, which is what a restart right after `kill -9` meets.
   */
  unreapedParent?: boolean;
}

/**
 * Starts `knarr <role>` as its own process, exactly as a user or a container would, in its own
 * process group (as a shell gives a job), so tests can signal the group.
 */
export function spawnKnarr(role: 'server' | 'api' | 'worker', env: Record<string, string | undefined>, opts: SpawnKnarrOptions = {}): KnarrProcess {
  // The admin key the tests' api() sends; split processes serve many users, and the tests' local
  // remotes live in the temp folder.
  // The emulators listen on 127.0.0.1, a private address split processes refuse by default.
  const defaults: Record<string, string> = { KNARR_ADMIN_KEY: testAdminKey, ...(role === 'server' ? {} : { KNARR_LOCAL_ROOTS: tmpdir(), KNARR_ALLOW_PRIVATE_NETWORKS: '1' }) };
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...defaults, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
  // One process, as `npm start` runs it (npm itself would be a wrapper that survives a SIGKILL of its child).
  const argv = [process.execPath, 'cli/start.mjs', role];
  const child = opts.unreapedParent
    ? // setsid execs in place (the job is not a group leader), so $! is knarr's pid; `sleep` never waits for it.
      spawn('/bin/sh', ['-c', 'setsid "$@" & echo "knarr-pid $!"; exec sleep 100000', 'sh', ...argv], { cwd: repo, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(argv[0]!, argv.slice(1), { cwd: repo, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const childExited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));

  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = out.match(pattern);
        if (m) {
          cleanup();
          resolve(m[0]);
        }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`knarr ${role} did not print ${pattern} in ${timeoutMs} ms; output:\n${out}`)); }, timeoutMs);
      const onExit = () => { cleanup(); reject(new Error(`knarr ${role} exited before printing ${pattern}; output:\n${out}`)); };
      const cleanup = () => { clearTimeout(timer); listeners.delete(check); child.off('exit', onExit); };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });

  const pid = opts.unreapedParent ? waitFor(/knarr-pid (\d+)/, 10_000).then((line) => Number(line.split(' ')[1])) : Promise.resolve(child.pid!);
  const exited = opts.unreapedParent
    ? pid.then(async (p) => {
        while (isRunning(p)) await sleep(50);
        return { code: null, signal: null };
      })
    : childExited;
  return {
    child,
    pid,
    output: () => out,
    exited,
    waitFor,
    async killGroup(signal) {
      process.kill(-(await pid), signal);
    },
  };
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Stops a process and everything in its group if it is still running (test cleanup). */
export async function ensureStopped(p: KnarrProcess | undefined): Promise<void> {
  if (!p) return;
  if (isRunning(await p.pid)) await p.killGroup('SIGKILL').catch(() => {});
  await p.exited;
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await new Promise((res) => p.child.once('exit', res));
  }
}

/**
 * `knarr server` as a new user runs it (embedded dev server and PGlite, its own master key) in
 * `dir`/data, on free ports, with a short heartbeat timeout so a resumed copy moves on quickly.
 */
export async function embeddedServer(dir: string): Promise<{ env: Record<string, string | undefined>; base: string; ports: { api: number; temporal: number; ui: number } }> {
  const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
  const env = {
    KNARR_DATA_DIR: join(dir, 'data'),
    KNARR_API_PORT: String(ports.api),
    KNARR_TEMPORAL_PORT: String(ports.temporal),
    KNARR_TEMPORAL_UI_PORT: String(ports.ui),
    TEMPORAL_CLI_PATH: inject('temporalCliPath'),
    KNARR_HEARTBEAT_TIMEOUT_MS: '5000',
    DATABASE_URL: undefined,
    TEMPORAL_ADDRESS: undefined,
    KNARR_MASTER_KEY: undefined,
  };
  return { env, base: `http://127.0.0.1:${ports.api}`, ports };
}

/**
 * `knarr server` as `embeddedServer` sets it up, started and ready. freePort's numbers can be
 * taken by another test file's server before the dev server binds them; such a start is tried
 * again on new ports.
 */
export async function startEmbeddedServer(dir: string, extraEnv: Record<string, string | undefined> = {}): Promise<{ proc: KnarrProcess; env: Record<string, string | undefined>; base: string; ports: { api: number; temporal: number; ui: number } }> {
  for (let attempt = 1; ; attempt++) {
    const server = await embeddedServer(dir);
    const env = { ...server.env, ...extraEnv };
    const proc = spawnKnarr('server', env);
    try {
      await proc.waitFor(/server ready/, 180_000);
      return { ...server, env, proc };
    } catch (err) {
      await ensureStopped(proc);
      if (attempt >= 3 || !/address already in use/.test(proc.output())) throw err;
    }
  }
}
