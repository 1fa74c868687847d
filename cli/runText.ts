import { planGroups, type RunView } from '../core/run.js';
import type { CheckVerdicts } from './exitCodes.js';
import { formatBytes, formatClock, formatDateTime, formatDuration, formatSpeed, formatTable } from './format.js';

/** How a run reads for people: the one-line status a watch prints, the summary, the plan, the details. */

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Bytes per second now, else on average; null while nothing moved. */
function speedOf(run: RunView): number | null {
  return run.speed?.current ?? run.speed?.average ?? run.speedBytesPerSec ?? null;
}

/** `120/400 files, 1.2 GiB/3.0 GiB`: how far the files and bytes are. */
export function filesAndBytes(run: RunView): string {
  return `${run.files.done}/${run.files.total} files, ${formatBytes(run.bytes.done)}/${formatBytes(run.bytes.total)}`;
}

function transferProgress(verb: string, run: RunView): string {
  const parts = [`${verb} ${filesAndBytes(run)}`];
  const speed = speedOf(run);
  if (speed !== null) parts.push(formatSpeed(speed));
  if (run.etaSeconds !== null && run.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(run.etaSeconds)}`);
  if (run.files.failed > 0) parts.push(`${run.files.failed} failed`);
  return parts.join(', ');
}

/**
 * What a run is doing, or why it waits, in one line: `copying 120/400 files, 1.2 GiB/3.0 GiB,
 * 45.0 MiB/s, ETA 41s`, `throttled until 12:03:10: <reason>`. A run that has ended reads as its
 * summary.
 */
export function statusLine(run: RunView, verdicts: CheckVerdicts | null = null): string {
  const why = run.waiting?.reason;
  switch (run.state) {
    case 'queued':
      return 'queued: waiting for a worker';
    case 'planning':
      return run.listed ? `planning: listed ${run.listed.source} source and ${run.listed.destination} destination entries` : 'planning';
    case 'copying':
      return transferProgress('copying', run);
    case 'checking':
      return transferProgress('checking', run);
    case 'verifying': {
      const v = run.phases?.verify.files ?? { done: run.files.done, total: run.files.done };
      return `verifying ${v.done}/${v.total} files`;
    }
    case 'deleting': {
      const d = run.phases?.delete.files ?? { done: run.files.deleted, total: run.plan?.groups.delete.files ?? run.files.deleted };
      return `deleting ${d.done}/${d.total} files`;
    }
    case 'paused':
      return `paused: "knarr resume ${run.id}" goes on`;
    case 'throttled':
      return `throttled${run.waiting?.until ? ` until ${formatClock(run.waiting.until)}` : ''}${why ? `: ${why}` : ''}`;
    case 'needs_reconnect':
      return `needs reconnect: ${why ?? 'a remote refused its credentials'}${run.waiting?.remote ? `; "knarr remote reconnect ${run.waiting.remote}" gives it new ones` : ''}`;
    case 'needs_attention':
      return `needs attention: ${why ?? 'something only you can fix'}; then "knarr resume ${run.id}"`;
    case 'awaiting_approval':
      return `awaiting approval of plan ${run.plan?.digest ?? '(not stored)'}: "knarr approve ${run.id}" executes exactly that plan`;
    default:
      return summaryLine(run, verdicts);
  }
}

/** How a run ended, in one line. */
export function summaryLine(run: RunView, verdicts: CheckVerdicts | null = null): string {
  const took = run.finishedAt ? ` in ${formatDuration((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000)}` : '';
  const f = run.files;
  const done: string[] = [];
  if (verdicts) {
    done.push(`${verdicts.match} match`, `${verdicts.differ} differ`, `${verdicts.missing_on_dst} missing on the destination`, `${verdicts.missing_on_src} missing on the source`);
  } else {
    const speed = run.speed?.average ?? run.speedBytesPerSec;
    if (f.done + f.deleted === 0) done.push('nothing to do');
    if (f.done > 0) done.push(`${count(f.done, 'file')} copied (${formatBytes(run.bytes.done)}${speed ? `, ${formatSpeed(speed)} average` : ''})`);
    if (f.moved) done.push(`${f.moved} moved`);
    if (f.deleted) done.push(`${f.deleted} deleted`);
    if (f.deduplicated) done.push(`${f.deduplicated} already at the destination (deduplicated)`);
    if (f.skipped) done.push(`${f.skipped} skipped (already there)`);
  }
  if (f.failed) done.push(`${f.failed} failed ("knarr retry ${run.id}" copies them again)`);
  const error = run.error ? `: ${run.error}` : '';
  switch (run.state) {
    case 'completed':
      return `completed${took}: ${done.join(', ')}`;
    case 'completed_with_errors':
      return `completed with errors${took}: ${done.join(', ')}${error}`;
    case 'failed':
      return `failed${took}${error}`;
    case 'cancelled':
      return `cancelled${took}${error}`;
    default:
      return statusLine(run, verdicts);
  }
}

/** A stored plan: files and bytes per group, the first deletes, its digest. */
export function planLines(run: RunView): string[] {
  const plan = run.plan;
  if (!plan) return ['no plan stored'];
  const rows = planGroups.map((g) => [g, String(plan.groups[g].files), formatBytes(plan.groups[g].bytes)]);
  const lines = [`plan of run ${run.id} (planned ${formatDateTime(plan.plannedAt)}):`, ...formatTable(['GROUP', 'FILES', 'BYTES'], rows, [1, 2]).map((l) => `  ${l}`)];
  const deletes = plan.groups.delete;
  if (deletes.files > 0) {
    const more = deletes.files - deletes.first.length;
    lines.push(`  deletes ${deletes.first.join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
  }
  lines.push(`  digest ${plan.digest}`);
  return lines;
}

/** `knarr run ID`: everything the run view says, one fact a line. */
export function describeRun(run: RunView, verdicts: CheckVerdicts | null = null): string[] {
  const lines: [string, string][] = [
    ['run', `${run.id} (job ${run.jobId})`],
    ['state', `${run.state} (phase ${run.phase})`],
    ['status', statusLine(run, verdicts)],
    ['files', `${run.files.done}/${run.files.total} done, ${run.files.failed} failed, ${run.files.skipped} skipped, ${run.files.deduplicated} deduplicated, ${run.files.moved} moved, ${run.files.deleted} deleted`],
    ['bytes', `${formatBytes(run.bytes.done)}/${formatBytes(run.bytes.total)} (${formatBytes(run.bytes.sent)} sent)`],
  ];
  const speed = speedOf(run);
  if (speed !== null && !run.finishedAt) lines.push(['speed', `${formatSpeed(speed)}${run.etaSeconds !== null && run.etaSeconds !== undefined ? `, ETA ${formatDuration(run.etaSeconds)}` : ''}`]);
  if (run.waiting) lines.push(['waiting', `${run.waiting.reason}${run.waiting.until ? ` (until ${formatDateTime(run.waiting.until)})` : ''}`]);
  lines.push(['started', formatDateTime(run.startedAt)]);
  if (run.finishedAt) lines.push(['finished', formatDateTime(run.finishedAt)]);
  if (run.error) lines.push(['error', run.error]);
  for (const f of run.inFlight ?? []) lines.push(['in flight', `${f.path} ${formatBytes(f.bytesDone)}/${formatBytes(f.size)}`]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return [...lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`), ...(run.plan ? planLines(run) : [])];
}
