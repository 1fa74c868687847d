import { z } from 'zod';
import { filtersSchema } from './filters.js';
import { bwlimitSchema, durationSchema, sizeSchema } from './unitSchemas.js';
import { parseLocation, LocationError } from './location.js';

export const jobModes = ['copy', 'sync', 'move', 'check'] as const;
export type JobMode = (typeof jobModes)[number];

const locationString = z.string().superRefine((s, ctx) => {
  try {
    parseLocation(s);
  } catch (err) {
    if (!(err instanceof LocationError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

export const compareModes = ['size_mtime', 'size_only', 'checksum'] as const;
export type CompareMode = (typeof compareModes)[number];

export const approveModes = ['manual', 'auto'] as const;

export const conflictPolicies = ['overwrite', 'skip', 'newer', 'rename'] as const;
export type ConflictPolicy = (typeof conflictPolicies)[number];

export const jobOptionsSchema = z.strictObject({
  /** Files copied at the same time. */
  transfers: z.number().int().min(1).max(64).default(4),
  /** Files at or above this size are copied alone, resumably, with checkpoints. */
  largeFileThreshold: z.number().int().min(1).default(64 * 1024 * 1024),
  /** Bytes between checkpoints of a large file; the destination's preferred size when absent. */
  chunkSize: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).optional(),
  /** Most files in one small-file batch (one activity). */
  batchFiles: z.number().int().min(1).max(10_000).default(1000),
  /** Most bytes in one small-file batch. */
  batchBytes: z.number().int().min(1).default(256 * 1024 * 1024),
  /**
   * When a destination file counts as the same: `size_mtime` (rclone's default), `size_only`, or
   * `checksum` (size and a hash both sides list, else both read and hashed before copying).
   */
  compare: z.enum(compareModes, { error: `compare must be one of: ${compareModes.join(', ')}` }).default('size_mtime'),
  /**
   * A file on both sides that differs: `overwrite` it, `skip` it (the destination's stays),
   * copy it only when the source is `newer`, or `rename`: keep both, the source's copy beside the
   * destination's as `name.conflict-<source mtime>.ext`.
   */
  conflict: z.enum(conflictPolicies, { error: `conflict must be one of: ${conflictPolicies.join(', ')}` }).default('overwrite'),
  /**
   * check mode: where the two listings share no hash, read both files and hash them (rclone's
   * `check --download`); without it such files are compared by size only.
   */
  download: z.boolean().default(false),
  /**
   * Plan from the source's change feed where it has one (Drive, OneDrive, Dropbox): after a run
   * that completed, the next reads only what changed since it began. false: every run walks both
   * trees, which also notices changes made on the destination.
   */
  changeFeed: z.boolean().default(true),
  /** Hash both sides after copying. */
  verify: z.boolean().default(true),
  /** Bytes per second for the whole run (rclone's --bwlimit), a number or "10M"; unlimited when absent. */
  bwlimit: bwlimitSchema.optional(),
  /** Plan only: the run stores its plan and waits in awaiting_approval for POST /v1/runs/{id}/approve with the plan's digest. */
  dryRun: z.boolean().default(false),
  /** A sync that would delete waits for approval (`manual`), or goes on at once (`auto`). */
  approve: z.enum(approveModes, { error: `approve must be one of: ${approveModes.join(', ')}` }).default('manual'),
  /** A stored plan older than this is refused at approval (and the waiting run ends): milliseconds or "24h". */
  planMaxAge: durationSchema.default(24 * 3_600_000),
  /** sync: most destination files it may delete; more planned and none is deleted. */
  maxDelete: z.number().int().min(0).optional(),
  /** sync: most bytes it may delete, a number or "10G"; more planned and none is deleted. */
  maxDeleteBytes: sizeSchema.optional(),
  /** sync: delete even when the source listed no file at all (an empty or unmounted source deletes nothing otherwise). */
  allowEmptySource: z.boolean().default(false),
  /**
   * sync: a folder on the destination's remote (outside the job's destination) that what would be
   * deleted or overwritten is moved to instead, under its path in the job; rclone's --backup-dir.
   */
  backupDir: z.string().min(1).optional(),
});
export type JobOptions = z.infer<typeof jobOptionsSchema>;

export const createJobSchema = z.strictObject({
  source: locationString,
  destination: locationString,
  mode: z.enum(jobModes, { error: `mode must be one of: ${jobModes.join(', ')}` }).default('copy'),
  options: jobOptionsSchema.default(jobOptionsSchema.parse({})),
  filters: filtersSchema.default({}),
});
export type CreateJob = z.infer<typeof createJobSchema>;

/**
 * `PATCH /v1/jobs/{id}`: what changes; `options` and `filters` given replace the job's whole
 * options or filters (the defaults fill what is left out, as when the job was made).
 */
export const updateJobSchema = z.strictObject({
  source: locationString.optional(),
  destination: locationString.optional(),
  mode: createJobSchema.shape.mode.unwrap().optional(),
  options: jobOptionsSchema.optional(),
  filters: filtersSchema.optional(),
}).refine((u) => Object.keys(u).length > 0, { message: 'give at least one of source, destination, mode, options, filters' });

/** `POST /v1/runs/{id}/limits`: new limits for a running run. */
export const runLimitsSchema = z.strictObject({
  transfers: jobOptionsSchema.shape.transfers.unwrap().optional(),
  /** Bytes per second, a size such as "10M" (per second), or null for no limit. */
  bwlimit: bwlimitSchema.nullable().optional(),
}).refine((l) => l.transfers !== undefined || l.bwlimit !== undefined, { message: 'give transfers, bwlimit or both' });
