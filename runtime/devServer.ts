import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import type { Readable } from 'node:stream';
import { basename, dirname, extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';

export type DevServerLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'never';

export interface DevServerOptions {
  cliPath: string;
  /** SQLite file for the server's state; without it everything lives in memory and dies with the process. */
  dbFile?: string;
  ip?: string;
  port: number;
  /** Defaults to port + 1000, as the CLI does. */
  uiPort?: number;
  headless?: boolean;
  /** Created at start; `default` always exists. */
  namespace?: string;
  log?: (line: string) => void;
  /** Lets a later start find and stop a server left behind when knarr was SIGKILLed. */
  pidFile?: string;
  /** `--dynamic-config-value`; values are JSON-encoded, so strings arrive as strings. */
  dynamicConfig?: Record<string, string | number | boolean>;
  logLevel?: DevServerLogLevel;
  /** Server output goes here; defaults to `<dbFile without extension>.log`, else only the last lines are kept in memory. */
  logFile?: string;
  startTimeoutMs?: number;
}

export interface DevServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DevServer {
  /** host:port for `Connection.connect` / `NativeConnection.connect`. */
  address: string;
  uiUrl: string | null;
  pid: number;
  logFile: string | null;
  /** Settles when the server process has exited, whether stopped or crashed. */
  exited: Promise<DevServerExit>;
  stop(): Promise<void>;
}

/**
 * How long a stopping server gets before SIGKILL. It takes 2-3 s to stop on a busy 2-core machine;
 * SIGKILL after that loses nothing, since SQLite commits atomically and Temporal persists every
 * state change before acknowledging it. Kept short because it is most of knarr's 5 s stop budget.
 */
const STOP_GRACE_MS = 2_500;
const TAIL_LINES = 40;

/**
 * Runs the server under a watchdog so it cannot outlive knarr, however knarr dies (SIGKILL
 * included). fd 3 is a socket to knarr that only the kernel closes on knarr's side: when `read`
 * sees EOF, knarr is gone and the server is stopped, then killed. The first line written to fd 3
 * is the server's pid. SIGTERM to this shell is passed on to the server, so a normal stop still
 * lets it shut down cleanly. The server itself never gets fd 3: it must not keep the socket open.
 */
const WATCHDOG = `
"$@" 3<&- &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT
echo "$server" >&3
(
  while read -r _; do :; done <&3
  kill -TERM "$server" 2>/dev/null
  sleep ${STOP_GRACE_MS / 1000}
  kill -KILL "$server" 2>/dev/null
) &
watchdog=$!
exec 3<&-
while :; do
  wait "$server"
  code=$?
  kill -0 "$server" 2>/dev/null || break
done
kill "$watchdog" 2>/dev/null
# Mirror a death by signal, so knarr reports the signal rather than 128+N.
if [ "$code" -gt 128 ]; then
  trap - TERM INT
  kill -s "$(kill -l "$code")" $$
fi
exit "$code"
`;

// The dev server otherwise asks temporal.io for newer versions, which only produces warnings offline.
const DEFAULT_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'frontend.enableServerVersionCheck': false,
};

