import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startInProcessKnarr, testAdminKey, type InProcessKnarr } from '../support/knarr.js';
import { freePort } from '../support/ports.js';
import { describeTree, expectSameTree, makeTree } from '../support/tree.js';
import { isolatedCliEnv, knarrCli, show } from './cli-process.js';

describe('the knarr command line against a real knarr', () => {
  let dir: string;
  let k: InProcessKnarr;
  let env: Record<string, string | undefined>;
  const suffix = randomBytes(3).toString('hex');
  const src = `cli-src-${suffix}`;
  const dst = `cli-dst-${suffix}`;
  const run = (args: string[], input?: string) => knarrCli(args, env, input);
  /** Files in the source tree, the large one included. */
  let files: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-cli-'));
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    env = isolatedCliEnv(dir);
    // A large file and a bandwidth limit keep the copy going for seconds, so progress lines show on any machine.
    await makeTree(join(dir, 'src'), { files: 60, largeBytes: 4 * 1024 * 1024 });
    files = (await describeTree(join(dir, 'src'))).size;
    await mkdir(join(dir, 'dst'));
  });

  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('login checks the URL and key and writes them 0600; later commands need no flags', async () => {
    const r = await run(['login', '--url', k.url], `${testAdminKey}\n`);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(`logged in to ${k.url}`);
    expect((await stat(env.KNARR_CONFIG!)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(env.KNARR_CONFIG!, 'utf8'))).toEqual({ url: k.url, key: testAdminKey });

    const added = await run(['remote', 'add', src, 'local', '--root', join(dir, 'src')]);
    expect(added.code, show(added)).toBe(0);
    expect(added.stdout).toBe(`added remote ${src} (local) root=${join(dir, 'src')}\n`);
    const json = await run(['remote', 'add', dst, 'local', '--root', join(dir, 'dst'), '--json']);
    expect(json.code, show(json)).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: dst, type: 'local', config: { root: join(dir, 'dst') } });
  });

  it('copy runs in the foreground to completion, with progress lines and a summary', async () => {
    const r = await run(['copy', `${src}:`, `${dst}:copy`, '--bwlimit', '2M', '--interval', '0.2']);
    expect(r.code, show(r)).toBe(0);
    await expectSameTree(join(dir, 'src'), join(dir, 'dst', 'copy'));
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^run [0-9a-f-]{36} started \(job [0-9a-f-]{36}\); Ctrl-C stops watching, not the run$/);
    expect(lines.some((l) => /^copying \d+\/\d+ files, \d+(\.\d)? [KMG]?i?B\/\d+\.\d [KMG]iB/.test(l)), show(r)).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^completed in \\d+s: ${files} files copied \\(4\\.\\d MiB, .* average\\)$`));
    expect(r.stdout.match(/^completed/gm), 'one summary').toHaveLength(1);
    expect(r.stderr).toBe('');

    // The same copy again has nothing to do: rclone's exit code 9.
    const again = await run(['copy', `${src}:`, `${dst}:copy`, '--interval', '0.2']);
    expect(again.code, show(again)).toBe(9);
    expect(again.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^completed in \\d+s: nothing to do, ${files} skipped \\(already there\\)$`));

    // check, detached: only the run id on stdout; watching it gives the verdicts.
    const detached = await run(['check', `${src}:`, `${dst}:copy`, '--detach']);
    expect(detached.code, show(detached)).toBe(0);
    expect(detached.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const checked = await run(['run', detached.stdout.trim(), '--watch', '--interval', '0.2']);
    expect(checked.code, show(checked)).toBe(0);
    expect(checked.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^completed in \\d+s: ${files} match, 0 differ, 0 missing on the destination, 0 missing on the source$`));
  });

  it('--json prints the final run and nothing else on stdout', async () => {
    const r = await run(['copy', `${src}:hostile`, `${dst}:json`, '--json', '--interval', '0.2']);
    expect(r.code, show(r)).toBe(0);
    const final = JSON.parse(r.stdout);
    expect(final).toMatchObject({ state: 'completed', files: { done: 17, failed: 0 } });

    const shown = await run(['run', final.id, '--json']);
    expect(shown.code, show(shown)).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: final.id, state: 'completed' });
  });

  it('a dry run prints its plan and digest and exits 6; approve and run --watch complete it', async () => {
    const r = await run(['copy', `${src}:`, `${dst}:dry`, '--dry-run', '--interval', '0.2']);
    expect(r.code, show(r)).toBe(6);
    const runId = /^run ([0-9a-f-]{36}) started/.exec(r.stdout)?.[1];
    expect(runId, show(r)).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`^ {2}copy +${files} +4\\.\\d MiB$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}digest sha256:[0-9a-f]+$/m);
    expect(r.stdout).toContain(`"knarr approve ${runId}" executes exactly this plan`);
    const digest = /digest (sha256:[0-9a-f]+)/.exec(r.stdout)![1];

    const shown = await run(['run', runId!]);
    expect(shown.code, show(shown)).toBe(6);
    expect(shown.stdout).toMatch(/^state +awaiting_approval/m);

    const approved = await run(['approve', runId!]);
    expect(approved.code, show(approved)).toBe(0);
    expect(approved.stdout).toContain(`approved plan ${digest} of run ${runId}`);

    const watched = await run(['run', runId!, '--watch', '--interval', '0.2']);
    expect(watched.code, show(watched)).toBe(0);
    expect(watched.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^completed in .*: ${files} files copied`));
    await expectSameTree(join(dir, 'src'), join(dir, 'dst', 'dry'));
  });

  it('an unknown remote is one line and exit 3; a bad flag is one line and exit 2', async () => {
    const unknown = await run(['copy', 'no-such-remote:', `${dst}:x`]);
    expect(unknown.code, show(unknown)).toBe(3);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^knarr: no remote named "no-such-remote"[^\n]*\n$/);

    const bad = await run(['copy', `${src}:`, `${dst}:x`, '--no-such-flag']);
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr).toBe('knarr: unknown option \'--no-such-flag\'\n');

    const invalid = await run(['copy', `${src}:`, `${dst}:x`, '--bwlimit', '10X', '--detach']);
    expect(invalid.code, show(invalid)).toBe(2);
    expect(invalid.stderr).toMatch(/^knarr: options\.bwlimit: "10X" is not a size[^\n]*\n$/);

    const noRun = await run(['run', '00000000-0000-4000-8000-00000000dead']);
    expect(noRun.code, show(noRun)).toBe(3);
    expect(noRun.stderr).toMatch(/^knarr: no run with id[^\n]*\n$/);
  });

  it('a server that is not there is one line naming the URL, exit 5', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['runs', '--url', url]);
    expect(r.code, show(r)).toBe(5);
    expect(r.stderr).toBe(`knarr: cannot reach knarr at ${url} (ECONNREFUSED): start it with "knarr server", or give the right --url (or KNARR_API_URL)\n`);
  });

  // The endpoints below (GET /v1/remotes as pages, DELETE /v1/remotes/{name}, GET
  // /v1/remotes/{name}/ls, GET /v1/runs) are the API's newer half.
  it('remote ls lists every remote; remote rm removes one', async () => {
    const extra = `cli-extra-${suffix}`;
    const added = await run(['remote', 'add', extra, 'local', '--root', join(dir, 'dst')]);
    expect(added.code, show(added)).toBe(0);
    const r = await run(['remote', 'ls']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^NAME +TYPE +CONFIG$/m);
    expect(r.stdout).toMatch(new RegExp(`^${src} +local +root=${join(dir, 'src')}$`, 'm'));
    const all = JSON.parse((await run(['remote', 'ls', '--json'])).stdout) as { name: string }[];
    expect(all.map((x) => x.name)).toEqual(expect.arrayContaining([src, dst, extra]));

    const removed = await run(['remote', 'rm', extra]);
    expect(removed.code, show(removed)).toBe(0);
    expect((await run(['remote', 'ls'])).stdout).not.toContain(extra);
    const gone = await run(['remote', 'rm', extra]);
    expect(gone.code, show(gone)).toBe(3);
  });

  it('ls lists a folder: size, mtime, name, folders with a slash', async () => {
    const r = await run(['ls', `${src}:`]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^ +0 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}empty file\.bin$/m);
    expect(r.stdout).toMatch(/ hostile\/$/m);
    const json = JSON.parse((await run(['ls', `${src}:hostile`, '--json'])).stdout) as { name: string; isDir: boolean }[];
    expect(json).toHaveLength(17);
    const missing = await run(['ls', 'no-such-remote:']);
    expect(missing.code, show(missing)).toBe(3);
  });

  it('runs lists the latest runs', async () => {
    const r = await run(['runs', '--limit', '3']);
    expect(r.code, show(r)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +STATE +PHASE +FILES +BYTES +STARTED$/);
    expect(lines).toHaveLength(4);
    const json = JSON.parse((await run(['runs', '--limit', '2', '--json'])).stdout) as { id: string }[];
    expect(json).toHaveLength(2);
  });
});
