/**
 * `npm run bench -- <name> [flags]`: runs bench/<name>.ts with the flags. Without a name, lists
 * the benchmarks.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const notBenchmarks = new Set(['run.ts', 'support.ts']);

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const available = (await readdir(benchDir)).filter((f) => f.endsWith('.ts') && !notBenchmarks.has(f)).map((f) => f.slice(0, -3)).sort();
  if (!name || name === '--help' || !available.includes(name)) {
    if (name && name !== '--help') console.error(`no benchmark called "${name}"`);
    console.error(`usage: npm run bench -- <name> [flags]   (flags: npm run bench -- <name> --help)\nbenchmarks: ${available.join(', ')}`);
    process.exit(name && name !== '--help' ? 2 : 0);
  }
  const mod = (await import(`./${name}.ts`)) as { main(argv: string[]): Promise<void> };
  await mod.main(args);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  },
);
