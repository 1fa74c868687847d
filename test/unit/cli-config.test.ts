import { mkdtemp, rm, stat, writeFile, chmod, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, resolveSettings, writeConfigFile } from '../../cli/config.js';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'knarr-cli-config-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

/** An environment with nothing of the user's: no HOME config, no data dir key, unless a test adds them. */
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ HOME: join(dir, 'home'), KNARR_DATA_DIR: join(dir, 'data'), ...extra });

async function configFile(content: object, mode = 0o600): Promise<string> {
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(content));
  await chmod(path, mode);
  return path;
}

describe('where the config file is', () => {
  it('is KNARR_CONFIG, else under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ KNARR_CONFIG: '/x/c.json', XDG_CONFIG_HOME: '/xdg', HOME: '/h' })).toBe('/x/c.json');
    expect(configPath({ XDG_CONFIG_HOME: '/xdg', HOME: '/h' })).toBe('/xdg/knarr/config.json');
    expect(configPath({ HOME: '/h' })).toBe('/h/.config/knarr/config.json');
  });
});

describe('URL and key: the first source that has one wins', () => {
  it('takes flags over the environment over the config file', async () => {
    const file = await configFile({ url: 'http://file:1', key: 'file-key' });
    const e = env({ KNARR_CONFIG: file, KNARR_API_URL: 'http://env:2', KNARR_API_KEY: 'env-key' });
    expect(resolveSettings({ flags: { url: 'http://flag:3', key: 'flag-key' }, env: e })).toEqual({
      url: 'http://flag:3', key: 'flag-key', from: { url: '--url', key: '--key' },
    });
    expect(resolveSettings({ flags: {}, env: e })).toEqual({
      url: 'http://env:2', key: 'env-key', from: { url: 'KNARR_API_URL', key: 'KNARR_API_KEY' },
    });
    expect(resolveSettings({ flags: {}, env: env({ KNARR_CONFIG: file }) })).toEqual({
      url: 'http://file:1', key: 'file-key', from: { url: file, key: file },
    });
  });

  it('resolves URL and key each on its own', async () => {
    const file = await configFile({ url: 'http://file:1', key: 'file-key' });
    const s = resolveSettings({ flags: { key: 'flag-key' }, env: env({ KNARR_CONFIG: file }) });
    expect(s).toMatchObject({ url: 'http://file:1', key: 'flag-key' });
  });

  it('falls back to the local server: its port and the admin.key of its data directory', async () => {
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'admin.key'), 'knarr_local-admin\n', { mode: 0o600 });
    expect(resolveSettings({ flags: {}, env: env({ KNARR_API_PORT: '9191' }) })).toEqual({
      url: 'http://127.0.0.1:9191', key: 'knarr_local-admin', from: { url: 'the default', key: join(dir, 'data', 'admin.key') },
    });
  });

  it('has no key when nothing gives one, and the default URL', () => {
    expect(resolveSettings({ flags: {}, env: env() })).toMatchObject({ url: 'http://127.0.0.1:8080', key: null });
  });

  it('warns once, and still uses the key, when the config file is readable by others', async () => {
    const file = await configFile({ key: 'shared-key' }, 0o644);
    const warnings: string[] = [];
    const s1 = resolveSettings({ flags: {}, env: env({ KNARR_CONFIG: file }), warn: (l) => warnings.push(l) });
    resolveSettings({ flags: {}, env: env({ KNARR_CONFIG: file }), warn: (l) => warnings.push(l) });
    expect(s1.key).toBe('shared-key');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/others can read it.*chmod 600/);
  });

  it('refuses a config file that is not JSON, and a URL that is not one, in one line', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, '{nope');
    expect(() => resolveSettings({ flags: {}, env: env({ KNARR_CONFIG: path }) })).toThrow(/is not JSON/);
    expect(() => resolveSettings({ flags: { url: 'localhost:8080', key: 'k' }, env: env() })).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

describe('writing the config file', () => {
  it('writes it 0600 in a 0700 folder, whatever the umask, and replaces an old one', async () => {
    const path = join(dir, 'cfg', 'knarr', 'config.json');
    const umask = process.umask(0o000);
    try {
      writeConfigFile(path, { url: 'http://a:1', key: 'k1' });
      writeConfigFile(path, { url: 'http://b:2', key: 'k2' });
    } finally {
      process.umask(umask);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'cfg', 'knarr'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ url: 'http://b:2', key: 'k2' });
    expect(resolveSettings({ flags: {}, env: env({ KNARR_CONFIG: path }) })).toMatchObject({ url: 'http://b:2', key: 'k2' });
  });
});
