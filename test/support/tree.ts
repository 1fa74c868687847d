import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { expect } from 'vitest';

/** Names that break naive path handling: spaces, unicode (NFC and NFD), URL and shell specials. */
export const hostileNames = [
  'with space.txt', ' leading space.txt', 'trailing space .txt', 'plus+sign.txt', 'semi;colon.txt', 'hash#tag.txt',
  'percent%20.txt', 'question?.txt', 'ampersand&.txt', "quote'single.txt", 'quote"double.txt', 'æøå Ærøskøbing.txt',
  'a\u030Angstrom-nfd.txt', 'emoji 🚢 knarr.txt', '日本語のファイル.txt', 'tab\there.txt', 'brackets [1] (2) {3}.txt',
];

export interface TreeSpec {
  /** Small files spread over nested folders. */
  files: number;
  /** One large file of this size in bytes (0 for none), written sparse-free with random data. */
  largeBytes?: number;
}

/** Writes a test tree; mtimes are set to distinct past times so preservation can be checked. */
export async function makeTree(root: string, spec: TreeSpec): Promise<void> {
  await mkdir(root, { recursive: true });
  const base = Date.UTC(2021, 0, 1) / 1000;
  let n = 0;
  const put = async (rel: string, data: Buffer) => {
    const full = join(root, rel);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, data);
    await utimes(full, base + n, base + n * 7 + 0.5);
    n++;
  };
  await put('empty file.bin', Buffer.alloc(0));
  for (const name of hostileNames) await put(`hostile/${name}`, randomBytes(100 + n));
  for (let i = 0; n < spec.files; i++) {
    await put(`tree/d${i % 7}/sub ${i % 13}/deeper-${i % 3}/file-${i}.dat`, randomBytes(1 + ((i * 7919) % 20_000)));
  }
  if (spec.largeBytes) {
    const fh = await open(join(root, 'big/large file.bin'), 'w').catch(async () => {
      await mkdir(join(root, 'big'), { recursive: true });
      return open(join(root, 'big/large file.bin'), 'w');
    });
    const chunk = randomBytes(4 * 1024 * 1024);
    for (let written = 0; written < spec.largeBytes; written += chunk.length) {
      await fh.write(chunk, 0, Math.min(chunk.length, spec.largeBytes - written));
    }
    await fh.close();
    await utimes(join(root, 'big/large file.bin'), base, base + 12345.25);
  }
}

export interface FileFacts {
  size: number;
  mtimeMs: number;
  md5: string;
}

/** Every regular file under `root`, by relative path, with size, mtime and MD5. */
export async function describeTree(root: string): Promise<Map<string, FileFacts>> {
  const out = new Map<string, FileFacts>();
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        const st = await stat(full);
        const md5 = createHash('md5');
        for await (const c of createReadStream(full)) md5.update(c);
        out.set(relative(root, full), { size: st.size, mtimeMs: Math.floor(st.mtimeMs), md5: md5.digest('hex') });
      }
    }
  };
  await walk(root);
  return out;
}

/**
 * Asserts `dstRoot` holds exactly the files of `srcRoot`, each with the same size, MD5 and mtime
 * (within `mtimeToleranceMs`, for trips through a provider that keeps whole seconds); returns the
 * source's facts.
 */
export async function expectSameTree(srcRoot: string, dstRoot: string, mtimeToleranceMs = 0): Promise<Map<string, FileFacts>> {
  const src = await describeTree(srcRoot);
  const dst = await describeTree(dstRoot);
  expect([...dst.keys()].sort()).toEqual([...src.keys()].sort());
  for (const [path, facts] of src) {
    const got = dst.get(path)!;
    expect({ size: got.size, md5: got.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });
    expect(Math.abs(got.mtimeMs - facts.mtimeMs), `${path} mtime`).toBeLessThanOrEqual(mtimeToleranceMs);
  }
  return src;
}
