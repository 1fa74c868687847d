import type { SftpPool } from './pool.js';

/**
 * Hashes through the server's shell, as rclone's sftp backend does: `md5sum`/`sha1sum` over
 * `exec` where the account has a shell (probed once per connector by hashing empty input), else
 * none. SFTP itself has no hash.
 */
export type ShellHash = 'md5' | 'sha1';

const emptyDigest: Record<ShellHash, string> = { md5: 'd41d8cd98f00b204e9800998ecf8427e', sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' };
const commands: Record<ShellHash, string> = { md5: 'md5sum', sha1: 'sha1sum' };

/** A word for a POSIX shell: single-quoted, each ' as '\'' (nothing inside single quotes is special). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class RemoteShell {
  private probe: Promise<boolean> | undefined;

  constructor(private readonly pool: SftpPool) {}

  /** Whether the server runs md5sum for this account; asked once, a failed probe asked again later. */
  available(): Promise<boolean> {
    this.probe ??= this.pool.exec('probe the shell', 'md5sum').then(
      (r) => r.code === 0 && r.stdout.startsWith(emptyDigest.md5),
      (err: unknown) => {
        this.probe = undefined;
        throw err;
      },
    );
    return this.probe;
  }

  /** The digest of the file at `remotePath` (as SFTP names it: relative ones are from the login folder). */
  async hash(remotePath: string, type: ShellHash, signal?: AbortSignal): Promise<string | null> {
    if (!(await this.available())) return null;
    const r = await this.pool.exec(`${commands[type]} ${JSON.stringify(remotePath)}`, `${commands[type]} -- ${shellQuote(remotePath)}`, signal);
    // A name with a backslash or newline makes md5sum start its line with "\".
    const m = /^\\?([0-9a-f]{32,40})\s/.exec(r.stdout);
    const digest = r.code === 0 && m ? m[1]! : null;
    return digest && digest.length === emptyDigest[type].length ? digest : null;
  }

  /** `cp` on the server (keeping the time), for servers without the copy-data extension. */
  async copy(from: string, to: string): Promise<boolean> {
    if (!(await this.available())) return false;
    const r = await this.pool.exec(`cp ${JSON.stringify(from)}`, `cp -p -- ${shellQuote(from)} ${shellQuote(to)}`);
    return r.code === 0;
  }
}
