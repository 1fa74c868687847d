import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { Router, type Response } from 'express';
import type { ScheduledRunInput } from '../../core/run.js';
import { createScheduleSchema, type OverlapPolicy } from '../../core/schedule.js';
import { parseDuration } from '../../core/units.js';
import type { Db } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { getOwnJob, runIdentity, runView, deleteJobAndRuns } from '../../db/queries/runs.js';
import { runSummary, startAttributes } from '../../core/searchAttributes.js';
import { deleteScheduleRow, findScheduleByName, getOwnSchedule, insertSchedule, listSchedules, recentRunsOf, type ScheduleRow } from '../../db/queries/schedules.js';
import type { transferRun } from '../../workflows/transferRun.js';
import { callerOf } from '../auth.js';
import { ApiError, parseBody } from '../errors.js';
import { isUuid } from '../ids.js';
import { page, pageQuery } from '../pagination.js';
import { scheduleNoteSchema } from '../schemas.js';
import type { Probe } from '../probe.js';
import { checkedJob } from './jobs.js';

export interface SchedulesDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  probe: Probe;
  heartbeatTimeoutMs: number;
}

const overlapOf: Record<OverlapPolicy, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

const day = 86_400_000;
/** How many upcoming times a schedule shows. */
const nextShown = 5;

/**
 * Incremental backups on Temporal Schedules: each schedule runs one job (a copy sends only what
 * changed since the destination last got it). Temporal starts each run's workflow by itself; the
 * workflow makes its run row (activities/run.ts openScheduledRun).
 */
export function schedulesRouter(deps: SchedulesDeps): Router {
  const r = Router();

  const load = async (res: Response, id: string): Promise<ScheduleRow> => {
    const row = isUuid(id) ? await getOwnSchedule(deps.db, callerOf(res).id, id) : undefined;
    if (!row) throw new ApiError(404, 'not_found', `no schedule with id "${id}"`);
    return row;
  };
  const handleOf = (row: ScheduleRow) => deps.client.schedule.getHandle(row.temporalId);

  r.post('/', async (req, res) => {
    const owner = callerOf(res).id;
    const body = parseBody(createScheduleSchema, req.body);
    if (await findScheduleByName(deps.db, owner, body.name)) throw new ApiError(409, 'name_taken', `a schedule named "${body.name}" already exists`, 'name');
    const job = await checkedJob(deps, owner, body);
    let row: ScheduleRow;
    try {
      row = await insertSchedule(deps.db, job, { name: body.name, cron: body.cron ?? null, every: body.every ?? null, timezone: body.timezone, overlap: body.overlap }, (id) => `knarr-schedule-${id}`);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ApiError(409, 'name_taken', `a schedule named "${body.name}" already exists`, 'name');
      throw err;
    }
    const everyMs = body.every === undefined ? null : parseDuration(body.every);
    try {
      const who = await runIdentity(deps.db, row.jobId);
      await deps.client.schedule.create<typeof transferRun>({
        scheduleId: row.temporalId,
        spec: {
          ...(body.cron ? { cronExpressions: [body.cron] } : { intervals: [{ every: everyMs! }] }),
          timezone: body.timezone,
        },
        action: {
          type: 'startWorkflow',
          workflowType: 'transferRun',
          taskQueue: deps.taskQueue,
          workflowId: `run-sched-${row.id}`,
          args: [{ jobId: row.jobId, heartbeatTimeoutMs: deps.heartbeatTimeoutMs } satisfies ScheduledRunInput],
          typedSearchAttributes: startAttributes(who),
          staticSummary: `${runSummary(who)}, scheduled "${row.name}"`,
        },
        // A knarr that was down at the nominal time still runs the backup when it is back (once:
        // overlapping runs follow the overlap policy), but not one from days ago.
        policies: { overlap: overlapOf[body.overlap], catchupWindow: Math.max(10_000, Math.min(day, everyMs ?? day)) },
      });
    } catch (err) {
      await deleteScheduleRow(deps.db, row.id);
      await deleteJobAndRuns(deps.db, row.jobId);
      const why = err instanceof Error ? err.message : String(err);
      // Temporal answers a spec it cannot use with INVALID_ARGUMENT, which the client raises as a TypeError.
      if (err instanceof TypeError || (err as { code?: unknown }).code === 3) {
        throw new ApiError(400, 'invalid_request', `${body.cron ? 'cron' : 'every'}: Temporal refused it: ${why}`, body.cron ? 'cron' : 'every');
      }
      throw err;
    }
    res.status(201).location(`/v1/schedules/${row.id}`).json(await view(row));
  });

  r.get('/', async (req, res) => {
    const q = pageQuery(req);
    const rows = await listSchedules(deps.db, callerOf(res).id, q.after, q.limit);
    const views = await Promise.all(rows.map(view));
    res.json(page(rows.map((row, i) => ({ row, v: views[i]! })), q.limit, ({ row }) => row.name, ({ v }) => v));
  });

  r.get('/:id', async (req, res) => {
    res.json(await view(await load(res, req.params.id)));
  });

  for (const action of ['pause', 'unpause'] as const) {
    r.post(`/:id/${action}`, async (req, res) => {
      parseBody(scheduleNoteSchema, req.body);
      const row = await load(res, req.params.id);
      const note = (req.body as { note?: string } | undefined)?.note ?? `${action}d through the knarr API`;
      await onTemporal(row, () => (action === 'pause' ? handleOf(row).pause(note) : handleOf(row).unpause(note)));
      res.json(await view(row));
    });
  }

  /** A run now, as if its time had come (a run still going makes it follow the overlap policy). */
  r.post('/:id/trigger', async (req, res) => {
    const row = await load(res, req.params.id);
    await onTemporal(row, () => handleOf(row).trigger(overlapOf[row.overlap as OverlapPolicy]));
    res.status(202).json(await view(row));
  });

  /** The schedule stops; its job and the runs it made stay (DELETE /v1/jobs/{id} removes them). */
  r.delete('/:id', async (req, res) => {
    const row = await load(res, req.params.id);
    await handleOf(row).delete().catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    await deleteScheduleRow(deps.db, row.id);
    res.status(204).end();
  });

  async function onTemporal(row: ScheduleRow, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new ApiError(409, 'schedule_missing', `schedule "${row.name}" is no longer in Temporal: delete it and create it again`);
      throw err;
    }
  }

  async function view(row: ScheduleRow) {
    const [job, recent, described] = await Promise.all([
      getOwnJob(deps.db, row.ownerId, row.jobId),
      recentRunsOf(deps.db, row),
      handleOf(row).describe().catch((err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return null;
        throw err;
      }),
    ]);
    return {
      id: row.id,
      name: row.name,
      jobId: row.jobId,
      source: job?.source ?? null,
      destination: job?.destination ?? null,
      mode: job?.mode ?? null,
      options: job?.options ?? null,
      filters: job?.filters ?? null,
      cron: row.cron,
      every: row.every,
      timezone: row.timezone,
      overlap: row.overlap,
      state: described === null ? 'missing' : described.state.paused ? 'paused' : 'active',
      note: described?.state.note ?? null,
      nextRuns: described && !described.state.paused ? described.info.nextActionTimes.slice(0, nextShown).map((t) => t.toISOString()) : [],
      recentRuns: recent.map((run) => {
        const v = runView(run);
        return { id: v.id, state: v.state, files: v.files, bytes: v.bytes, startedAt: v.startedAt, finishedAt: v.finishedAt };
      }),
      createdAt: row.createdAt.toISOString(),
    };
  }

  return r;
}
