import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { api, startInProcessKnarr, testAdminKey, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { desktopViewport, launchChromium, pageChecks, phoneViewport, seriousA11yViolations, watchedPage, type WatchedPage } from '../support/browser.js';

const kib = 1024;
const phone = phoneViewport;
const desktop = desktopViewport;

/**
 * What dashboard.test.ts leaves out, each done as a person does it in real Chromium: connecting
 * Google Drive through its consent page (the Drive emulator), a run's pause, resume, cancel and
 * retry of its failed files, the report as CSV, a schedule's run now, pause, resume and delete,
 * removing a cloud, signing in with the keyboard only, and the New transfer page on a phone.
 * Runs are paced by their bandwidth limit, never by sleeps; every page is checked for console
 * errors and axe-core's serious violations.
 */
describe('the web dashboard: actions', () => {
  let k: InProcessKnarr;
  let db: TestDatabase;
  let emu: DriveEmulator;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let dir: string;
  const sources: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-dashboard-actions-'));
    await mkdir(join(dir, 'src/a'), { recursive: true });
    await mkdir(join(dir, 'src/zzz'), { recursive: true });
    await mkdir(join(dir, 'dst'), { recursive: true });
    for (let i = 0; i < 40; i++) {
      await writeFile(join(dir, 'src/a', `f-${String(i).padStart(2, '0')}.bin`), Buffer.alloc(16 * kib, i));
      sources.push(`a/f-${String(i).padStart(2, '0')}.bin`);
    }
    // Sorts last: a run paced at 64 KiB/s, one file at a time, reaches it seconds after it starts.
    await writeFile(join(dir, 'src/zzz/victim.bin'), Buffer.alloc(20 * kib, 1));
    sources.push('zzz/victim.bin');
    emu = await startDriveEmulator();
    await emu.seed('Photos/a.jpg', 'jpeg bytes');
    db = await createTestDatabase('knarr_dash_actions');
    k = await startInProcessKnarr({ databaseUrl: db.url, oauthClients: { GOOGLE: { clientId: emu.clientId, clientSecret: emu.clientSecret } } });
    for (const name of ['src', 'dst']) {
      const r = await api(k.url, 'POST', '/v1/remotes', { name, type: 'local', config: { root: join(dir, name) } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    browser = await launchChromium();
    w = await watchedPage(browser, { viewport: desktop, locale: 'en-GB', timezoneId: 'Europe/Oslo' });
    page = w.page;
  });
  afterAll(async () => {
    await browser?.close();
    await k?.stop();
    await db?.drop();
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !page) return;
    console.error(`page at ${page.url()}; problems: ${JSON.stringify(w.problems())}\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  const { poll, clean, heading } = pageChecks(() => w);
  const runIdOfPage = () => decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
  const state = () => page.locator('.state').first().textContent();
  const pick = async (legend: string, remote: string) => {
    const box = page.getByRole('group', { name: legend });
    await box.getByLabel('Cloud').selectOption(remote);
    await poll(() => box.locator('.picked code').textContent()).toBe(`${remote}:`);
  };
  /** From New transfer: src → dst:<folder>, paced, started at once; answers the run's id once it copies. */
  const startPaced = async (folder: string, bwlimit: string) => {
    await page.getByRole('link', { name: 'New transfer' }).first().click();
    await poll(() => heading('New transfer').isVisible()).toBe(true);
    await pick('From (source)', 'src');
    await pick('To (destination)', 'dst');
    await page.getByLabel('Into a new folder there (optional)').fill(folder);
    await page.getByText('Options').click();
    await page.getByLabel('Bandwidth limit (per second)').fill(bwlimit);
    await page.getByLabel('Files at once').fill('1');
    await page.getByRole('button', { name: 'Start now' }).click();
    await poll(() => page.getByRole('progressbar', { name: 'Run progress' }).isVisible()).toBe(true);
    const runId = runIdOfPage();
    await waitForRun(k.url, runId, 60_000, (r) => r.state === 'copying');
    return runId;
  };
  const noSideScroll = () => page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');

  it('signs in with the keyboard only, and the focused element shows it', async () => {
    await page.goto(`${k.url}/`);
    await poll(() => heading('Sign in to knarr').isVisible()).toBe(true);
    const focused = () => page.evaluate('document.activeElement?.id ?? ""');
    for (let i = 0; i < 5 && (await focused()) !== 'signin-key'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe('signin-key');
    const ring = () => page.evaluate(`(() => { const s = getComputedStyle(document.activeElement); return { outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow }; })()`) as Promise<{ outline: string; width: number; shadow: string }>;
    const visibleRing = (r: { outline: string; width: number; shadow: string }) => (r.outline !== 'none' && r.width > 0) || r.shadow !== 'none';
    expect(visibleRing(await ring()), JSON.stringify(await ring())).toBe(true);
    await clean('the sign-in page');
    await page.keyboard.type(testAdminKey);
    await page.keyboard.press('Enter');
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    await poll(() => page.locator('li.cloud').count()).toBe(2);
    // The page starts at its heading (focused, without a ring: it is not a control); Tab goes on
    // into the page, Shift+Tab back to the top bar; each control shows a ring.
    await poll(() => page.evaluate('document.activeElement?.tagName')).toBe('H1');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Browse');
    expect(visibleRing(await ring()), JSON.stringify(await ring())).toBe(true);
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Sign out');
    expect(visibleRing(await ring()), JSON.stringify(await ring())).toBe(true);
    // The navigation works from the keyboard: Shift+Tab to Schedules, Enter.
    for (let i = 0; i < 8 && (await page.evaluate('document.activeElement?.textContent')) !== 'Schedules'; i++) await page.keyboard.press('Shift+Tab');
    expect(visibleRing(await ring()), JSON.stringify(await ring())).toBe(true);
    await page.keyboard.press('Enter');
    await poll(() => heading('Schedules').isVisible()).toBe(true);
    // The route change moves focus to the new page's heading once it has rendered: Tab from there.
    await poll(() => page.evaluate('document.activeElement?.tagName')).toBe('H1');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('New schedule');
    expect(visibleRing(await ring()), JSON.stringify(await ring())).toBe(true);
    await page.getByRole('link', { name: 'Clouds' }).click();
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    await clean('the clouds page, reached by keyboard');
  });

  it('connects Google Drive through its consent page from the Clouds page', async () => {
    await page.getByLabel('Provider').selectOption('drive');
    await page.getByLabel('Name in knarr').fill('gdrive');
    await page.getByText('Advanced').click();
    const { apiUrl, authUrl, tokenUrl } = emu.remoteConfig() as { apiUrl: string; authUrl: string; tokenUrl: string };
    await page.getByLabel('API endpoint').fill(apiUrl);
    await page.getByLabel('Authorization endpoint').fill(authUrl);
    await page.getByLabel('Token endpoint').fill(tokenUrl);
    await page.getByRole('button', { name: 'Connect Google Drive' }).click();
    const link = page.getByRole('link', { name: 'Continue at Google Drive' });
    await poll(() => link.isVisible()).toBe(true);
    await clean('the clouds page waiting for the consent page');

    const [popup] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
    const popupErrors: string[] = [];
    popup.on('console', (m) => { if (m.type() === 'error') popupErrors.push(`${m.text()} (${m.location().url})`); });
    popup.on('pageerror', (e) => popupErrors.push(e.message));
    await popup.waitForLoadState();
    // The emulator approves at once and sends the browser to knarr's callback.
    await poll(() => popup.getByRole('heading', { level: 1 }).textContent()).toBe('Connected');
    expect(new URL(popup.url()).pathname).toBe('/v1/oauth/callback');
    expect(await popup.locator('[data-outcome]').textContent()).toContain('"gdrive"');
    expect(popupErrors).toEqual([]);
    expect(await seriousA11yViolations(popup), 'axe on the callback page').toEqual([]);
    await popup.close();
    await page.bringToFront();

    const drive = page.locator('li.cloud', { has: page.getByRole('heading', { name: 'gdrive' }) });
    await poll(() => drive.locator('.state').textContent(), { timeout: 30_000 }).toBe('ok');
    await poll(() => drive.textContent()).toMatch(/Google Drive.*used/);
    // The form starts over: no second Connect for the same name.
    expect(await page.getByLabel('Provider').inputValue()).toBe('');
    expect(await page.getByRole('link', { name: 'Continue at Google Drive' }).count()).toBe(0);
    const r = await api(k.url, 'GET', '/v1/remotes/gdrive/ls?path=Photos');
    expect(r.body.data.map((e: { name: string }) => e.name)).toEqual(['a.jpg']);
    await clean('the clouds page with Drive connected');
  });

  it('pauses, resumes and cancels a running copy from its page', async () => {
    // 656 KiB at 32 KiB/s: about twenty seconds, so every click lands while it runs.
    const runId = await startPaced('paused', '32K');
    await poll(() => state()).toBe('copying');
    await page.getByRole('button', { name: 'Pause' }).click();
    await poll(() => state()).toBe('paused');
    await poll(() => page.locator('.notice .words').textContent()).toBe('Paused: nothing is being copied until you resume.');
    expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(0);
    await clean('a paused run');
    await page.getByRole('button', { name: 'Resume' }).click();
    await poll(() => state()).toBe('copying');
    // Cancel asks once more; keeping it changes nothing.
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('button', { name: 'Keep it running' }).click();
    expect(await page.getByRole('button', { name: 'Cancel this run now' }).count()).toBe(0);
    expect(await state()).not.toBe('cancelled');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await clean('a cancel being confirmed');
    await page.getByRole('button', { name: 'Cancel this run now' }).click();
    await poll(() => state()).toBe('cancelled');
    expect(await page.getByRole('button', { name: /Pause|Resume|Cancel/ }).count()).toBe(0);
    const run = (await api(k.url, 'GET', `/v1/runs/${runId}`)).body;
    expect(run.state).toBe('cancelled');
    expect(run.files.done).toBeLessThan(41);
    await poll(() => page.locator('ol.events').textContent()).toMatch(/pause/i);
    await clean('a cancelled run');
  });

  let failedRun = '';
  it('a file gone between plan and copy: completed with errors, the file listed with its reason, the report as CSV, and Retry failed copies it', async () => {
    // 676 KiB at 64 KiB/s, one at a time: the victim (last) is read about ten seconds in.
    failedRun = await startPaced('failing', '64K');
    await rename(join(dir, 'src/zzz/victim.bin'), join(dir, 'victim.bin'));
    await poll(() => state(), { timeout: 120_000 }).toBe('completed with errors');
    const failed = page.getByRole('region', { name: 'Failed files' });
    await poll(() => failed.locator('li').count()).toBe(1);
    expect(await failed.locator('li code').textContent()).toBe('zzz/victim.bin');
    expect((await failed.locator('li .error-text').textContent())?.trim()).not.toBe('');
    await clean('a run with a failed file');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Report (CSV)' }).click()]);
    expect(download.suggestedFilename()).toBe(`knarr-run-${failedRun}.csv`);
    const csv = await readFile((await download.path())!, 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    const header = lines[0]!.split(',');
    expect(header).toContain('path');
    const pathAt = header.indexOf('path');
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => r[pathAt]).sort()).toEqual([...sources].sort());
    const victim = lines.find((l) => l.includes('zzz/victim.bin'))!;
    expect(victim).toMatch(/failed/);

    await rename(join(dir, 'victim.bin'), join(dir, 'src/zzz/victim.bin'));
    await page.getByRole('button', { name: 'Retry failed files' }).click();
    await poll(() => runIdOfPage()).not.toBe(failedRun);
    await poll(() => state(), { timeout: 60_000 }).toBe('completed');
    const retry = (await api(k.url, 'GET', `/v1/runs/${runIdOfPage()}`)).body;
    expect(retry.files).toMatchObject({ total: 1, done: 1, failed: 0 });
    expect(await readFile(join(dir, 'dst/failing/zzz/victim.bin'))).toEqual(Buffer.alloc(20 * kib, 1));
    await clean('the retry run');
  });

  it('a schedule: Run now starts a run that shows in Runs; pause, resume, and a two-step delete', async () => {
    await page.getByRole('link', { name: 'New transfer' }).first().click();
    await pick('From (source)', 'src');
    await pick('To (destination)', 'dst');
    await page.getByLabel('Into a new folder there (optional)').fill('scheduled');
    await page.getByLabel('Schedule name').fill('actions-nightly');
    await page.getByLabel('Time of day').fill('04:15');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await poll(() => heading('Schedules').isVisible()).toBe(true);
    const card = page.locator('li.card', { has: page.getByRole('heading', { name: 'actions-nightly' }) });
    await poll(() => card.locator('.next time').isVisible()).toBe(true);

    await card.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('link', { name: 'Runs' }).click();
    await poll(() => heading('Runs').isVisible()).toBe(true);
    const triggered = page.getByRole('link', { name: 'copy src: → dst:scheduled' });
    await poll(() => triggered.isVisible(), { timeout: 60_000 }).toBe(true);
    await clean('the runs page with the triggered run');
    await triggered.click();
    await poll(() => state(), { timeout: 60_000 }).toBe('completed');

    await page.getByRole('link', { name: 'Schedules' }).click();
    await card.getByRole('button', { name: 'Pause' }).click();
    await poll(() => card.locator('.cloud-head .state').textContent()).toBe('paused');
    await poll(() => card.locator('.next').textContent()).toBe('Next run: none while paused');
    await clean('a paused schedule');
    await card.getByRole('button', { name: 'Resume schedule' }).click();
    await poll(() => card.locator('.cloud-head .state').textContent()).toBe('active');
    await poll(() => card.locator('.next time').isVisible()).toBe(true);

    await card.getByRole('button', { name: 'Delete', exact: true }).click();
    // Two steps: nothing is gone until the second button.
    await card.getByRole('button', { name: 'Keep it' }).click();
    expect(await card.count()).toBe(1);
    await card.getByRole('button', { name: 'Delete', exact: true }).click();
    await clean('a schedule asking to confirm its delete');
    await card.getByRole('button', { name: 'Delete actions-nightly now' }).click();
    await poll(() => card.count()).toBe(0);
    await poll(() => page.getByText('No schedules yet', { exact: false }).isVisible()).toBe(true);
    expect((await api(k.url, 'GET', '/v1/schedules')).body.data).toEqual([]);
  });

  it('removes a cloud in two steps', async () => {
    await page.getByRole('link', { name: 'Clouds' }).click();
    const drive = page.locator('li.cloud', { has: page.getByRole('heading', { name: 'gdrive' }) });
    await poll(() => drive.locator('.state').textContent()).toBe('ok');
    await drive.getByRole('button', { name: 'Remove', exact: true }).click();
    await clean('a cloud asking to confirm its removal');
    await drive.getByRole('button', { name: 'Keep it' }).click();
    expect(await drive.count()).toBe(1);
    await drive.getByRole('button', { name: 'Remove', exact: true }).click();
    await drive.getByRole('button', { name: 'Remove gdrive now' }).click();
    await poll(() => drive.count()).toBe(0);
    expect(await page.locator('li.cloud').count()).toBe(2);
    expect((await api(k.url, 'GET', '/v1/remotes/gdrive')).status).toBe(404);
    await clean('the clouds page without Drive');
  });

  it('is usable on a phone: no sideways scrolling on New transfer (filled in, every section open) or the other pages', async () => {
    await page.setViewportSize(phone);
    try {
      await page.getByRole('link', { name: 'New transfer' }).first().click();
      await poll(() => heading('New transfer').isVisible()).toBe(true);
      await pick('From (source)', 'src');
      await pick('To (destination)', 'dst');
      await page.getByText('Filters').click();
      await page.getByText('Options').click();
      await page.getByRole('checkbox', { name: 'Photos' }).check();
      await page.getByLabel('Bandwidth limit (per second)').fill('1M');
      expect(await noSideScroll()).toBe(true);
      // Every control is on the screen's width, and the buttons are big enough to tap.
      const outside = await page.evaluate(`[...document.querySelectorAll('main input, main select, main textarea, main button')]
        .filter((e) => e.offsetParent !== null).map((e) => e.getBoundingClientRect()).filter((r) => r.right > window.innerWidth + 0.5).length`);
      expect(outside).toBe(0);
      const start = await page.getByRole('button', { name: 'Start now' }).boundingBox();
      expect(start!.height).toBeGreaterThanOrEqual(40);
      await clean('the new transfer page on a phone');
      for (const [link, title] of [['Clouds', 'Clouds'], ['Runs', 'Runs'], ['Schedules', 'Schedules']] as const) {
        await page.getByRole('link', { name: link }).first().click();
        await poll(() => heading(title).isVisible()).toBe(true);
        await poll(() => page.locator('.loading').count()).toBe(0);
        expect(await noSideScroll(), title).toBe(true);
      }
      await page.goto(`${k.url}/#/runs/${failedRun}`);
      await poll(() => state()).toBe('completed with errors');
      expect(await noSideScroll(), 'a run page').toBe(true);
      await clean('a run page on a phone');
    } finally {
      await page.setViewportSize(desktop);
    }
  });
});
