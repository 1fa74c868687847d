import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatTable } from '../../cli/format.js';
import { PlainDisplay } from '../../cli/progress.js';
import { planLines, statusLine, summaryLine } from '../../cli/runText.js';
import { entryLine } from '../../cli/commands/ls.js';
import type { RunView } from '../../core/run.js';

// Wall-clock times print in local time; the expectations are written for UTC.
process.env.TZ = 'UTC';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function run(over: Partial<RunView> = {}): RunView {
  return {
    id: 'r1', jobId: 'j1', workflowId: 'run-r1', state: 'copying', phase: 'copy',
    files: { done: 120, total: 400, failed: 0, skipped: 0, deduplicated: 0, moved: 0, deleted: 0 },
    bytes: { done: 1.2 * GiB, total: 3 * GiB, sent: 1.2 * GiB },
    waiting: null, plan: null, speedBytesPerSec: 40 * MiB, speed: { current: 45 * MiB, average: 40 * MiB }, etaSeconds: 41,
    error: null, startedAt: '2026-01-31T12:00:00.000Z', finishedAt: null,
    ...over,
  };
}

describe('human units', () => {
  it('writes bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1.5 * MiB)).toBe('1.5 MiB');
    expect(formatBytes(3 * GiB)).toBe('3.0 GiB');
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(formatBytes(5 * 2 ** 40)).toBe('5.0 TiB');
  });
  it('writes durations in the two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(41)).toBe('41s');
    expect(formatDuration(200)).toBe('3m20s');
    expect(formatDuration(3900)).toBe('1h05m');
    expect(formatDuration(2 * 86_400 + 3 * 3600 + 5)).toBe('2d03h');
  });
  it('pads table columns without trailing spaces', () => {
    expect(formatTable(['NAME', 'N'], [['a', '10'], ['longer', '2']], [1])).toEqual(['NAME     N', 'a       10', 'longer   2']);
  });
});

describe('the plain progress line (stdout not a terminal)', () => {
  it('shows files, bytes, the current speed and the ETA', () => {
    expect(statusLine(run())).toBe('copying 120/400 files, 1.2 GiB/3.0 GiB, 45.0 MiB/s, ETA 41s');
  });
  it('leaves out what is not known yet, and adds failures', () => {
    expect(statusLine(run({ speed: { current: null, average: null }, speedBytesPerSec: null, etaSeconds: null, files: { ...run().files, failed: 2 } })))
      .toBe('copying 120/400 files, 1.2 GiB/3.0 GiB, 2 failed');
  });
  it('says how far planning, verifying and deleting are', () => {
    expect(statusLine(run({ state: 'planning', phase: 'plan', listed: { source: 1200, destination: 800 } }))).toBe('planning: listed 1200 source and 800 destination entries');
    expect(statusLine(run({ state: 'verifying', phase: 'verify', phases: { copy: { files: { done: 0, total: 0, failed: 0 }, bytes: { done: 0, total: 0 } }, verify: { files: { done: 50, total: 120 } }, delete: { files: { done: 0, total: 0 } } } }))).toBe('verifying 50/120 files');
  });
  it('says why a run waits, and what to do', () => {
    expect(statusLine(run({ state: 'throttled', waiting: { reason: '429 Too Many Requests', until: '2026-01-31T12:03:10.000Z', remote: 'jotta' } })))
      .toBe('throttled until 12:03:10: 429 Too Many Requests');
    expect(statusLine(run({ state: 'needs_reconnect', waiting: { reason: 'remote "jotta" refused its credentials: create a new Personal Login Token', until: null, remote: 'jotta' } })))
      .toBe('needs reconnect: remote "jotta" refused its credentials: create a new Personal Login Token; "knarr remote reconnect jotta" gives it new ones');
    expect(statusLine(run({ state: 'paused' }))).toBe('paused: "knarr resume r1" goes on');
    expect(statusLine(run({ state: 'needs_attention', waiting: { reason: 'the destination "nas" is full', until: null, remote: 'nas' } })))
      .toBe('needs attention: the destination "nas" is full; then "knarr resume r1"');
  });
  it('prints a line when the run moves on, not for a new speed alone, and every 30 s while it stands still', () => {
    const lines: string[] = [];
    let now = 0;
    const d = new PlainDisplay((l) => lines.push(l), (l) => lines.push(`stderr: ${l}`), 30_000, () => now);
    d.update(run());
    now = 1000;
    d.update(run({ speed: { current: 44 * MiB, average: 40 * MiB }, etaSeconds: 42 }));
    now = 2000;
    d.update(run({ files: { ...run().files, done: 121 } }));
    now = 32_000;
    d.update(run({ files: { ...run().files, done: 121 } }));
    expect(lines).toEqual([
      'copying 120/400 files, 1.2 GiB/3.0 GiB, 45.0 MiB/s, ETA 41s',
      'copying 121/400 files, 1.2 GiB/3.0 GiB, 45.0 MiB/s, ETA 41s',
      'copying 121/400 files, 1.2 GiB/3.0 GiB, 45.0 MiB/s, ETA 41s',
    ]);
  });
});

