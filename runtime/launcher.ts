import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { metricsRegistry } from '../metrics/registry.js';
import { join } from 'node:path';
import { createApp } from '../api/app.js';
import { openDatabase, type OpenedDatabase } from '../db/client.js';
import { CredentialCipher } from '../db/credentials.js';
import { hostPolicy, type Config } from './config.js';
import { ensureAdminKey } from './adminKey.js';
import { KeyHasher } from '../api/keys.js';
import { startDevServer, type DevServer } from './devServer.js';
import { loadMasterKey } from './masterKey.js';
import { connectTemporal, ensureSearchAttributes, type TemporalConnections } from './temporal.js';
import { findTemporalCli } from './temporalCli.js';
import { createWorker } from './worker.js';

export type Role = 'server' | 'api' | 'worker';

export interface Running {
  apiUrl: string | null;
  uiUrl: string | null;
  /** Stops everything; the same promise for every caller. */
  stop(): Promise<void>;
}

const log = (msg: string) => console.log(`knarr: ${msg}`);

/**
 * Starts one of the three shapes: `server` (API + worker in one process, with an embedded
 * Temporal dev server and PGlite unless TEMPORAL_ADDRESS / DATABASE_URL say otherwise), `api`,
 * or `worker`. Stopping undoes everything in reverse: the worker drains, the dev server stops,
 * nothing is left running.
 */
