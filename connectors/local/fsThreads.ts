import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { repoFile } from '../../core/repo.js';

/**
 * Small threads that do a whole small-file read or write with blocking calls (fsThread.mjs). A
 * copy of many small files is bound by the main thread: each asynchronous fs call costs a
 * promise, a thread-pool hop and a wake-up, and a file took eleven of them. Here it takes one
 * message each way, and the blocking calls run on other cores. Shared by every local remote of
 * the process; started on first use, and they never keep the process alive.
 */
/** Mostly waiting on the disk, not computing: more threads than cores keeps more reads in flight. */
const threadCount = Math.min(4, Math.max(2, availableParallelism()));

export interface FsFailure {
  code?: string;
  syscall?: string;
  message: string;
}

export type ReadWholeAnswer =
  | { kind: 'file'; data: Buffer }
  | { kind: 'large'; size: number }
  | { kind: 'dir' | 'special' };

export type WriteWholeAnswer = { kind: 'file'; size: number; mtimeMs: number } | { kind: 'dir' | 'symlink' };

interface Call {
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

class FsThread {
  readonly worker: Worker;
  readonly calls = new Map<number, Call>();

  constructor(onExit: (t: FsThread) => void) {
    this.worker = new Worker(repoFile('connectors/local/fsThread.mjs'), { execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; error?: FsFailure }) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      this.calls.delete(m.id);
      if (m.error) call.reject(Object.assign(new Error(m.error.message), { code: m.error.code, syscall: m.error.syscall }));
      else call.resolve(m as unknown as Record<string, unknown>);
    });
    const fail = (err: Error) => {
      for (const call of this.calls.values()) call.reject(err);
      this.calls.clear();
      onExit(this);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a local filesystem thread stopped (exit code ${code})`)));
  }
}

/**
 * Threads for one kind of work. Reads and writes share `count` threads, each file going to the
 * least busy; a group sync, which blocks for as long as the disk takes, gets a thread of its
 * own so that no read or write waits behind it.
 */
class FsThreads {
  private threads: FsThread[] = [];
  private next = 0;

  constructor(private readonly count: number) {}

  private pick(): FsThread {
    while (this.threads.length < this.count) this.threads.push(new FsThread((t) => (this.threads = this.threads.filter((x) => x !== t))));
    let best = this.threads[this.next % this.threads.length];
    for (const t of this.threads) if (t.calls.size < best.calls.size) best = t;
    return best;
  }

  call<T>(op: string, args: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    const thread = this.pick();
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      thread.calls.set(id, { resolve: resolve as (a: Record<string, unknown>) => void, reject });
      thread.worker.postMessage({ id, op, ...args }, transfer);
    });
  }
}

const pool = new FsThreads(threadCount);
const syncer = new FsThreads(1);

/** A regular file of at most `max` bytes from `offset`, read in one go; a larger one answers with its size. */
export async function readWhole(dir: string, name: string, offset: number, length: number | undefined, max: number): Promise<ReadWholeAnswer> {
  const answer = await pool.call<ReadWholeAnswer & { data?: Uint8Array }>('readWhole', { dir, name, offset, length: length ?? null, max });
  if (answer.kind === 'file') return { kind: 'file', data: asBuffer(answer.data!) };
  return answer;
}

/**
 * `data` written beside `name` under `temp`, timed, synced unless `sync` is false, and renamed into
 * place. A folder or a symlink at the target is answered, not touched.
 */
export function writeWhole(args: { dir: string; name: string; temp: string; data: Buffer; atime: number; mtime: number; sync: boolean }): Promise<WriteWholeAnswer> {
  // A view into a larger buffer (Buffer's shared pool) is copied alone: the message would copy all of it.
  const { data } = args;
  const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Buffer.from(data);
  return pool.call('writeWhole', { ...args, data: own });
}

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

export type SyncAnswer = { kind: 'synced' | 'unavailable' } | { kind: 'missing'; index: number } | { kind: 'failed'; why: string };

/** syncfs(2) on the filesystem of each of `paths` (one call for all of them), run on a filesystem thread. */
export function syncFilesystems(paths: readonly string[]): Promise<SyncAnswer> {
  return syncer.call('syncFilesystems', { paths });
}
