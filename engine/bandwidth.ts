import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket shared by every copy of one run in one worker process, so `bandwidthLimit` caps
 * the run's total rate rather than each file's. The burst is a tenth of a second of bytes: small
 * enough that the rate holds over short windows, large enough that a 64 KiB read never waits twice.
 */
export class BandwidthLimiter {
  private tokens: number;
  private last = performance.now();
  private readonly burst: number;
  /** Waiters queue behind each other, so no copy starves while others keep taking the refill. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly bytesPerSecond: number) {
    this.burst = Math.max(64 * 1024, bytesPerSecond / 10);
    this.tokens = this.burst;
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.drain(bytes, signal));
    this.queue = turn.catch(() => {});
    return turn;
  }

  private async drain(bytes: number, signal?: AbortSignal): Promise<void> {
    let left = bytes;
    while (left > 0) {
      signal?.throwIfAborted();
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      const got = Math.min(left, this.tokens);
      this.tokens -= got;
      left -= got;
      if (left > 0) {
        const wait = (Math.min(left, this.burst) / this.bytesPerSecond) * 1000;
        await sleep(Math.max(1, wait), undefined, { signal });
      }
    }
  }

  /** A pass-through stage that lets bytes on only as fast as the bucket allows. */
  stream(signal?: AbortSignal): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.take(chunk.length, signal).then(() => cb(null, chunk), cb);
      },
    });
  }
}

/** The limiters of the runs this worker is copying for, so all of a run's batches share one. */
export class Limiters {
  private readonly byRun = new Map<string, BandwidthLimiter>();

  for(runId: string, bytesPerSecond: number | null | undefined): BandwidthLimiter | null {
    if (!bytesPerSecond) {
      this.byRun.delete(runId);
      return null;
    }
    let limiter = this.byRun.get(runId);
    if (limiter?.bytesPerSecond !== bytesPerSecond) {
      limiter = new BandwidthLimiter(bytesPerSecond);
      this.byRun.set(runId, limiter);
    }
    return limiter;
  }
}
