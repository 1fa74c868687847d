import type { ListNotice } from '../connectors/types.js';
import type { Db } from '../db/client.js';
import { addEvent } from '../db/queries/runs.js';

/** Paths named per kind in the run's events; the count covers the rest. */
const examplesPerKind = 100;

const headline: Record<ListNotice['kind'], (n: number) => string> = {
  duplicate: (n) => `${n} source items share their name with another item in the same folder; one of each name was planned, the others are not copied`,
  skipped: (n) => `${n} source items have no bytes to copy (shortcuts, forms) and are skipped`,
  exported: (n) => `${n} source documents have no file of their own and are copied as exports`,
  unencodable: (n) => `${n} source names cannot be stored on the provider as they are and are not copied`,
};

/**
 * What the listings told about items they could not carry as they are (a provider's `ListNotice`s),
 * gathered while planning and reported as one event per kind, with the first paths and each one's
 * message: nothing a listing leaves out goes unsaid.
 */
export function noticeCounter() {
  const seen = new Map<ListNotice['kind'], { count: number; examples: { path: string; message: string }[] }>();
  return {
    add: (n: ListNotice): void => {
      const k = seen.get(n.kind) ?? { count: 0, examples: [] };
      k.count++;
      if (k.examples.length < examplesPerKind) k.examples.push({ path: n.path, message: n.message });
      seen.set(n.kind, k);
    },
    async report(db: Db, runId: string): Promise<void> {
      for (const [kind, k] of seen) {
        const first = k.examples.slice(0, 3).map((e) => `"${e.path}"`).join(', ');
        await addEvent(db, runId, `source_${kind}`, `${headline[kind](k.count)}: ${first}${k.count > 3 ? ', …' : ''}`, { count: k.count, items: k.examples });
      }
      seen.clear();
    },
  };
}
