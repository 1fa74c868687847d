// @ts-check
/**
 * What a cache built from knarr's sources is keyed by: every script under `folders` (.ts, .mts,
 * .js, .mjs; path and content) and the given files. Plain JS, because cli/start.mjs needs it
 * before any TypeScript can run; runtime/workflowBundle.ts keys the workflow bundle with it too.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} repo knarr's folder
 * @param {readonly string[]} folders source folders, relative to `repo`
 * @param {readonly string[]} files more files whose content counts, relative to `repo`
 * @returns {string} a hex digest
 */
export function hashSources(repo, folders, files) {
  const hash = createHash('sha256');
  for (const folder of folders) {
    for (const name of readdirSync(join(repo, folder), { recursive: true, encoding: 'utf8' }).filter((n) => /\.m?[jt]s$/.test(n) && !n.endsWith('.d.mts')).sort()) {
      hash.update(`${folder}/${name}\0`).update(readFileSync(join(repo, folder, name))).update('\0');
    }
  }
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(repo, file))).update('\0');
  return hash.digest('hex');
}
