import { createConfig, lintFromString } from '@redocly/openapi-core';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import dns from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, isIP, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeDocs } from '../../api/openapi.js';
import { connectorTypes, findConnector } from '../../connectors/registry.js';
import { freePort } from '../support/ports.js';
import { api, knarrWithLocalRemotes, testAdminKey, waitForRun, type InProcessKnarr } from '../support/knarr.js';

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * Whether a request body would make knarr connect somewhere off this machine: a remote of a
 * network type whose config the connector accepts and whose server (host, url or endpoint; an
 * S3 preset without endpoint means the provider's public one) is not a loopback address.
 */
function leavesLoopback(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const { type, config } = body as { type?: unknown; config?: unknown };
  if (typeof type !== 'string' || type === 'local') return false;
  const def = findConnector(type);
  if (!def || !def.configSchema.safeParse(config).success) return false;
  const cfg = config as Record<string, unknown>;
  const hosts = [cfg.host, cfg.url, cfg.endpoint].filter((v): v is string => typeof v === 'string')
    .map((v) => (/^[a-z]+:\/\//i.test(v) ? new URL(v).hostname : v));
  return hosts.length === 0 || !hosts.every(isLoopback);
}

/**
 * Refuses, and records, every DNS lookup of a name that is not loopback made in this process
 * (where the in-process knarr's worker opens remotes), so a fuzzed remote could not send a
 * packet off the machine even if one slipped past leavesLoopback.
 */
function guardDns(): { lookedUp: string[]; restore(): void } {
  const lookedUp: string[] = [];
  const original = dns.lookup;
  const originalPromise = dns.promises.lookup;
  const refuse = (host: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (refused by the test's DNS guard)`), { code: 'ENOTFOUND', hostname: host });
  dns.lookup = ((host: string, ...rest: unknown[]) => {
    if (isLoopback(host)) return (original as (...a: unknown[]) => unknown)(host, ...rest);
    lookedUp.push(host);
    const callback = rest[rest.length - 1] as (err: Error) => void;
    process.nextTick(() => callback(refuse(host)));
    return {};
  }) as typeof dns.lookup;
  dns.promises.lookup = (async (host: string, ...rest: unknown[]) => {
    if (isLoopback(host)) return (originalPromise as (...a: unknown[]) => unknown)(host, ...rest);
    lookedUp.push(host);
    throw refuse(host);
  }) as typeof dns.promises.lookup;
  return {
    lookedUp,
    restore() {
      dns.lookup = original;
      dns.promises.lookup = originalPromise;
    },
  };
}

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

  it('describes every connector\'s config and marks exactly its secret fields writeOnly', async () => {
    const doc = (await (await fetch(`${k.url}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, any>> };
    const bodyOf = (path: string, method: string) => doc.paths[path]![method].requestBody.content['application/json'].schema;
    const configs: { title: string; properties: Record<string, { writeOnly?: boolean }> }[] = bodyOf('/v1/remotes', 'post').properties.config.oneOf;
    const credentials: typeof configs = bodyOf('/v1/remotes/{name}/credentials', 'put').oneOf;
    expect(configs.map((c) => c.title)).toEqual(connectorTypes());
    expect(connectorTypes()).toEqual(expect.arrayContaining(['s3', 'webdav', 'sftp', 'ftp']));
    const writeOnly = (c: (typeof configs)[number]) => Object.keys(c.properties).filter((key) => c.properties[key]!.writeOnly === true).sort();
    for (const type of connectorTypes()) {
      const secrets = [...findConnector(type)!.secretKeys].sort();
      expect(writeOnly(configs.find((c) => c.title === type)!), type).toEqual(secrets);
      const reconnect = credentials.find((c) => c.title === type);
      if (secrets.length === 0) expect(reconnect, type).toBeUndefined();
      else expect({ keys: Object.keys(reconnect!.properties).sort(), writeOnly: writeOnly(reconnect!) }, type).toEqual({ keys: secrets, writeOnly: secrets });
    }
    const secretsOf = (type: string) => [...findConnector(type)!.secretKeys].sort();
    expect(secretsOf('s3')).toEqual(['secretAccessKey']);
    expect(secretsOf('sftp')).toEqual(['passphrase', 'password', 'privateKey']);
    expect(secretsOf('ftp')).toEqual(['password']);
    expect(secretsOf('webdav')).toEqual(['bearerToken', 'password']);
  });

  it('answers thousands of random bodies on every route with no 5xx', async () => {
    const routes = Object.entries(routeDocs());
    const ids = [randomUUID(), runId, 'not-an-id', '..%2F..%2Fetc', `src-${suffix}`, '%00'];
    const keys = (doc: (typeof routes)[number][1]): string[] => {
      const body = doc.body as { shape?: Record<string, unknown> } | undefined;
      return Object.keys(body?.shape ?? {});
    };
    const valueArb = fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('', '/', '../..', '10M', '-1', '1e309', 'copy', 'sync', `src-${suffix}:`, `dst-${suffix}:x`, '0 2 * * *', 'Europe/Oslo', 'a\u0000b', `src-${suffix}:\u0000`));
    // Remotes of the network types, aimed at this machine only: a closed port, and a server that
    // answers any connection with a line of garbage and hangs up. Their other fields are fuzzed.
    const closed = await freePort();
    const garbage: Server = await new Promise((res) => {
      const server = createServer((socket) => {
        socket.on('error', () => {});
        // Closed outright once the line is out: a client that keeps its side open would hold close() up.
        socket.end('garbage\r\n', () => socket.destroy());
      }).listen(0, '127.0.0.1', () => res(server));
    });
    const garbagePort = (garbage.address() as { port: number }).port;
    const networkConfig = (type: string, port: number): Record<string, unknown> => {
      if (type === 's3') return { provider: 'other', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', bucket: 'fuzz-bucket', pathStyle: true, accessKeyId: 'fuzzkey', secretAccessKey: 'fuzzsecret' };
      if (type === 'webdav') return { url: `http://127.0.0.1:${port}/dav/`, vendor: 'other', user: 'fuzz', password: 'fuzz' };
      if (type === 'sftp') return { host: '127.0.0.1', port, user: 'fuzz', password: 'fuzz', hostKey: `SHA256:${'A'.repeat(43)}` };
      return { host: '127.0.0.1', port, user: 'fuzz', password: 'fuzz' };
    };
    const networkTypes = connectorTypes().filter((t) => t !== 'local' && t !== 'jottacloud');
    const networkRemoteArb = fc.record({
      name: fc.constantFrom(`net-${suffix}-a`, `net-${suffix}-b`),
      type: fc.constantFrom(...networkTypes),
      port: fc.constantFrom(closed, garbagePort),
      extra: fc.dictionary(fc.constantFrom('root', 'user', 'password', 'bucket', 'region', 'vendor', 'tls', 'partialPut', 'pathStyle', 'connections'), valueArb, { maxKeys: 2 }),
    }).map(({ name, type, port, extra }) => ({ name, type, config: { ...networkConfig(type, port), ...extra } }));
    const dnsGuard = guardDns();
    let requests = 0;
    let networkRemotes = 0;
    try {
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
          ...(route === 'POST /v1/remotes' ? [networkRemoteArb] : []),
        );
        await fc.assert(fc.asyncProperty(fc.constantFrom(...ids), fc.constantFrom(...ids), bodyArb, fc.dictionary(fc.constantFrom('limit', 'after', 'path', 'state', 'job', 'since', 'until', 'kind'), fc.oneof(fc.string(), fc.constant('x\u0000y')), { maxKeys: 3 }),
          async (id, otherId, body, query) => {
            const path = template.replace(':id', id).replace(':name', id).replace(':keyId', otherId);
            const qs = new URLSearchParams(query).toString();
            const raw = body && typeof body === 'object' && 'raw' in body ? (body as { raw: string }).raw : undefined;
            let sent: unknown = body;
            try {
              sent = raw === undefined ? body : JSON.parse(raw);
            } catch { /* not JSON: refused before any route */ }
            // No random body may have knarr open a remote beyond this machine.
            fc.pre(!leavesLoopback(sent));
            if (route === 'POST /v1/remotes' && networkTypes.includes(String((sent as { type?: unknown } | null)?.type))) networkRemotes++;
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
    } finally {
      dnsGuard.restore();
      await new Promise((res) => garbage.close(res));
    }
    expect(requests).toBeGreaterThan(2000);
    expect(networkRemotes).toBeGreaterThan(5);
    expect(dnsGuard.lookedUp).toEqual([]);
    // Every network remote the fuzz tried was refused: none was kept. (Other test files share the
    // admin user and its database, so only the fuzz's own names count.)
    const kept = await api(k.url, 'GET', '/v1/remotes?limit=1000');
    expect(kept.body.data.map((r: { name: string }) => r.name).filter((n: string) => n.startsWith(`net-${suffix}-`))).toEqual([]);
  }, 600_000);
});
