import { ApplicationFailure, condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { StoredPlan } from '../../activities/approval.js';
import { ledger } from '../activities.js';
import type { RunState } from '../runState.js';

/** `POST /v1/runs/{id}/approve`: runs the stored plan, named by its digest. */
export const approveUpdate = defineUpdate<{ digest: string }, [{ digest: string }]>('approve');

/** The source check at approval answers the API call that waits for it: a few attempts, then a clear refusal. */
const atApproval = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 3 } });

/**
 * A run's stored plan and its approval. The update is refused (the API answers 409 with why)
 * when the run is not waiting, the digest is another plan's, the plan is older than
 * options.planMaxAge, or the source changed since it was listed.
 */
export class PlanApproval {
  private stored: StoredPlan | null = null;
  private waiting = false;
  private approved = false;

  constructor(private readonly run: RunState) {
    setHandler(approveUpdate, async () => {
      const plan = this.stored!;
      if (Date.now() - plan.plannedAtMs > plan.maxAgeMs) {
        throw ApplicationFailure.nonRetryable(`the plan is older than options.planMaxAge (${Math.round(plan.maxAgeMs / 60_000)} min): start the job again for a fresh plan`, 'PlanExpired');
      }
      const changed = await atApproval.sourceChangedSincePlan(this.run.runId);
      if (changed) throw ApplicationFailure.nonRetryable(`${changed}: start the job again for a fresh plan`, 'SourceChanged');
      this.approved = true;
      return { digest: plan.digest };
    }, {
      validator: ({ digest }) => {
        if (!this.waiting || !this.stored) throw new Error('the run is not waiting for approval');
        if (digest !== this.stored.digest) throw new Error(`digest "${digest}" is not this run's plan (${this.stored.digest}); GET the run for its plan`);
      },
    });
  }

  /**
   * Stores the plan; a dry run, or a sync that would delete, then waits (holding no worker) for
   * approval. Returns false when the plan expired unapproved: the run has ended.
   */
  async approve(): Promise<boolean> {
    this.stored = await ledger.storePlan(this.run.runId);
    if (!this.stored.needsApproval) return true;
    // Open to approval before the API can see the state: it approves as soon as the row says so.
    this.waiting = true;
    await this.run.mark('awaiting_approval', 'plan');
    const left = Math.max(0, this.stored.plannedAtMs + this.stored.maxAgeMs - Date.now());
    const approved = await condition(() => this.approved, left);
    this.waiting = false;
    if (!approved) {
      await ledger.endRun(this.run.runId, 'cancelled', `the plan was not approved within options.planMaxAge (${Math.round(this.stored.maxAgeMs / 60_000)} min): nothing was copied or deleted; start the job again for a fresh plan`);
      return false;
    }
    await ledger.noteApproved(this.run.runId, this.stored.digest);
    return true;
  }
}
