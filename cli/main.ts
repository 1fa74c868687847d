import { run } from './program.js';

run(process.argv.slice(2)).then(
  (code) => {
    // Flushed first: a piped --json answer must not be cut off by the exit.
    if (code >= 0) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    // One line, never a stack trace: these are setup problems the user can fix.
    console.error(`knarr: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
