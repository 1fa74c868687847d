import { heartbeat } from '@temporalio/activity';
import { pipeline, type Readable } from 'node:stream';
import { isConnectorError } from '../connectors/errors.js';
import { HashingStream } from '../connectors/shared/hashing.js';
import type { Connector, UploadSource, UploadState } from '../connectors/types.js';
import type { Hashes } from '../core/entry.js';
import { jobOptionsSchema, type JobOptions } from '../core/job.js';
import { joinPath } from '../core/paths.js';
import { itemsOfBatch, markCopied, markFailed, recordAttemptError, saveCheckpoint, type ItemRow } from '../db/queries/ledger.js';
import { addEvent, getRunWithJob, type JobRow } from '../db/queries/runs.js';
import { withConnectors, type ActivityDeps } from './deps.js';
import { errorMessage, isPerFileError, toActivityFailure } from './failures.js';
import { forEachLimited, startHeartbeat } from './heartbeat.js';

export interface BatchInput {
  runId: string;
  batch: number;
}

export interface CopyBatchResult {
  copied: number;
  failed: number;
  bytes: number;
}

/** Where a copy activity got to; the only thing in its heartbeats (no paths, no secrets). */
export interface CopyProgress {
  batch: number;
  left: number;
  itemId: number | null;
  offset: number;
}

export function copyActivities(deps: ActivityDeps) {
  return {
    /**
     * Copies the unfinished files of one batch: many small files, or one large file. A large
     * file resumes from its last checkpoint in the ledger, so a crash re-sends at most one chunk.
     * Files that cannot be copied for reasons of their own are marked failed; throttles,
     * transient and auth errors fail the activity so Temporal retries (or stops) it.
     */
    async copyBatch({ runId, batch }: BatchInput): Promise<CopyBatchResult> {
      const { job } = await getRunWithJob(deps.db, runId);
      const options = jobOptionsSchema.parse(job.options);
      const todo = await itemsOfBatch(deps.db, runId, batch, ['pending', 'copying']);
      const result: CopyBatchResult = { copied: 0, failed: 0, bytes: 0 };
      if (todo.length === 0) return result;
      const progress: CopyProgress = { batch, left: todo.length, itemId: null, offset: 0 };
      const hb = startHeartbeat(() => progress);
      try {
        await withConnectors(deps, [job.sourceRemoteId, job.destRemoteId], ([src, dst]) =>
          forEachLimited(todo, options.transfers, async (item) => {
            progress.itemId = item.id;
            try {
              const ctx = { job, options, src, dst, item, signal: hb.signal, progress };
              await copyItem(deps, ctx).catch(async (err) => {
                // Bytes damaged on the way (the provider's MD5 differs from what was sent): send the
                // file once more from zero before calling it failed.
                if (!isConnectorError(err, 'corrupt')) throw err;
                await addEvent(deps.db, runId, 'corrupt_retry', `${item.path}: ${errorMessage(err)}; sending it again from the start`, { path: item.path });
                await copyItem(deps, { ...ctx, item: { ...item, uploadState: null } });
              });
              result.copied++;
              result.bytes += item.size;
            } catch (err) {
              if (!isPerFileError(err)) {
                await recordAttemptError(deps.db, item.id, errorMessage(err));
                throw err;
              }
              await markFailed(deps.db, item, errorMessage(err));
              await addEvent(deps.db, runId, 'file_failed', `${item.path}: ${errorMessage(err)}`, { path: item.path, kind: err.kind });
              result.failed++;
            } finally {
              progress.left--;
            }
          }),
        );
        return result;
      } catch (err) {
        throw toActivityFailure(err, `copying batch ${batch}`);
      } finally {
        hb.stop();
      }
    },
  };
}

interface CopyContext {
  job: JobRow;
  options: JobOptions;
  src: Connector;
  dst: Connector;
  item: ItemRow;
  signal: AbortSignal;
  progress: CopyProgress;
}

async function copyItem(deps: ActivityDeps, c: CopyContext): Promise<void> {
  const { item } = c;
  const srcPath = joinPath(c.job.sourcePath, item.path);
  const dstPath = joinPath(c.job.destPath, item.path);
  // The source is hashed while it streams; that only covers the whole file when reading starts at 0.
  let srcHashing: HashingStream | null = null;
  const source: UploadSource = {
    size: item.size,
    mtimeMs: item.mtimeMs,
    hashes: item.srcHashes,
    async open(offset: number, signal?: AbortSignal): Promise<Readable> {
      const stream = await c.src.read(srcPath, { offset, signal: signal ?? c.signal });
      if (offset !== 0) {
        srcHashing = null;
        return stream;
      }
      srcHashing = new HashingStream(['md5']);
      // pipeline, not pipe: a source error must reach the reader instead of stalling the upload.
      return pipeline(stream, srcHashing, () => {});
    },
  };
  const resume = (item.uploadState ?? undefined) as UploadState | undefined;
  const written = await c.dst.write(dstPath, source, {
    resume,
    chunkSize: c.options.chunkSize,
    signal: c.signal,
    onProgress: (offset) => {
      if (c.progress.itemId === item.id) c.progress.offset = offset;
    },
    onCheckpoint: async (state) => {
      await saveCheckpoint(deps.db, item, state);
      heartbeat({ ...c.progress, itemId: item.id, offset: state.offset });
    },
  });
  if (written.resumedFrom > 0) {
    await addEvent(deps.db, item.runId, 'resume', `${item.path}: resumed at byte ${written.resumedFrom} of ${item.size}`, {
      path: item.path, itemId: item.id, resumedFrom: written.resumedFrom, checkpoint: resume?.offset ?? 0, size: item.size,
    });
  }
  // Only a source read whole, from 0, in this attempt yields the source's hash; else verify reads it again.
  const hashing = srcHashing as HashingStream | null;
  const srcHashes: Hashes = hashing?.writableFinished && hashing.bytes === item.size ? hashing.hashes() : {};
  await markCopied(deps.db, item, { src: srcHashes, dst: { ...written.entry.hashes, ...written.hashes } }, written.deduplicated);
}

