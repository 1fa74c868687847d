import type { Entry, Hashes, HashType } from '../core/entry.js';
import { compareHash } from '../core/hashes.js';
import { joinPath } from '../core/paths.js';
import { ConnectorError, isConnectorError } from '../connectors/errors.js';
import type { Connector, UploadState } from '../connectors/types.js';
import type { Db } from '../db/client.js';
import type { UploadStateVault } from '../db/uploadStates.js';
import {
  addDelete, learnSize, recordAttemptError, recordOutcomes, replanSource, recordVerifications, saveCheckpoint,
  type ItemOutcome, type ItemRow, type VerifyOutcome,
} from '../db/queries/ledger.js';
import { recordChecks, type CheckOutcome } from '../db/queries/check.js';
import { addEvents, type NewEvent } from '../db/queries/runs.js';
import type { BandwidthLimiter } from './bandwidth.js';
import { copyOne, hashTypeFor, isAsPlanned, readUnsized, type CopyOutcome } from './copy.js';
import { isComputable } from '../connectors/shared/hashing.js';
import { errorMessage, ignoringNotFound, isPerFileError } from './errors.js';
import { forEachLimited } from '../core/limit.js';
import { hashOf } from './verify.js';
import { Ledger } from './groupCommit.js';

/** Re-copies a file whose checksums differ this many times before giving up on it. */
export const maxRecopies = 1;
export interface BatchEnv {
  db: Db;
  /** Seals what a provider gave to resume an upload before it goes into the ledger. */
  uploadStates: UploadStateVault;
  runId: string;
  src: Connector;
  dst: Connector;
  sourceRoot: string;
  destRoot: string;
  sameRemote: boolean;
  /** Files copied at once inside this batch. */
  lanes: number;
  verify: boolean;
  chunkSize?: number;
  limiter?: BandwidthLimiter | null;
  /** sync's backupDir on the destination's remote: what is overwritten or deleted goes there first. */
  backupDir?: string | null;
  signal: AbortSignal;
  /** Where the batch got to, for heartbeats. */
  onProgress?: (p: { itemId: number; offset: number }) => void;
  onCheckpoint?: (p: { itemId: number; offset: number }) => void;
}

export interface BatchResult {
  copied: number;
  verified: number;
  failed: number;
  bytes: number;
}

/**
 * Copies the unfinished files of one batch, `lanes` at a time, checks each against the
 * destination's hash where both are known, and records the outcomes in groups. A file that fails
 * for reasons of its own is marked failed and the batch goes on; a throttle, a transient error or
 * a rejected credential stops the batch (after recording what finished) and is thrown.
 */
export async function copyBatch(env: BatchEnv, todo: readonly ItemRow[]): Promise<BatchResult> {
  const result: BatchResult = { copied: 0, verified: 0, failed: 0, bytes: 0 };
  // Group commit: a destination that can defer durability syncs a flush's files at once, and only
  // then are they counted; what a crash loses before that is still pending and copied again.
  const groupSync = env.dst.sync?.bind(env.dst);
  const ledger = new Ledger<ItemOutcome & { syncPath?: string }>(async (outcomes, events) => {
    const paths = outcomes.flatMap((o) => (o.syncPath ? [o.syncPath] : []));
    if (paths.length > 0) await groupSync!(paths, env.signal);
    await recordOutcomes(env.db, env.runId, outcomes);
    await addEvents(env.db, env.runId, events);
  });
  try {
    await forEachLimited(todo, env.lanes, async (item) => {
      try {
        const syncLater = !!groupSync && !item.large;
        const { outcome, events } = item.fromPath ? await reuseOnDestination(env, item) : await copyChecked(env, item, syncLater);
        if (outcome.state === 'failed') result.failed++;
        else {
          result[outcome.state === 'verified' ? 'verified' : 'copied']++;
          result.bytes += item.size;
        }
        await ledger.add({ ...outcome, syncPath: syncLater && outcome.state !== 'failed' ? destinationOf(env, item) : undefined }, ...events);
      } catch (err) {
        if (!isPerFileError(err)) {
          await recordAttemptError(env.db, item.id, errorMessage(err), isConnectorError(err, 'throttled'));
          throw err;
        }
        result.failed++;
        await ledger.add(
          { id: item.id, state: 'failed', error: errorMessage(err) },
          { kind: 'file_failed', message: `${item.path}: ${errorMessage(err)}`, data: { path: item.path, kind: isConnectorError(err) ? err.kind : 'error' } },
        );
      }
    });
  } finally {
    // What finished is kept even when the batch stops early.
    await ledger.flush();
  }
  return result;
}

