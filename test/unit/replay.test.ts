import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../runtime/worker.js';

const dir = join(import.meta.dirname, '../fixtures/histories');
const fixtures = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();

/**
 * Histories recorded from earlier versions of transferRun (workflows/versions.ts) replay on
 * today's code: a worker upgraded mid-run can carry on every run the old one started.
 */
describe('recorded run histories replay on the current workflow code', () => {
  it('has recorded histories to replay', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  for (const name of fixtures) {
    it(name, async () => {
      const history = JSON.parse(await readFile(join(dir, name), 'utf8'));
      await Worker.runReplayHistory({ workflowsPath }, history, `replay-${name}`);
    }, 120_000);
  }
});
