import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDriveConnector, type DriveConfig, type DriveUploadState } from '../../connectors/drive/index.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { bufferSource, defineConformanceSuite, KiB, md5, readAll, rejectionOf } from './suite.js';

// One emulator for this file; the suite and the resume accounting below share it.
let emulator: Promise<DriveEmulator> | undefined;
const emu = (): Promise<DriveEmulator> => (emulator ??= startDriveEmulator());
afterAll(async () => {
  if (emulator) await (await emulator).stop();
});

/** A connector on the emulator from exactly what the API would store: settings in plain sight, secrets as credentials. */
function connect(e: DriveEmulator, extra: Partial<DriveConfig> = {}) {
  const { token, clientSecret, ...settings } = e.remoteConfig();
  return createDriveConnector({ ...(settings as DriveConfig), ...extra }, { host: unrestrictedHost, remoteName: 'drive-conformance', credentials: memoryCredentials({ token, clientSecret }) });
}

defineConformanceSuite('drive (emulator)', async () => {
  const e = await emu();
  return {
    connector: connect(e),
    cleanup: async () => {},
    // The emulator keeps what arrived of a cut chunk up to the last whole 256 KiB, as Drive does.
    cutNextUpload: (afterBytes) => e.faults.cutUploadAfter(afterBytes),
  };
}, { cutUpload: true });

describe('drive resume (against the emulator)', () => {
  it('resumes a cut upload from the committed offset without sending again what Drive holds', async () => {
    const e = await emu();
    const c = connect(e);
    const chunkSize = 256 * KiB;
    const data = randomBytes(6 * chunkSize + 1234);
    const checkpoints: UploadState[] = [];
    e.faults.cutUploadAfter(3 * chunkSize + 100 * KiB);
    await rejectionOf(() => c.write('resume-accounting/big.bin', bufferSource(data), { chunkSize, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    const last = checkpoints.at(-1) as DriveUploadState;
    expect(last.offset).toBe(3 * chunkSize);
    expect(typeof last.session).toBe('string');

    const before = e.stats;
    const source = bufferSource(data);
    const res = await c.write('resume-accounting/big.bin', source, { chunkSize, resume: last });
    const after = e.stats;
    // The cut chunk kept its whole 256 KiB granules: Drive held 3 chunks, the resume starts there.
    expect(res.resumedFrom).toBe(3 * chunkSize);
    expect(source.opens).toEqual([3 * chunkSize]);
    expect(after.uploadBytes - before.uploadBytes).toBe(data.length - 3 * chunkSize);
    expect(after.statusQueries - before.statusQueries).toBe(1);
    expect(after.resumableSessions - before.resumableSessions).toBe(0);
    expect(res.entry).toMatchObject({ size: data.length, hashes: { md5: md5(data) } });
    expect((await readAll(await c.read('resume-accounting/big.bin'))).equals(data)).toBe(true);
    expect(e.list().filter((x) => x.path === 'resume-accounting/big.bin')).toHaveLength(1);
    await c.close();
  });
});
