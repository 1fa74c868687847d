/**
 * Where a remote path lives on the FTP server: the remote's root (a server path) plus the path's
 * segments as the shared encoder stores them, checked against what FTP can carry.
 */
import { createHash } from 'node:crypto';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { nameEncoder } from '../shared/encoder.js';
import { connectorPath } from '../shared/paths.js';
import type { NameRules } from '../types.js';

/**
 * - controlChars: a command is one line, so CR and LF cannot be in a name, and servers choke on
 *   the other controls too.
 * - trailingSpace: pure-ftpd stores "a " as "a_" (servers trim the command line's end).
 * - forbiddenChars `\`: pure-ftpd refuses it ("553 Prohibited file name").
 */
export const ftpNameRules: NameRules = Object.freeze({ controlChars: true, trailingSpace: true, forbiddenChars: '\\' });
export const ftpNames = nameEncoder(ftpNameRules);

/** Linux's NAME_MAX, in bytes, which every server tested stores names in. */
export const maxNameBytes = 255;

const partialSuffix = '.knarr-partial';

/** The partial file an upload writes before its rename: hidden, beside the target, always within NAME_MAX. */
export function partialNameFor(storedName: string): string {
  const plain = `.${storedName}${partialSuffix}`;
  if (Buffer.byteLength(plain) <= maxNameBytes) return plain;
  return `.${createHash('sha1').update(storedName).digest('hex')}${partialSuffix}`;
}

export function isPartialName(storedName: string): boolean {
  return storedName.startsWith('.') && storedName.endsWith(partialSuffix);
}

/** A server path from the remote's root setting: absolute, `/`-separated, no trailing slash (`/` alone for the top). */
export function serverRoot(root: string | undefined, loginDir: string): string {
  const r = (root ?? '').trim();
  const joined = r.startsWith('/') ? r : `${loginDir.replace(/\/+$/, '')}/${r}`;
  const parts = joined.split('/').filter((s) => s !== '' && s !== '.');
  return `/${parts.join('/')}`;
}

export function joinServer(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function serverParent(abs: string): string {
  const i = abs.lastIndexOf('/');
  return i <= 0 ? '/' : abs.slice(0, i);
}

/** A remote path checked and mapped: `rel` in core/paths.ts form, `stored` as the server names it below the root. */
export interface FtpPath {
  rel: string;
  /** Encoded segments joined by `/` ('' for the root). */
  stored: string;
}

export function ftpPath(input: string, op: string): FtpPath {
  const rel = connectorPath(input, op);
  const stored = ftpNames.encodePath(rel);
  for (const seg of stored === '' ? [] : stored.split('/')) {
    if (Buffer.byteLength(seg) > maxNameBytes) {
      throw new ConnectorError('invalid_name', `${op}: the name ${JSON.stringify(seg.slice(0, 40))}… is longer than the ${maxNameBytes} bytes an FTP server stores`);
    }
  }
  return { rel, stored };
}

export function storedParent(p: FtpPath): string {
  return parentPath(p.stored);
}

export function storedBase(p: FtpPath): string {
  return baseName(p.stored);
}
