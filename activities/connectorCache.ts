import { eq } from 'drizzle-orm';
import type { Connector } from '../connectors/types.js';
import { remotes } from '../db/schema.js';
import type { ActivityDeps } from './deps.js';
import { openRemote } from './remotes.js';

interface Cached {
  connector: Promise<Connector>;
  /** Settings as they were when opened: a changed remote is opened again. */
  config: string;
  /** The credentials version this connector holds: its own refreshes move it, a replacement does not. */
  version: number;
  users: number;
  idleSince: number;
}

/** Connectors idle this long are closed; a run's next batch comes within seconds. */
const idleMs = 5 * 60_000;

/**
 * One open connector per remote per worker, so HTTP pools, tokens and pacing state live from one
 * batch to the next instead of logging in again every batch. A remote whose credentials were
 * replaced (PUT credentials: the version moved without this connector writing it) or whose
 * settings changed is opened again.
 */
export class ConnectorCache {
  private readonly open = new Map<string, Cached>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deps: ActivityDeps) {
    this.sweeper = setInterval(() => void this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Lends the connectors of `remoteIds` to `fn`; the same remote twice is one connector. */
  async with<T>(remoteIds: readonly string[], fn: (connectors: Connector[]) => Promise<T>): Promise<T> {
    const held: Cached[] = [];
    try {
      const connectors: Connector[] = [];
      for (const id of remoteIds) {
        const entry = await this.acquire(id);
        held.push(entry);
        connectors.push(await entry.connector);
      }
      return await fn(connectors);
    } finally {
      for (const e of held) {
        e.users--;
        e.idleSince = Date.now();
      }
    }
  }

  private async acquire(remoteId: string): Promise<Cached> {
    const [row] = await this.deps.db.select({ config: remotes.config, version: remotes.credentialsVersion }).from(remotes).where(eq(remotes.id, remoteId));
    if (!row) throw new Error(`remote ${remoteId} does not exist`);
    const config = JSON.stringify(row.config);
    let entry = this.open.get(remoteId);
    if (entry && (entry.config !== config || entry.version !== row.version)) {
      this.open.delete(remoteId);
      const stale = entry;
      // Closed once the batches using it finish with it.
      void this.closeWhenIdle(stale);
      entry = undefined;
    }
    if (!entry) {
      const fresh: Cached = { connector: Promise.resolve(null as never), config, version: row.version, users: 0, idleSince: Date.now() };
      fresh.connector = openRemote(this.deps, remoteId, (v) => { fresh.version = v; });
      fresh.connector.catch(() => this.open.get(remoteId) === fresh && this.open.delete(remoteId));
      this.open.set(remoteId, fresh);
      entry = fresh;
    }
    entry.users++;
    return entry;
  }

  private async closeWhenIdle(entry: Cached): Promise<void> {
    while (entry.users > 0) await new Promise((r) => setTimeout(r, 1_000).unref());
    await (await entry.connector.catch(() => null))?.close().catch(() => {});
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [id, entry] of this.open) {
      if (entry.users === 0 && now - entry.idleSince > idleMs) {
        this.open.delete(id);
        await (await entry.connector.catch(() => null))?.close().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map(async (e) => (await e.connector).close()));
  }
}
