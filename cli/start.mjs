// @ts-check
/**
 * How `npm start` and `knarr` run: the TypeScript sources bundled into one plain ES module
 * (esbuild, dependencies left in node_modules), built once per version of the sources into
 * `.build/` and then imported. Running the sources through tsx instead keeps tsx's loader
 * thread and its source maps in every process: about 47 MB of a worker's 244 MB when idle.
 * Tests and the short-lived helper children still run the sources directly.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';
import { hashSources } from '../runtime/sourceHash.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
/** Every folder whose code can end up in the bundle. */
const sourceFolders = ['activities', 'api', 'cli', 'connectors', 'core', 'db', 'engine', 'runtime', 'workflows'];

async function bundle() {
  const dir = join(repo, '.build');
  const out = join(dir, `knarr-${hashSources(repo, sourceFolders, ['package-lock.json']).slice(0, 20)}.mjs`);
  if (statSync(out, { throwIfNoEntry: false })?.size) return out;
  mkdirSync(dir, { recursive: true });
  const { build } = await import('esbuild');
  const temp = `${out}.${process.pid}.tmp`;
  await build({
    entryPoints: [join(repo, 'cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: temp,
    logLevel: 'warning',
  });
  // Renamed into place: a concurrent start never imports half a file. Older builds go.
  renameSync(temp, out);
  for (const name of readdirSync(dir)) {
    if (name.startsWith('knarr-') && name.endsWith('.mjs') && join(dir, name) !== out) rmSync(join(dir, name), { force: true });
  }
  return out;
}

await import(pathToFileURL(await bundle()).href);
