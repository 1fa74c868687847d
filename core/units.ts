/**
 * Sizes and durations as people write them in rclone flags: `10M`, `2GiB`, `512k`; `30d`, `2w`,
 * `12h`. Units of size are binary (K = 1024), as rclone's are. A parse error says what was
 * wrong, for the API to hand back as is.
 */

const sizeUnits: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export class UnitError extends Error {}

/** Bytes from a number of bytes or a string like `10M`, `1.5G`, `512KiB`, `2048`. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new UnitError(`${v} is not a size: give whole bytes, or a string such as "10M" or "2G"`);
    return v;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([bkmgtp])(?:i?b)?)?\s*$/i.exec(v);
  if (!m) throw new UnitError(`"${v}" is not a size: write a number with an optional unit B, K, M, G, T or P (binary), such as "10M" or "2G"`);
  const bytes = Math.round(Number(m[1]) * sizeUnits[(m[2] ?? 'b').toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new UnitError(`"${v}" is too large a size`);
  return bytes;
}

const durationUnits: Record<string, number> = {
  ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, M: 30 * 86_400_000, y: 365 * 86_400_000,
};

/** Milliseconds from a string like `30d`, `2w`, `1h30m`, `90s` (m is minutes, M months of 30 days, y years of 365). */
export function parseDuration(v: string): number {
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== v.trim()) {
    throw new UnitError(`"${v}" is not a duration: write a number and a unit (ms, s, m, h, d, w, M for months, y), such as "30d", "2w" or "1h30m"`);
  }
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * durationUnits[p[2]], 0));
}
