import type { Command } from 'commander';
import { collect, paginate } from '../client.js';
import { exitCodes } from '../exitCodes.js';
import { formatDateTime, formatTable } from '../format.js';
import { followNewRun } from '../watch.js';
import { act, context, withInterval, type WatchFlags } from './common.js';

/** What GET /v1/jobs answers (db/queries/runs.ts, which cli/ does not import). */
export interface JobView {
  id: string;
  source: string;
  destination: string;
  mode: string;
  options: Record<string, unknown>;
  filters: Record<string, unknown>;
  createdAt: string;
}

export function jobsCommands(program: Command): void {
  program.command('jobs')
    .description('list jobs (every copy, sync, move, check and schedule is one), newest first')
    .action(act(async (_flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      // The API pages them by id, which says nothing about age.
      const jobs = (await collect(paginate<JobView>(client, '/v1/jobs', {}, 1000))).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      out.result(jobs, () => formatTable(['ID', 'MODE', 'SOURCE', 'DESTINATION', 'CREATED'], jobs.map((j) => [j.id, j.mode, j.source, j.destination, formatDateTime(j.createdAt)])));
      return exitCodes.ok;
    }));

  const job = program.command('job').description('run a job again');
  withInterval(job.command('run')
    .description('a new run of a job over what its source holds now (a copy sends only what changed)')
    .argument('<id>', 'the job id ("knarr jobs" lists them)')
    .option('--detach', 'print the run id and exit instead of watching the run'))
    .action(act(async (id: string, flags: WatchFlags & { detach?: boolean }, cmd: Command) => {
      const { client, out } = context(cmd);
      const started = await client.startWork<{ jobId: string; runId: string }>(`/v1/jobs/${encodeURIComponent(id)}/runs`);
      return followNewRun(client, out, started, flags, `run ${started.runId} of job ${id} started`);
    }));
}
