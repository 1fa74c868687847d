/**
 * Fault injection and counters. The request handlers ask `Faults` what to do; tests set it
 * through the emulator's `faults` (see README.md beside this file).
 */

export class Faults {
  /** Body bytes the next upload may deliver before its connection is destroyed. */
  cutAfter: number | undefined;
  /** Requests still to answer 429. */
  throttleRemaining = 0;
  throttleRetryAfter: number | undefined;
  /** `.file` MOVEs still to answer 423. */
  lockRemaining = 0;
  quota: number | null = null;
  /** Checksum types whose value the next assembled/PUT file reports wrongly (oc:checksums). */
  corruptNextChecksum = false;

  cutNextUpload(afterBytes: number): void {
    if (!Number.isInteger(afterBytes) || afterBytes < 0) throw new Error(`cutNextUpload needs a byte count >= 0, not ${afterBytes}`);
    this.cutAfter = afterBytes;
  }

  throttleNext(count: number, retryAfterSeconds?: number): void {
    this.throttleRemaining = count;
    this.throttleRetryAfter = retryAfterSeconds;
  }

  lockNextMove(count: number): void {
    this.lockRemaining = count;
  }

  quotaBytes(bytes: number | null): void {
    this.quota = bytes;
  }

  /** The stored checksum of the next file written is reported with its hex value altered (a server that lies). */
  corruptNextChecksumReport(): void {
    this.corruptNextChecksum = true;
  }

  /** Takes the pending cut for an upload that is starting, if any. */
  takeCut(): number | undefined {
    const c = this.cutAfter;
    this.cutAfter = undefined;
    return c;
  }

  takeThrottle(): { retryAfter?: number } | undefined {
    if (this.throttleRemaining <= 0) return undefined;
    this.throttleRemaining--;
    return { retryAfter: this.throttleRetryAfter };
  }

  takeLock(): boolean {
    if (this.lockRemaining <= 0) return false;
    this.lockRemaining--;
    return true;
  }

  reset(): void {
    this.cutAfter = undefined;
    this.throttleRemaining = 0;
    this.throttleRetryAfter = undefined;
    this.lockRemaining = 0;
    this.quota = null;
    this.corruptNextChecksum = false;
  }
}

export class Stats {
  /** Body bytes that arrived on upload requests (file PUTs and chunk PUTs), cut or refused ones included. */
  bytesReceived = 0;
  /** Chunk PUTs that completed (a chunk exists only when its PUT did). */
  chunkPuts = 0;
  /** Body bytes of the completed chunk PUTs. */
  chunkBytes = 0;
  /** Requests answered 429 by throttleNext. */
  throttled = 0;
  /** Upload connections destroyed by cutNextUpload. */
  cuts = 0;

  reset(): void {
    this.bytesReceived = 0;
    this.chunkPuts = 0;
    this.chunkBytes = 0;
    this.throttled = 0;
    this.cuts = 0;
  }
}
