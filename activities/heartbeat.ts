import { Context } from '@temporalio/activity';

/**
 * Heartbeats on a timer as well as on progress: an upload crawling under a provider's throttle
 * must never look dead to Temporal, and a dead worker must be noticed within the heartbeat
 * timeout. The SDK throttles the actual sends, so calling often is cheap.
 */
export function startHeartbeat(details: () => unknown): { beat(): void; stop(): void; signal: AbortSignal } {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat(details());
  const everyMs = Math.max(1000, Math.min(10_000, (ctx.info.heartbeatTimeoutMs ?? 30_000) / 3));
  const timer = setInterval(beat, everyMs);
  timer.unref();
  beat();
  return { beat, stop: () => clearInterval(timer), signal: ctx.cancellationSignal };
}

/** Runs `fn` over `items` with at most `limit` at once; the first error stops new starts and is thrown. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed !== undefined) throw failed;
}
