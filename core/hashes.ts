import type { Hashes, HashType } from './entry.js';

/**
 * Which hash checks a copy. The best is one the destination stores (its listing then proves what
 * it holds without a read) that knarr can compute from the source while it streams; next, one
 * the source stores; else MD5, computed on both sides. `computable` is what the engine can hash
 * itself (node's digests and any provider hash implemented in connectors/shared/hashing).
 */
export function pickHash(srcStores: readonly HashType[], dstStores: readonly HashType[], computable: readonly HashType[]): HashType {
  const usable = (t: HashType) => computable.includes(t);
  return dstStores.find((t) => srcStores.includes(t))
    ?? dstStores.find(usable)
    ?? srcStores.find(usable)
    ?? 'md5';
}

export type HashVerdict = 'match' | 'mismatch' | 'unknown';

/** Compares one hash type of both sides; unknown when either side lacks it. */
export function compareHash(type: HashType, src: Hashes, dst: Hashes): HashVerdict {
  const a = src[type];
  const b = dst[type];
  if (!a || !b) return 'unknown';
  return a.toLowerCase() === b.toLowerCase() ? 'match' : 'mismatch';
}
