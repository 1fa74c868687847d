export const runStates = [
  'queued',
  'planning',
  'copying',
  'verifying',
  'completed',
  'completed_with_errors',
  'failed',
  'cancelled',
] as const;
export type RunState = (typeof runStates)[number];
export const terminalRunStates: readonly RunState[] = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

export const runPhases = ['plan', 'copy', 'verify', 'finalize', 'done'] as const;
export type RunPhase = (typeof runPhases)[number];

export const itemActions = ['copy', 'skip'] as const;
export type ItemAction = (typeof itemActions)[number];
export const itemStates = ['pending', 'copying', 'copied', 'verified', 'skipped', 'failed'] as const;
export type ItemState = (typeof itemStates)[number];

/** Counters shared by the workflow's status query, the runs table and the API. */
export interface RunCounters {
  filesTotal: number;
  filesDone: number;
  filesFailed: number;
  filesSkipped: number;
  bytesTotal: number;
  bytesDone: number;
}

/** The run as the API shows it. */
export interface RunView {
  id: string;
  jobId: string;
  state: RunState;
  phase: RunPhase;
  files: { done: number; total: number; failed: number; skipped: number };
  bytes: { done: number; total: number };
  speedBytesPerSec: number | null;
  etaSeconds: number | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}
