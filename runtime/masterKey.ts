import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KEY_LENGTH } from '../db/credentials.js';

const GENERATE_HINT = 'generate one with: openssl rand -base64 32';

export interface MasterKey {
  key: Buffer;
  source: 'env' | 'file';
  /** The key file, when the key came from one. */
  path?: string;
  /** A new key file was written by this call: nothing sealed with an earlier key can be opened. */
  created: boolean;
}

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

/**
 * The key that seals remote credentials: `KNARR_MASTER_KEY` (base64 or hex of 32 bytes) when set
 * and non-empty, else `${dataDir}/master.key`, created with mode 0600 on first start. An empty
 * variable counts as unset, as compose files pass `${KNARR_MASTER_KEY:-}` through.
 */
export async function loadMasterKey(opts: {
  env?: Record<string, string | undefined>;
  dataDir: string;
  log?: (msg: string) => void;
  /**
   * False where several processes must share one key (scaled out: api and workers against one
   * DATABASE_URL, each with its own disk): a key file made by one of them would be a different key
   * from every other's, and credentials sealed by one could not be opened by the rest.
   */
  createIfMissing?: boolean;
}): Promise<MasterKey> {
  const log = opts.log ?? (() => {});
  const fromEnv = opts.env?.KNARR_MASTER_KEY?.trim();
  if (fromEnv) return { key: parseKey(fromEnv, 'KNARR_MASTER_KEY'), source: 'env', created: false };

  const path = join(resolve(opts.dataDir), 'master.key');
  const existing = await readKeyFile(path);
  if (existing) return { key: existing, source: 'file', path, created: false };
  if (opts.createIfMissing === false) {
    throw new MasterKeyError(`no master key: set KNARR_MASTER_KEY, the same on every knarr process (${GENERATE_HINT}), or provide ${path}`);
  }

  const key = randomBytes(KEY_LENGTH);
  if (await createKeyFile(path, key)) {
    log(`created a new master key at ${path}: back it up, the stored credentials cannot be read without it`);
    return { key, source: 'file', path, created: true };
  }
  // Another process starting at the same moment made the file first: use its key.
  const theirs = await readKeyFile(path);
  if (!theirs) throw new MasterKeyError(`master key file ${path} vanished while starting`);
  return { key: theirs, source: 'file', path, created: false };
}

/** Base64 (standard or URL-safe, padding optional) or hex of exactly 32 bytes. Never echoes the value. */
export function parseKey(text: string, what: string): Buffer {
  const s = text.trim();
  let key: Buffer;
  if (/^[0-9a-fA-F]+$/.test(s) && s.length === KEY_LENGTH * 2) {
    key = Buffer.from(s, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    key = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else {
    throw new MasterKeyError(`${what} is not base64 or hex; ${GENERATE_HINT}`);
  }
  if (key.length !== KEY_LENGTH) {
    throw new MasterKeyError(`${what} must be ${KEY_LENGTH} bytes, base64 or hex, but decodes to ${key.length} bytes; ${GENERATE_HINT}`);
  }
  return key;
}

async function readKeyFile(path: string): Promise<Buffer | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!st.isFile()) throw new MasterKeyError(`master key file ${path} is not a regular file`);
  // Windows has no POSIX modes to check.
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new MasterKeyError(
      `master key file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `restrict it with: chmod 600 ${path}`,
    );
  }
  return parseKey(await readFile(path, 'utf8'), `master key file ${path}`);
}

/**
 * Writes the key to a private temporary file, then hard-links it into place: the link either
 * creates `path` complete or fails because it exists, so a concurrent starter never reads a
 * half-written key and two starters never end up with different keys.
 */
async function createKeyFile(path: string, key: Buffer): Promise<boolean> {
  await mkdir(resolve(path, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(`${key.toString('base64')}\n`);
    // umask can only clear bits, but be explicit in case the file system ignored the open mode.
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    // File systems without hard links: an exclusive copy still never overwrites another key.
    try {
      await copyFile(tmp, path, constants.COPYFILE_EXCL);
      return true;
    } catch (copyErr) {
      if ((copyErr as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw copyErr;
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
