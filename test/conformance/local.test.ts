import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalConnector } from '../../connectors/local/index.js';
import { defineConformanceSuite } from './suite.js';

defineConformanceSuite('local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'knarr-conformance-local-'));
  return {
    connector: createLocalConnector({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
