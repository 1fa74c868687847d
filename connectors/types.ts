import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Entry, Hashes, HashType } from '../core/entry.js';
import type { OAuthProvider } from './shared/oauth2.js';

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
  /** Longest name of one path segment, in characters, after encoding by `nameRules`. */
  maxNameLength: number;
  /** What the provider refuses in a name; the connector encodes such names (connectors/shared/encoder.ts). */
  nameRules: NameRules;
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
  /**
   * `changes` names the old path of everything deleted or moved away, so a sync can delete from
   * the feed alone (Dropbox). Where it does not (Drive names a moved file only where it is now),
   * sync runs walk both trees and only copy and move runs plan from the feed. Absent: false.
   */
  changeFeedDeletes?: boolean;
}

/**
 * What a provider refuses in one name, every field optional (`{}`: anything goes). Names breaking
 * a rule are encoded reversibly, never skipped: rclone's substitutes, so both tools agree.
 */
export interface NameRules {
  /** ASCII characters that must not appear, e.g. `'"*:<>?|%'`. */
  forbiddenChars?: string;
  /** Control characters 0x01–0x1F and DEL (0x7F). */
  controlChars?: boolean;
  /** DEL (0x7F) alone, where other control characters are fine (rclone's Del without Ctl: Dropbox). */
  del?: boolean;
  /** The names `.` and `..`. */
  dotNames?: boolean;
  leadingSpace?: boolean;
  trailingSpace?: boolean;
  leadingDot?: boolean;
  /** A leading `~` (rclone's LeftTilde: OneDrive treats `~$…` as Office lock files). */
  leadingTilde?: boolean;
  trailingDot?: boolean;
  /**
   * Unpaired UTF-16 surrogates (a JavaScript string's form of invalid UTF-8): XML and JSON
   * providers cannot carry them. Quoted as `‛` plus the code unit in hex, e.g. `‛DC80`.
   */
  invalidUnicode?: boolean;
}


export interface ListOptions {
  signal?: AbortSignal;
  /** Told about what a listing holds but cannot carry as it is (a duplicate name, a shortcut, an exported document): reported, never dropped silently. */
  onNotice?: (notice: ListNotice) => void;
}

/** Something about one listed item the user should hear of. */
export interface ListNotice {
  path: string;
  /**
   * `duplicate`: another item has the same name in that folder (Drive), only one is listed;
   * `skipped`: the item has no bytes to copy (a shortcut, a form); `exported`: listed in an
   * exported format (a Google Doc as .docx); `unencodable`: the name cannot be encoded back.
   */
  kind: 'duplicate' | 'skipped' | 'exported' | 'unencodable';
  message: string;
}

/**
 * One page of a change feed (`Connector.changes`): what changed below the remote's root since a
 * cursor. Paths are relative to the root, decoded, in core/paths.ts form.
 */
