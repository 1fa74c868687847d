import { spawn } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoFile, repoRoot, tsxImport } from '../core/repo.js';
import { hashSources } from './sourceHash.mjs';

export const workflowsPath = repoFile('workflows/index.ts');

/**
 * The workflow bundle, built once per version of the workflow code and kept in the cache.
 * Building it (webpack) takes seconds and a few hundred MB that the heap keeps long after, so it
 * runs in a short-lived child process: a worker's memory is then only what the worker needs.
 */
export async function workflowBundle(log: (line: string) => void = () => {}): Promise<{ codePath: string }> {
  const dir = join(process.env.KNARR_CACHE_DIR || join(homedir(), '.cache', 'knarr'), 'workflow-bundles');
  const codePath = join(dir, `${sourceHash()}.js`);
  if (await stat(codePath).then((s) => s.size > 0, () => false)) return { codePath };
  await mkdir(dir, { recursive: true });
  const temp = `${codePath}.${process.pid}.tmp`;
  log('building the workflow bundle (once per version of knarr)');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxImport(), repoFile('runtime/bundleWorkflows.ts'), temp], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err = (err + c).slice(-4000); });
    child.once('error', reject);
    child.once('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`building the workflow bundle failed (${sig ?? `exit ${code}`}): ${err.trim()}`))));
  });
  // Renamed into place: a concurrent start or an interrupted build never leaves half a bundle.
  await rename(temp, codePath);
  return { codePath };
}

/** What the bundle is made of: the workflow code, the core types it imports, and the SDK version. */
function sourceHash(): string {
  return hashSources(repoRoot, ['workflows', 'core'], ['node_modules/@temporalio/worker/package.json']).slice(0, 32);
}
