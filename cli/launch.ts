import { loadConfig } from '../runtime/config.js';
import { launch, type Role } from '../runtime/launcher.js';

export const roles: readonly Role[] = ['server', 'api', 'worker'];

export const roleHelp: Record<Role, string> = {
  server: 'API and worker in one process; starts a Temporal dev server and an embedded database unless TEMPORAL_ADDRESS / DATABASE_URL are set (this is what npm start runs)',
  api: 'the HTTP API only (needs TEMPORAL_ADDRESS and DATABASE_URL)',
  worker: 'a worker only (needs TEMPORAL_ADDRESS and DATABASE_URL); run as many as you like',
};

/**
 * Runs `knarr server|api|worker` until a signal stops it. Returns an exit code for a usage
 * mistake, or -1: the process then lives on and exits from the signal handler.
 */
export async function runRole(role: Role, rest: string[]): Promise<number> {
  if (rest.length > 0) {
    console.error(`knarr ${role}: unexpected argument "${rest[0]}"; settings come from the environment (see README)`);
    return 2;
  }
  const running = await launch(role, loadConfig());
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
