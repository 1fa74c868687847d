import { createHash, randomBytes } from 'node:crypto';
import { Readable, addAbortSignal } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry, Hashes } from '../../core/entry.js';
import { baseName, joinPath } from '../../core/paths.js';
import { ConnectorError, type ConnectorErrorKind } from '../../connectors/errors.js';
import type { Connector, UploadSource, UploadState, WriteOptions, WriteResult } from '../../connectors/types.js';

export interface ConformanceTarget {
  connector: Connector;
  cleanup(): Promise<void>;
  /** Server-side fault: the provider cuts the next upload's connection after this many bytes. */
  cutNextUpload?(afterBytes: number): void;
  /** Names the provider cannot store (Windows-reserved characters...); the hostile-name test skips them. */
  nameAllowed?(name: string): boolean;
  /** The provider stores names normalized to this form; listings are compared after normalizing. */
  unicodeNormalization?: 'NFC' | 'NFD';
  /** Chunk size the suite asks for; raise it where the provider has a minimum part size. Default 256 KiB. */
  chunkSize?: number;
  /** Files created to page a listing: more than one page. Default 1200. */
  pagingEntries?: number;
}

/** Names that break naive path handling, which every connector stores, lists and reads back (or encodes). */
export const hostileNames: readonly string[] = [
  'with space.txt',
  'plus+sign',
  'semi;colon',
  'hash#tag',
  'percent%20%25',
  'question?mark',
  'amp&ersand=1',
  "single'quote",
  'double"quote',
  'brackets [1] (2) {3}',
  'emoji 🚢⚓ ship',
  'Æ Ø Å æ ø å',
  ' leading space',
  'trailing space ',
  'colon:star*pipe|',
  'back\\slash',
  'tilde~dollar$at@',
];

export const KiB = 1024;
const fixedMtimeMs = 1_600_000_000_123;

/** An UploadSource over a buffer that records the offsets it was opened at. */
export interface TestSource extends UploadSource {
  opens: number[];
}

export interface TestSourceOptions {
  /** The size the source claims; defaults to the data's length. */
  size?: number;
  mtimeMs?: number;
  /** The stream fails (like a cut connection) once it has delivered bytes up to this offset. */
  failAfter?: number;
  /** Bytes per chunk pushed. */
  piece?: number;
  /** Called before each chunk is handed over, with the offset it starts at; may stall the stream. */
  beforeChunk?(offset: number): Promise<void> | void;
  /** Hashes the source already knows, as the engine passes them from the source's listing. */
  hashes?: Hashes;
  /** Hands the bytes over whole too (UploadSource.data), as the engine does for a file within one chunk. */
  whole?: boolean;
}

export function bufferSource(data: Buffer, o: TestSourceOptions = {}): TestSource {
  const opens: number[] = [];
  return {
    size: o.size ?? data.length,
    mtimeMs: o.mtimeMs ?? fixedMtimeMs,
    hashes: o.hashes ?? {},
    ...(o.whole ? { data } : {}),
    opens,
    async open(offset, signal) {
      opens.push(offset);
      const stream = Readable.from(chunks(data, offset, o), { objectMode: false });
      return signal ? addAbortSignal(signal, stream) : stream;
    },
  };
}

async function* chunks(data: Buffer, offset: number, o: TestSourceOptions): AsyncGenerator<Buffer> {
  const piece = o.piece ?? 64 * KiB;
  const stop = Math.min(data.length, o.failAfter ?? Infinity);
  for (let pos = offset; pos < stop; ) {
    await o.beforeChunk?.(pos);
    const end = Math.min(stop, pos + piece);
    yield data.subarray(pos, end);
    pos = end;
  }
  // What a cut socket raises: a system error with its code, which connectors treat as transient.
  if (o.failAfter !== undefined && o.failAfter < data.length) throw Object.assign(new Error('test source: connection reset by peer'), { code: 'ECONNRESET' });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(parts);
}

