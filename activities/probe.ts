import { ConnectorError } from '../connectors/errors.js';
import type { ProbeResult } from '../core/remote.js';
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
  };
}
