import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a user runs it: `node cli/start.mjs …` in its own process, stdout and stderr pipes
 * (not terminals). Asynchronous, never spawnSync: the knarr it talks to may run in this process.
 */
export function knarrCli(args: string[], env: Record<string, string | undefined>, input?: string): Promise<CliResult> {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
  const child = spawn(process.execPath, ['cli/start.mjs', ...args], { cwd: repo, env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** For assertion messages: everything the command said. */
export const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The CLI's environment under `dir`: nothing of the user's own setup leaks in (no config, no key, no local server's admin.key). */
export function isolatedCliEnv(dir: string): Record<string, string | undefined> {
  return {
    KNARR_CONFIG: join(dir, 'config', 'knarr.json'),
    KNARR_DATA_DIR: join(dir, 'no-server-here'),
    KNARR_API_URL: undefined,
    KNARR_API_KEY: undefined,
    XDG_CONFIG_HOME: join(dir, 'xdg'),
  };
}
