import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import type { Browser, Locator, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { startOneDriveEmulator, type OneDriveEmulator } from '../fakes/onedrive/index.js';
import { api, startInProcessKnarr, testAdminKey, type InProcessKnarr } from '../support/knarr.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';
import { startApacheDav, type WebdavTestServer } from '../support/servers/webdav.js';
import { desktopViewport, launchChromium, pageChecks, seriousA11yViolations, watchedPage, watchPage, type WatchedPage } from '../support/browser.js';

/**
 * The add and connect forms dashboard-actions.test.ts leaves out, each done as a person does it in
 * real Chromium: S3 (versitygw), SFTP (sshd, by password), WebDAV (Apache) and FTP (pure-ftpd)
 * added through their forms, shown ok and browsed, their secrets never shown back; a wrong S3
 * secret and a wrong SFTP password refused in place with nothing saved; OneDrive and Dropbox
 * connected through their emulators' consent pages, a refusal there (the callback page says so,
 * nothing is saved), and a revoked Dropbox reconnected from the Clouds page. Every page is checked
 * for console errors, refused requests the test did not expect, and axe-core's serious violations.
 */
describe('the web dashboard: add and connect forms', () => {
  let k: InProcessKnarr;
  let db: TestDatabase;
  let s3: S3TestServer;
  let sftp: SftpTestServer;
  let dav: WebdavTestServer;
  let ftp: FtpTestServer;
  let onedrive: OneDriveEmulator;
  let dropbox: DropboxEmulator;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let dir: string;
  /** Every secret typed into a form, right or wrong: none may ever be shown back. */
  const typedSecrets: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-dashboard-forms-'));
    [s3, sftp, dav, ftp, onedrive, dropbox, db] = await Promise.all([
      startVersitygw(), startSshd(), startApacheDav(), startPureFtpd(), startOneDriveEmulator(), startDropboxEmulator(), createTestDatabase('knarr_dash_forms'),
    ]);
    // What each server holds before knarr sees it, as another client put it there.
    await s3.createBucket('forms');
    await s3Put(s3, 'forms', 'Albums/s3-photo.jpg', 's3 jpeg bytes');
    for (const [root, name] of [[sftp.dataDir, 'sftp'], [dav.dataDir, 'dav'], [ftp.dataDir, 'ftp']] as const) {
      await mkdir(join(root, 'Albums'), { mode: 0o755 });
      await writeFile(join(root, 'Albums', `${name}-photo.jpg`), `${name} jpeg bytes`, { mode: 0o644 });
    }
    await onedrive.seed('Documents/od-notes.txt', Buffer.from('onedrive notes'));
    await dropbox.seed('/Camera/dbx-photo.jpg', Buffer.from('dropbox jpeg bytes'));
    k = await startInProcessKnarr({
      databaseUrl: db.url,
      oauthClients: {
        MICROSOFT: { clientId: onedrive.clientId, clientSecret: onedrive.clientSecret },
        DROPBOX: { clientId: dropbox.clientId, clientSecret: dropbox.clientSecret },
      },
    });
    browser = await launchChromium();
    w = await watchedPage(browser, { viewport: desktopViewport, locale: 'en-GB', timezoneId: 'Europe/Oslo' });
    page = w.page;
  });
  afterAll(async () => {
    await browser?.close();
    await k?.stop();
    await db?.drop();
    await Promise.all([s3?.stop(), sftp?.stop(), dav?.stop(), ftp?.stop(), onedrive?.stop(), dropbox?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !page) return;
    console.error(`page at ${page.url()}; problems: ${JSON.stringify(w.problems())}\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  const checks = pageChecks(() => w);
  const { poll, heading } = checks;
  /** pageChecks' clean, and every id on the page once (a label's `for` reaches its own field). */
  const clean = async (what: string) => {
    await checks.clean(what);
    const ids = (await page.evaluate(`[...document.querySelectorAll('[id]')].map((e) => e.id)`)) as string[];
    expect(ids.filter((id, i) => ids.indexOf(id) !== i), `ids used twice on ${what}`).toEqual([]);
  };
  const form = () => page.getByRole('region', { name: 'Add a cloud' });
  const cloud = (name: string) => page.locator('li.cloud', { has: page.getByRole('heading', { name, exact: true }) });
  const remoteNames = async () => ((await api(k.url, 'GET', '/v1/remotes')).body.data as { name: string }[]).map((r) => r.name).sort();

  /** Provider and name, the way every add starts. */
  const startAdding = async (provider: string, name: string) => {
    await form().getByRole('combobox', { name: 'Provider', exact: true }).selectOption(provider);
    await form().getByRole('textbox', { name: 'Name in knarr', exact: true }).fill(name);
  };
  const typeSecret = async (field: Locator, secret: string) => {
    typedSecrets.push(secret);
    await field.fill(secret);
  };
  /** The form's refusal, in place: the API's words, and nothing saved. */
  const refusedInPlace = async (name: string) => {
    const alert = form().getByRole('alert');
    await poll(() => alert.isVisible(), { timeout: 60_000 }).toBe(true);
    expect(await remoteNames()).not.toContain(name);
    expect(await cloud(name).count()).toBe(0);
    return (await alert.textContent()) ?? '';
  };
  /** After Add: the form starts over, the cloud is listed as ok with what it says of its space. */
  const addedOk = async (name: string, type: RegExp, space: RegExp) => {
    await poll(() => cloud(name).locator('.state').textContent(), { timeout: 60_000 }).toBe('ok');
    expect(await cloud(name).locator('.type').textContent()).toMatch(type);
    await poll(() => cloud(name).locator('p').first().textContent()).toMatch(space);
    expect(await form().getByRole('combobox', { name: 'Provider', exact: true }).inputValue()).toBe('');
    expect(await form().getByRole('alert').count()).toBe(0);
  };
  /** From the cloud's Browse link: the seeded folder, then the seeded file in it. */
  const browses = async (name: string, folder: string, file: string) => {
    await cloud(name).getByRole('link', { name: 'Browse' }).click();
    await poll(() => heading('Browse').isVisible()).toBe(true);
    const box = page.getByRole('group', { name: 'Folder' });
    await poll(() => box.locator('.picked code').textContent()).toBe(`${name}:`);
    const folderButton = box.getByRole('button', { name: `📁 ${folder}`, exact: true });
    await poll(() => folderButton.isVisible(), { timeout: 30_000 }).toBe(true);
    await folderButton.click();
    await poll(() => box.locator('.picked code').textContent()).toBe(`${name}:${folder}`);
    await poll(() => page.getByRole('list', { name: 'Files' }).textContent()).toContain(file);
    await clean(`browsing ${name}:${folder}`);
    await page.getByRole('link', { name: 'Clouds' }).click();
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    await poll(() => page.locator('.loading').count()).toBe(0);
  };
  /** No secret typed so far is in the page's HTML, in a field's value, or in the API's remotes. */
  const secretsNowhere = async () => {
    const html = await page.content();
    const values = (await page.evaluate(`[...document.querySelectorAll('input, textarea, select')].map((e) => e.value)`)) as string[];
    const listed = await api(k.url, 'GET', '/v1/remotes');
    const each = await Promise.all((listed.body.data as { name: string }[]).map((r) => api(k.url, 'GET', `/v1/remotes/${encodeURIComponent(r.name)}`)));
    const apiText = JSON.stringify(listed.body) + each.map((r) => JSON.stringify(r.body)).join('');
    for (const secret of typedSecrets) {
      expect(html.includes(secret), 'a secret in the page\'s HTML').toBe(false);
      expect(values.includes(secret), 'a secret left in a field').toBe(false);
      expect(apiText.includes(secret), 'a secret in GET /v1/remotes').toBe(false);
    }
  };

  /** A consent page the Clouds page links to, opened as a person clicks it, its own console watched. */
  const openConsent = async (link: Locator) => {
    // Watched from the event itself: a promise's later turn could miss the callback's response.
    const opened = new Promise<WatchedPage>((resolve) => page.context().once('page', (tab) => resolve(watchPage(tab))));
    await link.click();
    const watched = await opened;
    await watched.page.waitForLoadState();
    return watched;
  };
  /**
   * Closes the tab once it is clean. Playwright announces a tab only once its first document's
   * response has started (the consent page redirects at once, so that document is the callback), and
   * the watcher may never see that response: a `refusedWith` status is read from the page itself,
   * and Chromium's "Failed to load resource" line for that very document is then the declared one.
   */
  const closeConsent = async (tab: WatchedPage, what: string, refusedWith?: number) => {
    let problems = tab.problems();
    if (refusedWith !== undefined) {
      expect(await tab.page.evaluate(`performance.getEntriesByType('navigation')[0].responseStatus`), `status of ${what}`).toBe(refusedWith);
      const line = `console error: Failed to load resource: the server responded with a status of ${refusedWith} `;
      problems = problems.filter((p) => !(p.startsWith(line) && p.endsWith(`(${tab.page.url()})`)));
    }
    expect(problems, what).toEqual([]);
    expect(await seriousA11yViolations(tab.page), `axe on ${what}`).toEqual([]);
    await tab.page.close();
    await page.bringToFront();
  };
  const callbackSays = async (tab: WatchedPage, title: string) => {
    await poll(() => tab.page.getByRole('heading', { level: 1 }).textContent()).toBe(title);
    expect(new URL(tab.page.url()).pathname).toBe('/v1/oauth/callback');
    return (await tab.page.locator('[data-outcome]').textContent()) ?? '';
  };
  const fillEndpoints = async (endpoints: Record<string, string>) => {
    await form().getByText('Advanced').click();
    for (const [label, value] of Object.entries(endpoints)) await form().getByRole('textbox', { name: label, exact: true }).fill(value);
  };

  it('signs in', async () => {
    await page.goto(`${k.url}/`);
    await poll(() => heading('Sign in to knarr').isVisible()).toBe(true);
    await page.getByLabel('API key').fill(testAdminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => heading('Clouds').isVisible()).toBe(true);
    await poll(() => page.getByText('No clouds yet', { exact: false }).isVisible()).toBe(true);
    await clean('the empty clouds page');
  });

  it('S3 (versitygw): a wrong secret is refused in place and nothing is saved; the right one adds it, browsable', async () => {
    await startAdding('s3', 'bucket');
    await form().getByRole('combobox', { name: 'Service', exact: true }).selectOption('other');
    await form().getByRole('textbox', { name: 'Bucket', exact: true }).fill('forms');
    await form().getByRole('textbox', { name: 'Region', exact: true }).fill(s3.region);
    await form().getByRole('textbox', { name: 'Endpoint', exact: true }).fill(s3.endpoint);
    await form().getByRole('textbox', { name: 'Access key id', exact: true }).fill(s3.accessKeyId);
    await typeSecret(form().getByLabel('Secret access key'), 'not-the-secret-0123456789');
    await form().getByText('Advanced').click();
    await form().getByRole('checkbox', { name: 'Path-style addressing (endpoint/bucket/key)' }).check();
    await clean('the S3 form filled in');
    w.expect({ method: 'POST', path: '/v1/remotes', status: 422 });
    await form().getByRole('button', { name: 'Add' }).click();
    const said = await refusedInPlace('bucket');
    expect(said).toMatch(/the S3 provider refused the keys of remote "bucket" \(HTTP 403, SignatureDoesNotMatch/);
    expect(said).not.toContain('not-the-secret');
    // The person sees which field to look at, and the form kept everything else they typed.
    expect(await form().getByRole('textbox', { name: 'Bucket', exact: true }).inputValue()).toBe('forms');
    await clean('the S3 form refusing a wrong secret');

    await typeSecret(form().getByLabel('Secret access key'), s3.secretAccessKey);
    await form().getByRole('button', { name: 'Add' }).click();
    await addedOk('bucket', /^S3$/, /No space limit/);
    await clean('the clouds page with S3 added');
    await secretsNowhere();
    await browses('bucket', 'Albums', 's3-photo.jpg');
  });

  it('SFTP (sshd, by password): a wrong password is refused in place and nothing is saved; the right one adds it with its usage', async () => {
    await startAdding('sftp', 'nas');
    await form().getByRole('textbox', { name: 'Host', exact: true }).fill(sftp.host);
    await form().getByRole('spinbutton', { name: 'Port' }).fill(String(sftp.port));
    await form().getByRole('textbox', { name: 'User name', exact: true }).fill(sftp.user);
    await typeSecret(form().getByLabel('Password'), 'not-the-password');
    await form().getByRole('textbox', { name: 'Folder', exact: true }).fill(sftp.dataDir);
    await form().getByText('Advanced').click();
    await form().getByRole('textbox', { name: 'Host key', exact: true }).fill(sftp.hostKey);
    await form().getByRole('button', { name: 'Add' }).click();
    const said = await refusedInPlace('nas');
    expect(said).toMatch(/refused the credentials of remote "nas".*check the user and the password/);
    expect(said).not.toContain('not-the-password');
    await clean('the SFTP form refusing a wrong password');

    await typeSecret(form().getByLabel('Password'), sftp.password!);
    await form().getByRole('button', { name: 'Add' }).click();
    // sshd answers statvfs: the disk's usage and size.
    await addedOk('nas', /^SFTP$/, /used \(.* free\)/);
    expect(await cloud('nas').getByRole('progressbar', { name: 'Space used' }).count()).toBe(1);
    await clean('the clouds page with SFTP added');
    await secretsNowhere();
    await browses('nas', 'Albums', 'sftp-photo.jpg');
  });

  it('WebDAV (Apache): added through the form, browsable', async () => {
    await startAdding('webdav', 'dav');
    await form().getByRole('textbox', { name: 'WebDAV URL', exact: true }).fill(dav.url);
    await form().getByRole('combobox', { name: 'Server', exact: true }).selectOption('other');
    await form().getByRole('textbox', { name: 'User name', exact: true }).fill(dav.user);
    await typeSecret(form().getByLabel('Password or app password'), dav.password);
    await clean('the WebDAV form filled in');
    await form().getByRole('button', { name: 'Add' }).click();
    await addedOk('dav', /^WebDAV$/, /used|does not report/);
    await clean('the clouds page with WebDAV added');
    await secretsNowhere();
    await browses('dav', 'Albums', 'dav-photo.jpg');
  });

  it('FTP (pure-ftpd): added through the form, browsable', async () => {
    await startAdding('ftp', 'ftp');
    await form().getByRole('textbox', { name: 'Host', exact: true }).fill(ftp.host);
    await form().getByRole('spinbutton', { name: 'Port' }).fill(String(ftp.port));
    await form().getByRole('textbox', { name: 'User name', exact: true }).fill(ftp.user);
    await typeSecret(form().getByLabel('Password'), ftp.password);
    await form().getByRole('combobox', { name: 'Encryption', exact: true }).selectOption('none');
    await form().getByRole('textbox', { name: 'Folder', exact: true }).fill('/');
    await clean('the FTP form filled in');
    await form().getByRole('button', { name: 'Add' }).click();
    await addedOk('ftp', /^FTP \/ FTPS$/, /does not report its space/);
    await clean('the clouds page with FTP added');
    await secretsNowhere();
    await browses('ftp', 'Albums', 'ftp-photo.jpg');
    expect(await remoteNames()).toEqual(['bucket', 'dav', 'ftp', 'nas']);
  });

  it('OneDrive: a refusal at the consent page is said on the callback page and saves nothing; starting again connects it', async () => {
    const base = onedrive.url;
    await startAdding('onedrive', 'onedrive');
    await fillEndpoints({ 'API endpoint': `${base}/v1.0`, 'Authorization endpoint': `${base}/common/oauth2/v2.0/authorize`, 'Token endpoint': `${base}/common/oauth2/v2.0/token` });
    await form().getByRole('button', { name: 'Connect OneDrive' }).click();
    const link = form().getByRole('link', { name: 'Continue at OneDrive' });
    await poll(() => link.isVisible()).toBe(true);
    await clean('the clouds page waiting for OneDrive\'s consent page');

    onedrive.oauth.declineNextConsent();
    const refused = await openConsent(link);
    refused.expect({ method: 'GET', path: '/v1/oauth/callback', status: 400 });
    const said = await callbackSays(refused, 'Not connected');
    expect(said).toContain('OneDrive did not grant access (access_denied');
    expect(said).toContain('Nothing was saved for remote "onedrive"');
    await closeConsent(refused, 'the callback page after a refusal', 400);
    expect(await remoteNames()).not.toContain('onedrive');

    // The link is spent: the person starts again from the same form, the fields kept.
    await form().getByRole('button', { name: 'Start again' }).click();
    expect(await form().getByRole('textbox', { name: 'Name in knarr', exact: true }).inputValue()).toBe('onedrive');
    await form().getByRole('button', { name: 'Connect OneDrive' }).click();
    await poll(() => link.isVisible()).toBe(true);
    const approved = await openConsent(link);
    expect(await callbackSays(approved, 'Connected')).toContain('"onedrive"');
    await closeConsent(approved, 'the callback page after OneDrive approved');
    // The emulator's 1 TiB drive, nearly empty: not "1024 GiB free".
    await addedOk('onedrive', /^OneDrive$/, /\b14 B of 1\.0 TiB used \(1\.0 TiB free\)$/);
    expect(await form().getByRole('link', { name: 'Continue at OneDrive' }).count()).toBe(0);
    await clean('the clouds page with OneDrive connected');
    await browses('onedrive', 'Documents', 'od-notes.txt');
  });

  it('Dropbox: connected through its consent page; revoked, the Clouds page says so, and Reconnect brings it back', async () => {
    const base = dropbox.url;
    await startAdding('dropbox', 'dbx');
    await fillEndpoints({ 'API endpoint': base, 'Authorization endpoint': `${base}/oauth2/authorize`, 'Token endpoint': `${base}/oauth2/token`, 'Content endpoint': base });
    await form().getByRole('button', { name: 'Connect Dropbox' }).click();
    const link = form().getByRole('link', { name: 'Continue at Dropbox' });
    await poll(() => link.isVisible()).toBe(true);
    const approved = await openConsent(link);
    expect(await callbackSays(approved, 'Connected')).toContain('"dbx"');
    await closeConsent(approved, 'the callback page after Dropbox approved');
    await addedOk('dbx', /^Dropbox$/, /used/);
    await clean('the clouds page with Dropbox connected');
    await browses('dbx', 'Camera', 'dbx-photo.jpg');

    // Revoked at Dropbox (the person removed knarr from their connected apps): a fresh look says so.
    dropbox.faults.revoke();
    expect((await api(k.url, 'GET', '/v1/remotes/dbx/about')).body.connection).toBe('needs_reconnect');
    await page.reload();
    await poll(() => cloud('dbx').locator('.state').textContent()).toBe('needs reconnect');
    expect(await cloud('dbx').locator('.help').textContent()).toMatch(/Dropbox refused the credentials of remote "dbx".*Reconnect the account/);
    expect(await cloud('onedrive').locator('.state').textContent()).toBe('ok');
    await clean('the clouds page with Dropbox needing a reconnect');

    await cloud('dbx').getByRole('button', { name: 'Reconnect', exact: true }).click();
    await cloud('dbx').getByRole('button', { name: 'Reconnect Dropbox' }).click();
    const again = cloud('dbx').getByRole('link', { name: 'Continue at Dropbox' });
    await poll(() => again.isVisible()).toBe(true);
    await clean('a cloud waiting for its consent page again');
    const reconnected = await openConsent(again);
    expect(await callbackSays(reconnected, 'Reconnected')).toContain('"dbx"');
    await closeConsent(reconnected, 'the callback page after a reconnect');
    // The Clouds page notices by itself: no reload.
    await poll(() => cloud('dbx').locator('.state').textContent()).toBe('ok');
    expect(await cloud('dbx').getByRole('link', { name: 'Continue at Dropbox' }).count()).toBe(0);
    expect((await api(k.url, 'GET', '/v1/remotes/dbx/ls?path=Camera')).body.data.map((e: { name: string }) => e.name)).toEqual(['dbx-photo.jpg']);
    await clean('the clouds page with Dropbox reconnected');
    await secretsNowhere();
    expect(await remoteNames()).toEqual(['bucket', 'dav', 'dbx', 'ftp', 'nas', 'onedrive']);
  });
});

/** Puts an object as another S3 client would (signed v4, path style). */
async function s3Put(s3: S3TestServer, bucket: string, key: string, body: string): Promise<void> {
  const url = new URL(s3.endpoint);
  const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const signed = aws4.sign({ host: url.host, method: 'PUT', path, service: 's3', region: s3.region, body, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  const res = await request(`${s3.endpoint}${path}`, { method: 'PUT', headers: signed.headers as Record<string, string>, body });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`versitygw PUT ${path}: HTTP ${res.statusCode} ${text}`);
}
