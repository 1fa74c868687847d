import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { approveModes, compareModes, conflictPolicies, type createJobSchema, type JobMode } from '../../core/job.js';
import { followNewRun } from '../watch.js';
import { act, collect, context, wholeNumber, withInterval, type WatchFlags } from './common.js';

export type JobBody = z.input<typeof createJobSchema>;
type JobOptionsBody = NonNullable<JobBody['options']>;
type JobFiltersBody = NonNullable<JobBody['filters']>;

/** The flags that become a job's options and filters: copy, sync, move and check, and schedule add. */
export interface JobFlags {
  dryRun?: boolean;
  transfers?: number;
  bwlimit?: string;
  compare?: JobOptionsBody['compare'];
  conflict?: JobOptionsBody['conflict'];
  maxDelete?: number;
  maxDeleteBytes?: string;
  allowEmptySource?: boolean;
  backupDir?: string;
  approve?: JobOptionsBody['approve'];
  planMaxAge?: string;
  /** false with --no-verify. */
  verify?: boolean;
  /** check only. */
  download?: boolean;
  include?: string[];
  exclude?: string[];
  folder?: string[];
  minSize?: string;
  maxSize?: string;
  minAge?: string;
  maxAge?: string;
  changedSince?: string;
  preset?: string[];
}

/** The flags of copy, sync, move and check, as commander gives them. */
export interface TransferFlags extends JobFlags, Partial<WatchFlags> {
  detach?: boolean;
}

/**
 * `POST /v1/jobs` from a command line. Only what was given is sent, so the server's defaults
 * (core/job.ts) stay the one place defaults live; sizes, durations and patterns go as typed and
 * the API checks them, with its own messages.
 */
export function jobRequest(mode: JobMode, source: string, destination: string, f: JobFlags): JobBody {
  const options: JobOptionsBody = {};
  if (f.dryRun) options.dryRun = true;
  if (f.transfers !== undefined) options.transfers = f.transfers;
  if (f.bwlimit !== undefined) options.bwlimit = f.bwlimit;
  if (f.compare !== undefined) options.compare = f.compare;
  if (f.conflict !== undefined) options.conflict = f.conflict;
  if (f.maxDelete !== undefined) options.maxDelete = f.maxDelete;
  if (f.maxDeleteBytes !== undefined) options.maxDeleteBytes = f.maxDeleteBytes;
  if (f.allowEmptySource) options.allowEmptySource = true;
  if (f.backupDir !== undefined) options.backupDir = f.backupDir;
  if (f.approve !== undefined) options.approve = f.approve;
  if (f.planMaxAge !== undefined) options.planMaxAge = f.planMaxAge;
  if (f.verify === false) options.verify = false;
  if (f.download) options.download = true;

  const filters: JobFiltersBody = {};
  if (f.include?.length) filters.include = f.include;
  if (f.exclude?.length) filters.exclude = f.exclude;
  if (f.folder?.length) filters.folders = f.folder;
  if (f.minSize !== undefined) filters.minSize = f.minSize;
  if (f.maxSize !== undefined) filters.maxSize = f.maxSize;
  if (f.minAge !== undefined) filters.minAge = f.minAge;
  if (f.maxAge !== undefined) filters.maxAge = f.maxAge;
  if (f.changedSince !== undefined) filters.changedSince = f.changedSince;
  // The API knows the presets (core/filters.ts) and names them when one is wrong.
  if (f.preset?.length) filters.presets = f.preset as JobFiltersBody['presets'];

  return { source, destination, mode, options, filters };
}

const descriptions: Record<JobMode, string> = {
  copy: 'copy files from SRC to DST, skipping files already there',
  sync: 'make DST a mirror of SRC: also deletes what only DST has, after you approve the plan (or --approve auto)',
  move: 'copy files from SRC to DST, then delete each source file whose copy verified',
  check: 'compare SRC and DST without writing anything; every file gets a verdict',
};

/** Declares the flags jobRequest reads (all but --download, which check adds). */
export function jobFlags(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'plan only: show what would be done, and wait for "knarr approve"')
    .option('--transfers <n>', 'files in flight at once (default 4)', wholeNumber(1))
    .option('--bwlimit <rate>', 'bytes per second for the whole run, such as 10M')
    .addOption(new Option('--compare <mode>', 'when a destination file counts as the same one').choices(compareModes))
    .addOption(new Option('--conflict <policy>', 'a file on both sides that differs').choices(conflictPolicies))
    .option('--max-delete <n>', 'sync: delete nothing if more files would be deleted', wholeNumber(0))
    .option('--max-delete-bytes <size>', 'sync: delete nothing if more bytes would be deleted, such as 10G')
    .option('--allow-empty-source', 'sync: delete even when the source lists no file at all')
    .option('--backup-dir <path>', 'sync: move what would be deleted or overwritten to this folder of the destination\'s remote')
    .addOption(new Option('--approve <mode>', 'a sync that would delete waits for approval (manual) or goes on (auto)').choices(approveModes))
    .option('--plan-max-age <duration>', 'a plan older than this cannot be approved, such as 24h')
    .option('--no-verify', 'do not compare checksums after copying')
    .option('--include <glob>', 'only files matching this pattern (repeatable)', collect)
    .option('--exclude <glob>', 'leave out files matching this pattern (repeatable)', collect)
    .option('--folder <path>', 'only files inside this folder of the source (repeatable)', collect)
    .option('--min-size <size>', 'only files at least this large, such as 10M')
    .option('--max-size <size>', 'only files at most this large, such as 2G')
    .option('--min-age <duration>', 'only files older than this, such as 30d')
    .option('--max-age <duration>', 'only files newer than this, such as 2w')
    .option('--changed-since <time>', 'only files modified at or after this ISO 8601 time')
    .option('--preset <name>', 'only files of a kind: photos, videos, documents, audio (repeatable)', collect);
}

function transferCommand(program: Command, mode: JobMode): Command {
  const cmd = jobFlags(program.command(mode)
    .description(descriptions[mode])
    .argument('<src>', 'source location, remote:path')
    .argument('<dst>', 'destination location, remote:path'))
    .option('--detach', 'print the run id and exit instead of watching the run');
  if (mode === 'check') cmd.option('--download', 'where the listings share no hash, read and hash both files');
  return withInterval(cmd);
}

export function transferCommands(program: Command): void {
  for (const mode of ['copy', 'sync', 'move', 'check'] as const) {
    transferCommand(program, mode).action(act(async (src: string, dst: string, flags: TransferFlags, cmd: Command) => {
      const { client, out } = context(cmd);
      const started = await client.startWork<{ jobId: string; runId: string }>('/v1/jobs', jobRequest(mode, src, dst, flags));
      return followNewRun(client, out, started, flags, `run ${started.runId} started (job ${started.jobId})`);
    }));
  }
}
