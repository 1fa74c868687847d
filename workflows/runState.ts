import { ActivityFailure, ApplicationFailure, CancellationScope, condition, defineQuery, defineSignal, patched, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes } from '../core/searchAttributes.js';
import type { UserWait } from '../activities/waiting.js';
import { failureTypes, ledger } from './activities.js';
import { patches } from './versions.js';
import type { BatchScan, RunPhase, RunSettings, RunState as RunStateName, RunStatus, TransferRunInput } from '../core/run.js';

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** New limits for a running run; fields left out stay as they are (the API has checked them). */
export const setLimitsSignal = defineSignal<[Partial<Pick<RunSettings, 'transfers' | 'bandwidthLimit'>>]>('setLimits');
/** A remote's credentials were replaced (PUT /v1/remotes/{name}/credentials); the argument is its name. */
export const credentialsUpdatedSignal = defineSignal<[string]>('credentialsUpdated');

/** What the run reads while each phase works, to go back to after a pause. */
const workingState = { plan: 'planning', copy: 'copying', verify: 'verifying', delete: 'deleting', finalize: 'copying', done: 'copying' } as const;

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
    this.phase = input.cursor ? (input.cursor.scan.endsWith('verify') ? 'verify' : input.cursor.scan === 'delete' ? 'delete' : 'copy') : 'plan';
    this.scan = input.cursor?.scan ?? null;
    this.batchesDone = input.cursor?.batchesDone ?? 0;
    setHandler(statusQuery, () => this.status());
    setHandler(pauseSignal, () => {
      this.paused = true;
      for (const scope of this.working.keys()) scope.cancel();
    });
    setHandler(resumeSignal, () => {
      this.paused = false;
      this.blocked = null;
    });
    setHandler(setLimitsSignal, (limits) => {
      const from = this.limitsChanged?.from ?? { ...this.settings };
      this.settings = { ...this.settings, ...limits };
      this.limitsChanged = { from, to: { ...this.settings } };
      // Lanes and the bandwidth limit are fixed for a batch's life: the running batches stop at
      // their next checkpoint and the scheduler starts them again with the new settings.
      for (const [scope, kind] of this.working) if (kind === 'batch') scope.cancel();
    });
    this.listenForUser();
  }

  /**
   * Runs one activity call so that a pause (or, for a batch, new limits) can stop it: the call is
   * cancelled (it stops at its next checkpoint, keeping what it finished) and `interrupted` is
   * returned instead of its result.
   */
  async pausable<T>(kind: 'plan' | 'batch', fn: () => Promise<T>): Promise<T | typeof interrupted> {
    const scope = new CancellationScope();
    this.working.set(scope, kind);
    const updates = this.credentialUpdates;
    try {
      return await scope.run(fn);
    } catch (err) {
      if ((this.paused || this.blocked || (kind === 'batch' && this.limitsChanged)) && scope.consideredCancelled) return interrupted;
      if (this.waitsForUser(err, updates, scope)) return interrupted;
      throw err;
    } finally {
      this.working.delete(scope);
    }
  }

  /** The run reads `state` in the ledger (where the API looks) and in Temporal Web (KnarrState). */
  async mark(state: RunStateName, phase: RunPhase): Promise<void> {
    this.showState(state);
    await ledger.markRunState(this.runId, state, phase);
  }

  /** KnarrState follows the states the workflow knows (a throttle is the activities' and reads as the working state). */
  showState(state: RunStateName): void {
    if (patched(patches.searchAttributes)) upsertSearchAttributes([{ key: searchAttributes.state, value: state }]);
  }

  /** While paused (or waiting for the user, below): the run reads `paused` and holds no worker until resumed. */
  async waitWhilePaused(): Promise<void> {
    await this.waitWhileBlocked();
    if (!this.paused) return;
    await this.mark('paused', this.phase);
    await condition(() => !this.paused);
    await this.mark(workingState[this.phase], this.phase);
  }

  // ---- Waiting for the user: a rejected credential (needs_reconnect) or a full destination
  // (needs_attention). `pausable` turns such a failure into `interrupted`, so the plan loop and the
  // scheduler stop as for a pause and go on from the same place; nothing is failed or copied twice.

  /** What only the user can fix, met by a call that stopped: nothing new starts until it clears. */
  blocked: UserWait | null = null;
  /** Replacements of credentials seen so far. */
  private credentialUpdates = 0;

  private listenForUser(): void {
    setHandler(credentialsUpdatedSignal, (remote) => {
      this.credentialUpdates++;
      if (this.blocked?.state === 'needs_reconnect' && (this.blocked.remote === null || this.blocked.remote === remote)) this.blocked = null;
    });
  }

  /** Whether `err` waits for the user (and is recorded as what the run waits for) rather than failing. */
  private waitsForUser(err: unknown, updatesBefore: number, failed: CancellationScope): boolean {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    if (!(cause instanceof ApplicationFailure)) return false;
    const state = cause.type === failureTypes.auth ? 'needs_reconnect' : cause.type === failureTypes.destinationFull ? 'needs_attention' : null;
    if (!state || !patched(patches.waitForUser)) return false;
    // The call ran with credentials that have since been replaced: it goes again at once.
    if (state === 'needs_reconnect' && this.credentialUpdates !== updatesBefore) return true;
    const remote = (cause.details?.[0] as { remote?: string | null } | undefined)?.remote ?? null;
    if (!this.blocked) {
      this.blocked = { state, message: cause.message, remote };
      // The other batches would meet the same answer: they stop at their checkpoints now.
      for (const scope of this.working.keys()) if (scope !== failed) scope.cancel();
    }
    return true;
  }

  /** The run reads the state with what to do, holds no worker, and goes on once new credentials arrive or it is resumed. */
  private async waitWhileBlocked(): Promise<void> {
    if (!this.blocked) return;
    this.showState(this.blocked.state);
    await ledger.markRunWaiting(this.runId, this.phase, this.blocked);
    await condition(() => this.blocked === null);
    await this.mark(workingState[this.phase], this.phase);
  }

  status(): RunStatus {
    return { runId: this.runId, phase: this.phase, scan: this.scan, batchesDone: this.batchesDone, filesInFlight: this.filesInFlight, paused: this.paused, settings: { ...this.settings } };
  }
}
