import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import express, { Router, type Express } from 'express';
import { runStates } from '../core/run.js';
import { runCountsByState } from '../db/queries/runs.js';
import { metricsRegistry, runsByState } from '../metrics/registry.js';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { ApiError, errorHandler } from './errors.js';
import { authenticate, callerOf } from './auth.js';
import { idempotent } from './idempotency.js';
import { refuseNul } from './nulGuard.js';
import { docsPage } from './docsPage.js';
import { uiRouter } from './ui.js';
import { openApiDocument } from './openapi.js';
import { packageVersion } from '../core/repo.js';
import type { KeyHasher } from './keys.js';
import { temporalAbout, temporalLister, temporalProbe, type AboutReader, type Lister, type Probe } from './probe.js';
import { schedulesRouter } from './routes/schedules.js';
import { usersRouter } from './routes/users.js';
import type { HostPolicy } from '../connectors/types.js';
import { jobsRouter } from './routes/jobs.js';
import { remotesRouter } from './routes/remotes.js';
import { oauthRouter } from './routes/oauth.js';
import { sessionRouter, signInRouter } from './routes/session.js';
import { oauthSetupFrom, type OAuthSetup } from '../connectors/oauthConnect.js';
import { runsRouter } from './routes/runs.js';

export interface ApiDeps {
  db: Db;
  cipher: CredentialCipher;
  client: Client;
  taskQueue: string;
  /** Passed to each run: how soon a dead worker is noticed. */
  heartbeatTimeoutMs: number;
  /** Checks API keys (api/keys.ts). */
  hasher: KeyHasher;
  /** What remotes may reach of this machine: checked before a remote is saved, and again by the worker. */
  host: HostPolicy;
  /** Where Temporal Web is, for the dashboard's links to runs; null when unknown. */
  temporalUiUrl?: string | null;
  /** The public URL and the operator's OAuth clients (the connect flow); read from the environment when absent. */
  oauth?: OAuthSetup;
  probe?: Probe;
  lister?: Lister;
  about?: AboutReader;
  log?: (msg: string, err?: unknown) => void;
}

export function createApp(deps: ApiDeps): Express {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const probe = deps.probe ?? temporalProbe(deps.client, deps.taskQueue);
  const lister = deps.lister ?? temporalLister(deps.client, deps.taskQueue);
  const about = deps.about ?? temporalAbout(deps.client, deps.taskQueue);
  const oauth = deps.oauth ?? oauthSetupFrom(process.env, 'http://localhost:8080');
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.use(refuseNul());
  app.get('/healthz', (_req, res) => { res.json({ ok: true }); });
  app.get('/readyz', async (_req, res) => {
    const [database, temporal] = await Promise.all([
      withTimeout(deps.db.execute(sql`SELECT 1`)),
      withTimeout(deps.client.connection.withDeadline(Date.now() + 3_000, () => deps.client.workflowService.getSystemInfo({}))),
    ]);
    res.status(database === 'ok' && temporal === 'ok' ? 200 : 503).json({ ok: database === 'ok' && temporal === 'ok', database, temporal });
  });
  app.get('/metrics', async (_req, res) => {
    const counts = await runCountsByState(deps.db);
    for (const state of runStates) runsByState.set({ state }, counts[state] ?? 0);
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });
  const openApi = openApiDocument(packageVersion());
  app.get('/v1/openapi.json', (_req, res) => { res.json(openApi); });
  app.get('/docs', (_req, res) => { res.type('html').send(docsPage(openApi)); });
  app.use(uiRouter());
  const session = { db: deps.db, hasher: deps.hasher, temporalUiUrl: deps.temporalUiUrl ?? null, secure: oauth.publicUrl.startsWith('https:') };
  // Signing in is how a browser gets its session, so it cannot need one.
  app.use('/v1/session', signInRouter(session));
  // A browser coming back from a provider's consent page carries no key: the single-use state names the user.
  app.use('/v1/oauth', oauthRouter({ db: deps.db, cipher: deps.cipher, probe, client: deps.client, host: deps.host, oauth }));
  // Everything below needs a key; a route added here without one cannot exist.
  app.use('/v1', authenticate(deps.db, deps.hasher));
  // The POSTs that start work; never one that makes a key, whose answer must not be stored.
  app.post(['/v1/jobs', '/v1/jobs/:id/runs', '/v1/runs/:id/retry', '/v1/schedules', '/v1/schedules/:id/trigger'], idempotent(deps.db));
  const me = Router();
  me.get('/', (_req, res) => { res.json(callerOf(res)); });
  const routers: [string, Router][] = [
    ['/v1/me', me],
    ['/v1/users', usersRouter({ db: deps.db, hasher: deps.hasher })],
    ['/v1/session', sessionRouter(session)],
    ['/v1/remotes', remotesRouter({ db: deps.db, cipher: deps.cipher, probe, lister, about, client: deps.client, host: deps.host, oauth })],
    ['/v1/jobs', jobsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, probe, heartbeatTimeoutMs: deps.heartbeatTimeoutMs })],
    ['/v1/schedules', schedulesRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, probe, heartbeatTimeoutMs: deps.heartbeatTimeoutMs })],
    ['/v1/runs', runsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, heartbeatTimeoutMs: deps.heartbeatTimeoutMs })],
  ];
  for (const [prefix, router] of routers) app.use(prefix, router);
  app.locals.routes = routers.flatMap(([prefix, router]) => routesOf(prefix, router));
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no such endpoint: ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}

/** 'ok', or what went wrong, within 3 s. */
async function withTimeout(p: Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((res) => { timer = setTimeout(() => res('no answer within 3 s'), 3_000); });
  try {
    return await Promise.race([p.then(() => 'ok', (err: unknown) => (err instanceof Error ? err.message : String(err))), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** "METHOD /path" of every authenticated route, for the security suite to hold each one to an owner check. */
export function apiRoutes(app: Express): string[] {
  return app.locals.routes as string[];
}

function routesOf(prefix: string, router: Router): string[] {
  const stack = (router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack;
  return stack.flatMap((layer) => layer.route
    ? Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${prefix}${layer.route!.path === '/' ? '' : layer.route!.path}`)
    : []);
}
