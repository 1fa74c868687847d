import { Command, CommanderError } from 'commander';
import type { Role } from '../runtime/launcher.js';
import { CliError, usageError } from './client.js';
import { controlCommands } from './commands/control.js';
import { jobsCommands } from './commands/jobs.js';
import { loginCommand } from './commands/login.js';
import { lsCommand } from './commands/ls.js';
import { remoteCommands } from './commands/remote.js';
import { runsCommands } from './commands/runs.js';
import { scheduleCommands } from './commands/schedule.js';
import { transferCommands } from './commands/transfer.js';
import { exitCodeHelp, exitCodes } from './exitCodes.js';
import { roleHelp, roles, runRole } from './launch.js';

const settingsHelp = `Locations are remote:path, as in rclone ("photos:2024", "photos:" for the root).

Client commands find the API at --url, else KNARR_API_URL, else the config file,
else http://127.0.0.1:8080 (or KNARR_API_PORT); the key at --key, else
KNARR_API_KEY, else the config file, else the admin.key that "knarr server"
wrote in its data directory (KNARR_DATA_DIR, default ./data). The config file
is ~/.config/knarr/config.json ($XDG_CONFIG_HOME, or the file KNARR_CONFIG
names), written by "knarr login".`;

export function buildProgram(): Command {
  const program = new Command('knarr')
    .description('durable cloud-to-cloud transfers: "knarr server" runs knarr, the other commands talk to its API')
    .usage('<command> [options]')
    .option('--url <url>', 'the knarr API, such as http://127.0.0.1:8080')
    .option('--key <key>', 'the API key')
    .option('--json', 'print the API\'s JSON answer and nothing else on stdout')
    // Errors are printed by main, in one line, with knarr's exit codes.
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', `\n${settingsHelp}\n\n${exitCodeHelp}`);

  for (const role of roles) {
    // Dispatched by main before commander (they take no arguments at all); listed here for help.
    program.command(role).description(roleHelp[role]).allowUnknownOption().action(() => {
      throw usageError(`"knarr ${role}" takes no options; settings come from the environment (see README)`);
    });
  }
  loginCommand(program);
  remoteCommands(program);
  lsCommand(program);
  transferCommands(program);
  runsCommands(program);
  controlCommands(program);
  jobsCommands(program);
  scheduleCommands(program);
  return program;
}

/** Runs a command line; -1 means a server role is running and exits from its signal handler. */
export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (roles.includes(command as Role)) return runRole(command as Role, rest);
  const program = buildProgram();
  if (!command) {
    console.log(program.helpInformation());
    return exitCodes.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`knarr: ${err.message}`);
      return err.exitCode;
    }
    if (!(err instanceof CommanderError)) throw err;
    // Help asked for (exit 0), or shown because a command was incomplete (a usage error).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return err.exitCode === 0 ? 0 : exitCodes.usage;
    if (err.code === 'commander.unknownCommand') {
      const name = /'([^']*)'/.exec(err.message)?.[1] ?? command;
      console.error(`knarr: unknown command "${name}"; run "knarr help" for the list`);
    } else {
      console.error(`knarr: ${err.message.replace(/^error: /, '').split('\n')[0]}`);
    }
    return exitCodes.usage;
  }
}
