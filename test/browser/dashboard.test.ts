import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, testAdminKey, waitForRun } from '../support/knarr.js';
import { ensureStopped, startEmbeddedServer, type KnarrProcess } from '../support/processes.js';
import { desktopViewport, launchChromium, pageChecks, phoneViewport, watchedPage, type WatchedPage } from '../support/browser.js';

const kib = 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const screenshots = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const phone = phoneViewport;
const desktop = desktopViewport;

/**
 * Issue 11's scenario in real Chromium against a running `knarr server` (its own process, as
 * `npm start` runs it: embedded Temporal dev server and Temporal Web, embedded PostgreSQL) with the
 * Jottacloud emulator and a local folder: everything is done
 * through the page, and each step waits for what the page shows (runs are paced by their
 * bandwidth limit, never by sleeps). Every page is checked for console errors and axe-core's
 * serious violations.
 */
describe('the web dashboard', () => {
  let server: KnarrProcess;
  let base: string;
  let temporalWeb: string;
  let emu: JottaEmulator;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let dir: string;
  let account: string;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-dashboard-'));
    for (let i = 0; i < 24; i++) {
      const rel = `album-${i % 3}/photo-${i}.jpg`;
      const data = randomBytes(32 * kib);
      files.set(rel, data);
      await mkdir(join(dir, 'photos', `album-${i % 3}`), { recursive: true });
      await writeFile(join(dir, 'photos', rel), data);
    }
    emu = await startJottacloudEmulator();
    account = emu.addAccount(`dash${randomBytes(3).toString('hex')}`);
    const embedded = await startEmbeddedServer(dir);
    server = embedded.proc;
    base = embedded.base;
    temporalWeb = `http://127.0.0.1:${embedded.ports.ui}`;
    browser = await launchChromium();
    w = await watchedPage(browser, { viewport: desktop, locale: 'en-GB', timezoneId: 'Europe/Oslo' });
    page = w.page;
  });
  afterAll(async () => {
    await browser?.close();
    await ensureStopped(server);
    await emu?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  // A failed step says what the page showed and logged, which the assertion alone does not.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !page) return;
    console.error(`page at ${page.url()}; problems: ${JSON.stringify(w.problems())}\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}\nknarr server's last output:\n${server.output().slice(-3000)}`);
  });
  const { poll, clean, heading } = pageChecks(() => w);
  /** The README's screenshots, taken when KNARR_SCREENSHOTS=1 (`KNARR_SCREENSHOTS=1 npx vitest run test/browser`), so a test run leaves the tree as it was. */
  const shot = async (name: string) => {
    if (process.env.KNARR_SCREENSHOTS === '1') await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  };
  const runIdOfPage = () => decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
  const pick = async (legend: string, remote: string, folders: string[] = []) => {
    const box = page.getByRole('group', { name: legend });
    await box.getByLabel('Cloud').selectOption(remote);
    for (const f of folders) await box.getByRole('button', { name: new RegExp(`^📁 ${f}$`) }).click();
    await poll(() => box.locator('.picked code').textContent()).toBe(`${remote}:${folders.join('/')}`);
  };
  const expectAllFilesAt = (prefix: string) => {
    const stored = emu.files(account).filter((f) => !f.deleted && f.path.startsWith(prefix));
    expect(stored.map((f) => f.path.slice(prefix.length)).sort()).toEqual([...files.keys()].sort());
    for (const f of stored) expect(f.md5, f.path).toBe(md5(files.get(f.path.slice(prefix.length))!));
  };

  it('signs in with an API key, and the key is kept nowhere in the browser', async () => {
    await page.goto(`${base}/`);
    await poll(() => heading('Sign in to knarr').isVisible()).toBe(true);
    await clean('the sign-in page');
    await shot('signin');
    await page.getByLabel('API key').fill('knarr_not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    w.expect({ method: 'POST', path: '/v1/session', status: 401 });
    await poll(() => page.getByRole('alert').textContent()).toMatch(/not valid/);
    await page.getByLabel('API key').fill(testAdminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    const stored = await page.evaluate('JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])');
    expect(stored).not.toContain(testAdminKey.slice(10));
    expect(stored).toBe('[[],[],""]');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'knarr_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('adds a Jottacloud remote with a Personal Login Token and a local folder, and shows their usage', async () => {
    await page.getByLabel('Provider').selectOption('jottacloud');
    await poll(() => page.getByText('Open Account → Security.').isVisible()).toBe(true);
    await page.getByLabel('Name in knarr').fill('jotta');
    await page.getByLabel('Personal Login Token').fill(emu.issueLoginToken(account));
    await page.getByText('Advanced').click();
    await page.getByLabel('JFS endpoint').fill(emu.jfsUrl);
    await page.getByLabel('API endpoint').fill(emu.apiUrl);
    await shot('add-jottacloud');
    await page.getByRole('button', { name: 'Add' }).click();
    const jotta = page.locator('li.cloud', { has: page.getByRole('heading', { name: 'jotta' }) });
    await poll(() => jotta.locator('.state').textContent(), { timeout: 60_000 }).toBe('ok');
    await poll(() => jotta.textContent()).toMatch(/Jottacloud.*used/);

    await page.getByLabel('Provider').selectOption('local');
    await page.getByLabel('Name in knarr').fill('photos');
    await page.getByLabel('Folder path').fill(join(dir, 'photos'));
    await page.getByRole('button', { name: 'Add' }).click();
    const photos = page.locator('li.cloud', { has: page.getByRole('heading', { name: 'photos' }) });
    await poll(() => photos.locator('.state').textContent(), { timeout: 60_000 }).toBe('ok');
    await clean('the clouds page');
    await shot('clouds');
    await page.setViewportSize(phone);
    await shot('clouds-phone');
    await page.setViewportSize(desktop);
  });

  it('browses a folder, previews a copy as counts and a list, approves it, and the bar reaches 100%', async () => {
    await page.locator('li.cloud', { has: page.getByRole('heading', { name: 'photos' }) }).getByRole('link', { name: 'Browse' }).click();
    await poll(() => heading('Browse').isVisible()).toBe(true);
    await page.getByRole('button', { name: '📁 album-1' }).click();
    await poll(() => page.getByText('photo-1.jpg', { exact: true }).isVisible()).toBe(true);
    await clean('the browse page');

    await page.getByRole('link', { name: 'New transfer' }).first().click();
    await poll(() => heading('New transfer').isVisible()).toBe(true);
    await pick('From (source)', 'photos');
    await pick('To (destination)', 'jotta');
    await page.getByLabel('Into a new folder there (optional)').fill('backup');
    await page.getByText('Filters').click();
    await page.getByRole('checkbox', { name: 'Photos' }).check();
    await clean('the new transfer page');
    await shot('transfer');
    await page.getByRole('button', { name: 'Preview' }).click();

    await poll(() => page.getByRole('button', { name: 'Approve and run' }).isVisible(), { timeout: 60_000 }).toBe(true);
    const preview = page.getByRole('region', { name: 'Preview' });
    await poll(() => preview.getByRole('definition').first().textContent()).toBe('24 files, 768 KiB');
    expect(await preview.locator('ul.paths li').count()).toBe(20);
    await clean('a preview');
    await shot('preview');
    await page.getByRole('button', { name: 'Approve and run' }).click();
    const bar = page.getByRole('progressbar', { name: 'Run progress' });
    await poll(() => bar.getAttribute('value'), { timeout: 120_000 }).toBe('100');
    await poll(() => page.locator('.state').first().textContent()).toBe('completed');
    expectAllFilesAt('/Jotta/Archive/backup/');
    // The run's own page in the Temporal Web that `knarr server` started.
    const run = await api(base, 'GET', `/v1/runs/${runIdOfPage()}`);
    const temporalLink = await page.getByRole('link', { name: 'Open in Temporal Web' }).getAttribute('href');
    expect(temporalLink).toBe(`${temporalWeb}/namespaces/default/workflows/${encodeURIComponent(run.body.workflowId)}`);
    expect((await fetch(temporalLink!)).status).toBe(200);
    await clean('a completed run');
    await shot('run');
  });

  it('saves a daily schedule in the browser\'s time zone and shows its next run time', async () => {
    await page.getByRole('link', { name: 'New transfer' }).first().click();
    await pick('From (source)', 'photos', ['album-0']);
    await pick('To (destination)', 'jotta');
    await page.getByLabel('Into a new folder there (optional)').fill('nightly');
    await page.getByLabel('Schedule name').fill('nightly-photos');
    await page.getByLabel('Time of day').fill('03:30');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await poll(() => heading('Schedules').isVisible(), { timeout: 30_000 }).toBe(true);
    const card = page.locator('li.card', { has: page.getByRole('heading', { name: 'nightly-photos' }) });
    await poll(() => card.textContent()).toContain('every day at 03:30 (Europe/Oslo)');
    const next = card.locator('.next time');
    await poll(() => next.textContent()).toMatch(/03:30/);
    const at = new Date((await next.getAttribute('datetime'))!);
    expect(at.getTime()).toBeGreaterThan(Date.now());
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Oslo', hour: '2-digit', minute: '2-digit' }).format(at)).toBe('03:30');
    await clean('the schedules page');
    await shot('schedules');
  });

  it('a revoked token: the run page says reconnect, a new token in its form, and the run finishes', async () => {
    await page.getByRole('link', { name: 'New transfer' }).first().click();
    await pick('From (source)', 'photos');
    await pick('To (destination)', 'jotta');
    await page.getByLabel('Into a new folder there (optional)').fill('again');
    await page.getByText('Options').click();
    // 768 KiB at 64 KiB/s: about twelve seconds, so the revocation lands mid-run on any machine.
    await page.getByLabel('Bandwidth limit (per second)').fill('64K');
    await page.getByLabel('Files at once').fill('2');
    await page.getByRole('button', { name: 'Start now' }).click();
    await poll(() => page.getByRole('progressbar', { name: 'Run progress' }).isVisible(), { timeout: 30_000 }).toBe(true);
    const runId = runIdOfPage();
    await waitForRun(base, runId, 120_000, (r) => r.state === 'copying' && r.bytes.done >= 128 * kib);
    await page.getByRole('link', { name: 'Runs' }).click();
    await poll(() => page.getByRole('progressbar', { name: `Progress of run ${runId.slice(0, 8)}` }).isVisible()).toBe(true);
    await clean('the runs page');
    await shot('runs');
    await page.goto(`${base}/#/runs/${runId}`);

    const res = await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ revokeSessions: account }) });
    expect(res.status).toBe(200);
    await poll(() => page.locator('.notice .words').textContent(), { timeout: 120_000 }).toMatch(/^Reconnect your Jottacloud account/);
    await poll(() => page.locator('.state').first().textContent()).toBe('needs reconnect');
    await clean('a run that needs a reconnect');
    await shot('run-needs-reconnect');
    await page.setViewportSize(phone);
    await shot('run-needs-reconnect-phone');
    await page.setViewportSize(desktop);

    await page.getByLabel('New Personal Login Token').fill(emu.issueLoginToken(account));
    await page.getByRole('button', { name: 'Reconnect Jottacloud' }).click();
    const bar = page.getByRole('progressbar', { name: 'Run progress' });
    await poll(() => bar.getAttribute('value'), { timeout: 180_000 }).toBe('100');
    await poll(() => page.locator('.state').first().textContent()).toBe('completed');
    expectAllFilesAt('/Jotta/Archive/again/');
    await poll(() => page.locator('ol.events').textContent()).toContain('reconnected');
    await clean('the run after the reconnect');
  });

  it('signs out, and a second user signs in and sees none of the first user\'s clouds', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await poll(() => heading('Sign in to knarr').isVisible()).toBe(true);
    expect((await page.context().cookies()).find((c) => c.name === 'knarr_session')).toBeUndefined();
    // The cookie is gone from the server too: the API refuses the old session.
    const user = await api(base, 'POST', '/v1/users', { name: `bob-${randomBytes(3).toString('hex')}` });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const key = await api(base, 'POST', `/v1/users/${user.body.id}/keys`, {});
    expect(key.status, JSON.stringify(key.body)).toBe(201);

    await page.getByLabel('API key').fill(key.body.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    await poll(() => page.getByText('No clouds yet: add one below.').isVisible()).toBe(true);
    expect(await page.locator('li.cloud').count()).toBe(0);
    await page.getByRole('link', { name: 'Runs' }).click();
    await poll(() => page.getByText('No runs yet.').isVisible()).toBe(true);
    await page.getByRole('link', { name: 'Schedules' }).click();
    await poll(() => page.getByText('No schedules yet', { exact: false }).isVisible()).toBe(true);
    await clean('the second user\'s pages');
  });
});
