import { cancellationDetails } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { jobOptionsSchema } from '../core/job.js';
import type { BatchInput, BatchScan } from '../core/run.js';
import type { Limiters } from '../engine/bandwidth.js';
import { checkBatch, copyBatch, verifyBatch, type BatchEnv, type BatchResult, type VerifyResult } from '../engine/batch.js';
import { deleteBatch } from '../engine/delete.js';
import { forgetUpload, itemsOfBatch, unfinishedUploads, type ItemRow } from '../db/queries/ledger.js';
import { joinPath } from '../core/paths.js';
import type { UploadState } from '../connectors/types.js';
import { scanSelection } from './run.js';
import { addEvent, getRunWithJob } from '../db/queries/runs.js';
import type { ConnectorCache } from './connectorCache.js';
import type { ActivityDeps } from './deps.js';
import { uploadStateVault } from '../db/uploadStates.js';
import { transferredBytes, transferredFiles } from '../metrics/registry.js';
import { toActivityFailure } from './failures.js';
import { startHeartbeat } from './heartbeat.js';
import { throttleWatch } from './waiting.js';

/** Where a batch got to; the only thing in its heartbeats (no paths, no secrets). */
export interface BatchProgress {
  batch: number;
  itemId: number | null;
  offset: number;
}

export interface WorkerState {
  connectors: ConnectorCache;
  limiters: Limiters;
}

function countTransfer(srcType: string, dstType: string, result: BatchResult): void {
  const files = result.copied + result.verified;
  transferredBytes.inc({ provider: srcType, direction: 'read' }, result.bytes);
  transferredBytes.inc({ provider: dstType, direction: 'write' }, result.bytes);
  transferredFiles.inc({ provider: srcType, direction: 'read' }, files);
  transferredFiles.inc({ provider: dstType, direction: 'write' }, files);
}

export function copyActivities(deps: ActivityDeps, worker: WorkerState) {
  /** Loads a batch and its connectors, runs `fn` under heartbeats, and maps what it throws for Temporal. */
  const overBatch = async <T>(input: BatchInput, what: string, scan: BatchScan, empty: T,
    fn: (env: BatchEnv, todo: ItemRow[], mode: string) => Promise<T>): Promise<T> => {
    const progress: BatchProgress = { batch: input.batch, itemId: null, offset: 0 };
    const hb = startHeartbeat(() => progress);
    let mode = '';
    const throttle = throttleWatch(deps, input.runId, () => (what === 'verifying' ? 'verifying' : mode === 'check' ? 'checking' : 'copying'));
    try {
      const { job } = await getRunWithJob(deps.db, input.runId);
      mode = job.mode;
      const todo = await itemsOfBatch(deps.db, input.runId, input.batch, scanSelection(scan, job.mode));
      if (todo.length === 0) return empty;
      const options = jobOptionsSchema.parse(job.options);
      const result = await worker.connectors.with([job.sourceRemoteId, job.destRemoteId], ([src, dst]) => fn({
        db: deps.db, uploadStates: uploadStateVault(deps.cipher), runId: input.runId, src, dst,
        sourceRoot: job.sourcePath, destRoot: job.destPath, sameRemote: job.sourceRemoteId === job.destRemoteId,
        lanes: input.lanes, verify: input.settings.verify, chunkSize: options.chunkSize,
        limiter: worker.limiters.for(input.runId, input.settings.bandwidthLimit),
        backupDir: job.mode === 'sync' ? options.backupDir ?? null : null,
        signal: hb.signal,
        onProgress: (p) => { Object.assign(progress, p); void throttle.progressed(); },
        onCheckpoint: (p) => { Object.assign(progress, p); hb.beat(); },
      }, todo, job.mode));
      await throttle.progressed();
      return result;
    } catch (err) {
      // Stopped because this worker is shutting down: another worker (or this one restarted)
      // should go on at once from the saved checkpoint, not after the retry policy's backoff.
      if (hb.signal.aborted && (cancellationDetails()?.workerShutdown || String((hb.signal.reason as Error | undefined)?.message).includes('WORKER_SHUTDOWN'))) {
        throw ApplicationFailure.create({ type: 'WorkerStopped', message: `${what} batch ${input.batch}: the worker stopped; the batch goes on from its last checkpoint`, nextRetryDelay: 1_000 });
      }
      // Stopped because the workflow asked (a pause or cancel): say so, or Temporal would retry it.
      if (hb.signal.aborted && cancellationDetails()?.cancelRequested) throw hb.signal.reason;
      throw await throttle.failed(toActivityFailure(err, `${what} batch ${input.batch}`));
    } finally {
      hb.stop();
    }
  };

  return {
    /**
     * Copies the unfinished files of one batch: many small files, or one large file. A large
     * file resumes from its last checkpoint in the ledger, so a crash re-sends at most one chunk.
     */
    copyBatch: (input: BatchInput): Promise<BatchResult> =>
      overBatch(input, 'copying', 'copy', { copied: 0, verified: 0, failed: 0, bytes: 0 },
        // A check run's "copy" is reading both sides: same scan, same lanes, nothing written.
        async (env, todo, mode) => {
          if (mode === 'check') return checkBatch(env, todo);
          const result = await copyBatch(env, todo);
          countTransfer(env.src.type, env.dst.type, result);
          return result;
        }),

    /** Checks the copied files of a batch whose hashes were not both known when they were copied. */
    verifyBatch: (input: BatchInput): Promise<VerifyResult> =>
      overBatch(input, 'verifying', 'verify', { verified: 0, requeued: 0, failed: 0 }, verifyBatch),

    /**
     * A cancelled run's partial uploads are removed (local partial files; a provider whose
     * unfinished uploads stay invisible needs nothing), so a cancel leaves no half-written data.
     */
    async discardUnfinished(runId: string): Promise<number> {
      const hb = startHeartbeat(() => ({}));
      try {
        const { job } = await getRunWithJob(deps.db, runId);
        const left = await unfinishedUploads(deps.db, runId);
        if (left.length === 0) return 0;
        return await worker.connectors.with([job.destRemoteId], async ([dst]) => {
          for (const i of left) {
            const state = uploadStateVault(deps.cipher).open(i.id, i.uploadState);
            if (state) await dst.discardUpload?.(joinPath(job.destPath, i.dstPath ?? i.path), state as UploadState);
            await forgetUpload(deps.db, i.id);
          }
          await addEvent(deps.db, runId, 'partials_removed', `${left.length} partly uploaded files removed from the destination after the cancel`, { files: left.length });
          return left.length;
        });
      } catch (err) {
        throw toActivityFailure(err, 'removing partial uploads');
      } finally {
        hb.stop();
      }
    },

    /** sync: deletes one batch of destination-only files; move: deletes the sources whose copies verified. */
    deleteBatch: (input: BatchInput): Promise<BatchResult> =>
      overBatch(input, 'deleting', 'delete', { copied: 0, verified: 0, failed: 0, bytes: 0 }, deleteBatch),
  };
}
