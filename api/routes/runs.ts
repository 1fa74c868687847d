import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Router, type Response } from 'express';
import { itemStates, runStates, runWorkflowId, terminalRunStates, type ItemState, type RunState } from '../../core/run.js';
import { listItems, listedSoFar, retryableFiles } from '../../db/queries/ledger.js';
import { filesInFlight, phaseProgress } from '../../db/queries/progress.js';
import { getRun, getOwnRun, getRunWithJob, insertRun, listEvents, listRuns, runView } from '../../db/queries/runs.js';
import { callerOf } from '../auth.js';
import { isUuid } from '../ids.js';
import { page, pageQuery } from '../pagination.js';
import { ApiError, parseBody } from '../errors.js';
import { approveSchema } from '../schemas.js';
import { jobOptionsSchema, runLimitsSchema } from '../../core/job.js';
import { streamReport } from '../report.js';
import { startRun, type StartRunDeps } from '../startRun.js';


export function runsRouter(deps: StartRunDeps): Router {
  const r = Router();

  /** The caller's run; another user's answers the same 404 as none, so ids reveal nothing. */
  const load = async (res: Response, id: string) => {
    const row = isUuid(id) ? await getOwnRun(deps.db, callerOf(res).id, id) : undefined;
    if (!row) throw new ApiError(404, 'not_found', `no run with id "${id}"`);
    return row;
  };

  /** `?job=&state=&since=&until=&limit=&after=`, newest first. */
  r.get('/', async (req, res) => {
    const q = pageQuery(req, 100, isUuid);
    const { job, state, since, until } = req.query;
    if (job !== undefined && (typeof job !== 'string' || !isUuid(job))) throw new ApiError(400, 'invalid_request', 'job must be a job id', 'job');
    if (state !== undefined && (typeof state !== 'string' || !runStates.includes(state as RunState))) {
      throw new ApiError(400, 'invalid_request', `state must be one of: ${runStates.join(', ')}`, 'state');
    }
    const time = (v: unknown, field: string) => {
      if (v === undefined) return undefined;
      const t = typeof v === 'string' ? new Date(v) : new Date(NaN);
      if (Number.isNaN(t.getTime())) throw new ApiError(400, 'invalid_request', `${field} must be a date and time, e.g. 2026-12-01T00:00:00Z`, field);
      return t;
    };
    const rows = await listRuns(deps.db, callerOf(res).id, { jobId: job as string | undefined, state: state as string | undefined, since: time(since, 'since'), until: time(until, 'until') }, q.after, q.limit);
    res.json(page(rows, q.limit, (row) => row.id, (row) => runView(row)));
  });

  r.get('/:id', async (req, res) => {
    const row = await load(res, req.params.id);
    const planning = row.phase === 'plan' && !terminalRunStates.includes(row.state as RunState);
    const [phases, inFlight] = await Promise.all([phaseProgress(deps.db, row), filesInFlight(deps.db, row.id)]);
    res.json({ ...runView(row), phases, inFlight, ...(planning ? { listed: await listedSoFar(deps.db, row.id) } : {}) });
  });

  /** Newest first; `?kind=` one kind only; `next` pages on to older ones. */
  r.get('/:id/events', async (req, res) => {
    const row = await load(res, req.params.id);
    const q = pageQuery(req, 500, (after) => Number.isSafeInteger(Number(after)));
    const before = q.after === null ? null : Number(q.after);
    const events = await listEvents(deps.db, row.id, typeof req.query.kind === 'string' ? req.query.kind : undefined, before, q.limit);
    res.json(page(events, q.limit, (e) => String(e.id), (e) => ({ at: e.at.toISOString(), kind: e.kind, message: e.message, data: e.data })));
  });

  /** The ledger, page by page: `?state=failed` answers "what did not copy, and why". */
  r.get('/:id/files', async (req, res) => {
    const row = await load(res, req.params.id);
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    if (state !== undefined && !itemStates.includes(state as ItemState)) {
      throw new ApiError(400, 'invalid_request', `state must be one of: ${itemStates.join(', ')}`, 'state');
    }
    const q = pageQuery(req, 1000);
    const rows = await listItems(deps.db, row.id, state as ItemState | undefined, q.after ?? '', q.limit);
    res.json(page(rows, q.limit, (i) => i.path, (i) => ({ path: i.path, action: i.action, state: i.state, size: i.size, bytesDone: i.bytesDone, error: i.lastError })));
  });

  /**
   * Every file of the run with what was done and why, streamed: `?format=csv|json` (a download
   * link), else by the Accept header (JSON for `*\/*`).
   */
  r.get('/:id/report', async (req, res) => {
    const row = await load(res, req.params.id);
    const asked = typeof req.query.format === 'string' ? req.query.format : undefined;
    if (asked !== undefined && asked !== 'csv' && asked !== 'json') throw new ApiError(400, 'invalid_request', `format must be csv or json, not "${asked}"`, 'format');
    const accepted = req.accepts(['application/json', 'text/csv']);
    const format = asked ?? (accepted === 'text/csv' ? 'csv' : accepted ? 'json' : null);
    if (!format) throw new ApiError(406, 'not_acceptable', 'the report is application/json or text/csv: ask for one in the Accept header or with ?format=');
    if (format === 'csv') res.attachment(`knarr-run-${row.id}.csv`);
    await streamReport(deps.db, row.id, format, res);
  });

  /**
   * Pause: the files in flight stop at their next checkpoint and the run holds no worker until
   * resumed; it reads `paused` once they have. Resume goes on from there. Both answer at once.
   */
  for (const action of ['pause', 'resume'] as const) {
    r.post(`/:id/${action}`, async (req, res) => {
      const row = await load(res, req.params.id);
      if (terminalRunStates.includes(row.state as RunState)) {
        throw new ApiError(409, 'run_finished', `run ${row.id} has already ended (${row.state}); there is nothing to ${action}`);
      }
      await deps.client.workflow.getHandle(row.workflowId).signal(action);
      res.status(202).json(runView(row));
    });
  }

  /** New transfers and bandwidth limit for a running run: the running batches go on with them within seconds. */
  r.post('/:id/limits', async (req, res) => {
    const limits = parseBody(runLimitsSchema, req.body);
    const row = await load(res, req.params.id);
    if (terminalRunStates.includes(row.state as RunState)) {
      throw new ApiError(409, 'run_finished', `run ${row.id} has already ended (${row.state}); its limits cannot change`);
    }
    await deps.client.workflow.getHandle(row.workflowId).signal('setLimits', {
      ...(limits.transfers !== undefined ? { transfers: limits.transfers } : {}),
      ...(limits.bwlimit !== undefined ? { bandwidthLimit: limits.bwlimit } : {}),
    });
    res.status(202).json(runView(row));
  });

  /**
   * Runs exactly the stored plan of a run waiting in awaiting_approval. The run answers itself
   * (a Temporal update): a plan past options.planMaxAge, or whose source changed, is refused.
   */
  r.post('/:id/approve', async (req, res) => {
    const { digest } = parseBody(approveSchema, req.body);
    const row = await load(res, req.params.id);
    if (row.state !== 'awaiting_approval' || !row.plan) {
      throw new ApiError(409, 'not_awaiting_approval', `run ${row.id} is ${row.state}, not awaiting_approval: only a dry run or a sync that would delete waits for approval`);
    }
    if (digest !== row.plan.digest) {
      throw new ApiError(409, 'digest_mismatch', `digest "${digest}" is not this run's plan: its digest is "${row.plan.digest}" (GET /v1/runs/${row.id})`, 'digest');
    }
    try {
      await deps.client.workflow.getHandle(row.workflowId).executeUpdate('approve', { args: [{ digest }] });
    } catch (err) {
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      const why = err.cause instanceof Error ? err.cause.message : err.message;
      throw new ApiError(409, 'plan_refused', `the plan was not approved: ${why}`);
    }
    res.status(202).json(runView((await getRun(deps.db, row.id)) ?? row));
  });

  /** A new run of the same job over only the files this one failed to copy. */
  r.post('/:id/retry', async (req, res) => {
    const row = await load(res, req.params.id);
    if (!terminalRunStates.includes(row.state as RunState)) {
      throw new ApiError(409, 'run_not_finished', `run ${row.id} is still ${row.state}; retry it once it has ended`);
    }
    const { job } = await getRunWithJob(deps.db, row.id);
    if (job.mode !== 'copy') throw new ApiError(422, 'nothing_to_retry', `retry copies a copy run's failed files again; run ${row.id} is a ${job.mode} run`);
    const files = await retryableFiles(deps.db, row.id);
    if (files === 0) throw new ApiError(422, 'nothing_to_retry', `run ${row.id} has no failed files to copy again`);
    const run = await insertRun(deps.db, job, runWorkflowId);
    await startRun(deps, run, jobOptionsSchema.parse(job.options), { retryOf: row.id });
    res.status(202).location(`/v1/runs/${run.id}`).json({ jobId: job.id, runId: run.id, retryOf: row.id, files });
  });

  r.post('/:id/cancel', async (req, res) => {
    const row = await load(res, req.params.id);
    if (terminalRunStates.includes(row.state as RunState)) {
      throw new ApiError(409, 'run_finished', `run ${row.id} has already ended (${row.state})`);
    }
    await deps.client.workflow.getHandle(row.workflowId).cancel();
    res.status(202).json(runView(row));
  });

  return r;
}
