/**
 * Reading an upload body the way the faults want it: paced to the upload bandwidth, counted
 * against the daily allowance, and cut (the socket destroyed) once the armed number of bytes
 * arrived. Resolves `false` when the body did not arrive whole (cut by us or by the client).
 */
import type { IncomingMessage } from 'node:http';
import type { Faults } from './faults.js';

export interface ReceiveStats {
  uploadBytes: number;
}

export function receive(req: IncomingMessage, faults: Faults, stats: ReceiveStats, onData: (b: Buffer) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    let got = 0;
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      resolve(ok);
    };
    req.on('data', (raw: Buffer) => {
      if (settled) return;
      let chunk = raw;
      let cut = false;
      if (faults.cutUploadIn !== null) {
        if (chunk.length >= faults.cutUploadIn) {
          chunk = chunk.subarray(0, faults.cutUploadIn);
          cut = true;
        }
        faults.cutUploadIn = cut ? null : faults.cutUploadIn - chunk.length;
      }
      if (chunk.length > 0) {
        got += chunk.length;
        stats.uploadBytes += chunk.length;
        faults.usedToday += chunk.length;
        onData(chunk);
      }
      if (cut) {
        done(false);
        req.socket.destroy();
        return;
      }
      const rate = faults.uploadBytesPerSec;
      if (rate) {
        const ahead = (got / rate) * 1000 - (Date.now() - started);
        if (ahead > 5) {
          req.pause();
          setTimeout(() => req.resume(), ahead);
        }
      }
    });
    req.on('end', () => done(true));
    req.on('aborted', () => done(false));
    req.on('error', () => done(false));
    req.on('close', () => done(req.complete));
  });
}

/** The whole body in memory (metadata, multipart uploads); undefined when it did not arrive whole. */
export async function receiveAll(req: IncomingMessage, faults: Faults, stats: ReceiveStats): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  const ok = await receive(req, faults, stats, (b) => parts.push(b));
  return ok ? Buffer.concat(parts) : undefined;
}

/** A JSON or form body of a control or metadata request (not counted as upload bytes). */
export async function readSmall(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new Error('body too large');
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}
