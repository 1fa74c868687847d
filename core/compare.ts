import type { Entry } from './entry.js';

/**
 * Whether a source file must be copied over what the destination has. Same rule as rclone's
 * default: size and modification time, with the coarser of the two sides' time precisions.
 */
export function needsCopy(src: Entry, dst: Entry | undefined, mtimePrecisionMs: number): boolean {
  if (!dst || dst.isDir) return true;
  if (src.size !== dst.size) return true;
  return Math.abs(src.mtimeMs - dst.mtimeMs) > Math.max(mtimePrecisionMs, 0);
}
