import { afterAll } from 'vitest';
import { createWebdavConnector, type WebdavConfig } from '../../connectors/webdav/index.js';
import { MIN_NEXTCLOUD_CHUNK } from '../../connectors/webdav/upload.js';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startApacheDav, type WebdavTestServer } from '../support/servers/webdav.js';
import { defineConformanceSuite } from './suite.js';

// One Apache for this file, reached through a cutting proxy, so the provider-side cut is a real
// dropped connection with the server keeping what arrived.
let apache: Promise<{ server: WebdavTestServer; proxy: CutProxy }> | undefined;
const dav = () =>
  (apache ??= (async () => {
    const server = await startApacheDav();
    const port = Number(new URL(server.url).port);
    const proxy = await startCutProxy({ host: '127.0.0.1', port });
    return { server, proxy };
  })());
afterAll(async () => {
  if (!apache) return;
  const { server, proxy } = await apache;
  await proxy.close();
  await server.stop();
});

defineConformanceSuite('webdav (Apache mod_dav)', async () => {
  const { server, proxy } = await dav();
  const { password, ...config } = server.remoteConfig();
  const url = new URL(String(config.url));
  url.port = String(proxy.port);
  const connector = createWebdavConnector({ ...(config as unknown as WebdavConfig), url: url.href }, { host: unrestrictedHost, remoteName: 'apache-conformance', credentials: memoryCredentials({ password }) });
  return {
    connector,
    cleanup: async () => {},
    cutNextUpload: (afterBytes) => void proxy.cutAfter(afterBytes),
  };
}, { cutUpload: true });

// The Nextcloud emulator (test/fakes/nextcloud), also behind a cutting proxy: the suite's cut is
// at a file offset across many requests (chunk PUTs), which the emulator's own per-request fault
// cannot express; test/integration/webdav.test.ts uses that fault for the chunk-level cases.
let nextcloud: Promise<{ emu: NextcloudEmulator; proxy: CutProxy }> | undefined;
const nc = () =>
  (nextcloud ??= (async () => {
    const emu = await startNextcloudEmulator();
    const proxy = await startCutProxy({ host: '127.0.0.1', port: Number(new URL(emu.url).port) });
    return { emu, proxy };
  })());
afterAll(async () => {
  if (!nextcloud) return;
  const { emu, proxy } = await nextcloud;
  await proxy.close();
  await emu.stop();
});

defineConformanceSuite('webdav (Nextcloud emulator)', async () => {
  const { emu, proxy } = await nc();
  const { password, ...config } = emu.remoteConfig();
  const url = new URL(String(config.url));
  url.port = String(proxy.port);
  const connector = createWebdavConnector({ ...(config as unknown as WebdavConfig), url: url.href }, { host: unrestrictedHost, remoteName: 'nextcloud-conformance', credentials: memoryCredentials({ password }) });
  return {
    connector,
    cleanup: async () => {},
    cutNextUpload: (afterBytes) => void proxy.cutAfter(afterBytes),
    // Chunked upload v2 takes chunks of 5 MiB at least.
    chunkSize: MIN_NEXTCLOUD_CHUNK,
  };
}, { cutUpload: true });