describe('the summary and the plan', () => {
  const done = { state: 'completed' as const, phase: 'done' as const, finishedAt: '2026-01-31T12:01:12.000Z', etaSeconds: 0 };
  it('sums up what a run did, and how long it took', () => {
    expect(summaryLine(run({ ...done, files: { done: 400, total: 400, failed: 0, skipped: 12, deduplicated: 0, moved: 0, deleted: 0 }, bytes: { done: 3 * GiB, total: 3 * GiB, sent: 3 * GiB } })))
      .toBe('completed in 1m12s: 400 files copied (3.0 GiB, 40.0 MiB/s average), 12 skipped (already there)');
    expect(summaryLine(run({ ...done, files: { done: 0, total: 0, failed: 0, skipped: 5, deduplicated: 0, moved: 0, deleted: 0 } })))
      .toBe('completed in 1m12s: nothing to do, 5 skipped (already there)');
    expect(summaryLine(run({ ...done, files: { done: 0, total: 0, failed: 0, skipped: 32, deduplicated: 0, moved: 0, deleted: 1 } })))
      .toBe('completed in 1m12s: 1 deleted, 32 skipped (already there)');
    expect(summaryLine(run({ ...done, state: 'completed_with_errors', files: { done: 398, total: 400, failed: 2, skipped: 0, deduplicated: 0, moved: 0, deleted: 0 }, speed: { current: null, average: null }, speedBytesPerSec: null })))
      .toBe('completed with errors in 1m12s: 398 files copied (1.2 GiB), 2 failed ("knarr retry r1" copies them again)');
    expect(summaryLine(run({ ...done, state: 'failed', error: 'source remote "a" could not be read' }))).toBe('failed in 1m12s: source remote "a" could not be read');
    expect(summaryLine(run(done), { match: 9, differ: 1, missing_on_dst: 0, missing_on_src: 2 }))
      .toBe('completed in 1m12s: 9 match, 1 differ, 0 missing on the destination, 2 missing on the source');
  });
  it('shows a plan group by group, with its digest', () => {
    const g = (files: number, bytes: number, first: string[] = []) => ({ files, bytes, first });
    const lines = planLines(run({
      state: 'awaiting_approval',
      plan: { digest: 'sha256:abc', plannedAt: '2026-01-31T12:00:05.000Z', sourceStamp: 's', groups: { copy: g(12, 1.5 * MiB), overwrite: g(0, 0), delete: g(3, 2048, ['a', 'b']), move: g(0, 0), skip: g(100, GiB) } },
    }));
    expect(lines).toEqual([
      'plan of run r1 (planned 2026-01-31 12:00:05):',
      '  GROUP      FILES    BYTES',
      '  copy          12  1.5 MiB',
      '  overwrite      0      0 B',
      '  delete         3  2.0 KiB',
      '  move           0      0 B',
      '  skip         100  1.0 GiB',
      '  deletes a, b and 1 more',
      '  digest sha256:abc',
    ]);
  });
});

describe('ls lines', () => {
  it('shows size, mtime and name, folders with a trailing slash', () => {
    expect(entryLine({ name: 'a.jpg', path: 'x/a.jpg', isDir: false, size: 1234, mtime: '2026-01-31T10:00:00.000Z' })).toBe('        1234  2026-01-31 10:00:00  a.jpg');
    expect(entryLine({ name: 'sub', path: 'x/sub', isDir: true, size: 0, mtime: null })).toBe('           -  -                    sub/');
  });
});
