import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { createJobSchema, jobOptionsSchema, updateJobSchema, type CreateJob } from '../../core/job.js';
import { normalizePath, PathError } from '../../core/paths.js';
import { parseLocation, type Location } from '../../core/location.js';
import { runWorkflowId } from '../../core/run.js';
import type { Db } from '../../db/client.js';
import { findRemoteByName, type RemoteRow } from '../../db/queries/remotes.js';
import type { ProbeResult } from '../../core/remote.js';
import { deleteJobAndRuns, getJobRow, getOwnJob, insertJobAndRun, insertRun, listJobs, updateJob, type NewJob } from '../../db/queries/runs.js';
import { callerOf } from '../auth.js';
import { isUuid } from '../ids.js';
import { page, pageQuery } from '../pagination.js';
import { emptyBodySchema } from '../schemas.js';
import { ApiError, parseBody } from '../errors.js';
import type { Probe } from '../probe.js';
import { startRun } from '../startRun.js';

export interface JobsDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  probe: Probe;
  heartbeatTimeoutMs: number;
}

export function jobsRouter(deps: JobsDeps): Router {
  const r = Router();

  /** Checks everything before writing anything: a refused job leaves no job, run or workflow behind. */
  r.post('/', async (req, res) => {
    const owner = callerOf(res).id;
    const body = parseBody(createJobSchema, req.body);
    const { job, run } = await insertJobAndRun(deps.db, await checkedJob(deps, owner, body), runWorkflowId);
    await startRun(deps, run, body.options);
    res.status(202).location(`/v1/runs/${run.id}`).json({ jobId: job.id, runId: run.id });
  });

  const load = async (res: Parameters<typeof callerOf>[0], id: string) => {
    const row = isUuid(id) ? await getOwnJob(deps.db, callerOf(res).id, id) : undefined;
    if (!row) throw new ApiError(404, 'not_found', `no job with id "${id}"`);
    return row;
  };

  r.get('/', async (req, res) => {
    const q = pageQuery(req, 100, isUuid);
    res.json(page(await listJobs(deps.db, callerOf(res).id, q.after, q.limit), q.limit, (j) => j.id, (j) => j));
  });

  r.get('/:id', async (req, res) => {
    res.json(await load(res, req.params.id));
  });

  /** Runs the job again: a new run over what the source holds now (a copy sends only what changed). */
  r.post('/:id/runs', async (req, res) => {
    parseBody(emptyBodySchema, req.body);
    const job = await load(res, req.params.id);
    const row = await getJobRow(deps.db, job.id);
    const run = await insertRun(deps.db, row, runWorkflowId);
    await startRun(deps, run, jobOptionsSchema.parse(row.options));
    res.status(202).location(`/v1/runs/${run.id}`).json({ jobId: job.id, runId: run.id });
  });

  /** A new definition for the next runs, checked as a new job is; refused while one of its runs has not ended. */
  r.patch('/:id', async (req, res) => {
    const changes = parseBody(updateJobSchema, req.body);
    const owner = callerOf(res).id;
    const job = await load(res, req.params.id);
    const merged = parseBody(createJobSchema, {
      source: changes.source ?? job.source, destination: changes.destination ?? job.destination, mode: changes.mode ?? job.mode,
      options: changes.options ?? job.options, filters: changes.filters ?? job.filters,
    });
    const { ownerId: _owner, ...checked } = await checkedJob(deps, owner, merged);
    if (!(await updateJob(deps.db, job.id, checked))) throw new ApiError(409, 'job_running', `job ${job.id} has a run that has not ended: change it once that run has ended`);
    res.json(await load(res, job.id));
  });

  /** Refused while one of its runs has not ended; its finished runs and their ledgers go with it. */
  r.delete('/:id', async (req, res) => {
    const job = await load(res, req.params.id);
    const done = await deleteJobAndRuns(deps.db, job.id);
    if (done === 'running') throw new ApiError(409, 'job_running', `job ${job.id} has a run that has not ended: cancel it or let it finish first`);
    if (done === 'scheduled') throw new ApiError(409, 'job_scheduled', `job ${job.id} is run by a schedule: delete the schedule instead`);
    res.status(204).end();
  });

  return r;
}

