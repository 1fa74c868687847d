import picomatch from 'picomatch';
import { filterPresets, type JobFilters } from '../core/filters.js';

/** A job's filters, compiled once per plan attempt. Paths are relative to the job's root, `/`-separated. */
export interface FileFilter {
  /** Whether the plan keeps this file. */
  file(path: string, size: number, mtimeMs: number): boolean;
  /** Whether a folder can hold a kept file: a folder outside `folders` is never listed. */
  dir(path: string): boolean;
}

export const keepEverything: FileFilter = { file: () => true, dir: () => true };

/**
 * rclone's matching rules: a pattern with a leading `/` is matched from the root, any other
 * against the end of the path (`*.jpg` matches `a/b/c.jpg`, `b/*.jpg` matches `a/b/c.jpg`); `*`
 * and `?` stay within one name, `**` crosses folders. Dot-files match like any other. Excludes
 * win over includes; with includes or presets given, a file must match one of them.
 * Ages count back from `now`, the run's start, so a retried plan keeps the same cut-off.
 */
export function compileFilter(f: JobFilters, now: number): FileFilter {
  const matcher = (globs: readonly string[] | undefined) => {
    if (!globs?.length) return null;
    return picomatch(globs.map((g) => toPicomatch(g)), { dot: true });
  };
  const excluded = matcher(f.exclude);
  const included = matcher(f.include);
  const extensions = new Set<string>((f.presets ?? []).flatMap((p) => filterPresets[p]));
  const wantsInclude = !!included || extensions.size > 0;
  const folders = f.folders ?? [];
  const newest = f.minAge !== undefined ? now - f.minAge : Infinity;
  const oldest = Math.max(f.maxAge !== undefined ? now - f.maxAge : -Infinity, f.changedSince ? Date.parse(f.changedSince) : -Infinity);

  const inFolders = (path: string) => folders.length === 0 || folders.some((d) => path === d || path.startsWith(`${d}/`));
  return {
    dir: (path) => path === '' || folders.length === 0 || folders.some((d) => path === d || path.startsWith(`${d}/`) || d.startsWith(`${path}/`)),
    file: (path, size, mtimeMs) => {
      if (!inFolders(path)) return false;
      if (f.minSize !== undefined && size < f.minSize) return false;
      if (f.maxSize !== undefined && size > f.maxSize) return false;
      if (mtimeMs > newest || mtimeMs < oldest) return false;
      if (excluded?.(path)) return false;
      if (!wantsInclude) return true;
      if (included?.(path)) return true;
      const dot = path.lastIndexOf('.');
      return dot > path.lastIndexOf('/') && extensions.has(path.slice(dot + 1).toLowerCase());
    },
  };
}

/**
 * rclone's glob in picomatch's dialect. rclone's double star matches any characters, slashes
 * included, even at the start of a name (as in "**.jpg"); picomatch's only as a whole segment, so
 * such a double star becomes a whole-segment one followed by a single star. The schema refuses a
 * double star in the middle of a name, which picomatch cannot express.
 */
export function toPicomatch(glob: string): string {
  const g = glob.replace(/(^|\/)\*\*(?=[^/*])/g, '$1**/*');
  return g.startsWith('/') ? g.slice(1) : `**/${g}`;
}