export interface ChangeBatch {
  /** Files and folders created or modified (a moved folder: its whole subtree at the new place). */
  changed: Entry[];
  /** Paths removed or moved away. */
  deleted: string[];
  /** On the last batch only: where the next feed starts. */
  cursor?: string;
  /** The provider no longer answers from this cursor (expired, reset): plan this run by a full walk. The last batch. */
  resync?: boolean;
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
  /**
   * The whole file, when the engine already holds it (a file that fits in one chunk). A connector
   * may write it in one request instead of opening a stream; `open` still works for one that does not.
   */
  data?: Buffer;
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
  /**
   * Called once, before any byte is sent, when the upload goes on from `offset` bytes the provider
   * already holds: the caller records the resume before a next crash can lose it.
   */
  onResume?: (offset: number) => void | Promise<void>;
  /** Bytes between checkpoints; the connector may round it to what the provider allows. */
  chunkSize?: number;
  /**
   * Where the connector has `sync`: commit without waiting for the bytes to reach stable storage;
   * the caller syncs a whole group of files at once before it counts any of them as copied.
   */
  syncLater?: boolean;
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

/**
 * Parallel parts of one large file (rclone's OpenChunkWriter): the engine reads the source in
 * order and hands each part to `writeChunk`, several at once; the connector commits them in any
 * order (local positional writes, S3 multipart, OneDrive ranges). `state()` after a part
 * completes is the checkpoint a resume starts from, listing the parts already held.
 */
export interface ChunkWriter {
  /** Bytes per part (the last is shorter); fixed for the life of the upload, resumes included. */
  readonly partSize: number;
  /** Parts the provider likes in flight at once. */
  readonly concurrency: number;
  /** Parts already held from an earlier attempt, which the engine does not send again. */
  isDone(part: number): boolean;
  /** Commits one part; `data` is exactly that part's bytes. */
  writeChunk(part: number, data: Buffer, signal?: AbortSignal): Promise<void>;
  /** The checkpoint of what is held now: parts completed so far, durable at the provider. */
  state(): UploadState;
  /**
   * Every part is there: assemble the file and return it as the destination reports it. `hashes`
   * are the whole file's digests when the engine read it from its first byte while sending (a
   * provider that takes a checksum when it assembles, as Nextcloud's MOVE of `.file`, records it).
   */
  close(signal?: AbortSignal, hashes?: Hashes): Promise<WriteResult>;
  /** Stops without committing, keeping what is held for a resume. */
  abandon(): Promise<void>;
}

export interface ChunkWriterOptions {
  resume?: UploadState;
  /** Part size asked for; the connector may round it to what the provider allows. */
  partSize?: number;
  signal?: AbortSignal;
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
  /**
   * Makes files written with `syncLater` durable, with their folder entries: group commit, one
   * wait for many files. Absent where every commit is durable by itself (object stores, clouds).
   */
  sync?(paths: readonly string[], signal?: AbortSignal): Promise<void>;
  /**
   * Removes what an unfinished upload left at `path` (a cancelled run's partial file), without
   * touching a committed file there. Absent where an unfinished upload leaves nothing visible.
   */
  discardUpload?(path: string, state: UploadState): Promise<void>;
  /** Parallel parts for large files; absent where the provider takes one stream only. */
  openChunkWriter?(path: string, source: Omit<UploadSource, 'open'>, opts?: ChunkWriterOptions): Promise<ChunkWriter>;
  about(): Promise<About>;
  /**
   * The change feed's position now, taken before a full walk so the next run starts from it
   * (Drive's start page token, Graph's latest delta link, Dropbox's latest cursor). Absent where
   * the provider has no change feed.
   */
  changeCursor?(opts?: ListOptions): Promise<string>;
  /** What changed since `cursor`, page by page; present exactly where `changeCursor` is. */
  changes?(cursor: string, opts?: ListOptions): AsyncIterable<ChangeBatch>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/**
 * A remote's secrets as a connector sees them. `update` is single-writer across processes: it
 * runs `fn` under a row lock and stores the result in the same transaction (Jottacloud refresh
 * tokens rotate, and presenting a stale one kills the whole session).
 */
export interface CredentialStore {
  read(): Promise<Record<string, unknown>>;
  update(fn: (current: Record<string, unknown>) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>>;
}

/** What a connector is opened with besides its settings. */
export interface ConnectorContext {
  /** The remote's name, for messages that tell the user which remote needs attention. */
  remoteName: string;
  credentials: CredentialStore;
  host: HostPolicy;
}

/**
 * What a remote may reach of the machine knarr runs on (runtime/config.ts hostPolicy). A
 * service for many users must not let one of them read the server's own disk.
 */
export interface HostPolicy {
  /** The folders local remotes may name (and what is below them); null: any folder. */
  localRoots: readonly string[] | null;
  /** Never reachable through any remote, whatever its root: knarr's data directory (database, master key). */
  protectedPaths: readonly string[];
  /** Whether a remote's endpoint may be a loopback, private or link-local address (a NAS on the LAN, a local emulator). */
  privateNetworks: boolean;
}

/** No limits: for a connector opened by knarr's own tools (benchmarks, tests), never for a user's remote. */
export const unrestrictedHost: HostPolicy = Object.freeze({ localRoots: null, protectedPaths: [], privateNetworks: true });

/**
 * One provider, as the registry lists it (connectors/registry.ts). Built with `defineConnector`
 * (connectors/definition.ts), which derives the secret keys and the two narrower schemas from
 * `configSchema`, whose secret fields carry `.meta({ secret: true })`.
 */
export interface ConnectorDefinition<Settings extends Record<string, unknown> = Record<string, unknown>> {
  /** The remote `type`, e.g. `jottacloud`. */
  readonly type: string;
  /** What a user sends as `config` when creating a remote, secrets included. */
  readonly configSchema: z.ZodObject;
  /** Keys of `configSchema` that are secrets: stored only sealed, never shown, replaced by a reconnect. */
  readonly secretKeys: readonly string[];
  /** `configSchema` without the secrets: what is stored in plain sight and parsed again on open. */
  readonly settingsSchema: z.ZodType<Settings>;
  /** Only the secrets: the body of a reconnect (`PUT /v1/remotes/{name}/credentials`). */
  readonly secretsSchema: z.ZodObject;
  readonly capabilities: Capabilities;
  /** What a user does to get new secrets when the provider refused them, as a phrase ("create a new … token under …"). */
  readonly reconnectHint?: string;
  /**
   * The provider's authorization server, where accounts are connected through its consent page
   * (the API's connect flow: `POST /v1/remotes` without a token answers with its URL). A function
   * where it depends on the settings (Jottacloud's white-labels: Telia's own login server), which
   * answers undefined for settings that connect otherwise (a Personal Login Token).
   */
  readonly oauth?: OAuthProvider | ((settings: Record<string, unknown>) => OAuthProvider | undefined);
  /** Opens a connector on stored settings; the secrets come through `ctx.credentials`. */
  create(settings: Settings, ctx: ConnectorContext): Connector;
  /**
   * A config this server must refuse whatever the provider says (a local folder outside the
   * allowed roots), checked by the API before it saves a remote. `field` is the config key.
   */
  vetConfig?(config: Record<string, unknown>, host: HostPolicy): { field: string; message: string } | null;
}
