/**
 * Paths inside a remote: '/'-separated, relative to the remote's root, no leading or trailing
 * slash, '' is the root. Every connector and the ledger use this one form, so a path read from
 * one side can be written to the other without translation.
 */

export class PathError extends Error {
  override name = 'PathError';
}

/** Normalizes a user- or provider-supplied relative path, refusing anything that could leave the root. */
export function normalizePath(input: string): string {
  if (input.includes('\0')) throw new PathError(`path contains a NUL byte: ${JSON.stringify(input)}`);
  if (input.startsWith('/') || /^[A-Za-z]:[\\/]/.test(input)) {
    throw new PathError(`path must be relative to the remote's root, not absolute: ${JSON.stringify(input)}`);
  }
  const parts: string[] = [];
  for (const seg of input.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') throw new PathError(`path may not contain '..': ${JSON.stringify(input)}`);
    parts.push(seg);
  }
  return parts.join('/');
}

export function joinPath(...parts: string[]): string {
  return normalizePath(parts.filter((p) => p !== '').join('/'));
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** The path of `full` relative to `root`, or null when `full` is not inside `root`. */
export function relativeTo(root: string, full: string): string | null {
  if (root === '') return full;
  if (full === root) return '';
  return full.startsWith(root + '/') ? full.slice(root.length + 1) : null;
}