export async function collect(pages: AsyncIterable<Entry[]>): Promise<{ entries: Entry[]; pages: Entry[][] }> {
  const all: Entry[][] = [];
  for await (const page of pages) all.push(page);
  return { entries: all.flat(), pages: all };
}

/** Digests a write reports are optional (the engine hashes what it sends); those given must be right. */
export function expectDigestsOf(res: WriteResult, data: Buffer): void {
  for (const hashes of [res.hashes, res.entry.hashes]) {
    if (hashes.md5) expect(hashes.md5).toBe(md5(data));
    if (hashes.sha1) expect(hashes.sha1).toBe(sha1(data));
  }
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

/** The rejection of `fn` (sync throws included), failing the test when there is none. */
export async function rejectionOf(fn: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, got success');
}

export async function expectKind(fn: () => Promise<unknown> | unknown, kind: ConnectorErrorKind): Promise<ConnectorError> {
  const err = await rejectionOf(fn);
  expect(err, String(err)).toBeInstanceOf(ConnectorError);
  expect((err as ConnectorError).kind, (err as Error).message).toBe(kind);
  return err as ConnectorError;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return err === signal.reason || (err as Error | null)?.name === 'AbortError';
}

/**
 * The behaviour every connector shares, whatever its provider. Each test works in its own
 * scratch folder under one run folder, so runs against a persistent account do not collide.
 */
/** Fault hooks a target offers, known when the suite is defined (before `setup` runs). */
export interface ConformanceFeatures {
  cutUpload?: boolean;
}

export function defineConformanceSuite(name: string, setup: () => Promise<ConformanceTarget>, features: ConformanceFeatures = {}): void {
  describe(`connector conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let c: Connector;
    let chunkSize: number;
    const run = `conformance-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    let n = 0;

    beforeAll(async () => {
      target = await setup();
      c = target.connector;
      chunkSize = target.chunkSize ?? 256 * KiB;
    });

    afterAll(async () => {
      if (!target) return;
      await c.close();
      await target.cleanup();
    });

    const scratch = async (label: string): Promise<string> => {
      const dir = `${run}/${++n}-${label}`;
      await c.mkdir(dir);
      return dir;
    };

    const put = (path: string, data: Buffer, opts: WriteOptions = {}, so: TestSourceOptions = {}) =>
      c.write(path, bufferSource(data, so), opts);

    const expectContent = async (path: string, data: Buffer) => {
      const got = await readAll(await c.read(path));
      expect(got.length).toBe(data.length);
      expect(md5(got)).toBe(md5(data));
    };

    const names = (entries: Entry[]) => entries.map((e) => baseName(e.path));
    const norm = (s: string) => (target.unicodeNormalization ? s.normalize(target.unicodeNormalization) : s);

    describe('listing', () => {
      it('pages a large folder: every entry comes back exactly once', async () => {
        const dir = await scratch('paging');
        const count = target.pagingEntries ?? 1200;
        const files = Array.from({ length: count }, (_, i) => `f${String(i).padStart(5, '0')}`);
        await mapLimit(files, 16, (f) => put(joinPath(dir, f), Buffer.from(f)));
        await c.mkdir(joinPath(dir, 'sub'));

        const { entries, pages } = await collect(c.list(dir));
        expect(pages.every((p) => p.length > 0)).toBe(true);
        expect(entries.length).toBe(count + 1);
        expect(new Set(entries.map((e) => e.path)).size).toBe(count + 1);
        const byName = new Map(entries.map((e) => [baseName(e.path), e]));
        for (const f of files) {
          const e = byName.get(f);
          expect(e, f).toMatchObject({ path: joinPath(dir, f), isDir: false, size: f.length });
        }
        expect(byName.get('sub')).toMatchObject({ isDir: true });
      });

      it('walks a nested tree: every file and folder below the root once, the root itself not', async () => {
        const dir = await scratch('walk');
        const files = ['top.txt', 'a/1.txt', 'a/b/2.txt', 'a/b/c/3.txt', 'e/f/4.txt'];
        for (const f of files) await put(joinPath(dir, f), Buffer.from(f));
        const dirs = ['a', 'a/b', 'a/b/c', 'e', 'e/f'];

        const { entries } = await collect(c.walk(dir));
        const got = entries.map((e) => `${e.path}${e.isDir ? '/' : ''}`).sort();
        const want = [...files.map((f) => joinPath(dir, f)), ...dirs.map((d) => `${joinPath(dir, d)}/`)].sort();
        expect(got).toEqual(want);

        const sub = await collect(c.walk(joinPath(dir, 'a/b')));
        expect(sub.entries.map((e) => e.path).sort()).toEqual(
          ['a/b/2.txt', 'a/b/c', 'a/b/c/3.txt'].map((p) => joinPath(dir, p)),
        );
      });

      it('lists a missing folder as not_found', async () => {
        const dir = await scratch('list-missing');
        await expectKind(() => collect(c.list(joinPath(dir, 'nope'))), 'not_found');
      });
    });

    describe('names', () => {
      const hostile = hostileNames;

      it('stores, lists, stats and reads hostile names', async () => {
        const dir = await scratch('hostile');
        const allowed = hostile.filter((h) => target.nameAllowed?.(h) ?? true);
        for (const h of allowed) await put(joinPath(dir, h), Buffer.from(`data of ${h}`));
        // Hostile names as folders too: they are encoded in the middle of a path, not only at its end.
        const folder = 'dir #1 & ?%';
        const nested = joinPath(dir, folder, 'file ; + #');
        await put(nested, Buffer.from('nested'));

        const { entries } = await collect(c.list(dir));
        expect(names(entries).map(norm).sort()).toEqual([...allowed, folder].map(norm).sort());
        for (const h of allowed) {
          expect((await c.stat(joinPath(dir, h))).size).toBe(Buffer.byteLength(`data of ${h}`));
          await expectContent(joinPath(dir, h), Buffer.from(`data of ${h}`));
        }
        const walked = await collect(c.walk(dir));
        expect(walked.entries.map((e) => e.path)).toContain(nested);
        await expectContent(nested, Buffer.from('nested'));
      });

      it('keeps NFC and NFD spellings of Norwegian names apart or normalizes them as declared', async () => {
        const dir = await scratch('unicode');
        const word = 'blåbærsyltetøy Ærø';
        const forms = { nfc: word.normalize('NFC'), nfd: word.normalize('NFD') };
        expect(forms.nfc).not.toBe(forms.nfd);
        for (const [sub, name] of Object.entries(forms)) {
          await put(joinPath(dir, sub, name), Buffer.from(sub));
        }
        for (const [sub, name] of Object.entries(forms)) {
          const { entries } = await collect(c.list(joinPath(dir, sub)));
          expect(names(entries)).toEqual([norm(name)]);
          await expectContent(entries[0].path, Buffer.from(sub));
          await expectContent(joinPath(dir, sub, name), Buffer.from(sub));
        }
      });

      it("refuses paths that leave the root with invalid_name: '..', absolute, NUL", async () => {
        const dir = await scratch('escape');
        const bad = ['..', '../x', `${dir}/../../x`, '/etc/passwd', `${dir}/nul\0byte`];
        for (const p of bad) {
          await expectKind(() => c.stat(p), 'invalid_name');
          await expectKind(() => c.read(p), 'invalid_name');
          await expectKind(() => put(p, Buffer.from('x')), 'invalid_name');
          await expectKind(() => c.mkdir(p), 'invalid_name');
          await expectKind(() => c.delete(p), 'invalid_name');
          await expectKind(() => collect(c.list(p)), 'invalid_name');
        }
      });

      it('refuses a name longer than capabilities.maxNameLength with invalid_name', async () => {
        const dir = await scratch('long');
        const long = 'a'.repeat(c.capabilities.maxNameLength + 1);
        await expectKind(() => put(joinPath(dir, long), Buffer.from('x')), 'invalid_name');
        await expectKind(() => c.mkdir(joinPath(dir, long)), 'invalid_name');
        const { entries } = await collect(c.list(dir));
        expect(entries).toEqual([]);
      });
    });

    describe('write', () => {
      it('writes a zero-byte file', async () => {
        const dir = await scratch('zero');
        const path = joinPath(dir, 'empty');
        const res = await put(path, Buffer.alloc(0));
        expect(res.entry).toMatchObject({ path, isDir: false, size: 0 });
        expect(res.resumedFrom).toBe(0);
        expectDigestsOf(res, Buffer.alloc(0));
        expect((await c.stat(path)).size).toBe(0);
        expect((await readAll(await c.read(path))).length).toBe(0);
      });

      it('returns the committed file; every digest it gives (and every hash it declares) is of the data written', async () => {
        const dir = await scratch('md5');
        const data = randomBytes(100 * KiB + 3);
        const res = await put(joinPath(dir, 'f.bin'), data);
        expectDigestsOf(res, data);
        for (const type of c.capabilities.hashes) if (type === 'md5' || type === 'sha1') expect(res.entry.hashes[type], type).toBeDefined();
        expect(res.entry.size).toBe(data.length);
      });

      it('writes a file of several chunks, checkpointing at chunk boundaries', async () => {
        const dir = await scratch('chunks');
        const path = joinPath(dir, 'big.bin');
        const data = randomBytes(5 * chunkSize + 12_345);
        const checkpoints: UploadState[] = [];
        const progress: number[] = [];
        const res = await put(path, data, {
          chunkSize,
          onCheckpoint: (s) => void checkpoints.push(structuredClone(s)),
          onProgress: (b) => void progress.push(b),
        });
        expect(res.entry.size).toBe(data.length);
        expectDigestsOf(res, data);
        await expectContent(path, data);
        const offsets = checkpoints.map((s) => s.offset);
        if (c.capabilities.resumableUpload) expect(offsets.length).toBeGreaterThanOrEqual(1);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
        expect(offsets.every((o) => o > 0 && o <= data.length)).toBe(true);
        expect(JSON.parse(JSON.stringify(checkpoints))).toEqual(checkpoints);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
        expect(progress.at(-1) ?? data.length).toBeLessThanOrEqual(data.length);
      });

      it('overwrites an existing file', async () => {
        const dir = await scratch('overwrite');
        const path = joinPath(dir, 'f');
        await put(path, randomBytes(3000));
        const second = randomBytes(1000);
        const res = await put(path, second, {}, { mtimeMs: fixedMtimeMs + 60_000 });
        expect(res.entry.size).toBe(1000);
        await expectContent(path, second);
        const { entries } = await collect(c.list(dir));
        expect(names(entries)).toEqual(['f']);
      });

      it('keeps the modification time when capabilities.setModTime', async (ctx) => {
        if (!c.capabilities.setModTime) return ctx.skip();
        const dir = await scratch('mtime');
        const path = joinPath(dir, 'f');
        const res = await put(path, Buffer.from('time'), {}, { mtimeMs: fixedMtimeMs });
        const tolerance = c.capabilities.mtimePrecisionMs;
        expect(Math.abs(res.entry.mtimeMs - fixedMtimeMs)).toBeLessThanOrEqual(tolerance);
        expect(Math.abs((await c.stat(path)).mtimeMs - fixedMtimeMs)).toBeLessThanOrEqual(tolerance);
        const [listed] = (await collect(c.list(dir))).entries;
        expect(Math.abs(listed.mtimeMs - fixedMtimeMs)).toBeLessThanOrEqual(tolerance);
      });

      it('resumes after the source connection is cut, leaving no half file at the target', async () => {
        const dir = await scratch('resume');
        const path = joinPath(dir, 'r.bin');
        const data = randomBytes(4 * chunkSize + 777);
        const cutAt = 2 * chunkSize + 100 * KiB;
        const checkpoints: UploadState[] = [];
        const first = await rejectionOf(() =>
          put(path, data, { chunkSize, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }, {
            failAfter: cutAt,
            // A provider that needs the MD5 first gets it the way the engine gives it: from the source's listing.
            hashes: c.capabilities.hashBeforeUpload === 'md5' ? { md5: md5(data) } : undefined,
          }),
        );
        expect(first).toBeInstanceOf(Error);
        await expectKind(() => c.stat(path), 'not_found');

        const last = checkpoints.at(-1);
        if (c.capabilities.resumableUpload) expect(last, 'a checkpoint before the cut').toBeDefined();
        expect(last?.offset ?? 0).toBeLessThanOrEqual(cutAt);
        await assertResumes(path, data, last);
      });

      // Registered only for targets that can cut a connection, so no connector reports it as skipped.
      if (features.cutUpload) it('resumes after the provider cuts the upload (cutNextUpload)', async () => {
        if (!target.cutNextUpload) throw new Error('features.cutUpload needs ConformanceTarget.cutNextUpload');
        const dir = await scratch('cut');
        const path = joinPath(dir, 'c.bin');
        const data = randomBytes(4 * chunkSize + 99);
        const checkpoints: UploadState[] = [];
        target.cutNextUpload(2 * chunkSize + 10 * KiB);
        await rejectionOf(() => put(path, data, { chunkSize, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
        await expectKind(() => c.stat(path), 'not_found');
        await assertResumes(path, data, checkpoints.at(-1));
      });

      it('stops on an aborted signal, leaving no half file, and can resume afterwards', async () => {
        const dir = await scratch('abort');
        const path = joinPath(dir, 'a.bin');
        const data = randomBytes(4 * chunkSize + 1);
        const ac = new AbortController();
        const checkpoints: UploadState[] = [];
        const err = await rejectionOf(() =>
          put(path, data, {
            chunkSize,
            signal: ac.signal,
            onCheckpoint: (s) => void checkpoints.push(structuredClone(s)),
            onProgress: (b) => {
              if (b >= 1.5 * chunkSize) ac.abort();
            },
          }),
        );
        expect(isAbort(err, ac.signal), String(err)).toBe(true);
        await expectKind(() => c.stat(path), 'not_found');
        await assertResumes(path, data, checkpoints.at(-1));

        const pre = new AbortController();
        pre.abort();
        const err2 = await rejectionOf(() => put(joinPath(dir, 'never'), data, { signal: pre.signal }));
        expect(isAbort(err2, pre.signal), String(err2)).toBe(true);
        await expectKind(() => c.stat(joinPath(dir, 'never')), 'not_found');
      });

      async function assertResumes(path: string, data: Buffer, state: UploadState | undefined): Promise<void> {
        const source = bufferSource(data);
        const res = await c.write(path, source, { chunkSize, resume: state });
        if (c.capabilities.resumableUpload && state) {
          expect(res.resumedFrom).toBeGreaterThan(0);
          expect(res.resumedFrom).toBeLessThan(data.length);
        } else {
          expect(res.resumedFrom).toBe(0);
        }
        expect(source.opens[0]).toBe(res.resumedFrom);
        expect(res.entry.size).toBe(data.length);
        expectDigestsOf(res, data);
        await expectContent(path, data);
      }
    });

    describe('read', () => {
      it('reads ranges: from an offset, a length, past the end', async () => {
        const dir = await scratch('ranges');
        const path = joinPath(dir, 'r.bin');
        const data = randomBytes(300 * KiB + 7);
        await put(path, data);
        const range = async (offset?: number, length?: number) => readAll(await c.read(path, { offset, length }));
        expect((await range()).equals(data)).toBe(true);
        expect((await range(1000)).equals(data.subarray(1000))).toBe(true);
        expect((await range(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);
        expect((await range(0, 1)).equals(data.subarray(0, 1))).toBe(true);
        expect((await range(data.length - 10, 100)).equals(data.subarray(data.length - 10))).toBe(true);
        expect((await range(data.length)).length).toBe(0);
        expect((await range(data.length + 100, 10)).length).toBe(0);
        expect((await range(5, 0)).length).toBe(0);
      });

      it('reads and stats a missing file as not_found', async () => {
        const dir = await scratch('missing');
        await expectKind(() => c.read(joinPath(dir, 'nope')), 'not_found');
        await expectKind(() => c.stat(joinPath(dir, 'nope')), 'not_found');
        await expectKind(() => c.stat(joinPath(dir, 'no/such/dir')), 'not_found');
      });
    });

    describe('folders, delete, move, copy', () => {
      it('mkdir creates parents and is idempotent', async () => {
        const dir = await scratch('mkdir');
        const deep = joinPath(dir, 'x/y/z');
        await c.mkdir(deep);
        await c.mkdir(deep);
        await c.mkdir(joinPath(dir, 'x'));
        expect(await c.stat(deep)).toMatchObject({ path: deep, isDir: true });
        const { entries } = await collect(c.list(joinPath(dir, 'x')));
        expect(entries.map((e) => [baseName(e.path), e.isDir])).toEqual([['y', true]]);
      });

      it('deletes a file, a folder with its contents, and reports a missing one as not_found', async () => {
        const dir = await scratch('delete');
        await put(joinPath(dir, 'f'), Buffer.from('f'));
        await put(joinPath(dir, 'd/inner/g'), Buffer.from('g'));
        await c.delete(joinPath(dir, 'f'));
        await expectKind(() => c.stat(joinPath(dir, 'f')), 'not_found');
        await c.delete(joinPath(dir, 'd'));
        await expectKind(() => c.stat(joinPath(dir, 'd')), 'not_found');
        await expectKind(() => c.stat(joinPath(dir, 'd/inner/g')), 'not_found');
        await expectKind(() => c.delete(joinPath(dir, 'f')), 'not_found');
        expect((await collect(c.list(dir))).entries).toEqual([]);
      });

      it('moves a file into new folders, or says unsupported', async () => {
        const dir = await scratch('move');
        const from = joinPath(dir, 'from.bin');
        const to = joinPath(dir, 'new/deeper/to.bin');
        const data = randomBytes(10 * KiB);
        await put(from, data);
        if (!c.capabilities.serverSideMove) {
          await expectKind(() => c.move(from, to), 'unsupported');
          return;
        }
        const entry = await c.move(from, to);
        expect(entry).toMatchObject({ path: to, isDir: false, size: data.length });
        await expectKind(() => c.stat(from), 'not_found');
        await expectContent(to, data);
        if (c.capabilities.setModTime) {
          expect(Math.abs(entry.mtimeMs - fixedMtimeMs)).toBeLessThanOrEqual(c.capabilities.mtimePrecisionMs);
        }
        await expectKind(() => c.move(from, joinPath(dir, 'again')), 'not_found');
      });

      it('copies a file server-side keeping its time, or says unsupported', async () => {
        const dir = await scratch('copy');
        const from = joinPath(dir, 'from.bin');
        const to = joinPath(dir, 'sub/to.bin');
        const data = randomBytes(10 * KiB);
        await put(from, data);
        if (!c.capabilities.serverSideCopy) {
          await expectKind(() => c.copy(from, to), 'unsupported');
          return;
        }
        const entry = await c.copy(from, to);
        expect(entry).toMatchObject({ path: to, isDir: false, size: data.length });
        await expectContent(from, data);
        await expectContent(to, data);
        if (c.capabilities.setModTime) {
          expect(Math.abs(entry.mtimeMs - fixedMtimeMs)).toBeLessThanOrEqual(c.capabilities.mtimePrecisionMs);
        }
        await expectKind(() => c.copy(joinPath(dir, 'nope'), joinPath(dir, 'x')), 'not_found');
      });
    });

    describe('account', () => {
      it('about() reports usage in the declared shape', async () => {
        const about = await c.about();
        for (const key of ['usedBytes', 'totalBytes', 'freeBytes'] as const) {
          const v = about[key];
          expect(v === null || (Number.isFinite(v) && v >= 0), `${key}=${v}`).toBe(true);
        }
        expect(typeof about.unlimited).toBe('boolean');
        if (about.totalBytes !== null && about.freeBytes !== null) expect(about.freeBytes).toBeLessThanOrEqual(about.totalBytes);
        if (about.unlimited) expect(about.totalBytes).toBeNull();
      });
    });
  });
}
