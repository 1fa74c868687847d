import type { SftpSession } from './session.js';

/** Bytes of WRITE requests in flight on one handle: the 2 MiB an OpenSSH session channel's window holds. */
export const writeWindow = 2 * 1024 * 1024;
/** Payload per WRITE request; OpenSSH takes up to 255 KiB (limits@openssh.com), everyone else 32 KiB. */
const requestBytes = 64 * 1024;

/**
 * Pipelined writes to one open file, as ssh2's fastPut does: up to `writeWindow` bytes of WRITE
 * requests are outstanding at once, so a transfer is not one round trip per request. `put`
 * returns as soon as there is room for more; `drain` waits until the server has acknowledged
 * every request (and throws the first failure).
 */
export class WritePipe {
  private inFlight = 0;
  private failure: unknown;
  private waiters: (() => void)[] = [];
  private readonly piece: number;

  constructor(private readonly session: SftpSession, private readonly handle: Buffer) {
    this.piece = Math.max(1024, Math.min(requestBytes, session.maxWrite));
  }

  async put(chunk: Buffer, position: number): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      while (this.inFlight >= writeWindow && this.failure === undefined) await this.wait();
      if (this.failure !== undefined) throw this.failure;
      const len = Math.min(this.piece, chunk.length - off);
      const piece = chunk.subarray(off, off + len);
      this.inFlight += len;
      this.session.write(this.handle, piece, position + off).then(
        () => this.done(len),
        (err: unknown) => {
          this.failure ??= err;
          this.done(len);
        },
      );
      off += len;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Every request answered; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await this.wait();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Every request answered, failures or not (before closing the handle of an abandoned upload). */
  async settle(): Promise<void> {
    while (this.inFlight > 0) await this.wait();
  }

  private done(len: number): void {
    this.inFlight -= len;
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
