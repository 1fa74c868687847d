import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { startInProcessKnarr, testAdminKey, type InProcessKnarr } from '../support/knarr.js';
import { isolatedCliEnv, knarrCli, show } from './cli-process.js';

/**
 * Connecting a Google Drive account from the `knarr` command, as a person at a terminal does:
 * `remote add` prints the consent link and waits while the person approves it in a browser;
 * `remote reconnect` prints a new one; a token from `rclone authorize` is read from its file.
 */
describe('knarr remote add for an OAuth provider', () => {
  let dir: string;
  let k: InProcessKnarr;
  let emu: DriveEmulator;
  let env: Record<string, string | undefined>;
  const suffix = randomBytes(3).toString('hex');
  const endpoints = () => {
    const { apiUrl, authUrl, tokenUrl } = emu.remoteConfig();
    return ['--set', `apiUrl=${String(apiUrl)}`, '--set', `authUrl=${String(authUrl)}`, '--set', `tokenUrl=${String(tokenUrl)}`];
  };
  /** What a browser does with the link: the (emulated) consent page approves and sends it to knarr's callback. */
  const approve = async (link: string) => {
    const consent = await fetch(link, { redirect: 'manual' });
    const landed = await fetch(consent.headers.get('location')!);
    expect(landed.status, await landed.clone().text()).toBe(200);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-cli-clouds-'));
    emu = await startDriveEmulator();
    await emu.seed('Photos/a.jpg', 'jpeg');
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), oauthClients: { GOOGLE: { clientId: emu.clientId, clientSecret: emu.clientSecret } } });
    env = isolatedCliEnv(dir);
    const login = await knarrCli(['login', '--url', k.url], env, `${testAdminKey}\n`);
    expect(login.code, show(login)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await k?.stop();
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('remote add prints the consent link, waits for the approval, then says the remote is added', async () => {
    const name = `gd-${suffix}`;
    const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [key, v] of Object.entries(env)) if (v === undefined) delete fullEnv[key];
    const child = spawn(process.execPath, ['cli/start.mjs', 'remote', 'add', name, 'drive', ...endpoints()], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const link = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /(http\S+\/o\/oauth2\/auth\?\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.once('close', (code) => reject(new Error(`knarr exited ${code} before printing a link:\n${stderr}`)));
    });
    expect(stderr).toContain('open this link in a browser');
    await approve(link);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(new RegExp(`^added remote ${name} \\(drive\\)`));

    const ls = await knarrCli(['ls', `${name}:Photos`], env);
    expect(ls.code, show(ls)).toBe(0);
    expect(ls.stdout).toContain('a.jpg');

    // Reconnecting needs no secrets on the command line: a new link.
    const again = await knarrCli(['remote', 'reconnect', name], env);
    expect(again.code, show(again)).toBe(0);
    const relink = /(http\S+\/o\/oauth2\/auth\?\S+)/.exec(again.stderr)?.[1];
    expect(relink, show(again)).toBeDefined();
    await approve(relink!);
  }, 120_000);

  it('remote add takes the token `rclone authorize` printed, from its file; a half token is refused in one line', async () => {
    const tokenFile = join(dir, 'token.json');
    await writeFile(tokenFile, JSON.stringify(emu.issueToken()));
    const added = await knarrCli(['remote', 'add', `gd-pasted-${suffix}`, 'drive', ...endpoints(), '--set-file', `token=${tokenFile}`], env);
    expect(added.code, show(added)).toBe(0);
    expect(added.stdout + added.stderr).not.toMatch(/refresh_token|access_token|r-[A-Za-z0-9_-]{20}/);

    await writeFile(tokenFile, '{"access_token":"x"}');
    const refused = await knarrCli(['remote', 'add', `gd-half-${suffix}`, 'drive', ...endpoints(), '--set-file', `token=${tokenFile}`], env);
    expect(refused.code, show(refused)).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('rclone authorize');
  }, 120_000);
});
