import type { Command } from 'commander';
import type { RunView } from '../../core/run.js';
import { collect, paginate } from '../client.js';
import { exitCodeOfRun } from '../exitCodes.js';
import { formatBytes, formatDateTime, formatTable } from '../format.js';
import { describeRun } from '../runText.js';
import { checkVerdicts, getRun, watchRun } from '../watch.js';
import { act, context, wholeNumber, withInterval, type WatchFlags } from './common.js';

export function runRow(r: RunView): string[] {
  return [r.id, r.state, r.phase, `${r.files.done}/${r.files.total}`, `${formatBytes(r.bytes.done)}/${formatBytes(r.bytes.total)}`, formatDateTime(r.startedAt)];
}

export function runsCommands(program: Command): void {
  program.command('runs')
    .description('list runs, newest first')
    .option('--job <id>', 'only the runs of this job')
    .option('--state <state>', 'only runs in this state, such as copying or failed')
    .option('--limit <n>', 'at most this many runs', wholeNumber(1), 20)
    .action(act(async (flags: { job?: string; state?: string; limit: number }, cmd: Command) => {
      const { client, out } = context(cmd);
      const runs = await collect(paginate<RunView>(client, '/v1/runs', { job: flags.job, state: flags.state }, 100, flags.limit));
      out.result(runs, () => formatTable(['ID', 'STATE', 'PHASE', 'FILES', 'BYTES', 'STARTED'], runs.map(runRow), [3, 4]));
      return 0;
    }));

  withInterval(program.command('run')
    .description('show a run; --watch follows it to its end')
    .argument('<id>', 'the run id')
    .option('--watch', 'follow the run until it ends, and exit with its exit code'))
    .action(act(async (id: string, flags: WatchFlags & { watch?: boolean }, cmd: Command) => {
      const { client, out } = context(cmd);
      if (flags.watch) return watchRun(client, id, out, { intervalMs: flags.interval * 1000, stopAtApproval: false, showPlan: true });
      const run = await getRun(client, id);
      const verdicts = await checkVerdicts(client, run);
      out.result(run, () => describeRun(run, verdicts));
      return exitCodeOfRun(run, verdicts);
    }));
}
