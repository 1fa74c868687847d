import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDevServerProcess, startDevServer, type DevServer } from '../../runtime/devServer.js';
import { freePort } from '../support/ports.js';

describe('shared Temporal dev server from the global setup', () => {
  it('answers for the default namespace', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const res = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(res.namespaceInfo?.name).toBe('default');
    } finally {
      await connection.close();
    }
  });

  it('provides the CLI path and a database URL', () => {
    expect(existsSync(inject('temporalCliPath'))).toBe(true);
    expect(inject('databaseUrl')).toMatch(/^postgres(ql)?:\/\//);
  });
});

describe('startDevServer', () => {
  const cliPath = inject('temporalCliPath');
  let dir: string;
  const servers: DevServer[] = [];
  const start = async (opts: Partial<Parameters<typeof startDevServer>[0]> = {}) => {
    const server = await startDevServer({ cliPath, port: await freePort(), headless: true, ...opts });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-devserver-'));
  });
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps workflows in the SQLite file across a restart', async () => {
    const dbFile = join(dir, 'persist', 'temporal.db');
    const workflowId = `persist-${Date.now()}`;

    const first = await start({ dbFile });
    const c1 = await Connection.connect({ address: first.address });
    // No worker polls this queue: the execution just sits there, RUNNING.
    await new Client({ connection: c1 }).workflow.start('knarrNobodyRunsThis', { taskQueue: 'nobody-polls', workflowId });
    await c1.close();
    await first.stop();
    expect(await first.exited).toBeDefined();

    const second = await start({ dbFile });
    const c2 = await Connection.connect({ address: second.address });
    try {
      const description = await new Client({ connection: c2 }).workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('RUNNING');
      expect(description.type).toBe('knarrNobodyRunsThis');
    } finally {
      await c2.close();
    }
    expect(second.logFile).toBe(join(dir, 'persist', 'temporal.log'));
    expect(existsSync(second.logFile!)).toBe(true);
    await second.stop();
  });

  it('stops a dev server left behind in the pid file, and nothing else', async () => {
    const pidFile = join(dir, 'stale', 'temporal.pid');
    const lines: string[] = [];
    const stale = await start({ pidFile, log: (l) => lines.push(l) });
    expect(Number((await readFile(pidFile, 'utf8')).trim())).toBe(stale.pid);
    expect(isDevServerProcess(stale.pid)).toBe(true);

    // As if knarr had been SIGKILLed: the old server still runs and the pid file still names it.
    const next = await start({ pidFile });
    expect(await stale.exited).toBeDefined();
    expect(lines.join('\n')).toMatch(/exited unexpectedly/);
    expect(Number((await readFile(pidFile, 'utf8')).trim())).toBe(next.pid);
    await next.stop();
    expect(existsSync(pidFile)).toBe(false);

    // A reused pid that belongs to some other program must survive.
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(pidFile, `${bystander.pid}\n`);
      expect(isDevServerProcess(bystander.pid!)).toBe(false);
      const third = await start({ pidFile });
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
      await third.stop();
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('serves the Web UI unless headless', async () => {
    const uiPort = await freePort();
    const server = await start({ headless: false, uiPort });
    expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
    const res = await fetch(server.uiUrl!);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await server.stop();
  });

  it('fails with the server output when it cannot start', async () => {
    // A directory where the SQLite file should be: the CLI starts, then gives up.
    const dbFile = join(dir, 'is-a-directory');
    await mkdir(dbFile);
    const err = (await startDevServer({ cliPath, port: await freePort(), headless: true, dbFile }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/Temporal dev server on 127\.0\.0\.1:\d+ exited during startup \(exit code 1\); last output:/);
    expect(err.message).toMatch(/failed starting server/);
  });
});