/** One file: copied, resent once if the provider saw other bytes than were sent, checked, and resent once on a hash mismatch. */
async function copyChecked(env: BatchEnv, planned: ItemRow, syncLater: boolean): Promise<{ outcome: ItemOutcome; events: NewEvent[] }> {
  const events: NewEvent[] = [];
  let item = planned;
  const srcPath = joinPath(env.sourceRoot, item.path);
  const dstPath = destinationOf(env, item);
  let resume = env.uploadStates.open(item.id, item.uploadState) as UploadState | null;
  let recopies = item.recopies;
  let corruptRetried = false;
  let changedRetried = false;
  /**
   * A source file that is not the one planned (or last checkpointed) is copied again from the
   * start as it is now, once: an upload is never half old bytes and half new. False when it is
   * unchanged; throws when it changed a second time.
   */
  const changedSource = async (): Promise<boolean> => {
    const now = await env.src.stat(srcPath, { signal: env.signal });
    if (isAsPlanned(env.src, now, item)) return false;
    if (changedRetried || now.isDir) {
      throw new ConnectorError('corrupt', `${item.path}: the source file kept changing while it was copied (now ${now.size} bytes); not copied: copy it again once it is stable`);
    }
    changedRetried = true;
    events.push({ kind: 'source_changed', message: `${item.path}: the source changed since it was planned (${item.size} → ${now.size} bytes); copying it again from the start as it is now`, data: { path: item.path, from: item.size, to: now.size } });
    await replanSource(env.db, item, now.size, now.mtimeMs);
    item = { ...item, size: now.size, mtimeMs: now.mtimeMs, srcHashes: now.hashes, uploadState: null, bytesDone: 0 };
    resume = null;
    return true;
  };
  let data: Buffer | undefined;
  if (item.size < 0) {
    data = await readUnsized(env.src, srcPath, env.signal);
    await learnSize(env.db, item, data.length);
    item = { ...item, size: data.length, uploadState: null };
    resume = null;
  }
  // A resumed upload goes on only if the source is still what its first bytes came from.
  if (resume) await changedSource();
  if (item.replaces && env.backupDir && !resume) await keepInBackup(env, item.path);
  if (item.checkFirst && !resume) {
    const same = await sameByHash(env, item, srcPath, joinPath(env.destRoot, item.path));
    if (same) return { outcome: { id: item.id, state: env.verify ? 'verified' : 'copied', ...same, deduplicated: true, recopies, error: null }, events };
  }
  for (;;) {
    let copied: CopyOutcome;
    const resumeAt = resume?.offset ?? 0;
    try {
      copied = await copyOne(
        { srcPath, dstPath, size: item.size, mtimeMs: item.mtimeMs, srcHashes: item.srcHashes, resume, large: item.large, data },
        {
          src: env.src, dst: env.dst, sameRemote: env.sameRemote, chunkSize: env.chunkSize, limiter: env.limiter, signal: env.signal, syncLater, hash: env.verify,
          onProgress: (offset) => env.onProgress?.({ itemId: item.id, offset }),
          onCheckpoint: async (state) => {
            await saveCheckpoint(env.db, item, env.uploadStates.seal(item.id, state));
            env.onCheckpoint?.({ itemId: item.id, offset: state.offset });
          },
          // Written at once, not with the batch's outcomes: a worker lost inside a resumed file
          // must not take the record of the resume with it.
          onResume: (offset) => addEvents(env.db, env.runId, [{
            kind: 'resume', message: `${item.path}: resumed at byte ${offset} of ${item.size}`,
            data: { path: item.path, itemId: item.id, resumedFrom: offset, checkpoint: resumeAt, size: item.size },
          }]),
        },
      );
    } catch (err) {
      if (!isConnectorError(err, 'corrupt')) throw err;
      // The source gave other bytes than planned (it changed, before or while it was read).
      if (await changedSource()) continue;
      // Bytes damaged on the way (the provider's hash differs from what was sent): send the file
      // once more from zero before calling it failed.
      if (corruptRetried) throw err;
      events.push({ kind: 'corrupt_retry', message: `${item.path}: ${errorMessage(err)}; sending it again from the start`, data: { path: item.path } });
      corruptRetried = true;
      resume = null;
      continue;
    }
    const base = { id: item.id, srcHashes: copied.srcHashes, dstHashes: copied.dstHashes, deduplicated: copied.deduplicated, recopies, error: null };
    if (!env.verify || copied.verdict === 'unknown') return { outcome: { ...base, state: 'copied' }, events };
    if (copied.verdict === 'match') return { outcome: { ...base, state: 'verified' }, events };
    const why = mismatch(copied.hashType, copied.srcHashes[copied.hashType], copied.dstHashes[copied.hashType]);
    if (recopies >= maxRecopies) {
      events.push({ kind: 'verify_failed', message: `${item.path}: ${why} after re-copying`, data: { path: item.path } });
      return { outcome: { ...base, state: 'failed', error: why }, events };
    }
    events.push({ kind: 'verify_mismatch', message: `${item.path}: ${why}; copying it again`, data: { path: item.path } });
    recopies++;
    resume = null;
  }
}

