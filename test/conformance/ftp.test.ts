import { afterAll } from 'vitest';
import { createFtpConnector, type FtpConfig } from '../../connectors/ftp/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';
import { defineConformanceSuite } from './suite.js';

// One server per flavour for this file, stopped when the file is done.
const servers: Promise<FtpTestServer>[] = [];
afterAll(async () => {
  for (const s of servers) await (await s).stop();
});

function connectorOn(server: FtpTestServer, remoteName: string) {
  const { password, ...settings } = server.remoteConfig() as unknown as FtpConfig & { password: string };
  return createFtpConnector(settings, { host: unrestrictedHost, remoteName, credentials: memoryCredentials({ password }) });
}

// Plain FTP behind cut proxies: every data connection passes one counter that can cut it.
defineConformanceSuite('ftp (pure-ftpd)', async () => {
  const started = startPureFtpd({ cuttable: true });
  servers.push(started);
  const server = await started;
  return {
    connector: connectorOn(server, 'ftp-conformance'),
    cleanup: async () => {},
    // pure-ftpd keeps the bytes a cut APPE delivered (checked in test/integration/ftp.test.ts).
    cutNextUpload: (afterBytes) => void server.proxies!.data.cutAfter(afterBytes),
  };
}, { cutUpload: true });

defineConformanceSuite('ftp (pure-ftpd, explicit TLS)', async () => {
  const started = startPureFtpd({ tls: true });
  servers.push(started);
  const server = await started;
  return { connector: connectorOn(server, 'ftps-conformance'), cleanup: async () => {} };
});
