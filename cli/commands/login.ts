import type { Command } from 'commander';
import { usageError } from '../client.js';
import { configPath, writeConfigFile } from '../config.js';
import { act, context, type GlobalOptions } from './common.js';

/** The first line of stdin, for `echo $KEY | knarr login`: a key never has to be on the command line. */
async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  process.stdin.destroy();
  return text.split('\n')[0].trim();
}

export function loginCommand(program: Command): void {
  program.command('login')
    .description('check an API URL and key, and save them for the commands after (0600)')
    .addHelpText('after', '\nThe key comes from --key, KNARR_API_KEY, the first line of stdin when it is not a terminal,\nthen the config file or the admin.key of a knarr server on this machine.')
    .action(act(async (_flags: object, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const piped = !g.key && !process.env.KNARR_API_KEY && !process.stdin.isTTY ? await firstLineOfStdin() : '';
      const { client, out, settings } = context(cmd, piped);
      if (!settings.key) throw usageError('no API key: give --key, set KNARR_API_KEY, or pipe the key on stdin');
      await client.get('/v1/remotes', { limit: 1 });
      const path = configPath(process.env);
      writeConfigFile(path, { url: settings.url, key: settings.key });
      out.result({ url: settings.url, config: path }, () => [`logged in to ${settings.url}; saved in ${path} (readable by you only)`]);
      return 0;
    }));
}
