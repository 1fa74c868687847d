import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * knarr's own folder. The code runs either from its sources (tsx, vitest) or bundled into one
 * file under `.build/` (cli/start.mjs), so a file that ships beside the code (migrations, a
 * thread's script, a shell script) is found from here, never relative to the calling module.
 */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** An absolute path to `rel` inside knarr's folder. */
export function repoFile(rel: string): string {
  return join(repoRoot, rel);
}

/**
 * What `--import` needs to load tsx in a helper child that runs a TypeScript file: tsx from knarr's
 * own node_modules, whatever the working directory knarr was started from.
 */
export function tsxImport(): string {
  const manifest = createRequire(repoFile('package.json')).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, string> };
  return pathToFileURL(join(dirname(manifest), exports['.'])).href;
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'knarr') return dir;
    if (dirname(dir) === dir) throw new Error(`knarr's package.json was not found above ${from}`);
  }
}

/** knarr's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(repoFile('package.json'), 'utf8')) as { version: string }).version;
}
