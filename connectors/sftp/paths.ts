import { randomBytes } from 'node:crypto';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { connectorPath } from '../shared/paths.js';

/** NAME_MAX of the filesystems SFTP servers sit on (ext4, XFS, ZFS…), in bytes. */
export const maxNameBytes = 255;

/** A caller's path, checked: nothing leaving the root, no segment longer than the server's filesystems take. */
export function checkedPath(input: string, op: string): string {
  const rel = connectorPath(input, op);
  for (const seg of rel.split('/')) {
    if (Buffer.byteLength(seg) > maxNameBytes) {
      throw new ConnectorError('invalid_name', `${op} ${JSON.stringify(rel)}: the name ${JSON.stringify(seg.slice(0, 40))}… is longer than ${maxNameBytes} bytes`);
    }
  }
  return rel;
}

/**
 * The remote's root as SFTP names it: absolute, or relative to the login folder (what the server
 * resolves relative paths against). '' is the login folder itself.
 */
export class SftpRoot {
  private readonly base: string;

  constructor(root: string) {
    const trimmed = root.trim();
    this.base = trimmed === '/' ? '/' : trimmed.replace(/\/+$/, '').replace(/^\.\/?$/, '').replace(/^\.\//, '');
  }

  /** The server path of `rel` (core/paths.ts form). */
  full(rel: string): string {
    if (rel === '') return this.base === '' ? '.' : this.base;
    if (this.base === '') return rel;
    return this.base === '/' ? `/${rel}` : `${this.base}/${rel}`;
  }

  /** The folder holding `rel` (whose parent may be the root itself). */
  parentOf(rel: string): string {
    return this.full(parentPath(rel));
  }
}

/** The server path's parent, or null at the top ('/' or the login folder). */
export function serverParent(path: string): string | null {
  if (path === '/' || path === '.' || path === '') return null;
  const i = path.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : path.slice(0, i);
}

const partialRe = /^\..*\.knarr-[0-9a-f]{8}\.partial$/s;
const suffixBytes = '.knarr-00000000.partial'.length + 1;

/**
 * The hidden name an upload of `rel` collects its bytes in, beside the target so the final
 * rename stays on one filesystem: `.<name>.knarr-<8 hex>.partial`, the name cut (on a character
 * boundary) where it would make the whole longer than a filesystem takes.
 */
export function newPartialName(rel: string): string {
  return `${partialPrefix(baseName(rel))}${randomBytes(4).toString('hex')}.partial`;
}

/** Whether `temp` is a partial name this connector would give an upload of `rel`. */
export function isPartialNameOf(temp: unknown, rel: string): temp is string {
  return typeof temp === 'string' && !temp.includes('/') && partialRe.test(temp) && temp.startsWith(partialPrefix(baseName(rel)));
}

/** Names of unfinished uploads, which listings leave out. */
export function isPartialName(name: string): boolean {
  return partialRe.test(name);
}

function partialPrefix(name: string): string {
  let kept = name;
  while (Buffer.byteLength(kept) > maxNameBytes - suffixBytes) kept = Array.from(kept).slice(0, -1).join('');
  return `.${kept}.knarr-`;
}
