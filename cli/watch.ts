import { setTimeout as sleep } from 'node:timers/promises';
import type { RunView } from '../core/run.js';
import { CliError, type ApiClient } from './client.js';
import { exitCodeOfRun, exitCodes, isTerminal, type CheckVerdicts } from './exitCodes.js';
import type { Output } from './output.js';
import { PlainDisplay, TtyDisplay, type Display } from './progress.js';
import { planLines, summaryLine } from './runText.js';

export interface WatchOptions {
  intervalMs: number;
  /**
   * The command that started the run stops at awaiting_approval: the plan is what the user
   * asked for (a dry run), and approving it is the next command. `knarr run --watch` waits on.
   */
  stopAtApproval: boolean;
  /** Print the plan when the run is seen waiting for approval; not after "knarr approve", which just approved it. */
  showPlan: boolean;
}

/** How long a watch keeps polling a server that stopped answering (a restart takes seconds). */
const unreachableGraceMs = 120_000;

export const getRun = (client: ApiClient, id: string, signal?: AbortSignal) => client.get<RunView>(`/v1/runs/${encodeURIComponent(id)}`, undefined, signal);

/** A check run's verdicts, from its `finished` event; null for any other run. */
export async function checkVerdicts(client: ApiClient, run: RunView): Promise<CheckVerdicts | null> {
  if (run.state !== 'completed' && run.state !== 'completed_with_errors') return null;
  const { data: events } = await client.get<{ data: { data: Record<string, unknown> | null }[] }>(`/v1/runs/${encodeURIComponent(run.id)}/events`, { kind: 'finished' });
  const data = events[0]?.data;
  if (!data || typeof data.match !== 'number') return null;
  return { match: data.match, differ: Number(data.differ), missing_on_dst: Number(data.missing_on_dst), missing_on_src: Number(data.missing_on_src) };
}

/**
 * Polls a run until it ends (or, with stopAtApproval, waits for approval), showing it as it
 * goes, then prints its summary and returns the exit code it stands for. Ctrl-C (or SIGTERM)
 * stops only the watching: the run goes on in knarr.
 */
export async function watchRun(client: ApiClient, runId: string, out: Output, opts: WatchOptions): Promise<number> {
  const display: Display | null = out.json ? (out.errIsTty ? new TtyDisplay(process.stderr) : null)
    : out.isTty ? new TtyDisplay(process.stdout) : new PlainDisplay((l) => out.line(l), (l) => out.err(l));
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let run: RunView | null = null;
  let failingSince: number | null = null;
  let planShown = !opts.showPlan;
  try {
    while (!stop.signal.aborted) {
      try {
        run = await getRun(client, runId, stop.signal);
        failingSince = null;
      } catch (err) {
        if (stop.signal.aborted) break;
        if (!(err instanceof CliError) || err.exitCode !== exitCodes.temporary) throw err;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > unreachableGraceMs) throw err;
        (display ?? { warn: out.err }).warn(`knarr: ${err.message}; trying again`);
      }
      if (run) {
        // What the run ended with is printed once, by finish.
        if (isTerminal(run.state) || (opts.stopAtApproval && run.state === 'awaiting_approval')) break;
        display?.update(run);
        if (run.state === 'awaiting_approval' && !planShown) {
          if (!out.json) for (const l of planLines(run)) display?.log(l);
          planShown = true;
        }
      }
      await sleep(opts.intervalMs, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display?.stop();
  }
  if (stop.signal.aborted) {
    out.err(`knarr: stopped watching; run ${runId} goes on ("knarr run ${runId} --watch" watches it again, "knarr cancel ${runId}" stops it)`);
    return exitCodes.interrupted;
  }
  return finish(client, run!, out);
}

/**
 * What a command that started a run does next: with --detach, print the API's answer (the run id,
 * for people) and exit; else say what started and watch the run to its end.
 */
export async function followNewRun(client: ApiClient, out: Output, started: { runId: string }, flags: { detach?: boolean; interval?: number }, what: string): Promise<number> {
  if (flags.detach) {
    out.result(started, () => [started.runId]);
    return exitCodes.ok;
  }
  out.line(`${what}; Ctrl-C stops watching, not the run`);
  return watchRun(client, started.runId, out, { intervalMs: (flags.interval ?? 1) * 1000, stopAtApproval: true, showPlan: false });
}

/** The end of a watch: the run's summary (or the plan it waits to have approved) and its exit code. */
export async function finish(client: ApiClient, run: RunView, out: Output): Promise<number> {
  const verdicts = await checkVerdicts(client, run);
  out.result(run, () => run.state === 'awaiting_approval'
    ? [...planLines(run), `"knarr approve ${run.id}" executes exactly this plan`]
    : [summaryLine(run, verdicts)]);
  return exitCodeOfRun(run, verdicts);
}
