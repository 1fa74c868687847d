import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/errors.js';
import { createS3Connector, type S3Config, type S3Connector, type S3ConnectorOptions, type S3UploadState } from '../../connectors/s3/index.js';
import { parseListUploads } from '../../connectors/s3/wire.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { bufferSource, expectKind, md5, readAll, rejectionOf } from '../conformance/suite.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';

const MiB = 1024 * 1024;
const mtimeMs = 1_600_000_000_123;

describe('s3 specifics (against versitygw)', () => {
  let server: S3TestServer;
  let proxy: CutProxy;
  const open: S3Connector[] = [];

  /** A connector on `bucket`, through the cutting proxy unless `direct`. */
  function connect(bucket: string, extra: Partial<S3Config> = {}, opts: S3ConnectorOptions & { direct?: boolean; secret?: string } = {}): S3Connector {
    const endpoint = opts.direct ? server.endpoint : `http://127.0.0.1:${proxy.port}`;
    const { secretAccessKey, ...settings } = server.remoteConfig(bucket, { endpoint, ...extra });
    const c = createS3Connector(settings as unknown as S3Config, { host: unrestrictedHost, remoteName: 's3-test', credentials: memoryCredentials({ secretAccessKey: opts.secret ?? secretAccessKey }) }, opts);
    open.push(c);
    return c;
  }

  async function uploadsOf(c: S3Connector, key: string): Promise<string[]> {
    const { text } = await c.client.text({ method: 'GET', key: null, query: { uploads: '', prefix: key }, op: 'list uploads' });
    return parseListUploads(text).uploads.map((u) => u.uploadId);
  }

  beforeAll(async () => {
    server = await startVersitygw();
    await server.createBucket('specifics');
    await server.createBucket('locked', { objectLock: true });
    const u = new URL(server.endpoint);
    proxy = await startCutProxy({ host: u.hostname, port: Number(u.port) });
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await proxy?.close();
    await server?.stop();
  });

  it('resumes a multipart write cut mid-part: ListParts holds the parts sent whole, and only the others are sent again', async () => {
    const c = connect('specifics');
    const data = randomBytes(4 * 5 * MiB + 4321);
    const checkpoints: UploadState[] = [];
    // Cut once two parts and part of the third have gone up.
    void proxy.cutAfter(2 * 5 * MiB + 300 * 1024);
    await rejectionOf(() => c.write('resume/big.bin', bufferSource(data), { chunkSize: 5 * MiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    const state = checkpoints.at(-1) as S3UploadState;
    expect(state).toMatchObject({ offset: 2 * 5 * MiB, partSize: 5 * MiB, size: data.length });
    expect(state.parts.map(([n]) => n)).toEqual([1, 2]);
    const listed = await c.ops.listParts(state.key, state.uploadId, 'test');
    expect(listed?.map((p) => p.partNumber)).toEqual([1, 2]);
    await expectKind(() => c.stat('resume/big.bin'), 'not_found');

    proxy.resetCounts();
    const source = bufferSource(data);
    const res = await c.write('resume/big.bin', source, { chunkSize: 5 * MiB, resume: state });
    expect(res.resumedFrom).toBe(2 * 5 * MiB);
    expect(source.opens).toEqual([2 * 5 * MiB]);
    const rest = data.length - 2 * 5 * MiB;
    // The rest and a few KiB of requests, never the two parts held.
    expect(proxy.bytesUp).toBeGreaterThanOrEqual(rest);
    expect(proxy.bytesUp).toBeLessThan(rest + 64 * 1024);
    expect(md5(await readAll(await c.read('resume/big.bin')))).toBe(md5(data));
    expect((await c.stat('resume/big.bin')).mtimeMs).toBe(mtimeMs);
    expect(await uploadsOf(c, state.key)).toEqual([]);
  });

  it('resumes a chunk writer: parts held are not sent again, even when the state missed the last one', async () => {
    const c = connect('specifics');
    const partSize = 5 * MiB;
    const data = randomBytes(3 * partSize + 1000);
    const source = { size: data.length, mtimeMs, hashes: { md5: md5(data) } };
    const part = (i: number) => data.subarray(i * partSize, Math.min(data.length, (i + 1) * partSize));
    const w1 = await c.openChunkWriter('chunks/big.bin', source, { partSize });
    expect(w1.partSize).toBe(partSize);
    await w1.writeChunk(0, part(0));
    const saved = structuredClone(w1.state()) as S3UploadState;
    // Part 2 arrives after the last checkpoint; part 3 is cut mid-way.
    await w1.writeChunk(2, part(2));
    const cut = proxy.cutAfter(partSize / 2);
    await rejectionOf(() => w1.writeChunk(1, part(1)));
    await cut;
    await w1.abandon();
    expect(saved.parts.map(([n]) => n)).toEqual([1]);

    proxy.resetCounts();
    const w2 = await c.openChunkWriter('chunks/big.bin', source, { resume: saved, partSize: 8 * MiB });
    expect(w2.partSize).toBe(partSize);
    expect([0, 1, 2, 3].map((i) => w2.isDone(i))).toEqual([true, false, true, false]);
    await w2.writeChunk(1, part(1));
    await w2.writeChunk(3, part(3));
    const res = await w2.close();
    expect(proxy.bytesUp).toBeLessThan(partSize + 1000 + 64 * 1024);
    expect(res.entry).toMatchObject({ size: data.length, mtimeMs, hashes: { md5: md5(data) } });
    expect(md5(await readAll(await c.read('chunks/big.bin')))).toBe(md5(data));
    // The source's MD5 is kept as rclone keeps it, so a multipart object reports one.
    expect((await c.stat('chunks/big.bin')).hashes.md5).toBe(md5(data));
  });

  it('pins a read to the ETag it started with: an object replaced between two ranged reads is corrupt', async () => {
    const c = connect('specifics');
    const v1 = randomBytes(3 * MiB);
    await c.write('ifmatch/f.bin', bufferSource(v1));
    const first = await readAll(await c.read('ifmatch/f.bin', { offset: 0, length: MiB }));
    expect(first.equals(v1.subarray(0, MiB))).toBe(true);
    await c.write('ifmatch/f.bin', bufferSource(randomBytes(3 * MiB)));
    const err = await expectKind(() => c.read('ifmatch/f.bin', { offset: MiB }).then(readAll), 'corrupt');
    expect(err.message).toMatch(/replaced|changed/);
    // Read again from the start, the new object reads whole.
    expect((await readAll(await c.read('ifmatch/f.bin'))).length).toBe(3 * MiB);
  });

  it('answers 412 for a GET pinned to an ETag the object no longer has, as corrupt', async () => {
    const c = connect('specifics');
    await c.write('ifmatch/g.bin', bufferSource(Buffer.from('one')));
    const err = await rejectionOf(() => c.client.send({ method: 'GET', key: 'ifmatch/g.bin', headers: { 'if-match': '"0123456789abcdef0123456789abcdef"' }, op: 'pinned read' }));
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).kind).toBe('corrupt');
    expect((err as ConnectorError).status).toBe(412);
  });

  it('copies server-side with CopyObject, and above the cutoff with UploadPartCopy, keeping mtime and MD5', async () => {
    const small = connect('specifics');
    const data = randomBytes(11 * MiB + 5);
    await small.write('copy/src.bin', bufferSource(data, { hashes: { md5: md5(data) } }), { chunkSize: 5 * MiB });
    const a = await small.copy('copy/src.bin', 'copy/a/plain.bin');
    expect(a).toMatchObject({ size: data.length, mtimeMs, hashes: { md5: md5(data) } });

    const parts = connect('specifics', {}, { copyCutoff: MiB, copyPartSize: 5 * MiB });
    proxy.resetCounts();
    const b = await parts.copy('copy/src.bin', 'copy/b/parts.bin');
    // No byte of the object went through knarr.
    expect(proxy.bytesUp + proxy.bytesDown).toBeLessThan(64 * 1024);
    expect(b).toMatchObject({ size: data.length, mtimeMs, hashes: { md5: md5(data) } });
    expect(md5(await readAll(await parts.read('copy/b/parts.bin')))).toBe(md5(data));

    const moved = await parts.move('copy/b/parts.bin', 'copy/c/moved.bin');
    expect(moved).toMatchObject({ size: data.length, mtimeMs });
    await expectKind(() => parts.stat('copy/b/parts.bin'), 'not_found');
    await expectKind(() => parts.copy('copy/nope', 'copy/x'), 'not_found');
  });

  it('writes under Object Lock retention (single PUT and multipart); the locked version cannot be deleted', async () => {
    const c = connect('locked', { objectLock: { mode: 'GOVERNANCE', days: 1 } });
    await c.write('keep/small.txt', bufferSource(Buffer.from('kept for a day')));
    const big = randomBytes(6 * MiB);
    await c.write('keep/big.bin', bufferSource(big), { chunkSize: 5 * MiB });
    for (const key of ['keep/small.txt', 'keep/big.bin']) {
      const res = await c.client.send({ method: 'HEAD', key, op: 'head' });
      await res.body.dump();
      expect(res.headers['x-amz-object-lock-mode']).toBe('GOVERNANCE');
      expect(Date.parse(String(res.headers['x-amz-object-lock-retain-until-date']))).toBeGreaterThan(Date.now());
      const versionId = String(res.headers['x-amz-version-id']);
      expect(versionId).not.toBe('undefined');
      const err = await rejectionOf(() => c.client.send({ method: 'DELETE', key, query: { versionId }, op: 'delete a locked version' }));
      expect((err as ConnectorError).kind, String(err)).toBe('forbidden');
    }
    expect(md5(await readAll(await c.read('keep/big.bin')))).toBe(md5(big));
  });

  it('discardUpload aborts the multipart upload a cancelled run left', async () => {
    const c = connect('specifics');
    const data = randomBytes(3 * 5 * MiB);
    const checkpoints: UploadState[] = [];
    await rejectionOf(() => c.write('discard/x.bin', bufferSource(data, { failAfter: 6 * MiB }), { chunkSize: 5 * MiB, onCheckpoint: (s) => void checkpoints.push(s) }));
    const state = checkpoints.at(-1) as S3UploadState;
    expect(await uploadsOf(c, state.key)).toEqual([state.uploadId]);
    await c.discardUpload('discard/x.bin', state);
    expect(await uploadsOf(c, state.key)).toEqual([]);
    // Twice is fine: gone counts as aborted.
    await c.discardUpload('discard/x.bin', state);
  });

  it('maps refused keys to auth, a missing bucket to not_found, without the secret in any message', async () => {
    const bad = connect('specifics', {}, { secret: 'not-the-secret-at-all' });
    const err = await expectKind(() => bad.stat('x'), 'auth');
    const err2 = await expectKind(() => bad.mkdir('x'), 'auth');
    for (const e of [err, err2]) {
      expect(e.message).toMatch(/remote "s3-test"/);
      expect(e.message).not.toContain('not-the-secret-at-all');
      expect(e.message).not.toContain(server.secretAccessKey);
    }
    const missing = connect('no-such-bucket');
    await expectKind(() => missing.stat(''), 'not_found');
    await expectKind(() => missing.list('')[Symbol.asyncIterator]().next(), 'not_found');
    await expectKind(() => missing.write('f', bufferSource(Buffer.from('x'))), 'not_found');
  });

  it('ignores AWS_CA_BUNDLE (it uses the shared HTTP client, not an AWS SDK)', async () => {
    const before = process.env.AWS_CA_BUNDLE;
    process.env.AWS_CA_BUNDLE = '/nonexistent/ca-bundle.pem';
    try {
      const c = connect('specifics', {}, { direct: true });
      await c.write('ca/f', bufferSource(Buffer.from('fine')));
      expect((await c.stat('ca/f')).size).toBe(4);
    } finally {
      if (before === undefined) delete process.env.AWS_CA_BUNDLE;
      else process.env.AWS_CA_BUNDLE = before;
    }
  });

  it('refuses a private endpoint when the host policy says so', async () => {
    const { secretAccessKey, ...settings } = server.remoteConfig('specifics');
    const c = createS3Connector(settings as unknown as S3Config, { host: { ...unrestrictedHost, privateNetworks: false }, remoteName: 'public-only', credentials: memoryCredentials({ secretAccessKey }) });
    open.push(c);
    await expectKind(() => c.stat('x'), 'forbidden');
  });
});
