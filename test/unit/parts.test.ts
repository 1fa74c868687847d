import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalConnector } from '../../connectors/local/index.js';
import type { Connector, UploadState } from '../../connectors/types.js';
import { writeInParts } from '../../engine/parts.js';

const KiB = 1024;
let root: string;
let c: Connector;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'knarr-parts-'));
  c = createLocalConnector({ root });
});
afterEach(async () => {
  await c.close();
  await rm(root, { recursive: true, force: true });
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
/** The source in small reads, as a disk or socket delivers it, so parts are assembled from pieces. */
const sourceOf = (data: Buffer) => async (offset: number) => Readable.from((function* () {
  for (let i = offset; i < data.length; i += 7 * KiB) yield data.subarray(i, Math.min(i + 7 * KiB, data.length));
})());

describe('parallel parts into a local folder', () => {
  it('writes every part at its place, hashes the source once in order, and renames into place', async () => {
    const data = randomBytes(1000 * KiB + 123);
    const writer = await c.openChunkWriter!('big/file.bin', { size: data.length, mtimeMs: 1_700_000_000_123, hashes: {} }, { partSize: 64 * KiB });
    const states: UploadState[] = [];
    const { written, streamed } = await writeInParts(writer, {
      size: data.length, hashType: 'md5', signal: new AbortController().signal, open: sourceOf(data),
      onCheckpoint: async (s) => { states.push(s); },
    });
    expect(await readFile(join(root, 'big/file.bin'))).toEqual(data);
    expect(streamed.md5).toBe(md5(data));
    expect(written.entry).toMatchObject({ size: data.length, mtimeMs: 1_700_000_000_123 });
    expect(states.length).toBe(Math.ceil(data.length / (64 * KiB)));
    // Checkpoints never go back, and the last names every part.
    for (let i = 1; i < states.length; i++) expect(states[i].offset).toBeGreaterThanOrEqual(states[i - 1].offset);
    expect(states.at(-1)!.offset).toBe(data.length);
    expect(await readdir(join(root, 'big'))).toEqual(['file.bin']);
  });

  it('resumes from a checkpoint: parts held are not sent again, the rest complete the same file', async () => {
    const data = randomBytes(640 * KiB);
    const stop = new AbortController();
    const first = await c.openChunkWriter!('f.bin', { size: data.length, mtimeMs: 0, hashes: {} }, { partSize: 64 * KiB });
    let saved: UploadState | undefined;
    const cut = writeInParts(first, {
      size: data.length, hashType: 'md5', signal: stop.signal, open: sourceOf(data),
      onCheckpoint: async (s) => {
        saved = s;
        if (s.offset >= 256 * KiB) stop.abort(new Error('worker killed'));
      },
    });
    await expect(cut).rejects.toThrow();
    expect(saved!.offset).toBeGreaterThanOrEqual(256 * KiB);

    const again = await c.openChunkWriter!('f.bin', { size: data.length, mtimeMs: 0, hashes: {} }, { resume: saved, partSize: 999 });
    expect(again.partSize).toBe(64 * KiB);
    const sent: number[] = [];
    const real = again.writeChunk.bind(again);
    again.writeChunk = (part, buf, signal) => { sent.push(part); return real(part, buf, signal); };
    const { written, streamed } = await writeInParts(again, { size: data.length, hashType: 'md5', signal: new AbortController().signal, open: sourceOf(data) });
    expect(written.resumedFrom).toBe(saved!.offset);
    for (const p of sent) expect(again.isDone(p)).toBe(true);
    expect(sent.length).toBe(10 - saved!.offset / (64 * KiB));
    // A resumed read does not start at byte 0, so no hash is claimed for it.
    expect(streamed.md5).toBeUndefined();
    expect(md5(await readFile(join(root, 'f.bin')))).toBe(md5(data));
  });

  it('refuses a source that ends early, leaving the target untouched', async () => {
    const data = randomBytes(200 * KiB);
    const writer = await c.openChunkWriter!('short.bin', { size: data.length + 1, mtimeMs: 0, hashes: {} }, { partSize: 64 * KiB });
    await expect(writeInParts(writer, { size: data.length + 1, hashType: 'md5', signal: new AbortController().signal, open: sourceOf(data) }))
      .rejects.toMatchObject({ kind: 'corrupt' });
    expect((await readdir(root)).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
