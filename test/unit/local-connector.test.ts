import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { createLocalConnector, localCapabilities } from '../../connectors/local/index.js';
import { mapFsError } from '../../connectors/local/errors.js';
import { isPerFileError } from '../../engine/errors.js';
import { partialNameFor } from '../../connectors/local/paths.js';
import { HashingStream, hashStream } from '../../connectors/shared/hashing.js';
import { walkByListing } from '../../connectors/shared/walk.js';
import type { Connector, UploadState } from '../../connectors/types.js';
import { bufferSource, collect, expectKind, KiB, md5, readAll, sha1 } from '../conformance/suite.js';

let root: string;
let outside: string;
let c: Connector;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'knarr-local-unit-'));
  outside = await mkdtemp(join(tmpdir(), 'knarr-local-outside-'));
  c = createLocalConnector({ root });
});

afterEach(async () => {
  await c.close();
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const disk = (...parts: string[]) => join(root, ...parts);

/** A write held mid-way: the source stalls once `holdAt` bytes have gone out, until released. */
function heldWrite(path: string, data: Buffer, holdAt: number) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const holding = new Promise<void>((r) => (reached = r));
  const source = bufferSource(data, {
    piece: 16 * KiB,
    beforeChunk: async (offset) => {
      if (offset >= holdAt) {
        reached();
        await released;
      }
    },
  });
  const done = c.write(path, source, { chunkSize: 16 * KiB });
  return { done, holding, release };
}

describe('local: partial files', () => {
  it('writes beside the target under a hidden name that no listing shows, and never a half file at the target', async () => {
    await c.mkdir('d');
    await writeFile(disk('d', 'f.bin'), 'old content');
    const data = randomBytes(256 * KiB);
    const w = heldWrite('d/f.bin', data, 64 * KiB);
    await w.holding;

    expect((await readdir(disk('d'))).sort()).toEqual(['.f.bin.knarr-partial', 'f.bin']);
    expect((await lstat(disk('d', '.f.bin.knarr-partial'))).size).toBeGreaterThan(0);
    expect(await readFile(disk('d', 'f.bin'), 'utf8')).toBe('old content');
    expect((await readAll(await c.read('d/f.bin'))).toString()).toBe('old content');
    expect((await collect(c.list('d'))).entries.map((e) => e.path)).toEqual(['d/f.bin']);
    expect((await collect(c.walk(''))).entries.map((e) => e.path).sort()).toEqual(['d', 'd/f.bin']);
    await expectKind(() => c.stat('d/.f.bin.knarr-partial'), 'invalid_name');
    await expectKind(() => c.write('d/.x.knarr-partial', bufferSource(Buffer.from('x'))), 'invalid_name');

    w.release();
    const res = await w.done;
    expect(res.entry.size).toBe(data.length);
    expect(await readdir(disk('d'))).toEqual(['f.bin']);
    expect(md5(await readFile(disk('d', 'f.bin')))).toBe(md5(data));
  });

  it('checkpoints only bytes already on disk, at chunk boundaries', async () => {
    const data = randomBytes(110 * KiB);
    const seen: [UploadState, number][] = [];
    await c.write('f', bufferSource(data, { piece: 10 * KiB }), {
      chunkSize: 32 * KiB,
      onCheckpoint: async (s) => void seen.push([s, (await stat(disk(String(s.tempName)))).size]),
    });
    expect(seen.map(([s]) => s)).toEqual([40, 70, 100].map((k) => ({ offset: k * KiB, tempName: '.f.knarr-partial' })));
    for (const [s, size] of seen) expect(size).toBeGreaterThanOrEqual(s.offset);
  });

  it('commits without a sync when asked, and makes a group of such files durable with one sync call', async () => {
    const files = ['a/1.bin', 'a/2.bin', 'b/c/3.bin'];
    const data = randomBytes(16 * KiB);
    for (const f of files) await c.write(f, bufferSource(data), { syncLater: true });
    await c.sync!(files);
    for (const f of files) expect(md5(await readFile(disk(f)))).toBe(md5(data));
    await expectKind(() => c.sync!(['a/missing.bin']), 'not_found');
  });

  it('resumes at the partial file size when it holds more than the checkpoint said', async () => {
    const data = randomBytes(1024 * KiB);
    await writeFile(disk('.f.knarr-partial'), data.subarray(0, 600 * KiB));
    const source = bufferSource(data);
    const res = await c.write('f', source, { resume: { offset: 256 * KiB, tempName: '.f.knarr-partial' } });
    expect(res.resumedFrom).toBe(600 * KiB);
    expect(source.opens).toEqual([600 * KiB]);
    // Nothing is hashed by the connector (the engine hashes what it sends): the bytes on disk are checked.
    expect(res.hashes).toEqual({});
    expect(md5(await readFile(disk('f')))).toBe(md5(data));
    expect(await readdir(root)).toEqual(['f']);
  });

  it('resumes at the partial file size when the checkpoint claims more than is there', async () => {
    const data = randomBytes(1024 * KiB);
    await writeFile(disk('.f.knarr-partial'), data.subarray(0, 100 * KiB));
    const res = await c.write('f', bufferSource(data), { resume: { offset: 900 * KiB, tempName: '.f.knarr-partial' } });
    expect(res.resumedFrom).toBe(100 * KiB);
    expect(md5(await readFile(disk('f')))).toBe(md5(data));
  });

  it('starts over when the partial file is missing, larger than the source, not asked for, or named elsewhere', async () => {
    const data = randomBytes(50 * KiB);
    const cases: [string, Buffer | null, UploadState | undefined][] = [
      ['missing', null, { offset: 10, tempName: partialNameFor('missing') }],
      ['larger', randomBytes(60 * KiB), { offset: 10, tempName: partialNameFor('larger') }],
      ['unasked', data.subarray(0, 10 * KiB), undefined],
      ['elsewhere', data.subarray(0, 10 * KiB), { offset: 10 * KiB, tempName: '../../etc/passwd' }],
    ];
    for (const [name, partial, resume] of cases) {
      if (partial) await writeFile(disk(partialNameFor(name)), partial);
      const res = await c.write(name, bufferSource(data), { resume });
      expect(res.resumedFrom, name).toBe(0);
      expect(md5(await readFile(disk(name))), name).toBe(md5(data));
    }
    expect((await readdir(root)).sort()).toEqual(['elsewhere', 'larger', 'missing', 'unasked']);
  });

  it('leaves the partial file after an abort and carries on from it', async () => {
    const data = randomBytes(200 * KiB);
    const ac = new AbortController();
    let last: UploadState | undefined;
    await expect(
      c.write('f', bufferSource(data, { piece: 8 * KiB }), {
        chunkSize: 32 * KiB,
        signal: ac.signal,
        onCheckpoint: (s) => void (last = s),
        onProgress: (b) => b >= 100 * KiB && ac.abort(),
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const partial = await stat(disk('.f.knarr-partial'));
    expect(partial.size).toBeGreaterThanOrEqual(100 * KiB);
    const res = await c.write('f', bufferSource(data), { resume: last });
    expect(res.resumedFrom).toBe(partial.size);
    expect(sha1(await readFile(disk('f')))).toBe(sha1(data));
  });

  it.each([
    ['fewer', 1000, 600],
    ['more', 600, 1000],
  ])('fails as corrupt when the source delivers %s bytes than its size, keeping the old target', async (_, size, delivered) => {
    await writeFile(disk('f'), 'previous');
    const err = await expectKind(() => c.write('f', bufferSource(randomBytes(delivered), { size })), 'corrupt');
    expect(err.message).toContain('"f"');
    expect(await readdir(root)).toEqual(['f']);
    expect(await readFile(disk('f'), 'utf8')).toBe('previous');
    await expectKind(() => c.write('new', bufferSource(randomBytes(delivered), { size })), 'corrupt');
    await expectKind(() => c.stat('new'), 'not_found');
  });
});

describe('local: files handed over whole', () => {
  it('writes them in one go, with their time, without opening a stream, and never a half file', async () => {
    const data = randomBytes(100 * KiB);
    const source = bufferSource(data, { whole: true, mtimeMs: 1_600_000_000_123 });
    const res = await c.write('d/e/f.bin', source);
    expect(source.opens).toEqual([]);
    expect(res).toMatchObject({ entry: { path: 'd/e/f.bin', isDir: false, size: data.length, mtimeMs: 1_600_000_000_123 }, resumedFrom: 0 });
    expect(md5(await readFile(disk('d', 'e', 'f.bin')))).toBe(md5(data));
    expect((await stat(disk('d', 'e', 'f.bin'))).mtimeMs).toBe(1_600_000_000_123);
    expect(await readdir(disk('d', 'e'))).toEqual(['f.bin']);
  });

  it('replaces a file and a leftover partial, refuses a folder in the way, and finds a folder removed behind its back', async () => {
    await mkdir(disk('d'));
    await writeFile(disk('d', 'f'), 'old');
    await writeFile(disk('d', partialNameFor('f')), 'leftover of a crashed attempt');
    await c.write('d/f', bufferSource(Buffer.from('new'), { whole: true }));
    expect(await readdir(disk('d'))).toEqual(['f']);
    expect(await readFile(disk('d', 'f'), 'utf8')).toBe('new');

    await mkdir(disk('d', 'sub'));
    await expectKind(() => c.write('d/sub', bufferSource(Buffer.from('x'), { whole: true })), 'conflict');

    // The connector remembers d/; it goes away, and the next write makes it again.
    await rm(disk('d'), { recursive: true });
    await c.write('d/g', bufferSource(Buffer.from('again'), { whole: true }));
    expect(await readFile(disk('d', 'g'), 'utf8')).toBe('again');
  });

  it('reads a small file in one piece, and a folder or a missing file as what it is', async () => {
    await mkdir(disk('d'));
    const data = randomBytes(300 * KiB);
    await writeFile(disk('d', 'f'), data);
    const chunks: Buffer[] = [];
    for await (const chunk of await c.read('d/f')) chunks.push(chunk as Buffer);
    expect(chunks).toHaveLength(1);
    expect(md5(chunks[0])).toBe(md5(data));
    expect(md5(await readAll(await c.read('d/f', { offset: 1000, length: 5000 })))).toBe(md5(data.subarray(1000, 6000)));
    await expectKind(() => c.read('d'), 'conflict');
    await expectKind(() => c.read('d/missing'), 'not_found');
  });
});

describe('local: symlinks', () => {
  beforeEach(async () => {
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await mkdir(disk('real'));
    await writeFile(disk('real', 'a.txt'), 'inside');
    await symlink(join(outside, 'secret.txt'), disk('ln-file'));
    await symlink(outside, disk('ln-dir'));
    await symlink(join('..', basename(outside), 'secret.txt'), disk('ln-relative'));
    await symlink(join(outside, 'not-yet'), disk('ln-dangling'));
    await symlink('real/a.txt', disk('in-file'));
    await symlink('real', disk('in-dir'));
    await symlink('loop', disk('loop'));
  });

  it('refuses every operation through a symlink that leads outside the root', async () => {
    const src = () => bufferSource(Buffer.from('pwned'));
    for (const p of ['ln-file', 'ln-relative', 'ln-dir/secret.txt', 'ln-dir/no-such-file', 'ln-dir/no/such/file']) {
      await expectKind(() => c.read(p), 'invalid_name');
      await expectKind(() => c.stat(p), 'invalid_name');
      await expectKind(() => c.write(p, src()), 'invalid_name');
      await expectKind(() => c.write(p, bufferSource(Buffer.from('pwned'), { whole: true })), 'invalid_name');
      await expectKind(() => c.delete(p), 'invalid_name');
      await expectKind(() => c.move(p, 'stolen'), 'invalid_name');
      await expectKind(() => c.copy(p, 'stolen'), 'invalid_name');
    }
    await expectKind(() => collect(c.list('ln-dir')), 'invalid_name');
    await expectKind(() => collect(c.walk('ln-dir')), 'invalid_name');
    await expectKind(() => c.write('ln-dir/new.txt', src()), 'invalid_name');
    await expectKind(() => c.write('ln-dir/deeper/new.txt', src()), 'invalid_name');
    await expectKind(() => c.mkdir('ln-dir/sub'), 'invalid_name');
    await expectKind(() => c.write('ln-dangling', src()), 'invalid_name');
    await expectKind(() => c.move('real/a.txt', 'ln-dir/a.txt'), 'invalid_name');
    await expectKind(() => c.copy('real/a.txt', 'ln-dir/a.txt'), 'invalid_name');

    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(await readdir(disk('real'))).toEqual(['a.txt']);
  });

  it('lists symlinks to files inside the root as files and leaves out every other symlink', async () => {
    const top = (await collect(c.list(''))).entries;
    expect(top.map((e) => [e.path, e.isDir, e.size])).toEqual([
      ['in-file', false, 6],
      ['real', true, 0],
    ]);
    const walked = (await collect(c.walk(''))).entries.map((e) => e.path).sort();
    expect(walked).toEqual(['in-file', 'real', 'real/a.txt']);
  });

  it('follows symlinks that stay inside the root when addressed', async () => {
    expect((await readAll(await c.read('in-file'))).toString()).toBe('inside');
    expect((await readAll(await c.read('in-dir/a.txt'))).toString()).toBe('inside');
    expect(await c.stat('in-dir')).toMatchObject({ path: 'in-dir', isDir: true });
    await c.write('in-dir/b.txt', bufferSource(Buffer.from('bee')));
    expect(await readFile(disk('real', 'b.txt'), 'utf8')).toBe('bee');
    // A write to a link inside the root replaces the link, streamed or handed over whole.
    for (const whole of [false, true]) {
      await symlink('real/a.txt', disk('in-file-2'));
      await c.write('in-file-2', bufferSource(Buffer.from('replaced'), { whole }));
      expect((await lstat(disk('in-file-2'))).isSymbolicLink()).toBe(false);
      expect(await readFile(disk('in-file-2'), 'utf8')).toBe('replaced');
      expect(await readFile(disk('real', 'a.txt'), 'utf8')).toBe('inside');
      await rm(disk('in-file-2'));
    }
    // Deleting a link removes the link, not what it points to.
    await c.delete('in-file');
    expect(await readFile(disk('real', 'a.txt'), 'utf8')).toBe('inside');
  });
});

describe('local: names, folders and errors', () => {
  it('pages a folder 1000 entries at a time, sorted by name', async () => {
    await mkdir(disk('d'));
    const names = Array.from({ length: 1200 }, (_, i) => `n${(i * 7919) % 1200}`);
    await Promise.all(names.map((n) => writeFile(disk('d', n), '')));
    const { pages, entries } = await collect(c.list('d'));
    expect(pages.map((p) => p.length)).toEqual([1000, 200]);
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual([...paths].sort());
    expect(new Set(paths).size).toBe(1200);
  });

  it('refuses names over 255 bytes, counting bytes, not characters', async () => {
    await expectKind(() => c.write('ø'.repeat(128), bufferSource(Buffer.from('x'))), 'invalid_name');
    const ok = await c.write('ø'.repeat(127), bufferSource(Buffer.from('x')));
    expect(ok.entry.path).toBe('ø'.repeat(127));
    expect(partialNameFor('ø'.repeat(127))).toMatch(/^\.[0-9a-f]{40}\.knarr-partial$/);
  });

  it('reports conflicts where a file and a folder meet', async () => {
    await c.mkdir('dir');
    await c.write('file', bufferSource(Buffer.from('x')));
    const src = () => bufferSource(Buffer.from('y'));
    await expectKind(() => c.write('dir', src()), 'conflict');
    await expectKind(() => c.write('file/child', src()), 'conflict');
    await expectKind(() => c.mkdir('file'), 'conflict');
    await expectKind(() => c.mkdir('file/sub'), 'conflict');
    await expectKind(() => c.move('dir', 'dir/inside'), 'conflict');
    await expectKind(() => c.move('file', 'dir'), 'conflict');
    await expectKind(() => c.copy('dir', 'dir2'), 'unsupported');
    await expectKind(() => c.read('dir'), 'conflict');
    await expectKind(() => c.delete(''), 'invalid_name');
  });

  it('moves folders and replaces a file at the target of a move', async () => {
    await c.write('a/b/f', bufferSource(Buffer.from('f')));
    await c.write('g', bufferSource(Buffer.from('g')));
    expect(await c.move('a', 'x/y')).toMatchObject({ path: 'x/y', isDir: true });
    expect(await readFile(disk('x', 'y', 'b', 'f'), 'utf8')).toBe('f');
    await c.move('g', 'x/y/b/f');
    expect(await readFile(disk('x', 'y', 'b', 'f'), 'utf8')).toBe('g');
    expect(await readdir(root)).toEqual(['x']);
  });

  it('keeps modification times to the millisecond', async () => {
    for (let i = 0; i < 200; i++) {
      const mtimeMs = 1_500_000_000_000 + Math.floor(Math.random() * 2e11);
      const res = await c.write('t', bufferSource(Buffer.from('t'), { mtimeMs }));
      expect(res.entry.mtimeMs).toBe(mtimeMs);
    }
    const copied = await c.copy('t', 'u');
    expect(copied.mtimeMs).toBe((await c.stat('t')).mtimeMs);
  });

  it('names the path relative to the remote in messages, never the root on disk', async () => {
    const err = await expectKind(() => c.stat('some/missing file'), 'not_found');
    expect(err.message).toContain('"some/missing file"');
    expect(err.message).not.toContain(root);
    expect(err.stack === undefined || !err.message.includes('\n    at ')).toBe(true);
  });

  it('maps errno codes through one table', () => {
    const kinds = Object.fromEntries(
      ['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR', 'ENOSPC', 'EDQUOT', 'ENAMETOOLONG', 'EFBIG', 'EACCES', 'EPERM', 'EIO', 'EAGAIN', 'EBUSY', 'EWHATEVER'].map(
        (code) => [code, mapFsError(Object.assign(new Error(`${code}: /abs/secret/path`), { code }), 'read', 'a/b').kind],
      ),
    );
    expect(kinds).toEqual({
      ENOENT: 'not_found',
      EEXIST: 'conflict',
      ENOTEMPTY: 'conflict',
      EISDIR: 'conflict',
      ENOTDIR: 'conflict',
      ENOSPC: 'quota_exceeded',
      EDQUOT: 'quota_exceeded',
      ENAMETOOLONG: 'invalid_name',
      EFBIG: 'too_large',
      EACCES: 'forbidden',
      EPERM: 'forbidden',
      EIO: 'transient',
      EAGAIN: 'transient',
      EBUSY: 'transient',
      EWHATEVER: 'transient',
    });
    const denied = mapFsError(Object.assign(new Error('EACCES: /abs/secret/path'), { code: 'EACCES' }), 'read', 'a/b');
    expect(denied.message).toMatch(/read "a\/b".*permission.*knarr process/);
    expect(denied.message).not.toContain('/abs/secret');
    // That one file fails and the run goes on; a run never waits for a reconnect over it.
    expect(isPerFileError(denied)).toBe(true);
  });

  it('reports a missing root as not_found and finds it once it appears', async () => {
    const later = join(root, 'later');
    const lc = createLocalConnector({ root: later });
    await expectKind(() => lc.stat(''), 'not_found');
    await mkdir(later);
    expect(await lc.stat('')).toMatchObject({ path: '', isDir: true });
  });

  it('declares its capabilities', async () => {
    expect(c.capabilities).toBe(localCapabilities);
    expect(localCapabilities).toMatchObject({ hashes: [], resumableUpload: true, preferredChunkSize: 8 * 1024 * 1024 });
    const about = await c.about();
    expect(about.totalBytes).toBeGreaterThan(0);
  });
});

describe('shared helpers', () => {
  it('hashes while passing bytes on, in one read', async () => {
    const hs = new HashingStream(['md5', 'sha1', 'sha256']);
    const out: Buffer[] = [];
    expect(() => hs.hashes()).toThrow();
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('bc')]), hs, async (src: AsyncIterable<Buffer>) => {
      for await (const b of src) out.push(b);
    });
    expect(Buffer.concat(out).toString()).toBe('abc');
    expect(hs.bytes).toBe(3);
    expect(hs.hashes()).toEqual({
      md5: '900150983cd24fb0d6963f7d28e17f72',
      sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
      sha256: createHash('sha256').update('abc').digest('hex'),
    });
    expect(await hashStream(Readable.from([Buffer.from('abc')]))).toEqual({
      md5: '900150983cd24fb0d6963f7d28e17f72',
      sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
    });
  });

  it('walks by listing with a queue of folders only, each entry once', async () => {
    // 3000 folders of one file each: enough to make the walk drop the consumed part of its queue.
    const fake = {
      async *list(dir: string): AsyncIterable<Entry[]> {
        const entry = (path: string, isDir: boolean): Entry => ({ path, isDir, size: 0, mtimeMs: 0, hashes: {} });
        if (dir === 'top') {
          for (let p = 0; p < 3; p++) yield Array.from({ length: 1000 }, (_, i) => entry(`top/d${p * 1000 + i}`, true));
        } else {
          yield [entry(`${dir}/f`, false)];
        }
      },
    };
    const { entries } = await collect(walkByListing(fake, 'top'));
    expect(entries.length).toBe(6000);
    expect(new Set(entries.map((e) => e.path)).size).toBe(6000);
  });

  it('walks past a folder deleted during the walk, but not past a missing root', async () => {
    await c.write('a/gone/x', bufferSource(Buffer.from('x')));
    await c.write('a/kept/y', bufferSource(Buffer.from('y')));
    const racing = {
      list: (dir: string) => {
        if (dir === 'a/gone') return c.list('a/vanished');
        return c.list(dir);
      },
    };
    const { entries } = await collect(walkByListing(racing, 'a'));
    expect(entries.map((e) => e.path).sort()).toEqual(['a/gone', 'a/kept', 'a/kept/y']);
    await expectKind(() => collect(walkByListing(c, 'nope')), 'not_found');
  });
});
