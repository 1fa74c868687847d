/**
 * knarr's Jottacloud connector and an unmodified rclone, both against one emulator: what either
 * writes, the other lists with the same names, sizes and MD5s, and both store the same names
 * (rclone's encoding: `?` as `？`, `%` as `％`, connectors/jottacloud/paths.ts) — issue 3's
 * independent-client check of the connector itself, not just of the emulator.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJottacloudConnector, type JottacloudConnector } from '../../connectors/jottacloud/index.js';
import type { Entry } from '../../core/entry.js';
import { findRclone, INSTALL_HINT, startRcloneHarness, type RcloneHarness } from '../fakes/jottacloud/rclone.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { unrestrictedHost } from '../../connectors/types.js';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** Hostile names of issue 3 that both clients can store (no raw ';', see the emulator README). */
const FILES: Record<string, Buffer> = {
  'space name.txt': randomBytes(1000),
  'plus+sign.txt': randomBytes(10),
  'hash#tag.txt': randomBytes(11),
  'percent%41 and %.txt': randomBytes(12),
  'question?.txt': randomBytes(13),
  'Pinus%20palustris.jpg': randomBytes(14),
  'win "*:<>|.txt': randomBytes(9),
  'already ％ fullwidth.txt': randomBytes(8),
  'æøå Ærøskøbing.txt': randomBytes(15),
  'emoji 🚢 日本.txt': randomBytes(16),
  'empty.txt': Buffer.alloc(0),
  'nested dir/deeper/multi-chunk.bin': randomBytes(5 * 1024 * 1024 + 3),
};

interface Facts {
  path: string;
  size: number;
  md5: string | undefined;
}
const sorted = (xs: Facts[]) => xs.sort((a, b) => (a.path < b.path ? -1 : 1));

describe('knarr and rclone agree on Jottacloud', () => {
  let h: RcloneHarness;
  let c: JottacloudConnector;

  beforeAll(async () => {
    if (!(await findRclone())) throw new Error(INSTALL_HINT);
    h = await startRcloneHarness();
    c = createJottacloudConnector(
      { jfsUrl: h.emu.jfsUrl, apiUrl: h.emu.apiUrl },
      { host: unrestrictedHost, remoteName: 'jotta', credentials: memoryCredentials({ loginToken: h.emu.issueLoginToken() }) },
      { ca: h.emu.caCert },
    );
  });
  afterAll(async () => {
    await c?.close();
    await h?.stop();
  });

  const knarrList = async (root: string): Promise<Facts[]> => {
    const out: Facts[] = [];
    for await (const page of c.walk(root)) {
      for (const e of page as Entry[]) if (!e.isDir) out.push({ path: e.path.slice(root.length + 1), size: e.size, md5: e.hashes.md5 });
    }
    return sorted(out);
  };
  const rcloneList = async (root: string): Promise<Facts[]> => {
    const entries = JSON.parse(await h.ok(['lsjson', '-R', '--hash', '--files-only', `jotta:${root}`])) as { Path: string; Size: number; Hashes?: { md5?: string } }[];
    return sorted(entries.map((e) => ({ path: e.Path, size: e.Size, md5: e.Hashes?.md5 })));
  };
  const want = sorted(Object.entries(FILES).map(([path, data]) => ({ path, size: data.length, md5: md5(data) })));
  const storedNames = (prefix: string) =>
    h.emu
      .files()
      .filter((f) => !f.deleted && f.path.startsWith(`/Jotta/Archive/${prefix}/`))
      .map((f) => f.path.slice(`/Jotta/Archive/${prefix}/`.length))
      .sort();

  it('rclone lists what knarr uploaded', async () => {
    for (const [name, data] of Object.entries(FILES)) {
      await c.write(`byknarr/${name}`, { size: data.length, mtimeMs: Date.UTC(2024, 0, 2), hashes: {}, open: async (offset) => Readable.from([data.subarray(offset)]) }, { chunkSize: 1024 * 1024 });
    }
    expect(await knarrList('byknarr')).toEqual(want);
    expect(await rcloneList('byknarr')).toEqual(want);
  });

  it('knarr lists what rclone uploaded', async () => {
    const local = join(h.dir, 'from-rclone');
    for (const [name, data] of Object.entries(FILES)) {
      await mkdir(join(local, name, '..'), { recursive: true });
      await writeFile(join(local, name), data);
    }
    await h.ok(['copy', local, 'jotta:byrclone']);
    expect(await rcloneList('byrclone')).toEqual(want);
    expect(await knarrList('byrclone')).toEqual(want);
  });

  it('both store the same names', () => {
    const stored = storedNames('byknarr');
    expect(stored).toEqual(storedNames('byrclone'));
    expect(stored).toContain('Pinus％20palustris.jpg');
    expect(stored).toContain('already ‛％ fullwidth.txt');
    expect(stored.join('\n')).not.toMatch(/%[0-9A-Fa-f]{2}/);
  });
});
