export const runStates = [
  'queued',
  'planning',
  'copying',
  /** A check run reading and hashing both sides. */
  'checking',
  'verifying',
  /** Stopped by request, holding no worker, until resumed (POST /v1/runs/{id}/resume). */
  'paused',
  /** Planned, holding no worker: a dry run, or a sync that would delete, waits for POST /v1/runs/{id}/approve with the plan's digest. */
  'awaiting_approval',
  /** sync deleting destination files the source no longer has (after approval, once the copy had no errors). */
  'deleting',
  /** The provider asked to slow down (429, 503, a daily quota): the run goes on by itself at `waiting.until`. */
  'throttled',
  /** A remote rejected its credentials: the run waits for PUT /v1/remotes/{name}/credentials, then goes on where it stopped. */
  'needs_reconnect',
  /** Something only the user can fix (the destination is full): the run waits for POST /v1/runs/{id}/resume. */
  'needs_attention',
  'completed',
  'completed_with_errors',
  'failed',
  'cancelled',
] as const;
export type RunState = (typeof runStates)[number];
export const terminalRunStates: readonly RunState[] = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

export const runPhases = ['plan', 'copy', 'verify', 'delete', 'finalize', 'done'] as const;
export type RunPhase = (typeof runPhases)[number];

/**
 * `conflict`: not copied because it would collide with another file on the destination. The
 * check mode's verdicts: `match`, `differ`, `missing_on_dst`, `missing_on_src`, and `check` for a
 * file still to be read and hashed on both sides.
 */
export const itemActions = ['copy', 'skip', 'conflict', 'delete', 'move', 'match', 'differ', 'missing_on_dst', 'missing_on_src', 'check'] as const;
/** The verdicts a check run reports. */
export const checkVerdicts = ['match', 'differ', 'missing_on_dst', 'missing_on_src'] as const;
export type CheckVerdict = (typeof checkVerdicts)[number];
export type ItemAction = (typeof itemActions)[number];
/**
 * `checked`: compared by a check run (its action says how it came out). `deleted`: a sync's
 * destination-only file, gone to the trash or to backupDir. `moved`: a rename done on the
 * destination (action=move), or in move mode a verified copy whose source was then deleted.
 */
export const itemStates = ['pending', 'copying', 'copied', 'verified', 'skipped', 'checked', 'deleted', 'moved', 'failed'] as const;
export type ItemState = (typeof itemStates)[number];

/** Why a run waits, and until when if it knows (a throttle's Retry-After). */
export interface RunWaiting {
  reason: string;
  /** ISO time the run expects to go on by itself; null when it waits for the user. */
  until: string | null;
  /** The remote's name the wait is about, when it is about one. */
  remote: string | null;
}

export const planGroups = ['copy', 'overwrite', 'delete', 'move', 'skip'] as const;
export type PlanGroup = (typeof planGroups)[number];

/** A run's plan as stored and shown: what each group holds, its first paths, and a digest over every planned file. */
export interface RunPlan {
  digest: string;
  /** When the plan was made: approval of an older plan than options.planMaxAge is refused. */
  plannedAt: string;
  groups: Record<PlanGroup, { files: number; bytes: number; first: string[] }>;
  /** The source's top level as listed, to tell at approval whether the source changed since (cheaply). */
  sourceStamp: string;
}

/** Each phase's progress, from the run's counters (db/queries/progress.ts). */
export interface RunPhaseProgress {
  copy: { files: { done: number; total: number; failed: number }; bytes: { done: number; total: number } };
  /** `total`: the files copied so far; `done`: those whose hashes were compared. */
  verify: { files: { done: number; total: number } };
  /** `total`: the deletes the stored plan holds. */
  delete: { files: { done: number; total: number } };
}

