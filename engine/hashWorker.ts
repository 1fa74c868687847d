import { Worker } from 'node:worker_threads';
import type { NodeHashType } from '../connectors/shared/hashing.js';

// Plain JavaScript, evaluated in the worker: no loader, no TypeScript, nothing of ours to import.
const source = `
const { parentPort, workerData } = require('node:worker_threads');
const hash = require('node:crypto').createHash(workerData.type);
parentPort.on('message', (m) => {
  if (m.sab) { hash.update(new Uint8Array(m.sab, 0, m.length)); parentPort.postMessage({ id: m.id }); }
  else parentPort.postMessage({ id: m.id, hex: hash.digest('hex') });
});`;

/**
 * A digest computed on another thread, fed in order from shared memory: the large-file copy's
 * main thread reads, dispatches and writes while a second core hashes, so one file's MD5 no
 * longer caps the copy at one core's hashing speed.
 */
export class HashWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (hex?: string) => void>();
  private next = 0;
  private failed: Error | null = null;
  bytes = 0;

  constructor(type: NodeHashType) {
    this.worker = new Worker(source, { eval: true, workerData: { type } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; hex?: string }) => {
      this.waiting.get(m.id)?.(m.hex);
      this.waiting.delete(m.id);
    });
    this.worker.on('error', (err) => {
      this.failed = err;
      for (const done of this.waiting.values()) done();
      this.waiting.clear();
    });
  }

  /** Hashes `length` bytes of `sab`; resolves once the worker no longer reads them. Calls hash in call order. */
  update(sab: SharedArrayBuffer, length: number): Promise<void> {
    this.bytes += length;
    return this.call({ sab, length }).then(() => undefined);
  }

  async digest(): Promise<string> {
    const hex = await this.call({});
    if (!hex) throw this.failed ?? new Error('the hashing thread gave no digest');
    return hex;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private call(msg: { sab?: SharedArrayBuffer; length?: number }): Promise<string | undefined> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (hex) => (this.failed ? reject(this.failed) : resolve(hex)));
      this.worker.postMessage({ id, ...msg });
    });
  }
}
