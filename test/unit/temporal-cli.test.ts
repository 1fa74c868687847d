import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedBuildPath, findTemporalCli, TEMPORAL_CLI_OPTIONS } from '../../runtime/temporalCli.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/install-temporal-cli.sh', import.meta.url));
// Enough for the install script's own tools (mkdir, grep, mktemp…), and no go or temporal.
const SYSTEM_PATH = '/usr/bin:/bin';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knarr-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function executable(path: string, body: string): Promise<string> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

const fakeTemporal = (path: string) => executable(path, 'echo "temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)"');

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { HOME: dir, KNARR_CACHE_DIR: join(dir, 'cache'), PATH: '', ...extra };
}

describe('findTemporalCli', () => {
  it('returns TEMPORAL_CLI_PATH first', async () => {
    const cli = await fakeTemporal(join(dir, 'my-temporal'));
    await mkdir(join(dir, 'bin'));
    await fakeTemporal(join(dir, 'bin', 'temporal'));
    await expect(findTemporalCli({ env: env({ TEMPORAL_CLI_PATH: cli, PATH: join(dir, 'bin') }), allowBuild: false })).resolves.toBe(cli);
  });

  it('refuses a TEMPORAL_CLI_PATH that does not exist instead of falling back', async () => {
    await mkdir(join(dir, 'bin'));
    await fakeTemporal(join(dir, 'bin', 'temporal'));
    const missing = join(dir, 'nope', 'temporal');
    await expect(findTemporalCli({ env: env({ TEMPORAL_CLI_PATH: missing, PATH: join(dir, 'bin') }), allowBuild: false })).rejects.toThrow(
      `TEMPORAL_CLI_PATH=${missing} does not exist`,
    );
  });

  it('refuses a TEMPORAL_CLI_PATH that is not executable', async () => {
    const file = join(dir, 'temporal');
    await writeFile(file, 'not a program');
    await expect(findTemporalCli({ env: env({ TEMPORAL_CLI_PATH: file }), allowBuild: false })).rejects.toThrow('is not executable');
  });

  it('finds temporal on PATH, skipping a program of that name that is not the CLI', async () => {
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await executable(join(dir, 'a', 'temporal'), 'echo "something else"');
    const real = await fakeTemporal(join(dir, 'b', 'temporal'));
    await expect(findTemporalCli({ env: env({ PATH: `${join(dir, 'a')}:${join(dir, 'b')}` }), allowBuild: false })).resolves.toBe(real);
    // With only the impostor on PATH and an empty cache there is nothing to find.
    await expect(findTemporalCli({ env: env({ PATH: join(dir, 'a') }), allowBuild: false })).rejects.toThrow(TEMPORAL_CLI_OPTIONS);
  });

  it('finds the cached build', async () => {
    const e = env({});
    const cached = cachedBuildPath(e);
    expect(cached).toBe(join(dir, 'cache', 'bin', 'temporal-1.5.1.d', 'temporal'));
    await mkdir(join(cached, '..'), { recursive: true });
    await fakeTemporal(cached);
    await expect(findTemporalCli({ env: e, allowBuild: false })).resolves.toBe(cached);
  });

  it('defaults the cache to ~/.cache/knarr', () => {
    expect(cachedBuildPath({ HOME: '/home/x' })).toBe('/home/x/.cache/knarr/bin/temporal-1.5.1.d/temporal');
  });

  it('with nothing found and no build allowed, throws one line naming the options', async () => {
    const err = await findTemporalCli({ env: env({}), allowBuild: false }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain(TEMPORAL_CLI_OPTIONS);
    expect(message).toMatch(/TEMPORAL_CLI_PATH/);
    expect(message).toMatch(/on PATH/);
    expect(message).toMatch(/Go >= 1\.25/);
  });

  it('builds with go install into the cache, reporting progress', async () => {
    await mkdir(join(dir, 'gobin'));
    // A stand-in go: the real build takes minutes and is covered by CI running the script.
    await executable(
      join(dir, 'gobin', 'go'),
      [
        'if [ "$1" = version ]; then echo "go version go1.26.8 linux/amd64"; exit 0; fi',
        'echo "go: downloading example.com/x v1.0.0" >&2',
        `printf '#!/bin/sh\\necho "temporal version 0.0.0-DEV"\\n' > "$GOBIN/temporal"`,
        'chmod +x "$GOBIN/temporal"',
      ].join('\n'),
    );
    const lines: string[] = [];
    const e = env({ PATH: `${join(dir, 'gobin')}:${SYSTEM_PATH}` });
    await expect(findTemporalCli({ env: e, log: (l) => lines.push(l), allowDownload: false })).resolves.toBe(cachedBuildPath(e));
    expect(lines[0]).toMatch(/building the Temporal CLI with go install \(first time only, takes a few minutes\)/);
  });

  it('reports a failed go install on one line with the options', async () => {
    await mkdir(join(dir, 'gobin'));
    await executable(join(dir, 'gobin', 'go'), 'if [ "$1" = version ]; then echo "go version go1.26.8 linux/amd64"; exit 0; fi\necho "go: module lookup disabled" >&2\nexit 1');
    const e = env({ PATH: `${join(dir, 'gobin')}:${SYSTEM_PATH}` });
    const err = (await findTemporalCli({ env: e, allowDownload: false }).catch((x: Error) => x)) as Error;
    expect(err.message).toContain('go install failed: go: module lookup disabled');
    expect(err.message).toContain(TEMPORAL_CLI_OPTIONS);
    expect(err.message).not.toContain('\n');
  });
});

describe('scripts/install-temporal-cli.sh', () => {
  function runScript(extra: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('/bin/bash', [SCRIPT], { env: { HOME: dir, KNARR_CACHE_DIR: join(dir, 'cache'), PATH: SYSTEM_PATH, ...extra } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('prints TEMPORAL_CLI_PATH on the last line', async () => {
    const cli = await fakeTemporal(join(dir, 'temporal'));
    const { code, stdout } = await runScript({ TEMPORAL_CLI_PATH: cli });
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').at(-1)).toBe(cli);
  });

  it('prints the cached build', async () => {
    const cached = join(dir, 'cache', 'bin', 'temporal-1.5.1.d', 'temporal');
    await mkdir(join(cached, '..'), { recursive: true });
    await fakeTemporal(cached);
    const { code, stdout } = await runScript({});
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(cached);
  });

  it('without go names the options and fails', async () => {
    const { code, stdout, stderr } = await runScript({});
    expect(code).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/TEMPORAL_CLI_PATH.*on PATH.*Go >= 1\.25/);
  });

  it('builds through a temporary directory, leaving only the binary', async () => {
    await mkdir(join(dir, 'gobin'));
    await executable(
      join(dir, 'gobin', 'go'),
      [
        'if [ "$1" = version ]; then echo "go version go1.26.8 linux/amd64"; exit 0; fi',
        'case "$GOBIN" in */.build.*) ;; *) echo "GOBIN is not a temp dir: $GOBIN" >&2; exit 1;; esac',
        `printf '#!/bin/sh\\necho "temporal version 0.0.0-DEV"\\n' > "$GOBIN/temporal"`,
        'chmod +x "$GOBIN/temporal"',
      ].join('\n'),
    );
    const { code, stdout, stderr } = await runScript({ PATH: `${join(dir, 'gobin')}:${SYSTEM_PATH}` });
    expect(stderr).toMatch(/first build takes several minutes/);
    expect(code).toBe(0);
    const built = join(dir, 'cache', 'bin', 'temporal-1.5.1.d', 'temporal');
    expect(stdout.trim().split('\n').at(-1)).toBe(built);
    expect((await readdir(join(built, '..'))).filter((f) => f.startsWith('.build.'))).toEqual([]);
  });
});
