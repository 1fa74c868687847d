/**
 * The ONE table from Dropbox answers to ConnectorError kinds. Dropbox says what went wrong in a
 * 409's `error_summary` (`path/conflict/file/..`) and a tagged `error`; the first tag this table
 * knows decides. Rate limits (429, and 409 `too_many_write_operations`) carry `Retry-After` and
 * the JSON `retry_after`.
 */
import { ConnectorError, type StatusRule } from '../errors.js';
import { clipDetail, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import { summaryTags, tagsOf } from './wire.js';

const byTag: Record<string, StatusRule> = {
  not_found: { kind: 'not_found', why: 'not found' },
  not_folder: { kind: 'conflict', why: 'is a file, not a folder' },
  not_file: { kind: 'conflict', why: 'is a folder, not a file' },
  conflict: { kind: 'conflict', why: 'a file or folder is in the way' },
  cant_move_folder_into_itself: { kind: 'conflict', why: 'a folder cannot go into itself' },
  duplicated_or_nested_paths: { kind: 'conflict', why: 'the paths are the same or nested' },
  insufficient_space: { kind: 'quota_exceeded', why: 'the Dropbox is full' },
  insufficient_quota: { kind: 'quota_exceeded', why: 'the Dropbox is full' },
  malformed_path: { kind: 'invalid_name', why: 'Dropbox refuses this path' },
  disallowed_name: { kind: 'invalid_name', why: 'Dropbox does not store files of this name' },
  too_many_write_operations: { kind: 'throttled', scope: 'account', why: 'too many writes at once in this Dropbox (lock contention)' },
  too_many_requests: { kind: 'throttled', scope: 'account', why: 'rate limited' },
  payload_too_large: { kind: 'too_large', why: 'a request body over 150 MB' },
  too_large: { kind: 'too_large', why: 'too large' },
  too_many_files: { kind: 'too_large', why: 'too many files in one operation' },
  content_hash_mismatch: { kind: 'corrupt', why: 'the bytes Dropbox received do not match their content hash' },
  no_write_permission: { kind: 'forbidden', why: 'no permission to write here' },
  no_permission: { kind: 'forbidden', why: 'no permission' },
  restricted_content: { kind: 'forbidden', why: 'restricted content' },
  team_folder: { kind: 'forbidden', why: 'a team folder' },
  unsupported_file: { kind: 'unsupported', why: 'has no bytes to download (a Paper doc or another cloud-only file)' },
  incorrect_offset: { kind: 'transient', why: 'the upload session holds another number of bytes than sent' },
  closed: { kind: 'transient', why: 'the upload session is closed' },
  not_closed: { kind: 'transient', why: 'the upload session was not closed' },
  reset: { kind: 'not_found', why: 'the cursor is no longer valid' },
  expired_access_token: { kind: 'auth', why: 'the access token expired' },
  invalid_access_token: { kind: 'auth', why: 'the access token is not valid' },
  missing_scope: { kind: 'auth', why: 'the token lacks a permission knarr needs' },
  user_suspended: { kind: 'auth', why: 'the account is suspended' },
};

const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'bad request' },
  401: { kind: 'auth', why: 'the credentials were refused' },
  403: { kind: 'forbidden', why: 'forbidden' },
  409: { kind: 'conflict', why: 'refused' },
  429: { kind: 'throttled', scope: 'account', why: 'rate limited' },
};

/** The rule of an error's tags, outermost first: the first tag the table knows. */
export function ruleOfTags(tags: readonly string[]): StatusRule | undefined {
  for (const t of tags) if (byTag[t]) return byTag[t];
  return undefined;
}

/** A ConnectorError that keeps Dropbox's own words, so callers can tell `path/conflict/folder` from `path/conflict/file`. */
export class DropboxError extends ConnectorError {
  constructor(
    message: string,
    readonly tags: readonly string[],
    /** The tagged `error` object, for fields such as `correct_offset`. */
    readonly error: unknown,
    opts: ConstructorParameters<typeof ConnectorError>[2] & { kind: ConnectorError['kind'] },
  ) {
    super(opts.kind, message, opts);
  }

  has(...tags: string[]): boolean {
    return tags.every((t) => this.tags.includes(t));
  }
}

interface ErrorBody {
  error_summary?: unknown;
  error?: { retry_after?: unknown; reason?: unknown } & Record<string, unknown>;
}

/** The status table as the HTTP client's mapper. `authMessage` words a refused credential with what the user does about it. */
export function dropboxStatusMapper(authMessage: (detail: string) => string): (info: HttpErrorInfo) => ConnectorError {
  return (info) => {
    let body: ErrorBody = {};
    try {
      body = JSON.parse(info.bodyText) as ErrorBody;
    } catch {
      // Dropbox answers 400 (and some 5xx) in plain text.
    }
    const summary = typeof body.error_summary === 'string' ? body.error_summary : '';
    const tags = summary ? summaryTags(summary) : tagsOf(body.error?.reason ?? body.error);
    const rule = ruleOfTags(tags) ?? byStatus[info.status] ?? (info.status === 503 && info.retryAfterMs !== undefined ? { kind: 'throttled', scope: 'account', why: 'service unavailable' } : unlistedStatus(info.status));
    const jsonRetry = typeof body.error?.retry_after === 'number' ? body.error.retry_after * 1000 : undefined;
    const detail = summary || clipDetail(info.bodyText.trim());
    const message = rule.kind === 'auth' ? `${info.op}: HTTP ${info.status}: ${authMessage(`${rule.why}${summary ? `: ${summary}` : ''}`)}` : `${info.op}: HTTP ${info.status}, ${rule.why}${detail ? ` (${detail})` : ''}`;
    return new DropboxError(message, tags, body.error, { kind: rule.kind, scope: rule.scope, status: info.status, retryAfterMs: info.retryAfterMs ?? jsonRetry });
  };
}

/** A failure inside a 200 answer (one entry of finish_batch_v2) through the same table. */
export function taggedFailure(failure: unknown, op: string): DropboxError {
  const tags = tagsOf(failure);
  const rule = ruleOfTags(tags) ?? { kind: 'conflict', why: 'refused' };
  return new DropboxError(`${op}: ${rule.why} (${tags.join('/')})`, tags, failure, { kind: rule.kind, scope: rule.scope, status: 409 });
}
