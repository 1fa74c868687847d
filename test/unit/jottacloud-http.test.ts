import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/errors.js';
import { jottaStatusMapper } from '../../connectors/jottacloud/errors.js';
import { HttpClient, isNetworkError, mapBodyErrors, parseRetryAfter } from '../../connectors/shared/http.js';
import { readAll } from '../conformance/suite.js';

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 5 ', now)).toBe(5000);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
  });

  it('reads HTTP-dates in all three forms, a past date as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Thu Jan  1 00:00:10 2026', now)).toBeGreaterThanOrEqual(0);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores what is neither', () => {
    for (const v of [undefined, null, '', '  ', '-1', '1.5', '+3', 'soon', '12abc', '2026-01-01']) expect(parseRetryAfter(v as string, now), String(v)).toBeUndefined();
  });
});

describe('HttpClient against a scripted server', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  const script: Record<string, (req: IncomingMessage, res: ServerResponse, n: number) => void> = {
    '/ok': (_q, res) => res.end('fine'),
    '/flaky503': (_q, res, n) => (n === 1 ? res.writeHead(503).end('busy') : res.end('recovered')),
    '/throttle-long': (_q, res) => res.writeHead(429, { 'retry-after': '60' }).end(JSON.stringify({ code: 429, error_id: 'TooManyRequestsException', message: 'slow down' })),
    '/throttle-short': (_q, res, n) => (n === 1 ? res.writeHead(429, { 'retry-after': '0' }).end() : res.end('after wait')),
    '/reset-once': (req, res, n) => (n === 1 ? req.socket.destroy() : res.end('second try')),
    '/always-reset': (req) => req.socket.destroy(),
    '/missing': (_q, res) => res.writeHead(404, { 'content-type': 'application/xml' }).end('<error><code>404</code><message>no.jotta.backup.errors.NoSuchPathException: Path /u/Jotta/Archive/x does not exist</message><reason>Not Found</reason></error>'),
    '/hang': () => {},
    '/cut-body': (_q, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => res.socket?.destroy());
    },
    '/ignores-range': (_q, res) => res.end('0123456789'),
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      req.resume();
      script[path](req, res, n);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = () => new HttpClient({ mapStatus: jottaStatusMapper('jotta'), sleep: async () => {} });
  const kindOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err instanceof ConnectorError ? { kind: err.kind, retryAfterMs: err.retryAfterMs, message: err.message } : { error: err };
    }
    return 'no error';
  };

  it('returns 2xx with the body unread', async () => {
    const c = client();
    const res = await c.request({ method: 'GET', url: `${base}/ok`, op: 'get' });
    expect(res.status).toBe(200);
    expect(await res.body.text()).toBe('fine');
    await c.close();
  });

  it('retries an idempotent GET once over a 503 and a reset connection, never a POST', async () => {
    const c = client();
    expect(await (await c.request({ method: 'GET', url: `${base}/flaky503`, op: 'get' })).body.text()).toBe('recovered');
    expect(hits.get('/flaky503')).toBe(2);
    expect(await (await c.request({ method: 'GET', url: `${base}/reset-once`, op: 'get' })).body.text()).toBe('second try');
    expect(await (await c.request({ method: 'GET', url: `${base}/throttle-short`, op: 'get' })).body.text()).toBe('after wait');
    hits.delete('/flaky503');
    expect(await kindOf(c.request({ method: 'POST', url: `${base}/flaky503`, op: 'post', body: 'x' }))).toMatchObject({ kind: 'transient' });
    expect(hits.get('/flaky503')).toBe(1);
    await c.close();
  });

  it('gives up after two retries, as transient', async () => {
    const c = client();
    hits.delete('/always-reset');
    expect(await kindOf(c.request({ method: 'GET', url: `${base}/always-reset`, op: 'get "x"' }))).toMatchObject({ kind: 'transient', message: expect.stringMatching(/^get "x": the connection failed/) });
    expect(hits.get('/always-reset')).toBe(3);
    await c.close();
  });

  it('does not wait out a long Retry-After: throttled with retryAfterMs, for the engine', async () => {
    const c = client();
    hits.delete('/throttle-long');
    expect(await kindOf(c.request({ method: 'GET', url: `${base}/throttle-long`, op: 'get' }))).toMatchObject({ kind: 'throttled', retryAfterMs: 60_000 });
    expect(hits.get('/throttle-long')).toBe(1);
    await c.close();
  });

  it('maps a 404 through the connector table', async () => {
    const c = client();
    expect(await kindOf(c.request({ method: 'GET', url: `${base}/missing`, op: 'stat "x"' }))).toMatchObject({ kind: 'not_found' });
    await c.close();
  });

  it('rethrows the abort reason of the signal', async () => {
    const c = client();
    const ac = new AbortController();
    const reason = new Error('stop now');
    setTimeout(() => ac.abort(reason), 50);
    expect(await kindOf(c.request({ method: 'GET', url: `${base}/hang`, op: 'get', signal: ac.signal }))).toEqual({ error: reason });
    await c.close();
  });

  it('maps a body cut mid-stream to transient', async () => {
    const c = client();
    const res = await c.request({ method: 'GET', url: `${base}/cut-body`, op: 'read "x"' });
    const err = await kindOf(readAll(mapBodyErrors(res.body, 'read "x"')));
    expect(err).toMatchObject({ kind: 'transient' });
    await c.close();
  });

  it('skips and limits a body for a server that ignored the Range', async () => {
    const c = client();
    const res = await c.request({ method: 'GET', url: `${base}/ignores-range`, op: 'read' });
    expect((await readAll(mapBodyErrors(res.body, 'read', { skip: 3, limit: 4 }))).toString()).toBe('3456');
    await c.close();
  });

  it('does not retry a streamed body', async () => {
    const c = client();
    hits.delete('/flaky503');
    const body = Readable.from([Buffer.from('abc')]);
    expect(await kindOf(c.request({ method: 'PUT', url: `${base}/flaky503`, op: 'put', body, idempotent: true }))).toMatchObject({ kind: 'transient' });
    expect(hits.get('/flaky503')).toBe(1);
    await c.close();
  });

  it('recognises network errors through causes', () => {
    expect(isNetworkError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isNetworkError(new Error('x', { cause: Object.assign(new Error('y'), { code: 'UND_ERR_SOCKET' }) }))).toBe(true);
    expect(isNetworkError(new Error('x'))).toBe(false);
  });
});
