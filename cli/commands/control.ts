import type { Command } from 'commander';
import type { RunView } from '../../core/run.js';
import { CliError, usageError } from '../client.js';
import { followNewRun, getRun, watchRun } from '../watch.js';
import { act, context, wholeNumber, withInterval, type WatchFlags } from './common.js';

const runPath = (id: string, action: string) => `/v1/runs/${encodeURIComponent(id)}/${action}`;

const says = {
  pause: (id: string) => `pausing run ${id}: the files in flight stop at their next checkpoint; "knarr resume ${id}" goes on`,
  resume: (id: string) => `resuming run ${id}`,
  cancel: (id: string) => `cancelling run ${id}`,
};

export interface LimitsFlags {
  transfers?: number;
  bwlimit?: string;
}

/** `--bwlimit off` lifts the limit (null in the API); any other rate goes as typed, for the API to read. */
export function limitsRequest(flags: LimitsFlags): { transfers?: number; bwlimit?: string | null } {
  if (flags.transfers === undefined && flags.bwlimit === undefined) throw usageError('give --transfers, --bwlimit or both');
  return {
    ...(flags.transfers !== undefined ? { transfers: flags.transfers } : {}),
    ...(flags.bwlimit !== undefined ? { bwlimit: ['off', 'none', '0'].includes(flags.bwlimit.toLowerCase()) ? null : flags.bwlimit } : {}),
  };
}

export function controlCommands(program: Command): void {
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    program.command(action)
      .description(`${action} a run`)
      .argument('<id>', 'the run id')
      .action(act(async (id: string, _flags: object, cmd: Command) => {
        const { client, out } = context(cmd);
        const run = await client.post<RunView>(runPath(id, action));
        out.result(run, () => [says[action](id)]);
        return 0;
      }));
  }

  withInterval(program.command('approve')
    .description('execute exactly the plan a run waits with (a dry run, or a sync that would delete)')
    .argument('<id>', 'the run id')
    .option('--digest <digest>', 'the plan\'s digest, as "knarr run ID" shows it (default: the run\'s current plan)')
    .option('--watch', 'follow the run until it ends'))
    .action(act(async (id: string, flags: WatchFlags & { digest?: string; watch?: boolean }, cmd: Command) => {
      const { client, out } = context(cmd);
      let digest = flags.digest;
      if (digest === undefined) {
        const run = await getRun(client, id);
        if (!run.plan) throw new CliError(`run ${id} is ${run.state} and has no plan to approve`);
        digest = run.plan.digest;
      }
      const approved = await client.post<RunView>(runPath(id, 'approve'), { digest });
      if (flags.watch) return watchRun(client, id, out, { intervalMs: flags.interval * 1000, stopAtApproval: false, showPlan: false });
      out.result(approved, () => [`approved plan ${digest} of run ${id}; "knarr run ${id} --watch" follows it`]);
      return 0;
    }));

  withInterval(program.command('retry')
    .description('a new run of the same job over only the files a run failed to copy')
    .argument('<id>', 'the run id')
    .option('--detach', 'print the new run id and exit instead of watching it'))
    .action(act(async (id: string, flags: WatchFlags & { detach?: boolean }, cmd: Command) => {
      const { client, out } = context(cmd);
      const retry = await client.startWork<{ jobId: string; runId: string; retryOf: string; files: number }>(runPath(id, 'retry'));
      return followNewRun(client, out, retry, flags, `run ${retry.runId} copies the ${retry.files} failed files of run ${id} again`);
    }));

  program.command('limits')
    .description('change a running run\'s limits; its batches go on with them within seconds')
    .argument('<id>', 'the run id')
    .option('--transfers <n>', 'files in flight at once', wholeNumber(1))
    .option('--bwlimit <rate>', 'bytes per second, such as 5M, or off')
    .action(act(async (id: string, flags: LimitsFlags, cmd: Command) => {
      const body = limitsRequest(flags);
      const { client, out } = context(cmd);
      const run = await client.post<RunView>(runPath(id, 'limits'), body);
      out.result(run, () => [`new limits for run ${id}: ${Object.entries(body).map(([k, v]) => `${k} ${v ?? 'off'}`).join(', ')}`]);
      return 0;
    }));
}
