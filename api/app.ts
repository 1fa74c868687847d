import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { ApiError, errorHandler } from './errors.js';
import { authenticate, callerOf } from './auth.js';
import type { KeyHasher } from './keys.js';
import { temporalLister, temporalProbe, type Lister, type Probe } from './probe.js';
import { usersRouter } from './routes/users.js';
import type { HostPolicy } from '../connectors/types.js';
import { jobsRouter } from './routes/jobs.js';
import { remotesRouter } from './routes/remotes.js';
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
  probe?: Probe;
  lister?: Lister;
  log?: (msg: string, err?: unknown) => void;
}

export function createApp(deps: ApiDeps): Express {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const probe = deps.probe ?? temporalProbe(deps.client, deps.taskQueue);
  const lister = deps.lister ?? temporalLister(deps.client, deps.taskQueue);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.get('/healthz', (_req, res) => { res.json({ ok: true }); });
  // Everything below needs a key; a route added here without one cannot exist.
  app.use('/v1', authenticate(deps.db, deps.hasher));
  app.get('/v1/me', (_req, res) => { res.json(callerOf(res)); });
  app.use('/v1/users', usersRouter({ db: deps.db, hasher: deps.hasher }));
  app.use('/v1/remotes', remotesRouter({ db: deps.db, cipher: deps.cipher, probe, lister, client: deps.client, host: deps.host }));
  app.use('/v1/jobs', jobsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, probe, heartbeatTimeoutMs: deps.heartbeatTimeoutMs }));
  app.use('/v1/runs', runsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, heartbeatTimeoutMs: deps.heartbeatTimeoutMs }));
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no such endpoint: ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}
