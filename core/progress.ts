/** Average speed and time left of a run from its counters. Null while there is nothing to go on. */
export function speedAndEta(bytesDone: number, bytesTotal: number, elapsedMs: number): { speedBytesPerSec: number | null; etaSeconds: number | null } {
  if (elapsedMs <= 0 || bytesDone <= 0) return { speedBytesPerSec: null, etaSeconds: null };
  const speed = bytesDone / (elapsedMs / 1000);
  const left = Math.max(bytesTotal - bytesDone, 0);
  return { speedBytesPerSec: Math.round(speed), etaSeconds: Math.ceil(left / speed) };
}

/** The window of the current speed. */
export const currentSpeedWindowMs = 30_000;

/**
 * Bytes per second over about the last 30 s, from the run's samples ([ms, bytes done], at least
 * 5 s apart): from the oldest sample inside the window to now. Null with no sample that recent
 * and nothing moved (a run that has not started, or waits).
 */
export function currentSpeed(samples: readonly (readonly [number, number])[], bytesDone: number, now: number): number | null {
  const from = samples.find(([t]) => t >= now - currentSpeedWindowMs) ?? samples.at(-1);
  if (!from) return null;
  const [t, b] = from;
  const ms = now - t;
  if (ms < 1000) return null;
  return Math.max(0, Math.round((bytesDone - b) / (ms / 1000)));
}
