import { afterAll } from 'vitest';
import { createS3Connector, type S3Config } from '../../connectors/s3/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { defineConformanceSuite } from './suite.js';

// versitygw (posix backend) behind a cutting proxy: the gateway keeps the parts that arrived
// whole before a cut, as S3 does, which is what the resume must find with ListParts.
let server: S3TestServer | undefined;
let proxy: CutProxy | undefined;
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

defineConformanceSuite('s3 (versitygw)', async () => {
  server = await startVersitygw();
  await server.createBucket('conformance');
  const upstream = new URL(server.endpoint);
  proxy = await startCutProxy({ host: upstream.hostname, port: Number(upstream.port) });
  const { secretAccessKey, ...settings } = server.remoteConfig('conformance', { endpoint: `http://127.0.0.1:${proxy.port}` });
  const connector = createS3Connector(settings as unknown as S3Config, { host: unrestrictedHost, remoteName: 's3-conformance', credentials: memoryCredentials({ secretAccessKey }) });
  const p = proxy;
  return {
    connector,
    cleanup: async () => {},
    cutNextUpload: (afterBytes) => void p.cutAfter(afterBytes),
    // S3's smallest part but the last.
    chunkSize: 5 * 1024 * 1024,
  };
}, { cutUpload: true });
