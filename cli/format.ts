/** How the client writes numbers, times and tables for people; --json output never goes through here. */

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units, as knarr's and rclone's size flags read them: `512 B`, `1.5 KiB`, `3.0 GiB`. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < byteUnits.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${v} B`;
  // 1023.96 KiB would round to "1024.0 KiB": that is the next unit.
  if (Number(v.toFixed(1)) >= 1024 && u < byteUnits.length - 1) return `1.0 ${byteUnits[u + 1]}`;
  return `${v.toFixed(1)} ${byteUnits[u]}`;
}

export function formatSpeed(bytesPerSec: number): string {
  return `${formatBytes(Math.round(bytesPerSec))}/s`;
}

/** `41s`, `3m20s`, `1h05m`, `2d03h`: the two largest units are precise enough for an ETA. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

const two = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time, `12:03:10`: when a wait ends, read by the person who waits. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Local date and time, `2026-01-31 12:03:10`, as `ls -l` and `rclone lsl` show mtimes. */
export function formatDateTime(value: string | number): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${formatClock(d.toISOString())}`;
}

/** Columns padded to their widest cell; the last column is never padded (no trailing spaces). */
export function formatTable(header: string[], rows: string[][], rightAligned: number[] = []): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => {
    if (i === r.length - 1 && !rightAligned.includes(i)) return cell;
    return rightAligned.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
  }).join('  '));
}

/** Settings in one cell, `root=/srv/photos transfers=8`: strings as they are, anything else as JSON. */
export function formatPairs(values: Record<string, unknown>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
}
