import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../runtime/devServer.js';
import { findTemporalCli } from '../../runtime/temporalCli.js';
import { createTestDatabase } from './pg.js';
import { freePort } from './ports.js';

const log = (line: string) => console.error(`[test setup] ${line}`);
const repo = fileURLToPath(new URL('../..', import.meta.url));

// One Temporal dev server and one database for the whole run: a server per file races on
// startup (specs/temporal.md §7) and costs seconds each.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // `npm ci && npm test` is the whole set-up: whatever is missing is built here, once, into
  // ~/.cache/knarr (minutes the first time, a second when cached). CI has run the same scripts.
  const cliPath = await findTemporalCli({ log });
  // These serve a few test files each: when one cannot be installed, those files fail with the
  // reason and the rest of the suite still runs.
  await installScript('install-test-servers.sh').catch((err: Error) => log(err.message));
  const temporalServerDir = await installScript('install-temporal-server.sh').catch((err: Error) => {
    log(err.message);
    return `unavailable: ${err.message}`;
  });
  const server = await startSharedServer(cliPath);
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  try {
    database = await createTestDatabase('knarr_test');
  } catch (err) {
    await server.stop();
    throw err;
  }

  project.provide('temporalCliPath', cliPath);
  project.provide('temporalAddress', server.address);
  project.provide('databaseUrl', database.url);
  project.provide('temporalServerDir', temporalServerDir);

  return async () => {
    const results = await Promise.allSettled([server.stop(), database.drop()]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw new AggregateError(failed.map((f) => f.reason), 'test teardown failed');
  };
}

async function startSharedServer(cliPath: string): Promise<DevServer> {
  // freePort() can lose its port to another process before the server binds it; try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({
        cliPath, port: await freePort(), headless: true, log,
        // Ask for continue-as-new early, so every multi-batch run in the suite crosses a
        // continue-as-new boundary the way a million-file run does.
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 },
      });
    } catch (err) {
      if (attempt >= 3) throw err;
      log(`Temporal dev server did not start (${(err as Error).message.split('\n')[0]}); retrying`);
    }
  }
}

/** Runs one of scripts/install-*.sh, its progress on our stderr; resolves with its last stdout line. */
function installScript(name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [`scripts/${name}`], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out.trim().split('\n').pop() ?? '');
      else reject(new Error(`scripts/${name} failed (${signal ?? code}); run it by hand to see why`));
    });
  });
}
