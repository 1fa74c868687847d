import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createSftpConnector } from '../../connectors/sftp/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';
import { defineConformanceSuite } from './suite.js';

let server: SftpTestServer | undefined;
let proxy: CutProxy | undefined;
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

// The connector talks to sshd through a TCP proxy that can cut every connection after N bytes
// sent upstream; sshd keeps what arrived before the cut, as a real server does.
defineConformanceSuite('sftp (OpenSSH)', async () => {
  server = await startSshd();
  proxy = await startCutProxy({ host: server.host, port: server.port });
  const root = join(server.dataDir, 'conformance');
  const connector = createSftpConnector(
    { host: proxy.host, port: proxy.port, user: server.user, root, hostKey: server.hostKey },
    { remoteName: 'sftp-conformance', host: unrestrictedHost, credentials: memoryCredentials({ privateKey: server.privateKey }) },
  );
  await connector.mkdir('');
  return {
    connector,
    cleanup: () => rm(root, { recursive: true, force: true }),
    cutNextUpload: (afterBytes) => void proxy!.cutAfter(afterBytes),
  };
}, { cutUpload: true });
