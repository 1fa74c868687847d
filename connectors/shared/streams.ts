import { Readable } from 'node:stream';

/** A byte offset or length a read may be given: a whole number, at least 0. */
export function isByteCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** What a read past the end of a file returns: nothing, not an error (the conformance suite's rule). */
export function emptyStream(): Readable {
  const stream = new Readable({ read() {} });
  stream.push(null);
  return stream;
}
