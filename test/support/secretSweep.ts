import { Client, Connection } from '@temporalio/client';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * The places a secret given to a `knarr server` could surface, gathered as text so a test can
 * search them for the actual secret strings: API answers, knarr's log, every Temporal workflow
 * history, every file of the data directory.
 */
export interface SecretPlaces {
  answers: string[];
  log: string;
  histories: string[];
  files: { f: string; text: string }[];
}

/** Every string inside a value: payload bytes (Temporal's JSON-encoded arguments) read as text. */
export function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) texts(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) texts(v, out);
  return out;
}

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The full history of every workflow the Temporal server at `address` knows, one text each. */
export async function workflowHistories(address: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  const histories: string[] = [];
  try {
    const client = new Client({ connection });
    for await (const wf of client.workflow.list()) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      histories.push(texts(history).join('\n'));
    }
  } finally {
    await connection.close();
  }
  return histories;
}

/**
 * Every file of a data directory as latin1 text (binary files included: a secret stored in
 * plain text shows in SQLite and PGlite pages as its bytes). The master key is left out: it is
 * the one secret the directory holds by design.
 */
export async function dataDirTexts(dataDir: string): Promise<{ f: string; text: string }[]> {
  const files = (await filesUnder(dataDir)).filter((f) => !f.endsWith('master.key'));
  return Promise.all(files.map(async (f) => ({ f, text: (await readFile(f)).toString('latin1') })));
}

/** Fails, naming the secret and the place, when any secret occurs in any place. */
export function expectNoSecretIn(places: SecretPlaces, secrets: Record<string, string>): void {
  for (const [what, secret] of Object.entries(secrets)) {
    // An empty or tiny string would match by chance and prove nothing.
    expect(secret.length, `${what} is too short to search for`).toBeGreaterThanOrEqual(8);
    places.answers.forEach((a, i) => expect(a.includes(secret), `${what} in API answer ${i}: ${a.slice(0, 300)}`).toBe(false));
    expect(places.log.includes(secret), `${what} in knarr's log`).toBe(false);
    places.histories.forEach((h, i) => expect(h.includes(secret), `${what} in workflow history ${i}`).toBe(false));
    for (const { f, text } of places.files) expect(text.includes(secret), `${what} in ${f}`).toBe(false);
  }
}
