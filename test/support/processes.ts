import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface KnarrProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `knarr <role>` as its own process, exactly as a user or a container would. */
export function spawnKnarr(role: 'server' | 'api' | 'worker', env: Record<string, string | undefined>): KnarrProcess {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
  // One process, as `npm start` runs it: a tsx wrapper process would survive a SIGKILL of its child's parent.
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', role], { cwd: repo, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`knarr ${role} did not print ${pattern} in ${timeoutMs} ms; output:\n${out}`)); }, timeoutMs);
        const onExit = () => { cleanup(); reject(new Error(`knarr ${role} exited before printing ${pattern}; output:\n${out}`)); };
        const cleanup = () => { clearTimeout(timer); listeners.delete(check); child.off('exit', onExit); };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Stops a process if it is still running (test cleanup). */
export async function ensureStopped(p: KnarrProcess | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await p.exited;
}
