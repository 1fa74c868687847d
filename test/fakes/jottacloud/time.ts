/** Time formats of the Jottacloud API (shared/specs/jottacloud-api.md §8). */

/**
 * JFS XML and `J*` header format: Go layout `2006-01-02-T15:04:05Z0700`, emitted strictly as
 * `YYYY-MM-DD-Thh:mm:ssZ` (§8: rclone rejects `+02:00`, and one bad time fails the whole listing).
 */
export function jottaTime(d: Date): string {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString(); // 2024-05-01T08:19:09.000Z
  return `${iso.slice(0, 10)}-T${iso.slice(11, 19)}Z`;
}

/** Parses the Jotta format (`Z` or `+hhmm`); undefined when malformed (§8: the server then uses "now"). */
export function parseJottaTime(s: string | undefined): Date | undefined {
  if (!s) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})-T(\d{2}:\d{2}:\d{2})(Z|[+-]\d{4})$/.exec(s.trim());
  if (!m) return undefined;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(3)}`;
  const d = new Date(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Allocate `created`/`modified`: RFC3339 strings (rclone) or integer Unix milliseconds ([A]), §7.1
 * and §8. Missing means "now" (Duplicati omits them). Returns null when present but unparsable.
 */
export function parseAllocateTime(v: unknown, now: Date): Date | null {
  if (v === undefined || v === null || v === '') return now;
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v);
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return new Date(Number(v));
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) return null;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

/** Precision is one second (§8). */
export function truncateToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** `mode=liststream` times: RFC3339 with 3 fractional digits (§8). */
export function listStreamTime(d: Date): string {
  return truncateToSecond(d).toISOString();
}
