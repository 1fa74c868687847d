import type { Command } from 'commander';
import { LocationError, parseLocation } from '../../core/location.js';
import { collect, paginate, usageError } from '../client.js';
import { formatDateTime } from '../format.js';
import { act, context } from './common.js';

export interface ListEntry {
  name: string;
  path: string;
  isDir: boolean;
  size: number;
  mtime: string | number | null;
}

/** `ls -l` / `rclone lsl` style: size, mtime, name; folders end in `/`. Fixed widths, so pages stream. */
export function entryLine(e: ListEntry): string {
  const size = e.isDir ? '-' : String(e.size);
  const mtime = e.mtime === null || e.mtime === undefined ? '-' : formatDateTime(e.mtime);
  return `${size.padStart(12)}  ${mtime.padEnd(19)}  ${e.name}${e.isDir ? '/' : ''}`;
}

export function lsCommand(program: Command): void {
  program.command('ls')
    .description('list a folder of a remote')
    .argument('<location>', 'remote:path, such as photos:2024 or photos: for the root')
    .action(act(async (location: string, _flags: object, cmd: Command) => {
      let loc;
      try {
        loc = parseLocation(location);
      } catch (err) {
        if (err instanceof LocationError) throw usageError(err.message);
        throw err;
      }
      const { client, out } = context(cmd);
      const entries = paginate<ListEntry>(client, `/v1/remotes/${encodeURIComponent(loc.remote)}/ls`, { path: loc.path }, 1000);
      if (out.json) {
        const all = await collect(entries);
        out.result(all, () => []);
      } else {
        // Line by line as pages come: a folder of a million files shows at once, in constant memory.
        for await (const e of entries) out.line(entryLine(e));
      }
      return 0;
    }));
}
