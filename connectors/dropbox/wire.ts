/**
 * Dropbox API v2 on the wire (shared/specs/providers.md A.4): the metadata objects, tagged errors,
 * and the JSON of the `Dropbox-API-Arg` header, which must be ASCII.
 */

export interface FileMetadata {
  '.tag': 'file';
  name: string;
  id: string;
  path_lower?: string;
  path_display?: string;
  size: number;
  rev: string;
  client_modified: string;
  server_modified: string;
  content_hash?: string;
  is_downloadable?: boolean;
}

export interface FolderMetadata {
  '.tag': 'folder';
  name: string;
  id: string;
  path_lower?: string;
  path_display?: string;
}

export interface DeletedMetadata {
  '.tag': 'deleted';
  name: string;
  path_lower?: string;
  path_display?: string;
}

export type Metadata = FileMetadata | FolderMetadata | DeletedMetadata;

export interface ListFolderResult {
  entries: Metadata[];
  cursor: string;
  has_more: boolean;
}

export interface UploadSessionCursor {
  session_id: string;
  offset: number;
}

export interface CommitInfo {
  path: string;
  mode: 'add' | 'overwrite' | { '.tag': 'update'; update: string };
  autorename: boolean;
  client_modified: string;
  mute: boolean;
  strict_conflict: boolean;
}

export interface FinishArg {
  cursor: UploadSessionCursor;
  commit: CommitInfo;
}

export type FinishBatchEntry = ({ '.tag': 'success' } & Omit<FileMetadata, '.tag'>) | { '.tag': 'failure'; failure: Tagged };

export interface SpaceUsage {
  used: number;
  allocation: { '.tag': 'individual'; allocated: number } | { '.tag': 'team'; allocated: number; used: number; user_within_team_space_allocated?: number } | { '.tag': string };
}

/** A tagged union value: `{".tag": "path", "path": {".tag": "conflict", ...}}`. */
export interface Tagged {
  '.tag': string;
  [key: string]: unknown;
}

/**
 * JSON for an HTTP header: every character from U+007F up as `\uXXXX` (the SDKs'
 * `httpHeaderSafeJson`); Dropbox refuses a `Dropbox-API-Arg` that is not ASCII.
 */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Dropbox's timestamp form, whole seconds: `2015-05-12T15:50:38Z`. */
export function dropboxTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The tags of a tagged error from the outside in (`path/conflict/file`), as its `error_summary` reads. */
export function tagsOf(error: unknown): string[] {
  const tags: string[] = [];
  let v = error as Tagged | undefined;
  for (let depth = 0; v && typeof v === 'object' && typeof v['.tag'] === 'string' && depth < 8; depth++) {
    const tag = v['.tag'];
    tags.push(tag);
    // An upload's write failure nests its reason under `reason` rather than under its own tag.
    v = (v[tag] ?? (tag === 'path' ? v.reason : undefined)) as Tagged | undefined;
  }
  return tags;
}

/** The tags of an `error_summary` (`path/not_found/..` → path, not_found). */
export function summaryTags(summary: string): string[] {
  return summary.split('/').filter((s) => s !== '' && !/^\.+$/.test(s));
}

/** The innermost object of a tagged error whose tag is `tag` (to read `correct_offset`). */
export function findTagged(error: unknown, tag: string): Tagged | undefined {
  let v = error as Tagged | undefined;
  for (let depth = 0; v && typeof v === 'object' && depth < 8; depth++) {
    if (v['.tag'] === tag) return v;
    const t = v['.tag'];
    v = (typeof t === 'string' ? (v[t] ?? v.reason) : undefined) as Tagged | undefined;
  }
  return undefined;
}