/** Starts `temporal server start-dev` as a child process and resolves once it serves the namespace. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const headless = options.headless ?? false;
  const uiPort = options.uiPort ?? options.port + 1000;
  const log = options.log ?? (() => {});
  const address = `${ip}:${options.port}`;
  const timeoutMs = options.startTimeoutMs ?? 60_000;

  if (options.pidFile) await stopStaleServer(options.pidFile, log);

  // Connecting to whatever already listens there would make a foreign server look like ours.
  if (await isListening(ip, options.port)) {
    throw new Error(`cannot start the Temporal dev server: ${address} is already in use`);
  }

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), '--log-level', options.logLevel ?? 'warn'];
  if (options.dbFile) {
    await mkdir(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [key, value] of Object.entries({ ...DEFAULT_DYNAMIC_CONFIG, ...options.dynamicConfig })) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }

  const logFile = options.logFile ?? (options.dbFile ? join(dirname(options.dbFile), `${basename(options.dbFile, extname(options.dbFile))}.log`) : null);
  const tail = new LineTail(TAIL_LINES);
  let logFd: number | null = null;
  if (logFile) {
    await mkdir(dirname(logFile), { recursive: true });
    // The file collects every start; the marker tells which lines belong to which one.
    await appendFile(logFile, `--- ${new Date().toISOString()} ${options.cliPath} ${args.join(' ')}\n`);
    // A file descriptor, not a pipe: the server keeps logging (and running) if knarr dies.
    logFd = openSync(logFile, 'a');
  }

  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'knarr-temporal-watchdog', options.cliPath, ...args], {
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe', 'pipe'],
    // Its own process group keeps a terminal Ctrl-C from killing the server before knarr's
    // workers have drained; knarr stops it last.
    detached: true,
  });
  if (logFd !== null) closeSync(logFd);
  child.stdout?.setEncoding('utf8').on('data', (c: string) => tail.push(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => tail.push(c));
  const serverPid = readFirstLine(child.stdio[3] as Readable);

  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = new Promise<DevServerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // spawn() failures (ENOENT, EACCES) never emit 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let stopping = false;
  let running = true;
  let started = false;
  void exited.then(() => {
    running = false;
  });
  const failure = async (why: string): Promise<Error> => {
    const output = logFile ? await readTail(logFile, TAIL_LINES) : tail.lines();
    return new Error(`Temporal dev server on ${address} ${why}${output.length ? `; last output:\n${output.join('\n')}` : ''}`);
  };

  const watchdogPid = child.pid;
  if (watchdogPid === undefined) throw await failure(`could not be started: ${(await spawnError).message}`);
  const pid = await Promise.race([serverPid, exited.then(() => null)]);
  if (pid === null) throw await failure(`could not be started (${describeExit(await exited)})`);
  void exited.then((exit) => {
    // A crash during startup is reported by the startup error itself.
    if (started && !stopping) log(`Temporal dev server (pid ${pid}) exited unexpectedly (${describeExit(exit)})${logFile ? `; see ${logFile}` : ''}`);
  });
  if (options.pidFile) {
    await mkdir(dirname(options.pidFile), { recursive: true });
    await writeFile(options.pidFile, `${pid}\n`);
  }

  const stop = async (): Promise<void> => {
    stopping = true;
    if (running) {
      signal(watchdogPid, 'SIGTERM');
      // Unref'd: a pending grace timer must not keep the process alive after the server has gone.
      const result = await Promise.race([exited, sleep(STOP_GRACE_MS, null, { ref: false })]);
      if (result === null) {
        log(`Temporal dev server (pid ${pid}) did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
        // The whole group: the server and its watchdog.
        signal(-watchdogPid, 'SIGKILL');
        await exited;
      }
    }
    if (options.pidFile) await removePidFileIfOurs(options.pidFile, pid);
  };

  const ready = await Promise.race([
    waitUntilServing(address, namespace, timeoutMs, () => running).then(() => 'ready' as const, (err: Error) => err),
    exited.then((exit) => exit),
  ]);
  if (ready !== 'ready') {
    const why = ready instanceof Error ? `did not answer within ${timeoutMs / 1000}s (${ready.message})` : `exited during startup (${describeExit(ready)})`;
    const error = await failure(why);
    await stop();
    throw error;
  }
  started = true;

  return {
    address,
    uiUrl: headless ? null : `http://${ip}:${uiPort}`,
    pid,
    logFile,
    exited,
    stop,
  };
}

/** The first line the watchdog writes: the server's pid. */
function readFirstLine(stream: Readable): Promise<number> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) return;
      // Nothing more comes: the socket stays open only so the watchdog sees EOF when knarr dies,
      // and it closes when the watchdog exits.
      stream.off('data', onData).resume();
      resolve(Number.parseInt(text.slice(0, end), 10));
    };
    stream.on('data', onData).on('error', () => {});
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function describeExit({ code, signal }: DevServerExit): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

async function waitUntilServing(address: string, namespace: string, timeoutMs: number, childRunning: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  // Polling a dead child's port would only hold the process open until the deadline.
  while (Date.now() < deadline && childRunning()) {
    // lazy() + ensureConnected() rather than connect(): a failed connect() leaks its gRPC
    // channel, whose reconnect timers then hold the process open for seconds after stop().
    const connection = Connection.lazy({ address, connectTimeout: 2_000 });
    try {
      await connection.ensureConnected();
      // Answering gRPC is not enough: the namespace is registered a moment after the port opens.
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await connection.close().catch(() => {});
    }
    await sleep(200);
  }
  throw new Error(lastError instanceof Error ? lastError.message : 'no answer');
}

function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True only when pid is alive and really is a `temporal server start-dev`: pids are reused. */
export function isDevServerProcess(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)\s*/, '')[0];
    if (state === 'Z') return false;
  } catch {
    return false;
  }
  const serverAt = argv.indexOf('server');
  return basename(argv[0] ?? '').startsWith('temporal') && serverAt > 0 && argv[serverAt + 1] === 'start-dev';
}

async function stopStaleServer(pidFile: string, log: (line: string) => void): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && isDevServerProcess(pid)) {
    log(`stopping a Temporal dev server left running by an earlier knarr (pid ${pid})`);
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (isDevServerProcess(pid) && Date.now() < deadline) await sleep(100);
    if (isDevServerProcess(pid)) {
      signal(pid, 'SIGKILL');
      while (isDevServerProcess(pid)) await sleep(50);
    }
  }
  await rm(pidFile, { force: true });
}

async function removePidFileIfOurs(pidFile: string, pid: number): Promise<void> {
  try {
    if (Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10) === pid) await rm(pidFile, { force: true });
  } catch {
    // already removed
  }
}

async function readTail(file: string, lines: number): Promise<string[]> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter((l) => l.trim()).slice(-lines);
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}

class LineTail {
  private buffer: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      this.buffer.push(line);
      if (this.buffer.length > this.max) this.buffer.shift();
    }
  }
  lines(): string[] {
    return this.partial.trim() ? [...this.buffer, this.partial] : [...this.buffer];
  }
}
