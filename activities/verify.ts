import { hashStream } from '../connectors/shared/hashing.js';
import type { Connector } from '../connectors/types.js';
import { joinPath } from '../core/paths.js';
import { itemsOfBatch, markFailed, markVerified, requeueForRecopy } from '../db/queries/ledger.js';
import { addEvent, getRunWithJob } from '../db/queries/runs.js';
import type { BatchInput } from './copy.js';
import { withConnectors, type ActivityDeps } from './deps.js';
import { errorMessage, isPerFileError, toActivityFailure } from './failures.js';
import { forEachLimited, startHeartbeat } from './heartbeat.js';
import { jobOptionsSchema } from '../core/job.js';

export interface VerifyBatchResult {
  verified: number;
  /** Sent back to be copied again (first mismatch of a file). */
  requeued: number;
  failed: number;
}

/** Re-copies a file whose checksums differ this many times before giving up on it. */
const maxRecopies = 1;

export function verifyActivities(deps: ActivityDeps) {
  return {
    /**
     * Compares the MD5 of both sides of every copied file in a batch. A side's MD5 comes from the
     * provider when it stores one, else from reading the file back: the destination is always
     * checked as it now is, never trusted from what was sent.
     */
    async verifyBatch({ runId, batch }: BatchInput): Promise<VerifyBatchResult> {
      const { job } = await getRunWithJob(deps.db, runId);
      const options = jobOptionsSchema.parse(job.options);
      const todo = await itemsOfBatch(deps.db, runId, batch, ['copied']);
      const result: VerifyBatchResult = { verified: 0, requeued: 0, failed: 0 };
      let left = todo.length;
      const hb = startHeartbeat(() => ({ batch, left }));
      try {
        await withConnectors(deps, [job.sourceRemoteId, job.destRemoteId], ([src, dst]) =>
          forEachLimited(todo, options.transfers, async (item) => {
            try {
              const srcMd5 = item.srcHashes.md5 ?? (await md5Of(src, joinPath(job.sourcePath, item.path), hb.signal));
              const dstMd5 = await md5Of(dst, joinPath(job.destPath, item.path), hb.signal);
              if (srcMd5 === dstMd5) {
                await markVerified(deps.db, item.id, { src: { ...item.srcHashes, md5: srcMd5 }, dst: { ...item.dstHashes, md5: dstMd5 } });
                result.verified++;
                return;
              }
              const why = `checksum mismatch: source md5 ${srcMd5}, destination md5 ${dstMd5}`;
              if (item.recopies < maxRecopies) {
                await requeueForRecopy(deps.db, item, why);
                await addEvent(deps.db, runId, 'verify_mismatch', `${item.path}: ${why}; copying it again`, { path: item.path, srcMd5, dstMd5 });
                result.requeued++;
              } else {
                await markFailed(deps.db, item, why);
                await addEvent(deps.db, runId, 'verify_failed', `${item.path}: ${why} after re-copying`, { path: item.path, srcMd5, dstMd5 });
                result.failed++;
              }
            } catch (err) {
              if (!isPerFileError(err)) throw err;
              await markFailed(deps.db, item, `verify: ${errorMessage(err)}`);
              result.failed++;
            } finally {
              left--;
            }
          }),
        );
        return result;
      } catch (err) {
        throw toActivityFailure(err, `verifying batch ${batch}`);
      } finally {
        hb.stop();
      }
    },
  };
}

async function md5Of(connector: Connector, path: string, signal: AbortSignal): Promise<string> {
  if (connector.capabilities.hashes.includes('md5')) {
    const md5 = (await connector.stat(path, { signal })).hashes.md5;
    if (md5) return md5;
  }
  return (await hashStream(await connector.read(path, { signal }), ['md5'])).md5!;
}
