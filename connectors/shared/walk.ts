import type { Entry } from '../../core/entry.js';
import { normalizePath } from '../../core/paths.js';
import { isConnectorError } from '../errors.js';
import type { Connector, ListOptions } from '../types.js';

/**
 * `walk` for providers without a recursive listing: lists `root`, then every directory found,
 * breadth first. Only directory paths wait in the queue, so memory grows with the number of
 * pending directories, never with the number of files. Pages are passed on as `list` yields them.
 */
export async function* walkByListing(
  connector: Pick<Connector, 'list'>,
  root: string,
  opts: ListOptions = {},
): AsyncGenerator<Entry[]> {
  const queue = [normalizePath(root)];
  let belowRoot = false;
  // A head index instead of shift(), which is O(n) per call on a long queue.
  for (let head = 0; head < queue.length; head++) {
    opts.signal?.throwIfAborted();
    try {
      for await (const page of connector.list(queue[head], opts)) {
        for (const entry of page) if (entry.isDir) queue.push(entry.path);
        if (page.length > 0) yield page;
      }
    } catch (err) {
      // The root must exist; a folder deleted since its parent was listed has simply left the tree.
      if (!belowRoot || !isConnectorError(err, 'not_found')) throw err;
    }
    belowRoot = true;
    // Drop the consumed prefix once it is large, so a long walk does not keep every folder's path.
    if (head >= 1024 && head * 2 >= queue.length) {
      queue.splice(0, head + 1);
      head = -1;
    }
  }
}
