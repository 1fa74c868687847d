import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/client.js';

type Answer = 'drop' | { status: number; body: unknown };

/** What each request saw, and a server that gives the answers in order (the last one from then on). */
async function server(answers: Answer[]): Promise<{ client: ApiClient; seen: { key: string | undefined; body: string }[] }> {
  const seen: { key: string | undefined; body: string }[] = [];
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      seen.push({ key: req.headers['idempotency-key'] as string | undefined, body });
      const answer = answers[Math.min(seen.length, answers.length) - 1]!;
      // Read and then no answer at all: what a dropped connection looks like after the request got through.
      if (answer === 'drop') return req.socket.destroy();
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  servers.push(s);
  return { client: new ApiClient(`http://127.0.0.1:${(s.address() as { port: number }).port}`, 'knarr_test'), seen };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((res) => { s.closeAllConnections(); s.close(res); });
});

const started = { status: 202, body: { jobId: 'j', runId: 'r' } };
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('a POST that starts work', () => {
  it('carries a new Idempotency-Key each time; other requests carry none', async () => {
    const { client, seen } = await server([started]);
    expect(await client.startWork('/v1/jobs', { source: 'a:' })).toEqual(started.body);
    await client.startWork('/v1/jobs', { source: 'a:' });
    await client.post('/v1/remotes', {});
    expect(seen.map((s) => s.key)).toEqual([expect.stringMatching(uuid), expect.stringMatching(uuid), undefined]);
    expect(seen[0]!.key).not.toBe(seen[1]!.key);
  });

  it('is sent once more, with the same key and body, when the connection drops without an answer', async () => {
    const { client, seen } = await server(['drop', started]);
    expect(await client.startWork('/v1/jobs', { source: 'a:' })).toEqual(started.body);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
  });

  it('is sent once more when a gateway answers 502, 503 or 504', async () => {
    for (const status of [502, 503, 504]) {
      const { client, seen } = await server([{ status, body: { error: { code: 'unavailable', message: 'try later' } } }, started]);
      expect(await client.startWork('/v1/schedules/x/trigger')).toEqual(started.body);
      expect(seen.map((s) => s.key)).toEqual([seen[0]!.key, seen[0]!.key]);
    }
  });

  it('asks again while the server says the first one is still at work, then gets its answer', async () => {
    const inProgress = { status: 409, body: { error: { code: 'request_in_progress', message: 'still being answered' } } };
    const { client, seen } = await server(['drop', inProgress, inProgress, started]);
    expect(await client.startWork('/v1/jobs/j/runs')).toEqual(started.body);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen).toHaveLength(4);
  });

  it('is sent only twice: a second failure is the answer (exit 5)', async () => {
    const { client, seen } = await server(['drop']);
    await expect(client.startWork('/v1/jobs', {})).rejects.toMatchObject({ exitCode: 5, code: 'unreachable' });
    expect(seen).toHaveLength(2);
  });

  it('is not sent again after an answer from knarr itself', async () => {
    for (const [status, exitCode] of [[500, 1], [400, 2], [409, 1]] as const) {
      const { client, seen } = await server([{ status, body: { error: { code: 'x', message: 'no' } } }, started]);
      await expect(client.startWork('/v1/jobs', {})).rejects.toMatchObject({ status, exitCode });
      expect(seen).toHaveLength(1);
    }
  });
});
