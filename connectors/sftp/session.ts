import type { InputAttributes, FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { sftpStatus, statusOf } from './errors.js';

/**
 * One SFTP session's requests as promises. Errors are ssh2's (with `code` = SFTP status); the
 * connector maps them with toSftpError where it knows the operation. ssh2 throws synchronously
 * on a closed channel or an extension the server lacks, so every call is wrapped.
 */
export class SftpSession {
  constructor(readonly raw: SFTPWrapper) {}

  /** The extensions the server announced (`posix-rename@openssh.com` → "1"…). */
  has(extension: string): boolean {
    const ext = (this.raw as unknown as { _extensions?: Record<string, string> })._extensions;
    return ext?.[extension] !== undefined;
  }

  /** The largest WRITE payload the server takes (limits@openssh.com, else the classic 32 KiB). */
  get maxWrite(): number {
    return (this.raw as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
  }

  /**
   * False once the channel has closed: ssh2 answers the requests in flight then ("No response
   * from server"), but a request sent after that would wait for ever, so none is sent.
   */
  get alive(): boolean {
    const raw = this.raw as unknown as { readable?: boolean; incoming?: { state?: string }; outgoing?: { state?: string } };
    return raw.readable !== false && raw.incoming?.state !== 'closed' && raw.outgoing?.state === 'open';
  }

  private call<T>(start: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.alive) return reject(new Error('the SFTP session is closed (connection lost)'));
      try {
        start((err, value) => (err ? reject(err) : resolve(value as T)));
      } catch (err) {
        reject(err);
      }
    });
  }

  open(path: string, flags: 'r' | 'w' | 'r+' | 'wx'): Promise<Buffer> {
    return this.call((cb) => this.raw.open(path, flags, cb));
  }
  close(handle: Buffer): Promise<void> {
    return this.call((cb) => this.raw.close(handle, cb));
  }
  write(handle: Buffer, data: Buffer, position: number): Promise<void> {
    return this.call((cb) => this.raw.write(handle, data, 0, data.length, position, cb));
  }
  /** Bytes read into `buf` (0 at the end of the file). */
  read(handle: Buffer, buf: Buffer, length: number, position: number): Promise<number> {
    return this.call<number>((cb) => this.raw.read(handle, buf, 0, length, position, (err, bytesRead) => cb(err, bytesRead)))
      .catch((err: unknown) => (statusOf(err) === sftpStatus.EOF ? 0 : Promise.reject(err)));
  }
  stat(path: string): Promise<Stats> {
    return this.call((cb) => this.raw.stat(path, cb));
  }
  fstat(handle: Buffer): Promise<Stats> {
    return this.call((cb) => this.raw.fstat(handle, cb));
  }
  /** Sets the modification time (and the access time to it), in whole seconds as SFTP v3 stores them. */
  futimes(handle: Buffer, mtimeMs: number): Promise<void> {
    const s = Math.floor(mtimeMs / 1000);
    return this.call((cb) => this.raw.futimes(handle, s, s, cb));
  }
  setSize(handle: Buffer, size: number): Promise<void> {
    return this.call((cb) => this.raw.fsetstat(handle, { size } as InputAttributes, cb));
  }
  /** fsync@openssh.com where offered; a server without it gives no way to ask, so nothing happens. */
  async fsync(handle: Buffer): Promise<void> {
    if (!this.has('fsync@openssh.com')) return;
    await this.call((cb) => this.raw.ext_openssh_fsync(handle, cb));
  }
  mkdir(path: string): Promise<void> {
    return this.call((cb) => this.raw.mkdir(path, cb));
  }
  rmdir(path: string): Promise<void> {
    return this.call((cb) => this.raw.rmdir(path, cb));
  }
  unlink(path: string): Promise<void> {
    return this.call((cb) => this.raw.unlink(path, cb));
  }
  /** Replaces `to` atomically (posix-rename@openssh.com); plain SFTP rename refuses an existing target. */
  rename(from: string, to: string): Promise<void> {
    if (this.has('posix-rename@openssh.com')) return this.call((cb) => this.raw.ext_openssh_rename(from, to, cb));
    return this.call((cb) => this.raw.rename(from, to, cb));
  }
  statvfs(path: string): Promise<{ f_bsize: number; f_frsize: number; f_blocks: number; f_bfree: number; f_bavail: number }> {
    return this.call((cb) => this.raw.ext_openssh_statvfs(path, cb));
  }
  copyData(src: Buffer, dst: Buffer): Promise<void> {
    // Length 0: to the end of the source (draft-ietf-secsh-filexfer-extensions-00 §7).
    return this.call((cb) => this.raw.ext_copy_data(src, 0, 0, dst, 0, cb));
  }
  opendir(path: string): Promise<Buffer> {
    return this.call((cb) => this.raw.opendir(path, cb));
  }
  /** The next batch of a directory handle, or null at its end. */
  readdir(handle: Buffer): Promise<FileEntryWithStats[] | null> {
    return this.call<FileEntryWithStats[]>((cb) => this.raw.readdir(handle, cb))
      .catch((err: unknown) => (statusOf(err) === sftpStatus.EOF ? null : Promise.reject(err)));
  }
}
