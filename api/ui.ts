import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** The dashboard's files: `web/` at the repository's root. */
const webDir = fileURLToPath(new URL('../web/', import.meta.url));
const require = createRequire(import.meta.url);

/** The browser modules the page imports by name (its import map), served from node_modules: no CDN. */
const vendor: Record<string, [pkg: string, file: string]> = {
  'preact.mjs': ['preact', 'dist/preact.mjs'],
  'hooks.mjs': ['preact', 'hooks/dist/hooks.mjs'],
  'htm.mjs': ['htm', 'dist/htm.mjs'],
};

function vendorPath(name: string): string | undefined {
  const entry = vendor[name];
  if (!entry) return undefined;
  try {
    // htm's exports map hides its package.json: the folder is found from its main module instead.
    let dir = dirname(require.resolve(entry[0]));
    while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
    return join(dir, entry[1]);
  } catch {
    return undefined;
  }
}

/**
 * A Content-Security-Policy that allows only knarr's own files: no inline script but the page's
 * one import map, allowed by its hash, no inline style, no other origin.
 */
export function contentSecurityPolicy(html: string): string {
  const maps = [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
  return [
    "default-src 'self'", `script-src 'self' ${maps.join(' ')}`.trim(), "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
  ].join('; ');
}

/**
 * The dashboard: `GET /` is its page, `/ui/*` its modules and styles, `/ui/vendor/*` the
 * libraries it imports. It holds no logic of its own: everything it shows comes from `/v1`.
 */
export function uiRouter(): Router {
  const r = Router();
  const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' };
  r.get('/', (_req, res) => {
    const index = join(webDir, 'index.html');
    if (!existsSync(index)) {
      res.status(404).type('text').send('the dashboard is not part of this build (web/index.html is missing)');
      return;
    }
    // Read on each request: the page is small, and an upgrade in place shows at once.
    const html = readFileSync(index, 'utf8');
    res.set({ ...headers, 'content-security-policy': contentSecurityPolicy(html), 'cache-control': 'no-cache' }).type('html').send(html);
  });
  r.get('/ui/vendor/:file', (req, res) => {
    const path = vendorPath(req.params.file);
    if (!path || !existsSync(path)) {
      res.status(404).type('text').send('no such file');
      return;
    }
    res.set(headers).type('text/javascript').sendFile(path);
  });
  r.use('/ui', express.static(webDir, { index: false, setHeaders: (res) => res.set(headers) }));
  return r;
}
