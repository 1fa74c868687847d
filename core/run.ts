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

/** `conflict`: not copied because it would collide with another file on the destination. */
export const itemActions = ['copy', 'skip', 'conflict'] as const;
export type ItemAction = (typeof itemActions)[number];
export const itemStates = ['pending', 'copying', 'copied', 'verified', 'skipped', 'failed'] as const;
export type ItemState = (typeof itemStates)[number];

/** The run as the API shows it. */
export interface RunView {
  id: string;
  jobId: string;
  state: RunState;
  phase: RunPhase;
  files: { done: number; total: number; failed: number; skipped: number; deduplicated: number };
  bytes: { done: number; total: number };
  speedBytesPerSec: number | null;
  etaSeconds: number | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** One task queue for workflows and activities (KNARR_TASK_QUEUE overrides it, e.g. per test). */
export const defaultTaskQueue = 'knarr';
/** The workflow id of a run: stable, so a restart or a repeated start never makes a second workflow. */
export const runWorkflowId = (runId: string): string => `run-${runId}`;

/** Input of the run workflow: ids and tuning only, never paths' contents or credentials. */
export interface TransferRunInput {
  runId: string;
  /** Batches copied at the same time. */
  window: number;
  /** How fast a dead worker is noticed. */
  heartbeatTimeoutMs: number;
  verify: boolean;
  /** Set when the run continued as new part-way through a phase. */
  from?: { phase: 'copy' | 'verify'; batches: number[]; next: number };
}

export interface RunStatus {
  runId: string;
  phase: RunPhase;
  batchesDone: number;
  batchesTotal: number;
}
