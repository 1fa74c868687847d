/**
 * One worker process of test/integration/jottacloud-refresh.test.ts: opens the remote from the
 * shared PostgreSQL row exactly as an activity does (activities/remotes.ts openRemote), waits for
 * the parent's "go" on stdin (after printing READY), then hammers the emulator with `CONCURRENCY` loops of requests until
 * `DURATION_MS` has passed. Prints one line `RESULT {json}` and exits 0.
 *
 * env: DATABASE_URL, KNARR_TEST_MASTER_KEY (hex), REMOTE_ID, DURATION_MS, CONCURRENCY
 */
import { openRemote } from '../../activities/remotes.js';
import { isConnectorError } from '../../connectors/errors.js';
import { unrestrictedHost } from '../../connectors/types.js';
import type { JottacloudConnector } from '../../connectors/jottacloud/index.js';
import { openDatabase } from '../../db/client.js';
import { CredentialCipher } from '../../db/credentials.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const opened = await openDatabase({ url: env('DATABASE_URL') });
const cipher = new CredentialCipher(Buffer.from(env('KNARR_TEST_MASTER_KEY'), 'hex'));
const connector = await openRemote({ db: opened.db, cipher, host: unrestrictedHost }, env('REMOTE_ID'));
const concurrency = Number(env('CONCURRENCY'));

// Start together: tsx start-up time varies a lot on a loaded machine.
process.stdout.write('READY\n');
await new Promise<void>((resolve) => {
  process.stdin.once('data', () => resolve());
});
process.stdin.pause();
const deadline = Date.now() + Number(env('DURATION_MS'));

let ok = 0;
const errors: string[] = [];

const ops = [
  () => connector.stat(''),
  async () => {
    for await (const page of connector.list('')) void page;
  },
  () => connector.about(),
  () => connector.mkdir(`w${process.pid}`),
];

await Promise.all(
  Array.from({ length: concurrency }, async (_, lane) => {
    for (let i = lane; Date.now() < deadline; i++) {
      try {
        await ops[i % ops.length]();
        ok++;
      } catch (err) {
        errors.push(isConnectorError(err) ? `${err.kind}: ${err.message}` : String(err));
        if (errors.length > 20) return;
      }
    }
  }),
);

const auth = { ...(connector as JottacloudConnector).client.auth.stats };
await connector.close();
await opened.close();
process.stdout.write(`RESULT ${JSON.stringify({ pid: process.pid, ok, errors, auth })}\n`);
