import { CancellationScope, condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';
import { ledger } from './activities.js';
import type { BatchScan, RunPhase, RunSettings, RunStatus, TransferRunInput } from '../core/run.js';

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** New limits for a running run; fields left out stay as they are (the API has checked them). */
export const setLimitsSignal = defineSignal<[Partial<Pick<RunSettings, 'transfers' | 'bandwidthLimit'>>]>('setLimits');

/** What the run reads while each phase works, to go back to after a pause. */
const workingState = { plan: 'planning', copy: 'copying', verify: 'verifying', finalize: 'copying', done: 'copying' } as const;

/** What `pausable` answers for a call a pause stopped. */
export const interrupted = Symbol('interrupted by a pause');

/**
 * The one object that holds a run's state and answers for it (Temporal's safe-message-handlers
 * shape): the status query now; pause, resume, cancel, approve, set-limits and
 * credentials-updated handlers attach here. Phases read `settings` at every decision, so a
 * handler that changes them takes effect at the next batch.
 */
export class RunState {
  readonly runId: string;
  readonly heartbeatTimeoutMs: number;
  readonly retryOf: string | undefined;
  settings: RunSettings;
  phase: RunPhase;
  scan: BatchScan | null = null;
  batchesDone: number;
  filesInFlight = 0;
  paused = false;
  /** The scopes of the activities at work now, with whether they are batches: a pause cancels them all, new limits the batches. */
  readonly working = new Map<CancellationScope, 'plan' | 'batch'>();
  /** Limits changed since the scheduler last looked: running batches restart with them. */
  limitsChanged: { from: RunSettings; to: RunSettings } | null = null;

  constructor(input: TransferRunInput) {
    this.runId = input.runId;
    this.heartbeatTimeoutMs = input.heartbeatTimeoutMs;
    this.retryOf = input.retryOf;
    this.settings = { ...input.settings };
    this.phase = input.cursor ? (input.cursor.scan.endsWith('verify') ? 'verify' : 'copy') : 'plan';
    this.scan = input.cursor?.scan ?? null;
    this.batchesDone = input.cursor?.batchesDone ?? 0;
    setHandler(statusQuery, () => this.status());
    setHandler(pauseSignal, () => {
      this.paused = true;
      for (const scope of this.working.keys()) scope.cancel();
    });
    setHandler(resumeSignal, () => {
      this.paused = false;
    });
    setHandler(setLimitsSignal, (limits) => {
      const from = this.limitsChanged?.from ?? { ...this.settings };
      this.settings = { ...this.settings, ...limits };
      this.limitsChanged = { from, to: { ...this.settings } };
      // Lanes and the bandwidth limit are fixed for a batch's life: the running batches stop at
      // their next checkpoint and the scheduler starts them again with the new settings.
      for (const [scope, kind] of this.working) if (kind === 'batch') scope.cancel();
    });
  }

  /**
   * Runs one activity call so that a pause (or, for a batch, new limits) can stop it: the call is
   * cancelled (it stops at its next checkpoint, keeping what it finished) and `interrupted` is
   * returned instead of its result.
   */
  async pausable<T>(kind: 'plan' | 'batch', fn: () => Promise<T>): Promise<T | typeof interrupted> {
    const scope = new CancellationScope();
    this.working.set(scope, kind);
    try {
      return await scope.run(fn);
    } catch (err) {
      if ((this.paused || (kind === 'batch' && this.limitsChanged)) && scope.consideredCancelled) return interrupted;
      throw err;
    } finally {
      this.working.delete(scope);
    }
  }

  /** While paused: the run reads `paused` and holds no worker until resumed. */
  async waitWhilePaused(): Promise<void> {
    if (!this.paused) return;
    await ledger.markRunState(this.runId, 'paused', this.phase);
    await condition(() => !this.paused);
    await ledger.markRunState(this.runId, workingState[this.phase], this.phase);
  }

  status(): RunStatus {
    return { runId: this.runId, phase: this.phase, scan: this.scan, batchesDone: this.batchesDone, filesInFlight: this.filesInFlight, paused: this.paused, settings: { ...this.settings } };
  }
}
