import { ConnectorError, type ConnectorErrorKind } from '../errors.js';

/** The one table from errno codes to kinds; anything missing is treated as transient. */
const kindByCode: Record<string, ConnectorErrorKind> = {
  ENOENT: 'not_found',
  EEXIST: 'conflict',
  ENOTEMPTY: 'conflict',
  EISDIR: 'conflict',
  ENOTDIR: 'conflict',
  ENOSPC: 'quota_exceeded',
  EDQUOT: 'quota_exceeded',
  ENAMETOOLONG: 'invalid_name',
  // What CIFS/vfat mounts answer for names they cannot store (':' '?' '"' ...).
  EINVAL: 'invalid_name',
  EILSEQ: 'invalid_name',
  ELOOP: 'invalid_name',
  EFBIG: 'too_large',
  // A file or folder the knarr process may not touch: that file fails, the run goes on. Never
  // 'auth', which would wait for a reconnect that cannot help.
  EACCES: 'forbidden',
  EPERM: 'forbidden',
  EROFS: 'forbidden',
};

const phrase: Record<ConnectorErrorKind, string> = {
  auth: 'permission denied',
  forbidden: 'permission denied',
  throttled: 'throttled',
  not_found: 'not found',
  conflict: 'conflicts with what is there',
  quota_exceeded: 'the disk is full or the quota is reached',
  invalid_name: 'the filesystem refuses this name',
  too_large: 'the file is too large for this filesystem',
  corrupt: 'corrupt',
  transient: 'I/O error',
  unsupported: 'unsupported',
};

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps a Node fs error to a ConnectorError whose message names the path relative to the remote,
 * never the absolute path on this machine or a stack. ConnectorErrors pass through unchanged.
 */
export function mapFsError(err: unknown, op: string, path: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const code = errnoCode(err);
  const kind = (code && kindByCode[code]) || 'transient';
  const where = `${op} ${JSON.stringify(path)}`;
  const message =
    kind === 'forbidden'
      ? `${where}: permission denied (${code}): the knarr process (uid ${process.getuid?.() ?? '?'}) lacks permission on this path`
      : `${where}: ${phrase[kind]}${code ? ` (${code})` : ''}`;
  return new ConnectorError(kind, message, { cause: err });
}

export function invalidName(op: string, path: string, why: string): ConnectorError {
  return new ConnectorError('invalid_name', `${op} ${JSON.stringify(path)}: ${why}`);
}
