/**
 * The ONE table from Drive answers to ConnectorError kinds (providers.md A.2 "Rate-limit and quota
 * signals"). Drive says most through the `reason` of a 403, so the reason decides before the status.
 *
 * The 750 GB/day upload cap. Drive answers it as `403 userRateLimitExceeded` with the message
 * exactly "User rate limit exceeded." (undocumented; rclone's --drive-stop-on-upload-limit relies
 * on the same string) or as `uploadLimitExceeded`. On an upload that is `throttled` with scope
 * `daily_quota`, and `retryAfterMs` runs to the next UTC midnight (when the cap is said to reset)
 * but at most one hour: Google does not say when the window really ends, so the engine sleeps an
 * hour at a time and probes again rather than trusting a guess for up to a day. Every other rate
 * limit (429, `rateLimitExceeded`, `userRateLimitExceeded` with another message) is `throttled`
 * for that request, with the server's Retry-After, or one second (Google's advice: back off
 * exponentially from 1 s; the pacer doubles from there).
 */
import type { ConnectorError, StatusRule } from '../errors.js';
import { statusError, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import { errorReason } from './wire.js';

export const DAILY_QUOTA_MESSAGE = 'User rate limit exceeded.';
/** The daily cap is probed again at least this often. */
export const DAILY_QUOTA_PROBE_MS = 60 * 60 * 1000;
/** A rate limit without Retry-After waits this long (the pacer backs off further on repeats). */
export const RATE_LIMIT_RETRY_MS = 1000;

/** What an op string of an upload request contains: the daily cap is read as such only there. */
export const UPLOAD_OP = ': upload';

const byReason: Record<string, StatusRule> = {
  rateLimitExceeded: { kind: 'throttled', scope: 'request', why: 'rate limit exceeded' },
  userRateLimitExceeded: { kind: 'throttled', scope: 'request', why: 'user rate limit exceeded' },
  uploadLimitExceeded: { kind: 'throttled', scope: 'daily_quota', why: 'the daily upload limit (750 GB) is reached' },
  quotaExceeded: { kind: 'quota_exceeded', why: 'the storage quota is full' },
  storageQuotaExceeded: { kind: 'quota_exceeded', why: 'the storage quota is full' },
  teamDriveFileLimitExceeded: { kind: 'quota_exceeded', why: 'the shared drive holds as many items as it may' },
  numChildrenInNonRootLimitExceeded: { kind: 'quota_exceeded', why: 'the folder holds as many items as it may' },
  downloadQuotaExceeded: { kind: 'throttled', scope: 'daily_quota', why: 'the file was downloaded too often today' },
  cannotDownloadAbusiveFile: { kind: 'forbidden', why: 'Google flagged the file as abusive' },
  fileNotDownloadable: { kind: 'unsupported', why: 'the file has no binary content' },
  exportSizeLimitExceeded: { kind: 'too_large', why: 'the document is too large to export' },
  cannotCopyFile: { kind: 'unsupported', why: 'the item cannot be copied' },
  insufficientFilePermissions: { kind: 'forbidden', why: 'no permission for this item' },
  insufficientParentPermissions: { kind: 'forbidden', why: 'no permission for the folder' },
  cannotMoveItemIntoItself: { kind: 'conflict', why: 'a folder cannot go below itself' },
  notFound: { kind: 'not_found', why: 'not found' },
  authError: { kind: 'auth', why: 'the credentials were refused' },
  invalid: { kind: 'unsupported', why: 'invalid value' },
};

const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'bad request' },
  401: { kind: 'auth', why: 'the credentials were refused' },
  403: { kind: 'forbidden', why: 'forbidden' },
  404: { kind: 'not_found', why: 'not found' },
  408: { kind: 'transient', why: 'request timeout' },
  409: { kind: 'conflict', why: 'conflict' },
  410: { kind: 'not_found', why: 'gone' },
  412: { kind: 'conflict', why: 'precondition failed' },
  413: { kind: 'too_large', why: 'too large' },
  429: { kind: 'throttled', scope: 'request', why: 'too many requests' },
};

/** ms until the next UTC midnight from `now`, at most an hour. */
export function dailyQuotaWaitMs(now: number): number {
  const d = new Date(now);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.min(midnight - now, DAILY_QUOTA_PROBE_MS);
}

export function classifyDrive(status: number, reason: string | undefined, message: string | undefined, op: string): StatusRule {
  if (reason === 'userRateLimitExceeded' && message === DAILY_QUOTA_MESSAGE && op.includes(UPLOAD_OP)) {
    return { kind: 'throttled', scope: 'daily_quota', why: 'the daily upload limit (750 GB) is reached' };
  }
  const rule = (reason && status >= 400 && status < 500 && byReason[reason]) || byStatus[status];
  if (rule) return rule;
  if (status === 503 && reason === undefined) return { kind: 'transient', why: 'service unavailable' };
  return unlistedStatus(status);
}

export const driveReconnectHint = 'authorize knarr for the Google account again (reconnect the remote)';

export function driveStatusMapper(opts: { authMessage: (detail: string) => string; now: () => number }): (info: HttpErrorInfo) => ConnectorError {
  return (info) => {
    const { reason, message } = errorReason(info.bodyText);
    const rule = classifyDrive(info.status, reason, message, info.op);
    const detail = message ? `${rule.why}: ${message.slice(0, 300)}` : rule.why;
    let retryAfterMs = info.retryAfterMs;
    if (rule.scope === 'daily_quota') retryAfterMs = Math.max(retryAfterMs ?? 0, dailyQuotaWaitMs(opts.now()));
    else if (rule.kind === 'throttled') retryAfterMs ??= RATE_LIMIT_RETRY_MS;
    const text = rule.kind === 'auth' ? `${info.op}: HTTP ${info.status}: ${opts.authMessage(detail)}` : `${info.op}: HTTP ${info.status}${reason ? ` ${reason}` : ''}, ${detail}`;
    return statusError(rule, text, { status: info.status, retryAfterMs });
  };
}
