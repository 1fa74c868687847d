/** Average speed and time left of a run from its counters. Null while there is nothing to go on. */
export function speedAndEta(bytesDone: number, bytesTotal: number, elapsedMs: number): { speedBytesPerSec: number | null; etaSeconds: number | null } {
  if (elapsedMs <= 0 || bytesDone <= 0) return { speedBytesPerSec: null, etaSeconds: null };
  const speed = bytesDone / (elapsedMs / 1000);
  const left = Math.max(bytesTotal - bytesDone, 0);
  return { speedBytesPerSec: Math.round(speed), etaSeconds: Math.ceil(left / speed) };
}
