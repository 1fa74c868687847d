/**
 * The ONE table from WebDAV answers to ConnectorError kinds (RFC 4918 §11 and what servers send:
 * shared/specs/providers.md A.5). Every request of the connector goes through `davStatusMapper`.
 * A few statuses mean something else to one request (405 to MKCOL: the folder exists; 409 to
 * PUT: a parent is missing); those requests accept the status and decide themselves.
 */
import type { ConnectorError, StatusRule } from '../errors.js';
import { statusError, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import { childText, parseXml } from '../shared/xml.js';

const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'bad request' },
  401: { kind: 'auth', why: 'the credentials were refused' },
  403: { kind: 'forbidden', why: 'forbidden' },
  404: { kind: 'not_found', why: 'not found' },
  405: { kind: 'unsupported', why: 'method not allowed here' },
  408: { kind: 'transient', why: 'request timeout' },
  // A parent is missing (PUT, MKCOL, MOVE) or a file is where a folder must be.
  409: { kind: 'conflict', why: 'conflict (a parent is missing, or a file or folder is in the way)' },
  412: { kind: 'conflict', why: 'precondition failed (the destination exists)' },
  413: { kind: 'too_large', why: 'too large for the server' },
  414: { kind: 'invalid_name', why: 'the path is too long for the server' },
  415: { kind: 'unsupported', why: 'unsupported media type' },
  416: { kind: 'unsupported', why: 'range not satisfiable' },
  // Nextcloud: a file lock, or a chunked upload being assembled. Short: the engine retries.
  423: { kind: 'throttled', scope: 'request', why: 'locked' },
  429: { kind: 'throttled', scope: 'account', why: 'too many requests' },
  501: { kind: 'unsupported', why: 'not implemented by the server' },
  507: { kind: 'quota_exceeded', why: 'insufficient storage' },
};

/** How long a 423 Locked waits when the server names no Retry-After. */
export const LOCKED_RETRY_MS = 2_000;

/** Nextcloud/SabreDAV exception classes more precise than their status. */
const byException: Record<string, StatusRule> = {
  InvalidPath: { kind: 'invalid_name', why: 'the server refuses this name' },
  InsufficientStorage: { kind: 'quota_exceeded', why: 'insufficient storage' },
  FileLocked: { kind: 'throttled', scope: 'request', why: 'the file is locked' },
  Locked: { kind: 'throttled', scope: 'request', why: 'locked' },
  EntityTooLarge: { kind: 'too_large', why: 'too large for the server' },
};

/** Nextcloud answers several refusals with a bare 400 whose message tells them apart. */
function refineBadRequest(message: string): StatusRule | undefined {
  if (/invalid character|forbidden file or folder name|invalid file name|filename is not allowed|too long/i.test(message)) return { kind: 'invalid_name', why: 'the server refuses this name' };
  if (/checksum does not match/i.test(message)) return { kind: 'corrupt', why: 'the bytes the server received do not match the checksum sent' };
  return undefined;
}

export function classifyDav(status: number, exception: string | undefined, retryAfterMs: number | undefined, message = ''): StatusRule {
  const ex = exception ? byException[exception.split('\\').pop() ?? ''] : undefined;
  if (ex) return ex;
  if (status === 400) {
    const refined = refineBadRequest(message);
    if (refined) return refined;
  }
  const rule = byStatus[status];
  if (rule) return rule;
  if (status === 503 && retryAfterMs !== undefined) return { kind: 'throttled', scope: 'account', why: 'service unavailable' };
  return unlistedStatus(status);
}

/** SabreDAV's error body: `<d:error><s:exception>…</s:exception><s:message>…</s:message></d:error>`. */
function sabreError(body: string): { exception?: string; message?: string } {
  if (!body.includes('<')) return {};
  try {
    const root = parseXml(body);
    if (root.local !== 'error') return {};
    return { exception: childText(root, 'exception')?.trim(), message: childText(root, 'message')?.trim() };
  } catch {
    return {};
  }
}

/** What a user does about refused credentials. */
export const davReconnectHint = 'check the user name and password (or create a new app password in the server\'s security settings) and update the remote';

export function davStatusMapper(remoteName: string): (info: HttpErrorInfo) => ConnectorError {
  return (info) => {
    const { exception, message } = sabreError(info.bodyText);
    const rule = classifyDav(info.status, exception, info.retryAfterMs, message ?? info.bodyText.slice(0, 1000));
    // HTML error pages say nothing a user needs; SabreDAV's message does.
    const detail = message ? `${rule.why}: ${message.slice(0, 300)}` : rule.why;
    const text =
      rule.kind === 'auth'
        ? `${info.op}: HTTP ${info.status}: the WebDAV server refused the credentials of remote "${remoteName}"; ${davReconnectHint} "${remoteName}"`
        : `${info.op}: HTTP ${info.status}, ${detail}`;
    const retryAfterMs = info.retryAfterMs ?? (info.status === 423 || rule.scope === 'request' ? LOCKED_RETRY_MS : undefined);
    return statusError(rule, text, { status: info.status, retryAfterMs });
  };
}
