/**
 * The ONE table from Jottacloud answers to ConnectorError kinds. Every request of the connector
 * goes through `jottaStatusMapper` (via connectors/shared/http.ts). Section numbers refer to
 * shared/specs/jottacloud-api.md; §9.2 lists the statuses and messages seen.
 */
import type { ConnectorError, ConnectorErrorKind, StatusRule } from '../errors.js';
import { clipDetail, statusError, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import type { WhiteLabel } from './whiteLabels.js';
import { parseJfsError, parseJsonError } from './wire.js';

/** The failure as the table sees it: the status plus the exception or error id the body names. */
export interface JottaFailure {
  status: number;
  /** JFS `<message>`'s Java exception class, the api's `error_id`, or the OAuth `error`. */
  exception?: string;
  message: string;
  retryAfterMs?: number;
}

/**
 * Exceptions and error ids first (they are more precise than the status), by the last part of
 * the class name so package renames do not matter.
 */
const byException: Record<string, StatusRule> = {
  // §9.2 404s: file, path, mountpoint (and device, for a remote configured with a wrong one).
  NoSuchFileException: { kind: 'not_found', why: 'no such file' },
  NoSuchPathException: { kind: 'not_found', why: 'no such path' },
  NoSuchMountPointException: { kind: 'not_found', why: "no such mountpoint (check the remote's mountpoint setting)" },
  NoSuchDeviceException: { kind: 'not_found', why: "no such device (check the remote's device setting)" },
  // §9.2 416 on a bad Range (read() handles a start past the end itself).
  RequestedRangeNotSatisfiedException: { kind: 'unsupported', why: 'the requested range is not satisfiable' },
  // §7.2 / §9.2 420: the upload POST ended before the declared size; the next allocate resumes.
  IncompleteUploadOpenApiException: { kind: 'transient', why: 'the upload ended early; it resumes from what the server holds' },
  // §7.2 / §9.2 421: "checksum mismatch"; the revision ends CORRUPT.
  CorruptUploadOpenApiException: { kind: 'corrupt', why: 'the uploaded bytes do not match the MD5 declared at allocate' },
  // [A]: conflict_handler REJECT_CONFLICTS (the connector never sends it, but the kind is clear).
  UniqueFileException: { kind: 'conflict', why: 'the file already exists' },
  // §9.2 460 (unconfirmed) and the account's quota in general.
  QuotaExceededException: { kind: 'quota_exceeded', why: 'the storage quota is used up' },
  // §9.2 401s; see authMessage for the text the user sees.
  BadCredentialsException: { kind: 'auth', why: 'the access token was refused' },
  AuthenticationCredentialsNotFoundException: { kind: 'auth', why: 'the token belongs to another user ("Token mismatch!")' },
  // §9.2 400 from the token endpoint (§2.5: reuse of a rotated refresh token, a spent login token, a revoked session).
  invalid_grant: { kind: 'auth', why: 'the token was refused (invalid_grant)' },
  invalid_client: { kind: 'auth', why: 'the client was refused (invalid_client)' },
  unauthorized_client: { kind: 'auth', why: 'the client is not authorised (unauthorized_client)' },
  // #5639: a huge folder fails server-side with this 500 every time; retrying cannot help.
  TransientDataAccessResourceException: { kind: 'unsupported', why: 'the folder is too large for Jottacloud to list in one request (rclone #5639); list it recursively instead' },
};

/** Then the status (§9.2, §9.3: rclone retries 429, 500, 502, 503, 504, 509). */
const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'the request was refused' },
  401: { kind: 'auth', why: 'the credentials were refused' },
  403: { kind: 'auth', why: 'access denied' },
  404: { kind: 'not_found', why: 'not found' },
  405: { kind: 'unsupported', why: 'method not allowed' },
  408: { kind: 'transient', why: 'request timeout' },
  409: { kind: 'conflict', why: 'conflict' },
  413: { kind: 'too_large', why: 'too large' },
  416: { kind: 'unsupported', why: 'range not satisfiable' },
  420: { kind: 'transient', why: 'incomplete upload' },
  421: { kind: 'corrupt', why: 'checksum mismatch' },
  429: { kind: 'throttled', scope: 'account', why: 'too many requests' },
  460: { kind: 'quota_exceeded', why: 'the storage quota is used up' },
  500: { kind: 'transient', why: 'server error' },
  502: { kind: 'transient', why: 'bad gateway' },
  503: { kind: 'transient', why: 'service unavailable' },
  504: { kind: 'transient', why: 'gateway timeout' },
  507: { kind: 'quota_exceeded', why: 'insufficient storage' },
  509: { kind: 'throttled', scope: 'account', why: 'bandwidth limit exceeded' },
};