/**
 * A job as it will be stored, once everything about it was checked: the remotes are the
 * caller's, the source is a folder, the two do not overlap, and the options agree with the mode.
 * Shared by jobs and schedules (a schedule runs a job).
 */
export async function checkedJob(deps: Pick<JobsDeps, 'db' | 'probe'>, owner: string, body: CreateJob): Promise<NewJob> {
    if (body.mode === 'move' && !body.options.verify) {
      throw new ApiError(400, 'invalid_request', 'move deletes each source file only once its copy is verified by hash: options.verify cannot be false for a move', 'options.verify');
    }
    const source = parseLocation(body.source);
    const destination = parseLocation(body.destination);
    const src = await remoteOf(deps.db, owner, source, 'source');
    const dst = await remoteOf(deps.db, owner, destination, 'destination');

    const srcProbe = await deps.probe(src.id, source.path);
    if (!srcProbe.ok && !busy(srcProbe)) throw new ApiError(422, 'remote_unreachable', `source remote "${src.name}" could not be read: ${srcProbe.message}`, 'source');
    if (srcProbe.ok && !srcProbe.entry) throw new ApiError(422, 'source_not_found', `"${body.source}" does not exist: check the path (it is relative to the remote's root)`, 'source');
    if (srcProbe.ok && !srcProbe.entry!.isDir) throw new ApiError(422, 'source_not_folder', `"${body.source}" is a file; give the folder that holds it`, 'source');
    const dstProbe = await deps.probe(dst.id, destination.path);
    if (!dstProbe.ok && !busy(dstProbe)) throw new ApiError(422, 'remote_unreachable', `destination remote "${dst.name}" could not be read: ${dstProbe.message}`, 'destination');
    if (dstProbe.ok && dstProbe.entry && !dstProbe.entry.isDir) throw new ApiError(422, 'destination_not_folder', `"${body.destination}" is a file, not a folder`, 'destination');
    if (src.id === dst.id && overlaps(source.path, destination.path)) {
      throw new ApiError(422, 'overlapping_locations', 'source and destination overlap: one is inside the other', 'destination');
    }

    if (body.mode === 'sync' && body.options.conflict === 'rename') {
      throw new ApiError(400, 'invalid_request', 'sync makes the destination a mirror of the source, and conflict=rename would keep copies there that the next sync deletes: use mode "copy" to keep both', 'options.conflict');
    }
    if (body.options.backupDir !== undefined) {
      if (body.mode !== 'sync') throw new ApiError(400, 'invalid_request', 'options.backupDir keeps what a sync deletes or overwrites; it applies to mode "sync" only', 'options.backupDir');
      body.options.backupDir = backupDirOf(body.options.backupDir, destination.path);
    }

    return {
      ownerId: owner, sourceRemoteId: src.id, sourcePath: source.path, destRemoteId: dst.id, destPath: destination.path,
      mode: body.mode, options: body.options, filters: body.filters,
    };
}

async function remoteOf(db: Db, owner: string, loc: Location, field: string): Promise<RemoteRow> {
  const row = await findRemoteByName(db, owner, loc.remote);
  if (!row) throw new ApiError(422, 'unknown_remote', `no remote named "${loc.remote}": create it first with POST /v1/remotes`, field);
  return row;
}

/**
 * A provider that is throttling or briefly failing cannot answer the check now; that is no reason
 * to refuse the job. The run waits the throttle out, and its plan reports a missing source.
 */
function busy(probe: ProbeResult): boolean {
  return !probe.ok && (probe.kind === 'throttled' || probe.kind === 'transient');
}

/** backupDir is a folder of the destination's remote; inside the synced tree, a later sync would delete it again. */
function backupDirOf(dir: string, destPath: string): string {
  let path: string;
  try {
    path = normalizePath(dir);
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    throw new ApiError(400, 'invalid_request', `options.backupDir: ${err.message}`, 'options.backupDir');
  }
  if (overlaps(path, destPath)) {
    throw new ApiError(400, 'invalid_request', `options.backupDir "${dir}" overlaps the destination "${destPath || '/'}": give a folder of the same remote outside it, such as "backup/2026-12-03"`, 'options.backupDir');
  }
  return path;
}

function overlaps(a: string, b: string): boolean {
  return a === b || a === '' || b === '' || a.startsWith(b + '/') || b.startsWith(a + '/');
}
