import { Client, FTPError } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/errors.js';
import { ruleFor, toFtpError } from '../../connectors/ftp/errors.js';
import { mlsxTime, parseMlst } from '../../connectors/ftp/index.js';
import { ftpNames, ftpPath, isPartialName, partialNameFor, serverRoot } from '../../connectors/ftp/paths.js';
import { guardSockets } from '../../connectors/ftp/pool.js';
import { mfmtTime } from '../../connectors/ftp/upload.js';
import { privateAddressCode } from '../../connectors/shared/privateNetworks.js';

const ctx = { op: 'stat "x"', remoteName: 'r', user: 'u', host: 'ftp.example.com' };
const ftpError = (code: number, message: string) => new FTPError({ code, message: `${code} ${message}` });

describe('ftp reply codes → kinds', () => {
  it.each([
    [530, 'Login authentication failed', 'auth'],
    [550, "Can't check for file existence", 'not_found'],
    [550, 'Could not delete /d1/nope: No such file or directory', 'not_found'],
    [550, "Can't remove directory: Directory not empty", 'conflict'],
    [550, "Can't create directory: File exists", 'conflict'],
    [550, 'Permission denied', 'forbidden'],
    [550, 'Requested action not taken', 'not_found'],
    [451, 'Rename/move failure: No such file or directory', 'not_found'],
    [451, 'Local error in processing', 'transient'],
    [421, '12 users (the maximum) are already logged in, sorry', 'transient'],
    [425, 'Unable to identify the local data socket', 'transient'],
    [426, 'Connection closed; transfer aborted', 'transient'],
    [452, 'Insufficient storage space', 'quota_exceeded'],
    [552, 'Quota exceeded', 'quota_exceeded'],
    [553, 'Prohibited file name: /d1/back\\slash', 'invalid_name'],
    [553, 'Permission denied', 'forbidden'],
    [553, "Can't open that file: File name too long", 'invalid_name'],
    [553, 'File name not allowed', 'invalid_name'],
    [502, 'Command not implemented', 'unsupported'],
  ])('%i %s → %s', (code, message, kind) => {
    expect(ruleFor(code, `${code} ${message}`).kind).toBe(kind);
    expect(toFtpError(ftpError(code, message), ctx)).toMatchObject({ kind, status: code });
  });

  it('socket failures are transient, an untrusted certificate is auth, a refused address forbidden', () => {
    expect(toFtpError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), ctx).kind).toBe('transient');
    expect(toFtpError(new Error('Timeout (control socket)'), ctx).kind).toBe('transient');
    expect(toFtpError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), ctx).kind).toBe('auth');
    expect(toFtpError(Object.assign(new Error('x is private'), { code: privateAddressCode }), ctx).kind).toBe('forbidden');
    expect(toFtpError(new Error('None of the available transfer strategies work'), { ...ctx, refused: 'the server sent a data address 10.0.0.1' }).kind).toBe('forbidden');
    const kept = new ConnectorError('conflict', 'x');
    expect(toFtpError(kept, ctx)).toBe(kept);
  });

  it('an auth failure says what to do and which remote', () => {
    const err = toFtpError(ftpError(530, 'Login authentication failed'), ctx);
    expect(err.message).toMatch(/refused the login of user "u" for remote "r".*update the remote "r"/);
  });
});

describe('ftp wire details', () => {
  it('parses MLST answers and RFC 3659 times', () => {
    const facts = parseMlst('250-Begin\n type=file;size=14;modify=20200913122640;UNIX.mode=0644; /d1/a; b.txt\n250 End.');
    expect(Object.fromEntries(facts!)).toMatchObject({ type: 'file', size: '14', modify: '20200913122640', 'unix.mode': '0644' });
    expect(parseMlst('250 End.')).toBeNull();
    expect(mlsxTime('20200913122640')).toBe(Date.UTC(2020, 8, 13, 12, 26, 40));
    expect(mlsxTime('20200913122640.123')).toBe(Date.UTC(2020, 8, 13, 12, 26, 40, 123));
    expect(mfmtTime(Date.UTC(2020, 8, 13, 12, 26, 40, 999))).toBe('20200913122640');
  });

  it('encodes what FTP cannot carry and checks names in bytes', () => {
    expect(ftpNames.encode('a\r\nb')).toBe('a␍␊b');
    expect(ftpNames.encode('back\\slash')).toBe('back＼slash');
    expect(ftpNames.encode('trailing ')).toBe('trailing␠');
    expect(ftpNames.decode(ftpNames.encode(' lead & trail '))).toBe(' lead & trail ');
    expect(() => ftpPath('ø'.repeat(128), 'write')).toThrow(/longer than the 255 bytes/);
    expect(ftpPath('ø'.repeat(127), 'write').stored).toBe('ø'.repeat(127));
  });

  it('names partial files within NAME_MAX and recognises them', () => {
    expect(partialNameFor('f.bin')).toBe('.f.bin.knarr-partial');
    const long = partialNameFor('a'.repeat(250));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    expect(isPartialName(long) && isPartialName('.f.bin.knarr-partial')).toBe(true);
    expect(isPartialName('f.bin')).toBe(false);
  });

  it('takes a relative root from the login folder', () => {
    expect(serverRoot(undefined, '/')).toBe('/');
    expect(serverRoot('backups/x/', '/home/u')).toBe('/home/u/backups/x');
    expect(serverRoot('/srv//ftp/', '/home/u')).toBe('/srv/ftp');
  });

  it('refuses a data connection to a private address (a PASV answer naming one)', async () => {
    const client = new Client();
    let refused: string | undefined;
    guardSockets(client, (why) => (refused = why));
    const socket = (client.ftp as unknown as { _newSocket(): import('node:net').Socket })._newSocket();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      socket.on('error', resolve);
      socket.connect({ host: '10.1.2.3', port: 21 });
    });
    expect(err.code).toBe(privateAddressCode);
    expect(refused).toMatch(/10\.1\.2\.3, a private or local address/);
    client.close();
  });
});
