/**
 * The ONE table from S3 answers to ConnectorError kinds: the `<Error><Code>` first (more precise
 * than the status), then the status (HEAD answers have no body). Every request of the connector
 * goes through `s3StatusMapper` (via connectors/shared/http.ts).
 */
import type { ConnectorError, StatusRule } from '../errors.js';
import { clipDetail, statusError, unlistedStatus, type HttpErrorInfo } from '../shared/http.js';
import { parseS3Error } from './wire.js';

const byCode: Record<string, StatusRule> = {
  SlowDown: { kind: 'throttled', scope: 'account', why: 'the provider asks to slow down' },
  TooManyRequests: { kind: 'throttled', scope: 'account', why: 'too many requests' },
  RequestLimitExceeded: { kind: 'throttled', scope: 'account', why: 'request limit exceeded' },
  NoSuchKey: { kind: 'not_found', why: 'no such object' },
  NoSuchBucket: { kind: 'not_found', why: "no such bucket (check the remote's bucket setting)" },
  NoSuchVersion: { kind: 'not_found', why: 'no such version' },
  // The multipart upload is gone (aborted, expired by a lifecycle rule): the write starts again.
  NoSuchUpload: { kind: 'not_found', why: 'the multipart upload no longer exists; the upload starts again' },
  // A part the complete names is not there (or not as sent): the upload starts again from the source.
  InvalidPart: { kind: 'corrupt', why: 'a part of the multipart upload is missing or differs; the upload starts again' },
  InvalidPartOrder: { kind: 'corrupt', why: 'the parts of the multipart upload are out of order; the upload starts again' },
  BadDigest: { kind: 'corrupt', why: 'the bytes received do not match their Content-MD5' },
  InvalidDigest: { kind: 'corrupt', why: 'the Content-MD5 is not valid' },
  XAmzContentChecksumMismatch: { kind: 'corrupt', why: 'the bytes received do not match their checksum' },
  // A replaced object under a read pinned with If-Match.
  PreconditionFailed: { kind: 'corrupt', why: 'the object changed while it was read (its ETag differs)' },
  InvalidAccessKeyId: { kind: 'auth', why: 'the access key id is unknown' },
  SignatureDoesNotMatch: { kind: 'auth', why: 'the secret access key does not match the access key id' },
  ExpiredToken: { kind: 'auth', why: 'the token expired' },
  InvalidToken: { kind: 'auth', why: 'the token is not valid' },
  AccountProblem: { kind: 'auth', why: 'the account has a problem; see the provider console' },
  // The key is fine (it signed the request) but may not do this: a bucket policy, an object under
  // Object Lock retention. Failing that one item is right; waiting for new keys would not help.
  AccessDenied: { kind: 'forbidden', why: 'access denied' },
  AllAccessDisabled: { kind: 'forbidden', why: 'all access to this object has been disabled' },
  EntityTooLarge: { kind: 'too_large', why: 'the object or part is larger than the provider allows' },
  MaxMessageLengthExceeded: { kind: 'too_large', why: 'the request is too large' },
  EntityTooSmall: { kind: 'unsupported', why: 'a part is smaller than the provider allows' },
  KeyTooLongError: { kind: 'invalid_name', why: 'the key is longer than the provider allows' },
  QuotaExceeded: { kind: 'quota_exceeded', why: 'the storage quota is used up' },
  StorageQuotaExceeded: { kind: 'quota_exceeded', why: 'the storage quota is used up' },
  RequestTimeout: { kind: 'transient', why: 'the request timed out' },
  RequestTimeTooSkewed: { kind: 'transient', why: "this machine's clock differs too much from the provider's" },
  InternalError: { kind: 'transient', why: 'internal error' },
  ServiceUnavailable: { kind: 'transient', why: 'service unavailable' },
  NotImplemented: { kind: 'unsupported', why: 'the provider does not implement this' },
  InvalidBucketName: { kind: 'unsupported', why: "the bucket name is not valid (check the remote's bucket setting)" },
  BucketAlreadyOwnedByYou: { kind: 'conflict', why: 'the bucket already exists' },
  InvalidObjectState: { kind: 'forbidden', why: 'the object is archived (restore it first)' },
};

const byStatus: Record<number, StatusRule> = {
  400: { kind: 'unsupported', why: 'the request was refused' },
  // HEAD answers carry no code: a refused key is the usual cause.
  401: { kind: 'auth', why: 'the credentials were refused' },
  403: { kind: 'auth', why: 'the credentials were refused' },
  404: { kind: 'not_found', why: 'not found' },
  405: { kind: 'unsupported', why: 'method not allowed' },
  408: { kind: 'transient', why: 'request timeout' },
  409: { kind: 'conflict', why: 'conflict' },
  412: { kind: 'corrupt', why: 'the object changed while it was read (its ETag differs)' },
  413: { kind: 'too_large', why: 'too large' },
  416: { kind: 'unsupported', why: 'range not satisfiable' },
  429: { kind: 'throttled', scope: 'account', why: 'too many requests' },
  500: { kind: 'transient', why: 'server error' },
  502: { kind: 'transient', why: 'bad gateway' },
  503: { kind: 'throttled', scope: 'account', why: 'service unavailable (slow down)' },
  504: { kind: 'transient', why: 'gateway timeout' },
  507: { kind: 'quota_exceeded', why: 'insufficient storage' },
};

export function classifyS3Failure(status: number, code: string | undefined): StatusRule {
  const c = code ? byCode[code] : undefined;
  if (c) return c;
  const s = byStatus[status];
  if (s) return s;
  return unlistedStatus(status);
}

/** What a user does about a refused key, with the remote's name. */
export function s3AuthMessage(remoteName: string, detail: string): string {
  return `the S3 provider refused the keys of remote "${remoteName}" (${detail}); create a new access key and update the remote "${remoteName}" with it`;
}

/** The StatusMapper of the connector's HttpClient. Messages never hold the request's signature or keys. */
export function s3StatusMapper(remoteName: string): (info: HttpErrorInfo) => ConnectorError {
  return (info) => mapS3Error(info.status, info.bodyText, info.op, remoteName, info.retryAfterMs);
}

/** An `<Error>` document (also found in a 200 answer of CompleteMultipartUpload or CopyObject) as a ConnectorError. */
export function mapS3Error(status: number, bodyText: string, op: string, remoteName: string, retryAfterMs?: number): ConnectorError {
  const parsed = parseS3Error(bodyText);
  const rule = classifyS3Failure(status, parsed?.code);
  const detail = [parsed?.code, parsed?.message ? clipDetail(parsed.message) : rule.why].filter(Boolean).join(': ');
  const text = rule.kind === 'auth' ? s3AuthMessage(remoteName, `HTTP ${status}, ${detail}`) : `HTTP ${status}, ${detail}`;
  return statusError(rule, `${op}: ${text}`, { status, retryAfterMs });
}
