import { CancellationScope, condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';
import { ledger } from './activities.js';
import type { BatchScan, RunPhase, RunSettings, RunStatus, TransferRunInput } from '../core/run.js';

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

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
  settings: RunSettings;
  phase: RunPhase;
  scan: BatchScan | null = null;
  batchesDone: number;
  filesInFlight = 0;
  paused = false;
  /** The scopes of the activities at work now: a pause cancels them, and they stop at their next checkpoint. */
  readonly working = new Set<CancellationScope>();

  constructor(input: TransferRunInput) {
    this.runId = input.runId;
    this.heartbeatTimeoutMs = input.heartbeatTimeoutMs;
    this.settings = { ...input.settings };
    this.phase = input.cursor ? (input.cursor.scan.endsWith('verify') ? 'verify' : 'copy') : 'plan';
    this.scan = input.cursor?.scan ?? null;
    this.batchesDone = input.cursor?.batchesDone ?? 0;
    setHandler(statusQuery, () => this.status());
    setHandler(pauseSignal, () => {
      this.paused = true;
      for (const scope of this.working) scope.cancel();
    });
    setHandler(resumeSignal, () => {
      this.paused = false;
    });
  }

  /**
   * Runs one activity call so that a pause can stop it: the call is cancelled (it stops at its
   * next checkpoint, keeping what it finished) and `interrupted` is returned instead of its result.
   */
  async pausable<T>(fn: () => Promise<T>): Promise<T | typeof interrupted> {
    const scope = new CancellationScope();
    this.working.add(scope);
    try {
      return await scope.run(fn);
    } catch (err) {
      if (this.paused && scope.consideredCancelled) return interrupted;
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
