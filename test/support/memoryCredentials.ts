import type { CredentialStore } from '../../connectors/types.js';

/**
 * A CredentialStore in memory for tests: `update` runs one `fn` at a time (like the row lock of
 * the PostgreSQL store in activities/remotes.ts) and keeps the result only when `fn` succeeds.
 * Values are cloned in and out, so a connector can never change the stored object behind its back.
 */
export interface MemoryCredentialStore extends CredentialStore {
  /** The stored secrets right now. */
  snapshot(): Record<string, unknown>;
  /** How many updates committed. */
  readonly writes: number;
}

export function memoryCredentials(initial: Record<string, unknown> = {}): MemoryCredentialStore {
  let stored = structuredClone(initial);
  let writes = 0;
  let lock: Promise<unknown> = Promise.resolve();
  return {
    async read() {
      return structuredClone(stored);
    },
    update(fn) {
      const run = lock.then(async () => {
        const next = await fn(structuredClone(stored));
        stored = structuredClone(next);
        writes++;
        return structuredClone(next);
      });
      lock = run.catch(() => {});
      return run;
    },
    snapshot: () => structuredClone(stored),
    get writes() {
      return writes;
    },
  };
}
