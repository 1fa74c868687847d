import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { ApiError, errorHandler } from './errors.js';
import { temporalProbe, type Probe } from './probe.js';
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
  probe?: Probe;
  log?: (msg: string, err?: unknown) => void;
}

export function createApp(deps: ApiDeps): Express {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const probe = deps.probe ?? temporalProbe(deps.client, deps.taskQueue);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.get('/healthz', (_req, res) => { res.json({ ok: true }); });
  app.use('/v1/remotes', remotesRouter({ db: deps.db, cipher: deps.cipher, probe, client: deps.client }));
  app.use('/v1/jobs', jobsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, probe, heartbeatTimeoutMs: deps.heartbeatTimeoutMs }));
  app.use('/v1/runs', runsRouter({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, heartbeatTimeoutMs: deps.heartbeatTimeoutMs }));
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no such endpoint: ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}