/**
 * A rename at the source, planned from the ledger (db/queries/ledger.ts planRenames): the source
 * file's hash must equal the one the ledger holds for the destination's file at its old path, and
 * then that file is moved (sync, action=move) or copied (copy, a `copy` with `fromPath`)
 * server-side, nothing sent. Otherwise (other bytes, the old file gone) the file is uploaded;
 * sync then deletes the old one with its deletes.
 */
async function reuseOnDestination(env: BatchEnv, item: ItemRow): Promise<{ outcome: ItemOutcome; events: NewEvent[] }> {
  const moving = item.action === 'move';
  const uploadInstead = async (why: string) => {
    if (moving) await addDelete(env.db, env.runId, item.fromPath!);
    const copied = await copyChecked(env, { ...item, fromPath: null }, false);
    const then = moving ? `, and "${item.fromPath}" is deleted with the sync's deletes` : '';
    const event = { kind: 'rename_uploaded', message: `${item.path}: ${why}; uploaded instead${then}`, data: { path: item.path, from: item.fromPath } };
    return { outcome: { ...copied.outcome, uploadedInstead: true }, events: [event, ...copied.events] };
  };
  const known = Object.keys(item.dstHashes) as HashType[];
  const type = known.find((t) => env.src.capabilities.hashes.includes(t)) ?? known.find(isComputable);
  if (!type) return uploadInstead(`the ledger holds no hash knarr can compare for "${item.fromPath}"`);
  const srcHashes = { ...item.srcHashes, [type]: item.srcHashes[type] ?? (await hashOf(env.src, joinPath(env.sourceRoot, item.path), type, env.signal)) };
  if (compareHash(type, srcHashes, item.dstHashes) !== 'match') return uploadInstead(`not the file that was at "${item.fromPath}" (${type} differs)`);
  const from = joinPath(env.destRoot, item.fromPath!);
  const to = joinPath(env.destRoot, item.path);
  let made: Entry | null;
  try {
    made = moving ? await env.dst.move(from, to) : await env.dst.copy(from, to);
  } catch (err) {
    if (!isConnectorError(err, 'not_found')) throw err;
    // Moved by an earlier attempt that was cut before recording it, or gone since the plan.
    made = await env.dst.stat(to, { signal: env.signal }).catch(() => null);
    if (!made || made.isDir || made.size !== item.size) return uploadInstead(`"${item.fromPath}" is no longer on the destination`);
  }
  // What the destination reports for the new file must still be those bytes.
  const dstHashes = { ...item.dstHashes, ...made.hashes };
  if (made.size !== item.size || compareHash(type, srcHashes, dstHashes) === 'mismatch') {
    return uploadInstead(`the destination's ${moving ? 'move' : 'copy'} of "${item.fromPath}" does not hold the same bytes`);
  }
  env.onProgress?.({ itemId: item.id, offset: item.size });
  const state = moving ? 'moved' : env.verify ? 'verified' : 'copied';
  const how = moving ? 'moved on the destination' : 'copied on the destination';
  return {
    outcome: { id: item.id, state, srcHashes, dstHashes, error: null, sent: false },
    events: [{ kind: moving ? 'renamed' : 'server_copied', message: `${item.path}: ${how} from "${item.fromPath}" (same ${type}), nothing sent`, data: { path: item.path, from: item.fromPath } }],
  };
}

/** backupDir: the destination's file at `path` moves there (under the same relative path) before it is replaced or deleted. */
export async function keepInBackup(env: Pick<BatchEnv, 'dst' | 'destRoot' | 'backupDir'>, path: string): Promise<void> {
  await ignoringNotFound(() => env.dst.move(joinPath(env.destRoot, path), joinPath(env.backupDir!, path)));
}

/** Where a file is written: its own path, or its conflict name beside the destination's (conflict=rename). */
function destinationOf(env: BatchEnv, item: ItemRow): string {
  return joinPath(env.destRoot, item.dstPath ?? item.path);
}

/**
 * compare=checksum with no hash in the listings: both sides are hashed (by a stored hash where
 * the provider keeps one, else by reading) and an equal destination file is kept, not sent again.
 * Returns the two hashes when the files are the same, null when the file must be copied.
 */
