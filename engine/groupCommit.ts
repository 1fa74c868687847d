import type { NewEvent } from '../db/queries/runs.js';

/** A batch's outcomes reach the ledger at least this often, so progress shows and a crash redoes little. */
const flushEveryMs = 1_000;
const flushEveryItems = 500;

/**
 * Buffers a batch's outcomes and events and writes them in one statement per flush. Everything
 * before a flush that a crash loses is simply copied again: writes are idempotent.
 */
export class Ledger<O> {
  private outcomes: O[] = [];
  private events: NewEvent[] = [];
  private last = Date.now();
  private writing: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: unknown;

  constructor(private readonly write: (outcomes: O[], events: NewEvent[]) => Promise<void>) {}

  /**
   * Buffers one outcome. A flush runs behind the copies instead of holding up the lane that
   * triggered it; a lane waits only when two flushes are already queued, which bounds memory.
   * A failed flush fails the next add, so the batch stops.
   */
  async add(outcome: O | null, ...events: NewEvent[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (outcome) this.outcomes.push(outcome);
    this.events.push(...events);
    if (this.outcomes.length < flushEveryItems && Date.now() - this.last < flushEveryMs) return;
    const flushed = this.flush();
    if (this.pending > 2) await flushed;
    // Not awaited otherwise: its failure is kept and thrown by the next add or the last flush.
    else flushed.catch(() => {});
  }

  /** Flushes are chained, so the ledger sees them in order and never two at once. */
  flush(): Promise<void> {
    const outcomes = this.outcomes.splice(0);
    const events = this.events.splice(0);
    this.last = Date.now();
    this.pending++;
    this.writing = this.writing.then(async () => {
      try {
        if (this.failure === undefined && (outcomes.length || events.length)) await this.write(outcomes, events);
      } catch (err) {
        this.failure ??= err;
      } finally {
        this.pending--;
      }
    });
    return this.writing.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }
}

