import { terminalRunStates, type RunState, type RunView } from '../core/run.js';

/**
 * rclone's exit codes where knarr has the same situation, so scripts written for rclone read
 * knarr the same way. `knarr help` prints this table (exitCodeHelp) and README's CLI section
 * repeats it.
 */
export const exitCodes = {
  ok: 0,
  /** The run failed or was cancelled, or the API refused the request for another reason. */
  error: 1,
  /** Bad flags or arguments, also when the API calls the request invalid (400). */
  usage: 2,
  /** A remote, run, job, schedule or path that does not exist. */
  notFound: 3,
  /** The run completed but some files failed; a check found files that differ or are missing. */
  completedWithErrors: 4,
  /** knarr cannot be reached, or answered 502/503/504: trying again later may work. */
  temporary: 5,
  /** The run waits for the user: approval of its plan, new credentials, or free space. */
  waiting: 6,
  /** The run completed and had nothing to do: no file copied, moved or deleted. */
  nothingToDo: 9,
  /** Ctrl-C while watching: only the watching stopped, the run goes on. */
  interrupted: 130,
} as const;

export const exitCodeHelp = `Exit codes:
  0    ok
  1    error: the run failed or was cancelled, or the API refused the request
  2    usage error: bad flags or arguments (also what the API calls invalid)
  3    not found: no such remote, run, job, schedule or path
  4    the run completed with errors: some files failed
       (check: some files differ or are missing)
  5    temporary error: knarr cannot be reached, or is unavailable (503)
  6    the run waits for you: approval, new credentials or free space
       (awaiting_approval, needs_reconnect, needs_attention)
  9    nothing to do: the run completed without copying or deleting any file
  130  Ctrl-C while watching: only the watching stops, the run goes on`;

/** States in which a run goes on only once the user acts. */
export const userWaitStates: readonly RunState[] = ['awaiting_approval', 'needs_reconnect', 'needs_attention'];

/** A check run's verdict counts, from its `finished` event. */
export interface CheckVerdicts {
  match: number;
  differ: number;
  missing_on_dst: number;
  missing_on_src: number;
}

/**
 * The exit code a run stands for as it is now. A run still going, and not waiting for the user,
 * is 0: what it will end as is not known yet.
 */
export function exitCodeOfRun(run: Pick<RunView, 'state' | 'files'>, verdicts: CheckVerdicts | null = null): number {
  switch (run.state) {
    case 'completed':
      if (verdicts) return verdicts.differ + verdicts.missing_on_dst + verdicts.missing_on_src > 0 ? exitCodes.completedWithErrors : exitCodes.ok;
      return run.files.done + run.files.deleted === 0 ? exitCodes.nothingToDo : exitCodes.ok;
    case 'completed_with_errors':
      return exitCodes.completedWithErrors;
    case 'failed':
    case 'cancelled':
      return exitCodes.error;
    default:
      return userWaitStates.includes(run.state) ? exitCodes.waiting : exitCodes.ok;
  }
}

export function isTerminal(state: RunState): boolean {
  return terminalRunStates.includes(state);
}

/** The exit code of an API error answer. */
export function exitCodeOfStatus(status: number, code: string | null): number {
  // POST /v1/jobs answers an unknown remote or a missing source path with 422: still "not found".
  if (status === 404 || code === 'unknown_remote' || code === 'source_not_found') return exitCodes.notFound;
  if (status === 400) return exitCodes.usage;
  if (status === 502 || status === 503 || status === 504) return exitCodes.temporary;
  return exitCodes.error;
}
