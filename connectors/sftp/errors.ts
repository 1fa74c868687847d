/**
 * The ONE table from SFTP and SSH failures to ConnectorError kinds. SFTP v3 (what OpenSSH speaks)
 * has nine status codes; OpenSSH's sftp-server folds errno into them (errno_to_portable): ENOENT,
 * ENOTDIR, ELOOP, EBADF → NO_SUCH_FILE; EPERM, EACCES → PERMISSION_DENIED; ENAMETOOLONG, EINVAL →
 * BAD_MESSAGE; everything else (EEXIST, ENOSPC, EISDIR, ENOTEMPTY…) → FAILURE, which the caller
 * refines where it knows what the operation met (mkdir of an existing folder, rename onto one).
 */
import { ConnectorError, type StatusRule } from '../errors.js';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const sftpStatus = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const byStatus: Record<number, StatusRule> = {
  [sftpStatus.EOF]: { kind: 'transient', why: 'unexpected end of file' },
  [sftpStatus.NO_SUCH_FILE]: { kind: 'not_found', why: 'no such file or folder' },
  [sftpStatus.PERMISSION_DENIED]: { kind: 'forbidden', why: 'permission denied' },
  // A generic failure; callers that can tell (mkdir on an existing path) stat and decide first.
  [sftpStatus.FAILURE]: { kind: 'conflict', why: 'the server refused it (a file or folder in the way, a full disk or another failure)' },
  // OpenSSH answers BAD_MESSAGE for ENAMETOOLONG and EINVAL: a name the filesystem will not take.
  [sftpStatus.BAD_MESSAGE]: { kind: 'invalid_name', why: 'the server refused the name or the request' },
  [sftpStatus.NO_CONNECTION]: { kind: 'transient', why: 'no connection' },
  [sftpStatus.CONNECTION_LOST]: { kind: 'transient', why: 'connection lost' },
  [sftpStatus.OP_UNSUPPORTED]: { kind: 'unsupported', why: 'the server does not support this operation' },
};

/** The SFTP status code of an ssh2 error, or undefined for a transport failure. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** An ssh2 SFTP/socket error as a ConnectorError; ConnectorErrors pass through. */
export function toSftpError(err: unknown, op: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const status = statusOf(err);
  if (status !== undefined) {
    const rule = byStatus[status] ?? { kind: 'transient' as const, why: `SFTP status ${status}` };
    const detail = message && message !== rule.why ? `${rule.why}: ${message}` : rule.why;
    return new ConnectorError(rule.kind, `${op}: ${detail}`, { status, cause: err });
  }
  // Everything below the SFTP layer (a reset socket, a closed channel, "No response from server"
  // for requests in flight when the connection died, a timeout) passes on a new connection.
  return new ConnectorError('transient', `${op}: the SSH connection failed: ${message}`, { cause: err });
}

/** What connecting failed with: host key refused, credentials refused, private address, or the network. */
export function connectError(err: unknown, op: string, ctx: { remoteName: string; host: string; port: number; seenFingerprint?: string; pinned: boolean }): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as Error & { level?: string; code?: string };
  const where = `${ctx.host}:${ctx.port}`;
  if (/Host denied/i.test(e.message) && ctx.seenFingerprint) {
    const what = ctx.pinned ? `does not match the host key pinned in remote "${ctx.remoteName}"` : `is unknown: remote "${ctx.remoteName}" has no hostKey`;
    return new ConnectorError('auth', `${op}: the SSH host key of ${where} ${what}. The server's key is ${ctx.seenFingerprint}; if that is your server, set hostKey to "${ctx.seenFingerprint}" (compare with ssh-keygen -lf on the server's host key)`, { cause: err });
  }
  if (e.level === 'client-authentication') {
    return new ConnectorError('auth', `${op}: ${where} refused the credentials of remote "${ctx.remoteName}" (${e.message}); check the user and the password or private key, and update the remote`, { cause: err });
  }
  if (/privateKey|passphrase|Cannot parse privateKey|Encrypted private (OpenSSH )?key/i.test(e.message)) {
    return new ConnectorError('auth', `${op}: the private key of remote "${ctx.remoteName}" cannot be used: ${e.message}`, { cause: err });
  }
  return new ConnectorError('transient', `${op}: could not connect to ${where}: ${e.message}`, { cause: err });
}
