import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDropboxConnector, type DropboxConfig, type DropboxConnector } from '../../connectors/dropbox/index.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { bufferSource, defineConformanceSuite, KiB, readAll, rejectionOf } from './suite.js';

// One emulator for this file (test/fakes/dropbox), shared by the suite and the resume checks below.
let emulator: Promise<DropboxEmulator> | undefined;
const emu = (): Promise<DropboxEmulator> => (emulator ??= startDropboxEmulator());
afterAll(async () => {
  if (emulator) await (await emulator).stop();
});

/** A connector as the registry would open it: the token and client secret in the credentials, the rest as settings. */
export function dropboxConnector(e: DropboxEmulator, account = 'default', name = 'dropbox-conformance'): DropboxConnector {
  const { token, clientSecret, ...settings } = e.remoteConfig(account);
  return createDropboxConnector(settings as DropboxConfig, { host: unrestrictedHost, remoteName: name, credentials: memoryCredentials({ token, clientSecret }) });
}

defineConformanceSuite('dropbox (emulator)', async () => {
  const e = await emu();
  return {
    connector: dropboxConnector(e),
    cleanup: async () => {},
    // The emulator cuts the connection mid-append; that append applies nothing, the earlier ones stay.
    cutNextUpload: (afterBytes) => e.faults.cutUploadAfter(afterBytes),
  };
}, { cutUpload: true });

describe('dropbox resume: nothing the emulator holds is sent again', () => {
  const chunkSize = 256 * KiB;

  it('after a cut append, the resume sends exactly the bytes the session lacks', async () => {
    const e = await emu();
    const c = dropboxConnector(e, `resume-${randomBytes(3).toString('hex')}`);
    const data = randomBytes(4 * chunkSize + 99);
    const checkpoints: UploadState[] = [];
    const before = e.stats.appliedBytes;
    e.faults.cutUploadAfter(2 * chunkSize + 10 * KiB);
    await rejectionOf(() => c.write('cut/f.bin', bufferSource(data), { chunkSize, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    const held = e.stats.appliedBytes - before;
    expect(held).toBe(2 * chunkSize);
    expect(checkpoints.at(-1)?.offset).toBe(2 * chunkSize);
    const src = bufferSource(data);
    const res = await c.write('cut/f.bin', src, { chunkSize, resume: checkpoints.at(-1) });
    expect(res.resumedFrom).toBe(2 * chunkSize);
    expect(src.opens).toEqual([2 * chunkSize]);
    expect(e.stats.appliedBytes - before).toBe(data.length);
    expect((await readAll(await c.read('cut/f.bin'))).equals(data)).toBe(true);
    await c.close();
  });

  it('when an append was applied but its answer lost, the resume goes on from correct_offset', async () => {
    const e = await emu();
    const c = dropboxConnector(e, `lost-${randomBytes(3).toString('hex')}`);
    const data = randomBytes(4 * chunkSize + 5);
    const checkpoints: UploadState[] = [];
    const before = e.stats.appliedBytes;
    // The first append reaches the session; the connection drops before its answer.
    let appends = 0;
    await rejectionOf(() =>
      c.write('lost/f.bin', bufferSource(data), {
        chunkSize,
        onCheckpoint: (s) => void checkpoints.push(structuredClone(s)),
        onProgress: (b) => {
          if (b >= 2 * chunkSize && appends++ === 0) e.faults.loseNextUploadResponse();
        },
      }),
    );
    const saved = checkpoints.at(-1) as UploadState;
    const held = e.stats.appliedBytes - before;
    expect(held).toBeGreaterThan(saved.offset);
    const src = bufferSource(data);
    const res = await c.write('lost/f.bin', src, { chunkSize, resume: saved });
    // Dropbox said where the session stands (409 incorrect_offset, correct_offset): no byte twice.
    expect(res.resumedFrom).toBe(held);
    expect(src.opens).toEqual([held]);
    expect(e.stats.appliedBytes - before).toBe(data.length);
    expect((await readAll(await c.read('lost/f.bin'))).equals(data)).toBe(true);
    await c.close();
  });
});
