/**
 * The ONE table from Graph answers to ConnectorError kinds (learn.microsoft.com/graph/errors,
 * /graph/throttling; shared/specs/providers.md A.3). Graph's `error.code` refines the status
 * where it says more (`activityLimitReached`, `resyncRequired`, `quotaLimitReached`).
 */
import type { ConnectorError, StatusRule } from '../errors.js';
import { clipDetail, statusError, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import { parseGraphError } from './wire.js';

const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'bad request' },
  401: { kind: 'auth', why: 'the access token was refused' },
  403: { kind: 'forbidden', why: 'access denied' },
  404: { kind: 'not_found', why: 'not found' },
  405: { kind: 'unsupported', why: 'method not allowed' },
  406: { kind: 'unsupported', why: 'not acceptable' },
  408: { kind: 'transient', why: 'request timeout' },
  409: { kind: 'conflict', why: 'an item with the same name is in the way' },
  410: { kind: 'not_found', why: 'gone' },
  411: { kind: 'unsupported', why: 'length required' },
  412: { kind: 'conflict', why: 'the item changed meanwhile' },
  413: { kind: 'too_large', why: 'request too large' },
  415: { kind: 'unsupported', why: 'unsupported media type' },
  416: { kind: 'transient', why: 'the upload range is not the one the server expects' },
  423: { kind: 'throttled', scope: 'request', why: 'the item is locked' },
  429: { kind: 'throttled', scope: 'account', why: 'too many requests (activityLimitReached)' },
  501: { kind: 'unsupported', why: 'not implemented' },
  507: { kind: 'quota_exceeded', why: 'the drive is full' },
  509: { kind: 'throttled', scope: 'account', why: 'bandwidth limit exceeded' },
};

const byCode: Record<string, StatusRule> = {
  activityLimitReached: { kind: 'throttled', scope: 'account', why: 'throttled (activityLimitReached)' },
  quotaLimitReached: { kind: 'quota_exceeded', why: 'the drive is full' },
  nameAlreadyExists: { kind: 'conflict', why: 'an item with the same name is in the way' },
  itemNotFound: { kind: 'not_found', why: 'not found' },
  resyncRequired: { kind: 'not_found', why: 'the change feed must be read again from the start' },
  accessDenied: { kind: 'forbidden', why: 'access denied' },
  malwareDetected: { kind: 'forbidden', why: 'the file is flagged as malware' },
};

/** How long a 423 or a 503 without Retry-After waits before the engine tries again. */
const SHORT_WAIT_MS = 2_000;

export const onedriveReconnectHint = 'authorize knarr again for this Microsoft account (the connect flow, or a new token from `rclone authorize "onedrive"`)';

export function classifyGraph(status: number, code: string | undefined, retryAfterMs: number | undefined): StatusRule {
  const rule = (code ? byCode[code] : undefined) ?? byStatus[status];
  if (rule) return rule;
  if (status === 503 || status === 502 || status === 504) return retryAfterMs !== undefined ? { kind: 'throttled', scope: 'account', why: 'service unavailable' } : { kind: 'transient', why: 'service unavailable' };
  return unlistedStatus(status);
}

/** `auth` messages come from the OAuth layer (it knows what to tell the user); this maps the rest. */
export function graphStatusMapper(authMessage: (detail: string) => string): (info: HttpErrorInfo) => ConnectorError {
  return (info) => {
    const { code, inner, message } = parseGraphError(info.bodyText);
    const rule = classifyGraph(info.status, code, info.retryAfterMs);
    const detail = [code, inner].filter(Boolean).join('/');
    const said = message ? `: ${clipDetail(message)}` : '';
    const text = rule.kind === 'auth' ? `${info.op}: ${authMessage(`HTTP ${info.status}${detail ? ` ${detail}` : ''}${said}`)}` : `${info.op}: HTTP ${info.status}${detail ? ` ${detail}` : ''}, ${rule.why}${said}`;
    const retryAfterMs = info.retryAfterMs ?? (rule.kind === 'throttled' && rule.scope === 'request' ? SHORT_WAIT_MS : undefined);
    return statusError(rule, text, { status: info.status, retryAfterMs });
  };
}

/** True for Graph's 410 resyncRequired (the delta token is no longer accepted). */
export function isResyncRequired(info: { status?: number; message: string }): boolean {
  return info.status === 410 || /resyncRequired/.test(info.message);
}