export async function launch(role: Role, config: Config): Promise<Running> {
  // We own the signals, so shutdown can be ordered (worker, then API, then database, then Temporal).
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log(`error while stopping: ${String(err)}`));
  };
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= stopAll());
  try {
    await mkdir(config.dataDir, { recursive: true });
    let address = config.temporal.address;
    let uiUrl: string | null = null;
    if (!address) {
      if (role !== 'server') throw new Error(`knarr ${role} needs TEMPORAL_ADDRESS (host:port of a Temporal server)`);
      const dev = await superviseEmbeddedTemporal(config, (err) => {
        log(`${err.message}; stopping`);
        process.exitCode = 1;
        void stop();
      });
      cleanups.push(() => dev.stop());
      address = dev.address;
      uiUrl = dev.uiUrl;
    }
    if (role !== 'server' && !config.databaseUrl) throw new Error(`knarr ${role} needs DATABASE_URL (the embedded database serves one process only)`);

    const database: OpenedDatabase = await openDatabase({ url: config.databaseUrl ?? undefined, dataDir: config.dataDir });
    cleanups.push(() => database.close());
    // Split processes must share one key: only the all-in-one server may make its own key file.
    const { key } = await loadMasterKey({ env: process.env, dataDir: config.dataDir, log, createIfMissing: role === 'server' });
    const cipher = new CredentialCipher(key);
    const hasher = new KeyHasher(key);
    const host = hostPolicy(role, config);
    if (role !== 'worker') await ensureAdminKey({ db: database.db, hasher, adminKey: config.adminKey, dataDir: config.dataDir, log });

    const temporal: TemporalConnections = await connectTemporal(address, config.temporal, { worker: role !== 'api' });
    cleanups.push(() => temporal.close());
    await ensureSearchAttributes(temporal.client, config.temporal.namespace);

    let worker: Worker | null = null;
    let workerRun: Promise<void> = Promise.resolve();
    if (role !== 'api') {
      worker = await createWorker({ connection: temporal.native, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, deps: { db: database.db, cipher, host, oauth: config.oauth }, shutdownGraceMs: config.shutdownGraceMs, quotaProbeMs: config.quotaProbeMs });
      workerRun = worker.run();
      const w = worker;
      cleanups.push(async () => {
        if (w.getState() === 'RUNNING') w.shutdown();
        await workerRun;
      });
    }

    if (role === 'worker' && config.metricsPort !== null) {
      const server = createServer((req, res) => {
        if (req.url !== '/metrics') return void res.writeHead(404).end();
        void metricsRegistry.metrics().then((text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text));
      });
      await new Promise<void>((resolve, reject) => server.listen(config.metricsPort!, config.api.host, resolve).once('error', reject));
      cleanups.push(() => new Promise<void>((res) => server.close(() => res())));
      log(`metrics       http://${config.api.host}:${config.metricsPort}/metrics`);
    }

    let apiUrl: string | null = null;
    if (role !== 'worker') {
      const app = createApp({ db: database.db, cipher, hasher, host, oauth: config.oauth, temporalUiUrl: config.temporalUiUrl ?? uiUrl, client: temporal.client, taskQueue: config.temporal.taskQueue, heartbeatTimeoutMs: config.heartbeatTimeoutMs });
      const server = await listen(app, config.api.host, config.api.port);
      cleanups.push(() => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }));
      apiUrl = `http://${config.api.host}:${config.api.port}`;
    }

    log(`${role} ready`);
    if (apiUrl) log(`API           ${apiUrl}`);
    if (uiUrl) log(`Temporal Web  ${uiUrl}`);
    else log(`Temporal      ${address} (namespace ${config.temporal.namespace})`);
    log(`data dir      ${config.dataDir}`);
    log(`local remotes ${host.localRoots === null ? 'any folder (one owner; set KNARR_LOCAL_ROOTS to limit)' : host.localRoots.length === 0 ? 'none (set KNARR_LOCAL_ROOTS to allow folders)' : host.localRoots.join(', ')}`);
    log(`database      ${database.kind === 'pglite' ? `embedded PGlite in ${join(config.dataDir, 'pglite')}` : 'PostgreSQL (DATABASE_URL)'}`);

    // A worker that ends on its own (its connection lost for good) takes the process down cleanly.
    if (worker) {
      void workerRun.then(stop, (err) => {
        log(`worker stopped: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return stop();
      });
    }
    return { apiUrl, uiUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A dev server dying this often is broken, not unlucky: knarr stops instead of looping. */
const DEV_SERVER_RESTARTS = { max: 5, withinMs: 60_000 };

/**
 * The embedded dev server, started again on the same SQLite file and port whenever it dies under
 * a running knarr (killed, out of memory). Nothing is lost: its state is in the SQLite file, the
 * worker's and the API's connections reconnect by themselves, and a copy that ran on meanwhile
 * reports to the new server (or, past its heartbeat timeout, is retried from its checkpoint).
 */
async function superviseEmbeddedTemporal(config: Config, giveUp: (err: Error) => void): Promise<{ address: string; uiUrl: string | null; stop(): Promise<void> }> {
  let current = await startEmbeddedTemporal(config);
  let restarting: Promise<void> = Promise.resolve();
  let stopped = false;
  const restarts: number[] = [];
  const watch = (dev: DevServer) => {
    void dev.exited.then(() => {
      if (stopped) return;
      const now = Date.now();
      restarts.push(now);
      while (restarts[0]! < now - DEV_SERVER_RESTARTS.withinMs) restarts.shift();
      if (restarts.length > DEV_SERVER_RESTARTS.max) {
        giveUp(new Error(`the Temporal dev server died ${restarts.length} times within ${DEV_SERVER_RESTARTS.withinMs / 1000}s${dev.logFile ? `; see ${dev.logFile}` : ''}`));
        return;
      }
      log('restarting the Temporal dev server');
      restarting = startEmbeddedTemporal(config).then(
        (next) => {
          current = next;
          log('Temporal dev server running again');
          if (stopped) return next.stop();
          watch(next);
        },
        (err: Error) => giveUp(err),
      );
    });
  };
  watch(current);
  return {
    address: current.address,
    uiUrl: current.uiUrl,
    async stop() {
      stopped = true;
      await restarting;
      await current.stop();
    },
  };
}

async function startEmbeddedTemporal(config: Config): Promise<DevServer> {
  const cliPath = await findTemporalCli({ log });
  log('starting the Temporal dev server');
  return startDevServer({
    cliPath,
    dbFile: join(config.dataDir, 'temporal.sqlite'),
    port: config.temporal.devPort,
    uiPort: config.temporal.uiPort,
    namespace: config.temporal.namespace,
    pidFile: join(config.dataDir, 'temporal.pid'),
    log,
  });
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    // Node closes an idle kept-alive socket after 5 s. When embedded PGlite holds the event loop
    // for seconds (the diff of a large plan), that timer fires just as a client reuses the socket,
    // and the client's request dies with ECONNRESET. Clients give up idle sockets long before this.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.once('listening', () => resolve(server));
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use: set KNARR_API_PORT to another port`) : err);
    });
  });
}
