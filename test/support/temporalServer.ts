import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { createTestDatabase, testPgBaseUrl, type TestDatabase } from './pg.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** The configuration docker-compose.yml runs too; see its header for the environment it reads. */
const deployDir = join(repo, 'deploy', 'temporal');
const STOP_GRACE_MS = 20_000;

export interface TemporalServer {
  /** host:port of the frontend, for TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  pid: number;
  /** The server's own log (warn and above). */
  logFile: string;
  /** The last lines of that log, for a failing test's message (the file goes with stop()). */
  logTail(): Promise<string>;
  /** Settles when the server process has exited, stopped or crashed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the server (SIGTERM, then SIGKILL), drops its two databases and removes its files. */
  stop(): Promise<void>;
}

export interface StartTemporalServerOptions {
  /** The directory scripts/install-temporal-server.sh printed (binaries and schema). */
  serverDir: string;
  /** The Temporal CLI, which registers the namespace as compose's admin-tools container does. */
  cliPath: string;
  namespace?: string;
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

/**
 * Temporal's own server, the one a cluster runs, on two fresh PostgreSQL databases of the test
 * server: schema set up by deploy/temporal/setup-postgres.sh, configuration rendered by the server
 * from deploy/temporal/config/postgres.yaml, namespace registered by
 * deploy/temporal/create-namespace.sh. Every port is a free one on 127.0.0.1.
 */
export async function startTemporalServer(options: StartTemporalServerOptions): Promise<TemporalServer> {
  const log = options.log ?? (() => {});
  const namespace = options.namespace ?? 'default';
  if (options.serverDir.startsWith('unavailable: ')) throw new Error(`no Temporal server to start: ${options.serverDir}`);
  const dir = await mkdtemp(join(tmpdir(), 'knarr-temporal-'));
  const databases: TestDatabase[] = [];
  const cleanUp = async () => {
    await Promise.allSettled(databases.map((d) => d.drop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    databases.push(await createTestDatabase('temporal'), await createTestDatabase('temporal_vis'));
    const [main, visibility] = databases;
    const pg = new URL(testPgBaseUrl());
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: [options.serverDir, dirname(options.cliPath), process.env.PATH].join(delimiter),
      POSTGRES_SEEDS: pg.hostname,
      DB_PORT: pg.port || '5432',
      POSTGRES_USER: decodeURIComponent(pg.username) || 'postgres',
      POSTGRES_PWD: decodeURIComponent(pg.password),
      DBNAME: main!.name,
      VISIBILITY_DBNAME: visibility!.name,
      TEMPORAL_SCHEMA_DIR: join(options.serverDir, 'schema'),
      SKIP_DB_CREATE: 'true',
      DYNAMIC_CONFIG_FILE_PATH: join(deployDir, 'dynamicconfig.yaml'),
      LOG_LEVEL: 'warn',
      TEMPORAL_NAMESPACE: namespace,
    };
    const started = Date.now();
    await run('sh', [join(deployDir, 'setup-postgres.sh')], env, join(dir, 'setup-postgres.log'));
    log(`Temporal schema set up in ${Date.now() - started} ms`);

    // A port found free can be taken by another process before the server binds it; try again then.
    for (let attempt = 1; ; attempt++) {
      try {
        const server = await launch(options, env, dir, namespace, log);
        return { ...server, stop: async () => { await server.stop(); await cleanUp(); } };
      } catch (err) {
        if (attempt >= 3) throw err;
        log(`Temporal server did not start (${(err as Error).message.split('\n')[0]}); retrying`);
      }
    }
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

async function launch(options: StartTemporalServerOptions, baseEnv: NodeJS.ProcessEnv, dir: string, namespace: string, log: (line: string) => void): Promise<TemporalServer> {
  const ports = new Set<number>();
  while (ports.size < 8) ports.add(await freeLowPort());
  const [frontend, frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership] = [...ports].map(String);
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    FRONTEND_GRPC_PORT: frontend, FRONTEND_MEMBERSHIP_PORT: frontendMembership,
    HISTORY_GRPC_PORT: history, HISTORY_MEMBERSHIP_PORT: historyMembership,
    MATCHING_GRPC_PORT: matching, MATCHING_MEMBERSHIP_PORT: matchingMembership,
    WORKER_GRPC_PORT: worker, WORKER_MEMBERSHIP_PORT: workerMembership,
  };
  const address = `127.0.0.1:${frontend}`;
  const logFile = join(dir, `temporal-server-${frontend}.log`);
  const out = createWriteStream(logFile);
  await new Promise((res) => out.once('open', res));
  const child = spawn(join(options.serverDir, 'temporal-server'),
    ['--root', deployDir, '--config', 'config', '--env', 'postgres', '--allow-no-auth', 'start'],
    { env, stdio: ['ignore', out, out] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  // Lines end in Go stack traces; the message is what a failing test needs.
  const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-30).map((l) => l.slice(0, 600)).join('\n');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    out.close();
  };
  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
    const died = exited.then(async ({ code, signal }) => { throw new Error(`temporal-server exited (${signal ?? code}) while starting:\n${await tail()}`); });
    died.catch(() => {});
    await Promise.race([waitForFrontend(address, deadline), died]);
    await Promise.race([run('sh', [join(deployDir, 'create-namespace.sh')], { ...env, TEMPORAL_ADDRESS: address }, join(dir, 'create-namespace.log')), died]);
    await Promise.race([waitForNamespace(address, namespace, deadline), died]);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`Temporal server ${address} (pid ${child.pid}) serves namespace ${namespace} on PostgreSQL`);
  return { address, namespace, pid: child.pid!, logFile, logTail: tail, exited, stop };
}

async function waitForFrontend(address: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal frontend ${address} did not answer: ${(err as Error).message}`);
      await sleep(250);
    }
  }
}

/**
 * A registered namespace is not yet a served one: listing goes through the frontend's namespace
 * cache and the visibility store, which is what starting and finding runs needs.
 */
async function waitForNamespace(address: string, namespace: string, deadline: number): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    for (;;) {
      try {
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} on ${address} is not served: ${(err as Error).message}`);
        await sleep(250);
      }
    }
  } finally {
    await connection.close();
  }
}

/**
 * A port free on 127.0.0.1 below 32768. Temporal's PostgreSQL schema keeps a member's port in a
 * SMALLINT (cluster_membership.rpc_port), and the kernel's ephemeral ports (freePort()) start
 * above it: the server then dies with "value out of range for type smallint".
 */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      // Kept beside the server's log for a failed run to be read afterwards; losing it is no failure.
      writeFile(logFile, output).catch(() => {});
      if (err) reject(new Error(`${args.join(' ')} failed: ${err.message}\n${output.split('\n').slice(-20).join('\n')}`));
      else resolve();
    });
  });
}
