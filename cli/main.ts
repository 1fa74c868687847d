import { loadConfig } from '../runtime/config.js';
import { launch, type Role } from '../runtime/launcher.js';

const usage = `usage: knarr <command>

  server   API and worker in one process; starts a Temporal dev server and an embedded
           database unless TEMPORAL_ADDRESS / DATABASE_URL are set (this is what npm start runs)
  api      the HTTP API only (needs TEMPORAL_ADDRESS and DATABASE_URL)
  worker   a worker only (needs TEMPORAL_ADDRESS and DATABASE_URL); run as many as you like`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return command ? 0 : 2;
  }
  if (!['server', 'api', 'worker'].includes(command)) {
    console.error(`knarr: unknown command "${command}"; run "knarr help" for the list`);
    return 2;
  }
  if (rest.length > 0) {
    console.error(`knarr ${command}: unexpected argument "${rest[0]}"; settings come from the environment (see README)`);
    return 2;
  }
  const running = await launch(command as Role, loadConfig());
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      console.error(`knarr: ${sig} again, exiting without waiting`);
      process.exit(130);
    }
    console.log(`knarr: ${sig}, stopping (running copies stop at once and resume from their last checkpoint)`);
    const since = performance.now();
    void running.stop().then(() => {
      console.log(`knarr: stopped in ${((performance.now() - since) / 1000).toFixed(1)} s`);
      process.exit(process.exitCode ?? 0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    // One line, never a stack trace: these are setup problems the user can fix.
    console.error(`knarr: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