async function sameByHash(env: BatchEnv, item: ItemRow, srcPath: string, dstPath: string): Promise<{ srcHashes: Hashes; dstHashes: Hashes } | null> {
  const type = hashTypeFor(env.src, env.dst);
  let dst: string;
  try {
    dst = await hashOf(env.dst, dstPath, type, env.signal);
  } catch (err) {
    // Gone or replaced by a folder since the plan: copied as planned.
    if (isConnectorError(err, 'not_found') || isConnectorError(err, 'unsupported')) return null;
    throw err;
  }
  const src = item.srcHashes[type] ?? (await hashOf(env.src, srcPath, type, env.signal));
  const srcHashes = { ...item.srcHashes, [type]: src };
  const dstHashes = { [type]: dst };
  return compareHash(type, srcHashes, dstHashes) === 'match' ? { srcHashes, dstHashes } : null;
}

export interface VerifyResult {
  verified: number;
  /** Sent back to be copied again (first mismatch of a file). */
  requeued: number;
  failed: number;
}

/**
 * Checks copied files whose hashes were not both known at copy time, by the provider's stored
 * hash or by reading the file back, and records the verdicts in groups.
 */
export async function verifyBatch(env: BatchEnv, todo: readonly ItemRow[]): Promise<VerifyResult> {
  const result: VerifyResult = { verified: 0, requeued: 0, failed: 0 };
  const type: HashType = hashTypeFor(env.src, env.dst);
  const ledger = new Ledger<VerifyOutcome>(async (outcomes, events) => {
    await recordVerifications(env.db, env.runId, outcomes);
    await addEvents(env.db, env.runId, events);
  });
  try {
    await forEachLimited(todo, env.lanes, async (item) => {
      try {
        const src = { ...item.srcHashes, [type]: item.srcHashes[type] ?? (await hashOf(env.src, joinPath(env.sourceRoot, item.path), type, env.signal)) };
        const dst = { ...item.dstHashes, [type]: await hashOf(env.dst, destinationOf(env, item), type, env.signal) };
        if (compareHash(type, src, dst) === 'match') {
          result.verified++;
          return ledger.add({ id: item.id, state: 'verified', srcHashes: src, dstHashes: dst });
        }
        const why = mismatch(type, src[type], dst[type]);
        if (item.recopies < maxRecopies) {
          result.requeued++;
          return ledger.add({ id: item.id, state: 'pending', srcHashes: src, dstHashes: dst, error: why },
            { kind: 'verify_mismatch', message: `${item.path}: ${why}; copying it again`, data: { path: item.path } });
        }
        result.failed++;
        return ledger.add({ id: item.id, state: 'failed', srcHashes: src, dstHashes: dst, error: why },
          { kind: 'verify_failed', message: `${item.path}: ${why} after re-copying`, data: { path: item.path } });
      } catch (err) {
        if (!isPerFileError(err)) throw err;
        result.failed++;
        return ledger.add({ id: item.id, state: 'failed', srcHashes: {}, dstHashes: {}, error: `verify: ${errorMessage(err)}` });
      }
    });
  } finally {
    await ledger.flush();
  }
  return result;
}

/**
 * A check run's batch: both sides of each file read and hashed (or their stored hashes taken),
 * and the verdict recorded. A file gone from one side since the plan is reported missing there.
 */
export async function checkBatch(env: BatchEnv, todo: readonly ItemRow[]): Promise<BatchResult> {
  const result: BatchResult = { copied: 0, verified: 0, failed: 0, bytes: 0 };
  const type: HashType = hashTypeFor(env.src, env.dst);
  const ledger = new Ledger<CheckOutcome>((outcomes) => recordChecks(env.db, env.runId, outcomes));
  const side = async (c: Connector, path: string, known: string | undefined) => {
    try {
      return known ?? (await hashOf(c, path, type, env.signal));
    } catch (err) {
      if (isConnectorError(err, 'not_found')) return null;
      throw err;
    }
  };
  try {
    await forEachLimited(todo, env.lanes, async (item) => {
      try {
        const src = await side(env.src, joinPath(env.sourceRoot, item.path), item.srcHashes[type]);
        const dst = await side(env.dst, joinPath(env.destRoot, item.path), undefined);
        const srcHashes = src ? { [type]: src } : {};
        const dstHashes = dst ? { [type]: dst } : {};
        const verdict = src === null ? 'missing_on_src' : dst === null ? 'missing_on_dst' : compareHash(type, srcHashes, dstHashes) === 'match' ? 'match' : 'differ';
        result.verified++;
        result.bytes += item.size;
        await ledger.add({ id: item.id, verdict, srcHashes, dstHashes, error: verdict === 'differ' ? mismatch(type, src!, dst!) : null });
      } catch (err) {
        if (!isPerFileError(err)) throw err;
        result.failed++;
        await ledger.add({ id: item.id, verdict: 'failed', srcHashes: {}, dstHashes: {}, error: `check: ${errorMessage(err)}` });
      }
    });
  } finally {
    await ledger.flush();
  }
  return result;
}

function mismatch(type: HashType, src: string | undefined, dst: string | undefined): string {
  return `checksum mismatch: source ${type} ${src}, destination ${type} ${dst}`;
}
