import { createConfig, lintFromString } from '@redocly/openapi-core';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeDocs } from '../../api/openapi.js';
import { api, knarrWithLocalRemotes, testAdminKey, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/** The API describes itself, and no body, however odd, makes it fail on its own side. */
describe('OpenAPI document and request validation', () => {
  let dir: string;
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');
  let runId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-openapi-'));
    k = await knarrWithLocalRemotes(dir, suffix);
    await writeFile(join(dir, 'src/a.txt'), 'a');
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:`, mode: 'copy' });
    runId = job.body.runId;
    await waitForRun(k.url, runId);
  }, 60_000);

  afterAll(async () => {
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('documents every route, and the document passes an independent OpenAPI 3.1 validator', async () => {
    expect(Object.keys(routeDocs()).sort()).toEqual([...k.routes].sort());
    const res = await fetch(`${k.url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config: await createConfig({ extends: ['recommended'] }) });
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(20);

    const page = await fetch(`${k.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    for (const path of Object.keys(doc.paths)) expect(html).toContain(`<code>${path}</code>`);
    expect(html).toContain('<html lang="en">');
  });

  it('answers thousands of random bodies on every route with no 5xx', async () => {
    const routes = Object.entries(routeDocs());
    const ids = [randomUUID(), runId, 'not-an-id', '..%2F..%2Fetc', `src-${suffix}`, '%00'];
    const keys = (doc: (typeof routes)[number][1]): string[] => {
      const body = doc.body as { shape?: Record<string, unknown> } | undefined;
      return Object.keys(body?.shape ?? {});
    };
    const valueArb = fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('', '/', '../..', '10M', '-1', '1e309', 'copy', 'sync', `src-${suffix}:`, `dst-${suffix}:x`, '0 2 * * *', 'Europe/Oslo', 'a\u0000b', `src-${suffix}:\u0000`));
    let requests = 0;
    for (const [route, doc] of routes) {
      const [method, template] = route.split(' ') as [string, string];
      // Nothing that would end the shared run or its remotes for the other cases.
      if (/cancel|DELETE/.test(route) && template.includes(':')) continue;
      const known = keys(doc);
      const bodyArb = fc.oneof(
        fc.jsonValue(),
        fc.dictionary(fc.constantFrom(...(known.length > 0 ? known : ['x'])), valueArb, { maxKeys: 6 }),
        fc.record({ options: fc.dictionary(fc.string({ maxLength: 12 }), valueArb), filters: fc.dictionary(fc.string({ maxLength: 12 }), valueArb) }),
        fc.string().map((s) => ({ raw: s })),
      );
      await fc.assert(fc.asyncProperty(fc.constantFrom(...ids), fc.constantFrom(...ids), bodyArb, fc.dictionary(fc.constantFrom('limit', 'after', 'path', 'state', 'job', 'since', 'until', 'kind'), fc.oneof(fc.string(), fc.constant('x\u0000y')), { maxKeys: 3 }),
        async (id, otherId, body, query) => {
          const path = template.replace(':id', id).replace(':name', id).replace(':keyId', otherId);
          const qs = new URLSearchParams(query).toString();
          const raw = body && typeof body === 'object' && 'raw' in body ? (body as { raw: string }).raw : undefined;
          const res = await fetch(`${k.url}${path}${qs ? `?${qs}` : ''}`, {
            method,
            headers: { authorization: `Bearer ${testAdminKey}`, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
            body: method === 'GET' ? undefined : raw ?? JSON.stringify(body),
          });
          requests++;
          const text = await res.text();
          if (res.status >= 500) throw new Error(`${method} ${path}?${qs} ${raw ?? JSON.stringify(body)} → ${res.status} ${text}`);
          if (res.status >= 400) expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
        }), { numRuns: 80 });
    }
    expect(requests).toBeGreaterThan(2000);
  }, 600_000);
});
