import { randomBytes } from 'node:crypto';
import { stat as fsStat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, isConnectorError } from '../../connectors/errors.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { webdavDefinition } from '../../connectors/webdav/definition.js';
import { createWebdavConnector, partialNameFor, type WebdavConfig, type WebdavConnector } from '../../connectors/webdav/index.js';
import { MIN_NEXTCLOUD_CHUNK, type ChunkedState } from '../../connectors/webdav/upload.js';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { bufferSource, collect, expectKind, KiB, md5, readAll, rejectionOf, sha1 } from '../conformance/suite.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startApacheDav, type WebdavTestServer } from '../support/servers/webdav.js';

const open: WebdavConnector[] = [];
afterAll(async () => {
  for (const c of open) await c.close();
});

function connect(config: Record<string, unknown>, remoteName = 'dav', port?: number): WebdavConnector {
  const { password, bearerToken, ...settings } = config;
  const url = new URL(String(settings.url));
  if (port) url.port = String(port);
  const c = createWebdavConnector({ ...(settings as unknown as WebdavConfig), url: url.href }, { host: unrestrictedHost, remoteName, credentials: memoryCredentials({ password, bearerToken }) });
  open.push(c);
  return c;
}

describe('webdav on Apache mod_dav_fs', () => {
  let server: WebdavTestServer;
  let proxy: CutProxy;

  beforeAll(async () => {
    server = await startApacheDav();
    proxy = await startCutProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('resumes a cut upload from the temp file the server holds, sending only the rest', async () => {
    const c = connect(server.remoteConfig(), 'apache', proxy.port);
    const chunk = 256 * KiB;
    const data = randomBytes(8 * chunk + 1234);
    await c.mkdir('resume');
    const checkpoints: UploadState[] = [];
    // Mid-file for certain: the proxy cuts once it carried 5 chunks and a half of this upload.
    proxy.resetCounts();
    void proxy.cutAfter(5 * chunk + chunk / 2);
    const err = await rejectionOf(() => c.write('resume/big.bin', bufferSource(data), { chunkSize: chunk, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
    await expectKind(() => c.stat('resume/big.bin'), 'not_found');
    expect(c.capabilities.resumableUpload).toBe(true);

    const last = checkpoints.at(-1)!;
    expect(last).toMatchObject({ tempName: partialNameFor('big.bin'), size: data.length });
    const held = (await fsStat(join(server.dataDir, 'resume', partialNameFor('big.bin')))).size;
    expect(held).toBeGreaterThanOrEqual(last.offset);
    expect(held).toBeLessThan(data.length);
    // The hidden temp file is no entry of the folder.
    expect((await collect(c.list('resume'))).entries).toEqual([]);

    proxy.resetCounts();
    const again = bufferSource(data);
    const res = await c.write('resume/big.bin', again, { chunkSize: chunk, resume: last });
    expect(res.resumedFrom).toBe(held);
    expect(again.opens).toEqual([held]);
    // What went upstream on the resumed attempt: the missing bytes plus requests' heads, never the held ones again.
    expect(proxy.bytesUp).toBeGreaterThanOrEqual(data.length - held);
    expect(proxy.bytesUp).toBeLessThan(data.length - held + 16 * KiB);
    expect(md5(await readAll(await c.read('resume/big.bin')))).toBe(md5(data));
    await expect(fsStat(join(server.dataDir, 'resume', partialNameFor('big.bin')))).rejects.toThrow();
  });

  it('discards an unfinished upload without touching the committed file', async () => {
    const c = connect(server.remoteConfig(), 'apache', proxy.port);
    const chunk = 256 * KiB;
    await c.write('discard/f.bin', bufferSource(Buffer.from('committed')));
    const checkpoints: UploadState[] = [];
    void proxy.cutAfter(2 * chunk + 100);
    await rejectionOf(() => c.write('discard/f.bin', bufferSource(randomBytes(4 * chunk)), { chunkSize: chunk, onCheckpoint: (s) => void checkpoints.push(s) }));
    const temp = join(server.dataDir, 'discard', partialNameFor('f.bin'));
    expect((await fsStat(temp)).size).toBeGreaterThan(0);
    await c.discardUpload('discard/f.bin', checkpoints.at(-1)!);
    await expect(fsStat(temp)).rejects.toThrow();
    expect((await readAll(await c.read('discard/f.bin'))).toString()).toBe('committed');
  });

  it('declares no modification time and no hash, honestly: Apache keeps the time of the upload', async () => {
    const c = connect(server.remoteConfig());
    expect(c.capabilities).toMatchObject({ setModTime: false, hashes: [] });
    const res = await c.write('mtime/f', bufferSource(Buffer.from('x'), { mtimeMs: 1_000_000_000_000 }));
    expect(res.entry.mtimeMs).toBeGreaterThan(1_000_000_000_000);
  });

  it('roots a remote at a folder with hostile characters in its URL', async () => {
    const outer = connect(server.remoteConfig());
    await outer.write('a #1 & ?%/inner.txt', bufferSource(Buffer.from('inner')));
    const c = connect(server.remoteConfig('a #1 & ?%'));
    expect((await collect(c.list(''))).entries.map((e) => e.path)).toEqual(['inner.txt']);
    expect((await readAll(await c.read('inner.txt'))).toString()).toBe('inner');
  });

  it('refuses a wrong password as auth, naming the remote and not the password', async () => {
    const c = connect({ ...server.remoteConfig(), password: 'not-the-password' }, 'wrongpw');
    const err = await expectKind(() => c.stat(''), 'auth');
    expect(err.message).toMatch(/remote "wrongpw"/);
    expect(err.message).not.toContain('not-the-password');
  });
});

describe('webdav on the Nextcloud emulator', () => {
  let emu: NextcloudEmulator;
  let c: WebdavConnector;
  const chunk = MIN_NEXTCLOUD_CHUNK;

  beforeAll(async () => {
    emu = await startNextcloudEmulator();
    c = connect(emu.remoteConfig(), 'nextcloud');
  });
  afterEach(() => {
    emu.faults.reset();
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it('resumes a chunked upload cut in its third chunk: the chunks the upload folder holds are not sent again', async () => {
    const data = randomBytes(4 * chunk + 4321);
    const checkpoints: ChunkedState[] = [];
    const err = await rejectionOf(() =>
      c.write('chunked/big.bin', bufferSource(data), {
        chunkSize: chunk,
        onCheckpoint: (s) => {
          checkpoints.push(structuredClone(s) as ChunkedState);
          // Two chunks are held: the next chunk PUT is cut after 1000 bytes of its body.
          if (s.offset === 2 * chunk) emu.faults.cutNextUpload(1000);
        },
      }),
    );
    expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
    await expectKind(() => c.stat('chunked/big.bin'), 'not_found');
    const last = checkpoints.at(-1)!;
    expect(last).toMatchObject({ offset: 2 * chunk, size: data.length, chunkSize: chunk });
    expect(Object.keys(last).sort()).toEqual(['chunkSize', 'mtimeMs', 'offset', 'size', 'uploadId']);
    const pending = emu.uploads().find((u) => u.id === last.uploadId)!;
    expect(pending.destination).toBe('chunked/big.bin');
    expect(pending.chunks).toEqual([{ name: '00001', size: chunk }, { name: '00002', size: chunk }]);

    emu.stats.reset();
    const again = bufferSource(data);
    const res = await c.write('chunked/big.bin', again, { chunkSize: chunk, resume: last });
    expect(res.resumedFrom).toBe(2 * chunk);
    expect(again.opens).toEqual([2 * chunk]);
    expect(emu.stats.chunkPuts).toBe(3);
    expect(emu.stats.chunkBytes).toBe(data.length - 2 * chunk);
    expect(emu.stats.bytesReceived).toBe(data.length - 2 * chunk);
    expect(emu.file('chunked/big.bin')!.size).toBe(data.length);
    expect(emu.uploads().find((u) => u.id === last.uploadId)).toBeUndefined();
    expect(md5(await readAll(await c.read('chunked/big.bin')))).toBe(md5(data));
  });

  it('sends OC-Checksum (the source\'s SHA1, else the one computed) and reads it back from oc:checksums', async () => {
    const small = randomBytes(300 * KiB);
    const known = await c.write('sum/known.bin', bufferSource(small, { hashes: { sha1: sha1(small) } }));
    expect(emu.file('sum/known.bin')!.checksums).toEqual([`SHA1:${sha1(small)}`]);
    expect(known.entry.hashes.sha1).toBe(sha1(small));

    const big = randomBytes(2 * chunk + 10);
    const computed = await c.write('sum/computed.bin', bufferSource(big), { chunkSize: chunk });
    expect(emu.file('sum/computed.bin')!.checksums).toEqual([`SHA1:${sha1(big)}`]);
    expect(computed.hashes.sha1).toBe(sha1(big));
    expect((await c.stat('sum/computed.bin')).hashes.sha1).toBe(sha1(big));
    const listed = (await collect(c.list('sum'))).entries.find((e) => e.path === 'sum/computed.bin')!;
    expect(listed.hashes.sha1).toBe(sha1(big));

    // A server that reports another checksum than the one sent: corrupt.
    emu.faults.corruptNextChecksumReport();
    await expectKind(() => c.write('sum/lied.bin', bufferSource(randomBytes(1000))), 'corrupt');
  });

  it('keeps the modification time with X-OC-Mtime, on a single PUT and on the chunk assembly', async () => {
    const mtimeMs = 1_500_000_000_999;
    await c.write('mtime/small', bufferSource(Buffer.from('small'), { mtimeMs, whole: true }));
    await c.write('mtime/big', bufferSource(randomBytes(chunk + 1), { mtimeMs }), { chunkSize: chunk });
    for (const p of ['mtime/small', 'mtime/big']) {
      expect(emu.file(p)!.mtimeMs).toBe(1_500_000_000_000);
      expect((await c.stat(p)).mtimeMs).toBe(1_500_000_000_000);
    }
  });

  it('answers a 423 Locked assembly as throttled; the retry finds every chunk and only MOVEs', async () => {
    const data = randomBytes(2 * chunk + 77);
    const checkpoints: UploadState[] = [];
    emu.faults.lockNextMove(1);
    const err = await expectKind(() => c.write('locked/f.bin', bufferSource(data), { chunkSize: chunk, onCheckpoint: (s) => void checkpoints.push(s) }), 'throttled');
    expect(err.status).toBe(423);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(10_000);
    emu.stats.reset();
    const res = await c.write('locked/f.bin', bufferSource(data), { chunkSize: chunk, resume: checkpoints.at(-1) });
    expect(res.resumedFrom).toBe(data.length);
    expect(emu.stats.chunkPuts).toBe(0);
    expect(emu.stats.bytesReceived).toBe(0);
    expect(md5(await readAll(await c.read('locked/f.bin')))).toBe(md5(data));
  });

  it('writes parts of a large file as chunks in any order, and a resumed writer sends only the missing ones', async () => {
    const data = randomBytes(3 * chunk + 500);
    const source = { size: data.length, mtimeMs: 1_600_000_000_000, hashes: { sha1: sha1(data) } };
    const part = (n: number) => data.subarray(n * chunk, Math.min(data.length, (n + 1) * chunk));
    const first = await c.openChunkWriter!('parts/big.bin', source, { partSize: chunk });
    expect(first.partSize).toBe(chunk);
    await Promise.all([first.writeChunk(3, part(3)), first.writeChunk(1, part(1))]);
    const state = first.state();
    expect(state.offset).toBe(chunk + 500);
    await first.abandon();

    emu.stats.reset();
    const again = await c.openChunkWriter!('parts/big.bin', source, { resume: state });
    expect([0, 1, 2, 3].map((n) => again.isDone(n))).toEqual([false, true, false, true]);
    await Promise.all([again.writeChunk(2, part(2)), again.writeChunk(0, part(0))]);
    const res = await again.close();
    expect(emu.stats.chunkPuts).toBe(2);
    expect(res).toMatchObject({ resumedFrom: chunk + 500, entry: { path: 'parts/big.bin', size: data.length, mtimeMs: 1_600_000_000_000, hashes: { sha1: sha1(data) } } });
    expect(md5(await readAll(await c.read('parts/big.bin')))).toBe(md5(data));
  });

  it('aborts a chunked upload with discardUpload: the upload folder is deleted', async () => {
    const checkpoints: UploadState[] = [];
    await rejectionOf(() => c.write('discard/f.bin', bufferSource(randomBytes(3 * chunk), { failAfter: chunk + 10 }), { chunkSize: chunk, onCheckpoint: (s) => void checkpoints.push(s) }));
    const id = (checkpoints.at(-1) as ChunkedState).uploadId;
    expect(emu.uploads().map((u) => u.id)).toContain(id);
    await c.discardUpload('discard/f.bin', checkpoints.at(-1)!);
    expect(emu.uploads().map((u) => u.id)).not.toContain(id);
  });

  it('reports a full quota as quota_exceeded, and the quota in about()', async () => {
    emu.faults.quotaBytes(1);
    await expectKind(() => c.write('quota/f.bin', bufferSource(randomBytes(10 * KiB))), 'quota_exceeded');
    await expectKind(() => c.write('quota/big.bin', bufferSource(randomBytes(chunk + 1)), { chunkSize: chunk }), 'quota_exceeded');
    const about = await c.about();
    expect(about).toMatchObject({ unlimited: false, freeBytes: 0 });
    emu.faults.quotaBytes(null);
    expect(await c.about()).toMatchObject({ unlimited: true, totalBytes: null });
  });

  it('throttles on 429 with the server\'s Retry-After', async () => {
    emu.faults.throttleNext(1, 30);
    const err = await expectKind(() => c.write('throttle/f', bufferSource(Buffer.from('x'), { whole: true })), 'throttled');
    expect(err.retryAfterMs).toBe(30_000);
  });

  it('refuses a wrong password as auth', async () => {
    const bad = connect({ ...emu.remoteConfig(), password: 'wrong' }, 'nc-wrong');
    const err = await expectKind(() => bad.stat(''), 'auth');
    expect(err.message).toMatch(/remote "nc-wrong".*app password/);
  });

  it('falls back to whole-file PUTs where the partial-PUT probe fails (vendor other on a server that refuses Content-Range)', async () => {
    const other = connect({ ...emu.remoteConfig(), vendor: 'other' }, 'nc-as-other');
    const data = randomBytes(3 * 256 * KiB);
    const checkpoints: UploadState[] = [];
    const res = await other.write('probe/f.bin', bufferSource(data), { chunkSize: 256 * KiB, onCheckpoint: (s) => void checkpoints.push(s) });
    expect(res.resumedFrom).toBe(0);
    expect(checkpoints).toEqual([]);
    expect(other.capabilities.resumableUpload).toBe(false);
    expect(emu.file('probe/f.bin')!.size).toBe(data.length);
    expect((await collect(other.list('probe'))).entries.map((e) => e.path)).toEqual(['probe/f.bin']);
  });
});

describe('webdav remote config', () => {
  it('refuses vendor sharepoint-ntlm with a message that says what to use instead', () => {
    const r = webdavDefinition.configSchema.safeParse({ url: 'https://sp.example.com/sites/x/', vendor: 'sharepoint-ntlm', user: 'u', password: 'p' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['vendor'] });
    expect(r.error!.issues[0].message).toMatch(/NTLM .*not built into this version.*vendor "other"/);
  });

  it('keeps the password and bearer token secret', () => {
    expect([...webdavDefinition.secretKeys].sort()).toEqual(['bearerToken', 'password']);
    expect(webdavDefinition.configSchema.safeParse({ url: 'https://h/remote.php/dav/files/u/', vendor: 'nextcloud', user: 'u', password: 'p' }).success).toBe(true);
    expect(webdavDefinition.configSchema.safeParse({ url: 'ftp://h/', vendor: 'other', user: 'u' }).success).toBe(false);
  });

  it('is an unsupported ConnectorError when opened with a refused vendor anyway', () => {
    expect(() => createWebdavConnector({ url: 'https://h/', vendor: 'sharepoint-ntlm', user: 'u' }, { host: unrestrictedHost, remoteName: 'sp', credentials: memoryCredentials() })).toThrow(ConnectorError);
  });
});