/**
 * §9.2 400 InvalidArgumentException and IllegalArgumentException carry several meanings; the
 * message tells them apart.
 */
function refineBadRequest(message: string): StatusRule | undefined {
  if (/longer than 255 characters/i.test(message)) return { kind: 'invalid_name', why: 'a name is longer than 255 characters' };
  // #2734: `+` (or another character the server cannot decode) in a path.
  if (/Unable to validate decoded path/i.test(message)) return { kind: 'invalid_name', why: 'the server cannot decode this path' };
  if (/(folder|file) exists|is a folder|target is a folder/i.test(message)) return { kind: 'conflict', why: 'a file or folder is in the way' };
  if (/already exists/i.test(message)) return { kind: 'conflict', why: 'the target already exists' };
  return undefined;
}

/** The rule for a failure: exception first, then refinements of 400, then the status. */
export function classifyJottaFailure(f: JottaFailure): StatusRule {
  const shortName = f.exception?.split('.').pop();
  const ex = shortName ? byException[shortName] : undefined;
  if (ex) return ex;
  if (f.status === 400) {
    const refined = refineBadRequest(f.message);
    if (refined) return refined;
  }
  const st = byStatus[f.status];
  if (st) {
    // 503 with a Retry-After is the server asking for a pause: throttled, not a failure.
    if (f.status === 503 && f.retryAfterMs !== undefined) return { kind: 'throttled', scope: 'account', why: 'service unavailable' };
    return st;
  }
  return unlistedStatus(f.status);
}

export function jottaKind(f: JottaFailure): ConnectorErrorKind {
  return classifyJottaFailure(f).kind;
}

/**
 * The text a user sees for a refused credential: what to do, and on which remote. A white-label
 * remote (§2.6) has no Personal Login Token to make: it is reconnected through the label's login page.
 */
export function authMessage(remoteName: string, detail: string, label?: WhiteLabel): string {
  if (label) {
    return (
      `${label.name} refused the credentials of remote "${remoteName}" (${detail}). ` +
      `Reconnect the remote "${remoteName}" through the ${label.name} login page: POST /v1/remotes/${remoteName}/reconnect answers its link ` +
      `(a Personal Login Token does not reconnect it).`
    );
  }
  return (
    `Jottacloud refused the credentials of remote "${remoteName}" (${detail}). ` +
    `Generate a new Personal Login Token in Jottacloud under Account → Security and update the remote "${remoteName}" with it.`
  );
}

/** Reads a failed response's body: JFS XML (§9.1), api JSON (§9.1) or an OAuth error (§9.1). */
export function failureOf(info: HttpErrorInfo): JottaFailure {
  const text = info.bodyText;
  const xml = parseJfsError(text);
  if (xml) return { status: info.status, exception: xml.exception, message: xml.message || xml.reason, retryAfterMs: info.retryAfterMs };
  const json = parseJsonError(text);
  if (json) {
    const exception = json.error_id ?? json.error;
    const message = json.message ?? json.error_description ?? json.error ?? '';
    return { status: info.status, exception, message: String(message), retryAfterMs: info.retryAfterMs };
  }
  return { status: info.status, message: text.trim().slice(0, 300), retryAfterMs: info.retryAfterMs };
}

/** The StatusMapper of the connector's HttpClient. `remoteName` (and the white-label) go into auth messages. */
export function jottaStatusMapper(remoteName: string, label?: WhiteLabel): (info: HttpErrorInfo) => ConnectorError {
  return (info) => {
    const failure = failureOf(info);
    const rule = classifyJottaFailure(failure);
    const detail = failure.message ? `${rule.why}: ${clipDetail(failure.message)}` : rule.why;
    const message = rule.kind === 'auth' ? `${info.op}: ${authMessage(remoteName, `HTTP ${info.status}, ${detail}`, label)}` : `${info.op}: HTTP ${info.status}, ${detail}`;
    return statusError(rule, message, info);
  };
}
