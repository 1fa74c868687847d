import { afterAll, expect, it } from 'vitest';
import { createOneDriveConnector, type OneDriveConfig } from '../../connectors/onedrive/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { startOneDriveEmulator, type OneDriveEmulator } from '../fakes/onedrive/index.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { bufferSource, defineConformanceSuite, KiB, md5, readAll, rejectionOf } from './suite.js';

// One emulator for this file (shared/specs/providers.md A.3 and D.2), stopped when the file is done.
let emulator: Promise<OneDriveEmulator> | undefined;
const emu = (): Promise<OneDriveEmulator> => (emulator ??= startOneDriveEmulator());
afterAll(async () => {
  if (emulator) await (await emulator).stop();
});

function connector(e: OneDriveEmulator) {
  const { token, clientSecret, ...config } = e.remoteConfig();
  return createOneDriveConnector(config as OneDriveConfig, { host: unrestrictedHost, remoteName: 'onedrive-conformance', credentials: memoryCredentials({ token, clientSecret }) }, { copyPollMs: 20 });
}

// Fragments are multiples of 320 KiB: the suite's chunks are one fragment each.
const CHUNK = 320 * KiB;

defineConformanceSuite('onedrive', async () => {
  const e = await emu();
  return {
    connector: connector(e),
    cleanup: async () => {},
    chunkSize: CHUNK,
    cutNextUpload: (afterBytes) => e.faults.cutNextUpload(afterBytes),
  };
}, { cutUpload: true });

it('onedrive: a resume after a cut upload sends only what the emulator does not hold', async () => {
  const e = await emu();
  const c = connector(e);
  const data = Buffer.alloc(4 * CHUNK + 99, 7);
  for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
  const states: { offset: number }[] = [];
  e.faults.cutNextUpload(2 * CHUNK + 10 * KiB);
  const before = e.stats.uploadBytes;
  await rejectionOf(() => c.write('cut-stats/c.bin', bufferSource(data), { chunkSize: CHUNK, onCheckpoint: (s) => void states.push(structuredClone(s)) }));
  expect(e.stats.uploadBytes - before).toBe(2 * CHUNK + 10 * KiB);
  expect(states.at(-1)?.offset).toBe(2 * CHUNK);
  const mid = e.stats.uploadBytes;
  const res = await c.write('cut-stats/c.bin', bufferSource(data), { chunkSize: CHUNK, resume: states.at(-1) as never });
  expect(res.resumedFrom).toBe(2 * CHUNK);
  // Only the bytes after what the session held went out again.
  expect(e.stats.uploadBytes - mid).toBe(data.length - 2 * CHUNK);
  expect(md5(await readAll(await c.read('cut-stats/c.bin')))).toBe(md5(data));
  expect(res.entry.hashes.quickxor).toBe(res.hashes.quickxor);
  await c.close();
});
