import type { Readable } from 'node:stream';
import type { Entry, Hashes, HashType } from '../core/entry.js';

/** Declared once per connector; the engine plans from these instead of finding out by trial. */
export interface Capabilities {
  /** Hashes the provider reports in listings/stat without reading the data. */
  hashes: readonly HashType[];
  /** A hash the provider needs before an upload can start (Jottacloud: md5). */
  hashBeforeUpload: HashType | null;
  /** `write` can resume an interrupted upload from `WriteOptions.resume`. */
  resumableUpload: boolean;
  serverSideCopy: boolean;
  serverSideMove: boolean;
  /** Two names differing only in case are the same file here. */
  caseInsensitive: boolean;
  /** Longest name of one path segment, in characters. */
  maxNameLength: number;
  /** Largest file in bytes, or null for no limit. */
  maxFileSize: number | null;
  /** Bytes between checkpoints that suit this provider. */
  preferredChunkSize: number;
  /** How precisely modification times are stored and reported, in ms. */
  mtimePrecisionMs: number;
  /** Modification times given to `write` are kept. */
  setModTime: boolean;
  /** `walk` lists a whole tree faster than `list` directory by directory. */
  recursiveList: boolean;
}

export interface ListOptions {
  signal?: AbortSignal;
}

export interface ReadOptions {
  offset?: number;
  /** Bytes to read from `offset`; to the end when absent. */
  length?: number;
  signal?: AbortSignal;
}

/** What to upload: its known facts and a way to (re)open it at any offset. */
export interface UploadSource {
  size: number;
  mtimeMs: number;
  /** Hashes already known (from the source's listing), used when the destination needs one first. */
  hashes: Hashes;
  open(offset: number, signal?: AbortSignal): Promise<Readable>;
}

/**
 * Provider-specific state of an unfinished upload, saved by the engine at every checkpoint and
 * handed back in `WriteOptions.resume`. Must be JSON. `offset` is the bytes the provider holds.
 */
export interface UploadState {
  offset: number;
  [key: string]: unknown;
}

export interface WriteOptions {
  /** The state of an earlier, interrupted attempt at the same write. */
  resume?: UploadState;
  /** Called at chunk boundaries once the provider holds `state.offset` bytes. */
  onCheckpoint?: (state: UploadState) => void | Promise<void>;
  /** Called as bytes are sent, for progress and heartbeats. */
  onProgress?: (bytesDone: number) => void;
  /** Bytes between checkpoints; the connector may round it to what the provider allows. */
  chunkSize?: number;
  signal?: AbortSignal;
}

export interface WriteResult {
  /** The committed file as the destination now reports it, with the destination's own hashes. */
  entry: Entry;
  /** Offset the upload resumed from (0 for a fresh upload). */
  resumedFrom: number;
  /** The provider already had these bytes (deduplicated upload), nothing was sent. */
  deduplicated: boolean;
  /** Hashes of the whole file computed while writing, where the connector could. */
  hashes: Hashes;
}

export interface DeleteOptions {
  /** Skip the provider's trash. Default false: deletes go to trash where there is one. */
  permanent?: boolean;
}

export interface About {
  usedBytes: number | null;
  /** Null when unlimited or unknown; see `unlimited`. */
  totalBytes: number | null;
  freeBytes: number | null;
  unlimited: boolean;
}

/**
 * One provider account, rooted at the remote's root. Paths are in core/paths.ts form.
 * Methods throw `ConnectorError`.
 */
export interface Connector {
  readonly type: string;
  readonly capabilities: Capabilities;
  /** Pages of the direct children of `dir`. Throws not_found when `dir` does not exist. */
  list(dir: string, opts?: ListOptions): AsyncIterable<Entry[]>;
  /** Pages of every file and directory below `root` (not `root` itself). */
  walk(root: string, opts?: ListOptions): AsyncIterable<Entry[]>;
  stat(path: string, opts?: ListOptions): Promise<Entry>;
  read(path: string, opts?: ReadOptions): Promise<Readable>;
  write(path: string, source: UploadSource, opts?: WriteOptions): Promise<WriteResult>;
  /** Creates the directory and its parents; no error when it exists. */
  mkdir(path: string): Promise<void>;
  delete(path: string, opts?: DeleteOptions): Promise<void>;
  move(from: string, to: string): Promise<Entry>;
  /** Server-side copy; throws unsupported where `capabilities.serverSideCopy` is false. */
  copy(from: string, to: string): Promise<Entry>;
  about(): Promise<About>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}
