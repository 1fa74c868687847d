import { setMaxListeners } from 'node:events';
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
  // Every request, pacer wait and stream of the activity's lanes listens on this one signal, so
  // more than Node's default of 10 at once is normal, not a leak; a real leak still warns.
  setMaxListeners(256, ctx.cancellationSignal);
  return { beat, stop: () => clearInterval(timer), signal: ctx.cancellationSignal };
}
