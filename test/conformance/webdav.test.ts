import { afterAll } from 'vitest';
import { createWebdavConnector, type WebdavConfig } from '../../connectors/webdav/index.js';
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
