import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';

const require = createRequire(import.meta.url);

/** Debian's chromium (scripts/install-test-servers.sh installs it), or KNARR_CHROMIUM. */
export function chromiumPath(): string {
  const candidates = [process.env.KNARR_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked at ${candidates.join(', ')}): run scripts/install-test-servers.sh, or apt-get install chromium`);
  return found;
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: test containers run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
}

/** An API answer the test expects to be a refusal (Chromium logs every 4xx as a console error). */
export interface ExpectedRefusal { method: string; path: string; status: number }

/**
 * A page whose console errors, uncaught exceptions, failed requests and refused API calls are
 * recorded. `problems()` lists those the test did not say it expects; the only refusals that may
 * show are the `expected` ones (Chromium's "Failed to load resource" line of each is then
 * matched to its response and not counted twice).
 */
export interface WatchedPage {
  page: Page;
  expect(refusal: ExpectedRefusal): void;
  problems(): string[];
}

export async function watchedPage(browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext(options);
  return watchPage(await context.newPage());
}

/** The same record kept on a page that is already open: a tab the page opened (a consent page). */
export function watchPage(page: Page): WatchedPage {
  const expected: ExpectedRefusal[] = [];
  const refused: { method: string; url: string; path: string; status: number }[] = [];
  const errors: string[] = [];
  const isExpected = (r: { method: string; path: string; status: number }) => expected.some((e) => e.method === r.method && e.path === r.path && e.status === r.status);

  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  // Chromium's own line for a refused request names only its URL: its response says whether it
  // was expected. The two events come in either order, so they are matched when problems are read.
  const loadFailures: { url: string; text: string }[] = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location().url;
    if (/^Failed to load resource: the server responded with a status of \d+/.test(msg.text())) loadFailures.push({ url, text: msg.text() });
    else errors.push(`console error: ${msg.text()} (${url})`);
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    // A page that navigates drops the requests still in flight: not a fault of the page.
    if (why !== 'net::ERR_ABORTED') errors.push(`request failed: ${req.method()} ${req.url()}: ${why}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    const url = new URL(res.url());
    refused.push({ method: res.request().method(), url: res.url(), path: url.pathname, status: res.status() });
  });
  return {
    page,
    expect: (refusal) => { expected.push(refusal); },
    problems: () => [
      ...errors,
      ...loadFailures.filter((f) => !refused.some((r) => r.url === f.url && isExpected(r))).map((f) => `console error: ${f.text} (${f.url})`),
      ...refused.filter((r) => !isExpected(r)).map((r) => `refused: ${r.method} ${r.path} → ${r.status}`),
    ],
  };
}

let axeSource: string | null = null;

export interface AxeViolation { id: string; impact: string | null; help: string; nodes: string[] }

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
  // cover (a <script> tag would be refused, as it should be).
  if ((await page.evaluate('typeof window.axe')) !== 'object') await page.evaluate(axeSource);
  // A string: the test project has no DOM types, and this runs in the page.
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)),
  })))`)) as AxeViolation[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export const phoneViewport = { width: 390, height: 844 };
export const desktopViewport = { width: 1280, height: 900 };

/**
 * The checks each step of a browser test makes: `poll` waits for what the page shows (runs go at
 * the machine's pace), `clean` finds no console error or failed request so far and no serious
 * accessibility violation on the page as it is, `heading` is a page's title.
 */
export function pageChecks(w: () => WatchedPage) {
  return {
    poll: <T>(fn: () => Promise<T> | T, opts: { timeout?: number } = {}) => expect.poll(fn, { timeout: 30_000, interval: 100, ...opts }),
    clean: async (what: string, on: Page = w().page) => {
      expect(w().problems(), what).toEqual([]);
      expect(await seriousA11yViolations(on), `axe on ${what}`).toEqual([]);
    },
    heading: (name: string | RegExp) => w().page.getByRole('heading', { level: 1, name }),
  };
}
