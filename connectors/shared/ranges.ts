import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { ConnectorError } from '../errors.js';
import type { ReadOptions } from '../types.js';
import { emptyStream, isByteCount } from './streams.js';

/** What a read asks for once checked: bytes from `offset`, at most `length` of them (all to the end when undefined). */
export interface ByteRange {
  offset: number;
  length: number | undefined;
  signal?: AbortSignal;
}

/**
 * The checks every read starts with, before it asks the provider anything: offset and length are
 * byte counts, the signal has not fired, and, where the caller passes the path below the remote's
 * root, that path is not the root itself (a folder).
 */
export function checkedRange(op: string, opts: ReadOptions, rel?: string): ByteRange {
  const { offset = 0, length, signal } = opts;
  if (!isByteCount(offset) || (length !== undefined && !isByteCount(length))) {
    throw new RangeError(`${op}: offset and length must be byte counts, not ${offset} and ${length}`);
  }
  signal?.throwIfAborted();
  if (rel === '') throw new ConnectorError('conflict', `${op}: is a folder`);
  return { offset, length, signal };
}

/** The HTTP `Range` value of `length` bytes from `offset` (to the end when undefined); none for the whole file. */
export function rangeHeader(offset: number, length: number): string;
export function rangeHeader(offset: number, length: number | undefined): string | undefined;
export function rangeHeader(offset: number, length: number | undefined): string | undefined {
  if (offset === 0 && length === undefined) return undefined;
  return `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
}

/** A read of 0 bytes: nothing to fetch, but a missing file or a folder must still say so (through `stat`). */
export async function emptyRead(op: string, stat: () => Promise<Entry>): Promise<Readable> {
  if ((await stat()).isDir) throw new ConnectorError('conflict', `${op}: is a folder`);
  return emptyStream();
}
