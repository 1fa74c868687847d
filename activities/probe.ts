import { ConnectorError } from '../connectors/errors.js';
import type { AboutResult, FolderPage, ProbeResult } from '../core/remote.js';
import { baseName, joinPath } from '../core/paths.js';
import type { ActivityDeps } from './deps.js';
import { withConnectors } from './deps.js';
import { errorMessage } from './failures.js';

export type { ProbeResult };

export function probeActivities(deps: ActivityDeps) {
  return {
    /**
     * Checks a remote from the worker, where its credentials may be decrypted: lists the root,
     * then stats `path` when given. The answer carries no secret, only what the API tells the user.
     */
    async probeRemote(remoteId: string, path: string | null): Promise<ProbeResult> {
      try {
        return await withConnectors(deps, [remoteId], async ([c]) => {
          for await (const _page of c.list('')) break;
          if (path === null) return { ok: true, entry: null };
          try {
            const e = await c.stat(path);
            return { ok: true, entry: { isDir: e.isDir, size: e.size } };
          } catch (err) {
            if (err instanceof ConnectorError && err.kind === 'not_found') return { ok: true, entry: null };
            throw err;
          }
        });
      } catch (err) {
        return { ok: false, kind: err instanceof ConnectorError ? err.kind : 'error', message: errorMessage(err) };
      }
    },

    /** A remote's used and free space, for a person looking at their clouds; a refused credential says so in `kind`. */
    async aboutRemote(remoteId: string): Promise<AboutResult> {
      try {
        return await withConnectors(deps, [remoteId], async ([c]) => ({ ok: true, ...(await c.about()) }));
      } catch (err) {
        return { ok: false, kind: err instanceof ConnectorError ? err.kind : 'error', message: errorMessage(err) };
      }
    },

    /**
     * One page of a folder's children, sorted by name, after the name `after`. Each page reads
     * the folder's listing again (not every provider lists in name order): a person browsing
     * reads far fewer pages than a transfer would.
     */
    async listFolder(remoteId: string, path: string, after: string | null, limit: number): Promise<FolderPage> {
      try {
        return await withConnectors(deps, [remoteId], async ([c]) => {
          if (path !== '') {
            const e = await c.stat(path).catch((err: unknown) => {
              if (err instanceof ConnectorError && err.kind === 'not_found') return null;
              throw err;
            });
            if (!e || !e.isDir) return { ok: true, found: false };
          }
          const data = [];
          for await (const page of c.list(path)) {
            for (const e of page) {
              const name = baseName(e.path);
              if (after !== null && name <= after) continue;
              data.push({ name, path: joinPath(path, name), isDir: e.isDir, size: e.size, mtime: new Date(e.mtimeMs).toISOString() });
            }
          }
          data.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          const more = data.length > limit;
          const shown = data.slice(0, limit);
          return { ok: true, found: true, data: shown, next: more ? shown[shown.length - 1]!.name : null };
        });
      } catch (err) {
        return { ok: false, kind: err instanceof ConnectorError ? err.kind : 'error', message: errorMessage(err) };
      }
    },
  };
}
