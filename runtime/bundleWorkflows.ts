/** Child process of runtime/workflowBundle.ts: writes the workflow bundle to the file named by argv[2]. */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from './workflowBundle.js';

const out = process.argv[2];
if (!out) throw new Error('usage: bundleWorkflows.ts <output file>');
const { code } = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn: console.error, error: console.error, log() {} } });
await writeFile(out, code);
