import { z } from 'zod';
import { filtersSchema } from './filters.js';
import { parseSize, UnitError } from './units.js';
import { parseLocation, LocationError } from './location.js';

export const jobModes = ['copy', 'sync', 'move', 'check'] as const;
export type JobMode = (typeof jobModes)[number];
/** Modes the engine runs today; the others are refused with a clear error until they land. */
export const supportedJobModes: readonly JobMode[] = ['copy', 'check'];

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
  /** Hash both sides after copying. */
  verify: z.boolean().default(true),
  /** Bytes per second for the whole run (rclone's --bwlimit); unlimited when absent. */
  bandwidthLimit: z.number().int().min(1024, { message: 'bandwidthLimit is bytes per second, at least 1024' }).optional(),
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

/** `POST /v1/runs/{id}/limits`: new limits for a running run. */
export const runLimitsSchema = z.strictObject({
  transfers: jobOptionsSchema.shape.transfers.unwrap().optional(),
  /** Bytes per second, a size such as "10M" (per second), or null for no limit. */
  bwlimit: z.union([z.number(), z.string(), z.null()]).optional().transform((v, ctx) => {
    if (v === undefined || v === null) return v;
    try {
      const n = parseSize(v);
      if (n >= 1024) return n;
      ctx.addIssue({ code: 'custom', message: 'bwlimit is bytes per second, at least 1024 ("1K"); null lifts the limit' });
    } catch (err) {
      if (!(err instanceof UnitError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
    return z.NEVER;
  }),
}).refine((l) => l.transfers !== undefined || l.bwlimit !== undefined, { message: 'give transfers, bwlimit or both' });