/** The run as the API shows it. */
export interface RunView {
  id: string;
  jobId: string;
  /** Its workflow in Temporal (Temporal Web shows it under this id). */
  workflowId: string;
  state: RunState;
  phase: RunPhase;
  files: { done: number; total: number; failed: number; skipped: number; deduplicated: number; moved: number; deleted: number };
  /** `sent`: bytes actually read from the source and written to the destination (server-side moves and copies send none). */
  bytes: { done: number; total: number; sent: number };
  /** Why the run waits (throttled, needs_reconnect, needs_attention), or null. */
  waiting: RunWaiting | null;
  /** The stored plan (a dry run, a sync with deletes): digest and groups; null until planned, or when none is kept. */
  plan: RunPlan | null;
  /** Average bytes per second since bytes started moving (kept for older clients; see `speed`). */
  speedBytesPerSec: number | null;
  /** `current`: a moving average over the last 30 s; `average`: since bytes started moving. */
  speed: { current: number | null; average: number | null };
  /** Seconds left at the current speed (the average while there is no current one); null while unknown. */
  etaSeconds: number | null;
  /** Per phase, from the ledger (GET /v1/runs/{id} only). */
  phases?: RunPhaseProgress;
  /** Large files being copied now, each with its bytes done (GET /v1/runs/{id} only). */
  inFlight?: { path: string; size: number; bytesDone: number }[];
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** While planning: files and folders listed so far on each side (a million-file tree takes a minute). */
  listed?: { source: number; destination: number };
}

/** One task queue for workflows and activities (KNARR_TASK_QUEUE overrides it, e.g. per test). */
export const defaultTaskQueue = 'knarr';
/** The workflow id of a run: stable, so a restart or a repeated start never makes a second workflow. */
export const runWorkflowId = (runId: string): string => `run-${runId}`;

/** What a run may change while it runs (the next issue's set-limits signal): kept in one place, the workflow's. */
export interface RunSettings {
  /** Files in flight at once, exactly, across all of the run's batches. */
  transfers: number;
  verify: boolean;
  /** Bytes per second for the whole run; null for no limit. */
  bandwidthLimit: number | null;
}

/**
 * The scans a run makes over its batches, in order: each picks the batches holding items in some
 * states. `delete` is sync's deletes of destination-only files, or move's deletes of sources
 * whose copies verified; it runs only when the copy had no errors (activities/plan.ts prepareDeletes).
 */
export const batchScans = ['copy', 'verify', 'recopy', 'reverify', 'delete'] as const;
export type BatchScan = (typeof batchScans)[number];

/** Where a run is, carried across continue-as-new: a cursor and counters, never a list. */
export interface RunCursor {
  scan: BatchScan;
  /** Every batch up to this one has been handled in this scan. */
  after: number;
  batchesDone: number;
}

/** Input of the run workflow: ids and tuning only, never paths' contents or credentials. */
export interface TransferRunInput {
  runId: string;
  /** How fast a dead worker is noticed. */
  heartbeatTimeoutMs: number;
  settings: RunSettings;
  /** Set when the run continued as new part-way through. */
  cursor?: RunCursor;
  /** A retry: the run whose failed files this one copies again, instead of listing. */
  retryOf?: string;
}

/**
 * What a Temporal Schedule starts a run with: the job alone. The run's row is made by the
 * workflow's first activity (a schedule starts workflows by itself, with no API in between), and
 * its settings are the job's as they are then.
 */
export interface ScheduledRunInput {
  jobId: string;
  heartbeatTimeoutMs: number;
}

/** One batch activity's input. */
export interface BatchInput {
  runId: string;
  batch: number;
  /** Files of this batch copied at once: its share of the run's `transfers`. */
  lanes: number;
  settings: RunSettings;
}

/** A batch the scheduler may start, with the number of its files still to do. */
export interface BatchRef {
  batch: number;
  files: number;
}

export interface RunStatus {
  runId: string;
  phase: RunPhase;
  scan: BatchScan | null;
  batchesDone: number;
  /** Files in flight now, never more than settings.transfers. */
  filesInFlight: number;
  /** Paused by request: nothing in flight once the running batches reached their checkpoints. */
  paused: boolean;
  settings: RunSettings;
}
