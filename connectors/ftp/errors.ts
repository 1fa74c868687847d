/**
 * The ONE table from FTP answers (RFC 959 reply codes, plus what the message says where one code
 * means several things) and socket failures to ConnectorError kinds. Every operation of the
 * connector goes through `toFtpError`.
 */
import { FTPError } from 'basic-ftp';
import { ConnectorError, type StatusRule } from '../errors.js';
import { privateAddressCode } from '../shared/privateNetworks.js';

/** By reply code. 550 and 451 are refined by their message below. */
const byCode: Record<number, StatusRule> = {
  421: { kind: 'transient', why: 'the server is closing the connection' },
  425: { kind: 'transient', why: 'the data connection could not be opened' },
  426: { kind: 'transient', why: 'the data connection was closed and the transfer aborted' },
  430: { kind: 'auth', why: 'invalid user name or password' },
  434: { kind: 'transient', why: 'the host is unavailable' },
  450: { kind: 'transient', why: 'the file is busy' },
  451: { kind: 'transient', why: 'the server failed locally' },
  452: { kind: 'quota_exceeded', why: 'insufficient storage space' },
  500: { kind: 'unsupported', why: 'the server did not understand the command' },
  501: { kind: 'invalid_name', why: 'the server refused the command\'s argument' },
  502: { kind: 'unsupported', why: 'the command is not implemented' },
  504: { kind: 'unsupported', why: 'the command is not implemented for that parameter' },
  530: { kind: 'auth', why: 'not logged in' },
  532: { kind: 'forbidden', why: 'storing files needs an account' },
  550: { kind: 'not_found', why: 'the file is unavailable' },
  551: { kind: 'unsupported', why: 'the page type is unknown' },
  552: { kind: 'quota_exceeded', why: 'the storage allocation is exceeded' },
  553: { kind: 'invalid_name', why: 'the file name is not allowed' },
};

/**
 * 550 is "file unavailable" for every reason a server has; 451 and 553 are sometimes a missing
 * folder or a permission. The messages of pure-ftpd, vsftpd, ProFTPD and pyftpdlib tell them apart.
 */
const byMessage: Array<[RegExp, StatusRule]> = [
  [/no such file|not found|doesn't exist|does not exist|can't check for file existence|cannot find/i, { kind: 'not_found', why: 'no such file or folder' }],
  [/not empty/i, { kind: 'conflict', why: 'the folder is not empty' }],
  [/file exists|already exists/i, { kind: 'conflict', why: 'it already exists' }],
  [/not a directory|is a directory|not a regular file|not a plain file/i, { kind: 'conflict', why: 'a file or folder is in the way' }],
  [/name too long/i, { kind: 'invalid_name', why: 'the name is too long' }],
  [/prohibited (file )?name|name not allowed|invalid (file )?name|illegal (file )?name/i, { kind: 'invalid_name', why: 'the server does not allow this name' }],
  [/quota|disk full|no space/i, { kind: 'quota_exceeded', why: 'no space left' }],
  [/permission denied|access denied|not allowed|prohibited|forbidden|read-only/i, { kind: 'forbidden', why: 'permission denied' }],
];

export function ruleFor(code: number, message: string): StatusRule {
  if (code === 550 || code === 451 || code === 553 || code === 450) {
    for (const [re, rule] of byMessage) if (re.test(message)) return rule;
  }
  const rule = byCode[code];
  if (rule) return rule;
  if (code >= 400 && code < 500) return { kind: 'transient', why: 'a transient failure' };
  return { kind: 'unsupported', why: 'an unexpected answer' };
}

/** Socket and TLS failures: a cut or a timeout passes on retry; an untrusted certificate does not. */
const tlsTrustCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

export interface FtpErrorContext {
  /** What was being done, for the message: `write "a/b"`. */
  op: string;
  remoteName: string;
  user: string;
  host: string;
  /** Set when the host policy refused an address on this client (control or data connection). */
  refused?: string;
}

/** Any failure of a basic-ftp call as a ConnectorError. Never quotes a password (basic-ftp's messages hold none). */
export function toFtpError(err: unknown, ctx: FtpErrorContext): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const { op } = ctx;
  if (ctx.refused) return new ConnectorError('forbidden', `${op}: ${ctx.refused}`, { cause: err });
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = e?.code;
  // basic-ftp's FTPError: the server answered with a reply code.
  if (err instanceof FTPError) {
    const rule = ruleFor(err.code, message);
    const detail = `FTP ${message.trim().slice(0, 300)}`;
    if (rule.kind === 'auth') return new ConnectorError('auth', `${op}: ${authMessage(ctx, detail)}`, { status: err.code, cause: err });
    return new ConnectorError(rule.kind, `${op}: ${rule.why} (${detail})`, { status: err.code, cause: err });
  }
  if (code === privateAddressCode) return new ConnectorError('forbidden', `${op}: ${message}`, { cause: err });
  if (typeof code === 'string' && tlsTrustCodes.has(code)) {
    return new ConnectorError('auth', `${op}: the TLS certificate of ${ctx.host} is not trusted (${code}: ${message}); give the server's CA certificate as the remote's "ca" setting`, { cause: err });
  }
  // Socket errors (ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED…), basic-ftp's timeouts and
  // "server closed the connection": the next attempt gets a fresh connection.
  return new ConnectorError('transient', `${op}: ${message.split('\n')[0]}`, { cause: err });
}

export function authMessage(ctx: Pick<FtpErrorContext, 'remoteName' | 'user' | 'host'>, detail: string): string {
  return `the FTP server ${ctx.host} refused the login of user "${ctx.user}" for remote "${ctx.remoteName}" (${detail}); check the user and password and update the remote "${ctx.remoteName}" with the right ones`;
}
