/** Hash types a provider can expose; names follow rclone's. */
export const hashTypes = ['md5', 'sha1', 'sha256', 'quickxor', 'dropbox', 'crc32c'] as const;
export type HashType = (typeof hashTypes)[number];
export type Hashes = Partial<Record<HashType, string>>;

/** One object in a listing. Paths are relative to the remote's root (see core/paths.ts). */
export interface Entry {
  path: string;
  isDir: boolean;
  /** Bytes; 0 for directories; -1 where the size is known only once read (a Google Doc exported on the fly). */
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** Lower-case hex digests the provider reports without reading the data. */
  hashes: Hashes;
}
