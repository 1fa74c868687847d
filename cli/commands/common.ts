import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient } from '../client.js';
import { resolveSettings, type ClientSettings } from '../config.js';
import { processOutput, type Output } from '../output.js';

/** The options every client command takes (declared once, on the program). */
export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

export interface Context {
  client: ApiClient;
  out: Output;
  settings: ClientSettings;
}

/** The client and output of the command being run, from its own and the program's options; `stdinKey` stands in for --key. */
export function context(cmd: Command, stdinKey = ''): Context {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const out = processOutput(Boolean(g.json));
  const flags = stdinKey ? { url: g.url, key: stdinKey, keyFrom: 'stdin' } : { url: g.url, key: g.key };
  const settings = resolveSettings({ flags, env: process.env, warn: out.err });
  return { client: new ApiClient(settings.url, settings.key, settings.from.key), out, settings };
}

/** An action whose result is the process's exit code. */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    process.exitCode = await fn(...args);
  };
}

/** Whole numbers for flags such as --transfers; a bad value is a usage error (exit 2). */
export function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`give a whole number of at least ${min}`);
    return n;
  };
}

/** For repeatable flags: `--include a --include b` gives ["a", "b"]. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface WatchFlags {
  interval: number;
}

/** `--interval`, on every command that watches a run. */
export function withInterval(cmd: Command): Command {
  return cmd.option('--interval <seconds>', 'how often to poll the run while watching', (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('give a number of seconds above 0, such as 1 or 0.5');
    return n;
  }, 1);
}
