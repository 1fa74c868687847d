/**
 * Self-tests of the Jottacloud emulator (test/fakes/jottacloud) with a plain HTTP client (undici):
 * the login-token flow end to end, refresh rotation and reuse detection, allocate/upload/resume,
 * dedupe, MD5 mismatch, the XML shapes, Range, trash and revisions, and every fault.
 * The independent check with rclone is jottacloud-rclone.test.ts.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLoginToken, type JottaEmulator, startJottacloudEmulator } from '../fakes/jottacloud/index.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const JOTTA_TIME = /^\d{4}-\d{2}-\d{2}-T\d{2}:\d{2}:\d{2}Z$/;
const agent = new Agent({ keepAliveTimeout: 1000 });

interface Session {
  access: string;
  refresh: string;
  user: string;
  tokenEndpoint: string;
}

async function json<T>(res: Awaited<ReturnType<typeof request>>): Promise<T> {
  return (await res.body.json()) as T;
}

/** The connector's flow (§2.1–§2.8): decode the token, GET well-known, password grant, customer lookup. */
async function login(emu: JottaEmulator, loginToken = emu.issueLoginToken(), dispatcher: Agent = agent): Promise<Session> {
  const t = decodeLoginToken(loginToken);
  const wk = await json<{ token_endpoint: string }>(await request(t.well_known_link, { dispatcher }));
  const form = new URLSearchParams({ client_id: 'jottacli', grant_type: 'password', password: t.auth_token, scope: 'openid offline_access', username: t.username });
  const res = await request(wk.token_endpoint, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, dispatcher });
  expect(res.statusCode).toBe(200);
  const tok = await json<{ access_token: string; refresh_token: string; expires_in: number; token_type: string }>(res);
  expect(tok.token_type).toBe('Bearer');
  const cust = await json<{ username: string }>(await request(`${emu.apiUrl}account/v1/customer`, { headers: { authorization: `Bearer ${tok.access_token}` }, dispatcher }));
  expect(cust.username).toBe(t.username);
  return { access: tok.access_token, refresh: tok.refresh_token, user: cust.username, tokenEndpoint: wk.token_endpoint };
}

async function refresh(s: Session, style: 'basic' | 'body', rt = s.refresh): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (style === 'basic') headers.authorization = `Basic ${Buffer.from('jottacli:').toString('base64')}`;
  else form.set('client_id', 'jottacli');
  const res = await request(s.tokenEndpoint, { method: 'POST', body: form.toString(), headers, dispatcher: agent });
  return { status: res.statusCode, body: await json<Record<string, unknown>>(res) };
}

function jfsPath(s: Session, p: string): string {
  return `${s.user}/Jotta/Archive${p ? '/' + p.split('/').map(encodeURIComponent).join('/') : ''}`;
}

async function jfs(emu: JottaEmulator, s: Session, method: string, p: string, query = '', headers: Record<string, string> = {}) {
  const res = await request(`${emu.jfsUrl}${jfsPath(s, p)}${query}`, { method: method as 'GET', headers: { authorization: `Bearer ${s.access}`, ...headers }, dispatcher: agent });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function allocate(emu: JottaEmulator, s: Session, path: string, data: Buffer | { md5: string; bytes: number }, extra: Record<string, unknown> = {}) {
  const body = { bytes: Buffer.isBuffer(data) ? data.length : data.bytes, created: '2024-05-01T10:19:09+02:00', md5: Buffer.isBuffer(data) ? md5(data) : data.md5, modified: '2024-05-01T10:19:09+02:00', path: `/jfs/Jotta/Archive/${path}`, ...extra };
  const res = await request(`${emu.apiUrl}files/v1/allocate`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${s.access}`, 'content-type': 'application/json' }, dispatcher: agent });
  return { status: res.statusCode, body: await json<Record<string, unknown> & { state: string; upload_url: string; resume_pos: number }>(res) };
}

async function send(s: Session, uploadUrl: string, body: Buffer | Readable, headers: Record<string, string> = {}, length?: number) {
  const res = await request(uploadUrl, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${s.access}`, 'content-type': 'application/octet-stream', 'content-length': String(length ?? (body as Buffer).length), ...headers },
    dispatcher: agent,
  });
  return { status: res.statusCode, body: await json<Record<string, unknown>>(res) };
}

async function put(emu: JottaEmulator, s: Session, path: string, data: Buffer): Promise<void> {
  const a = await allocate(emu, s, path, data);
  expect(a.status).toBe(200);
  if (a.body.state !== 'COMPLETED') expect((await send(s, a.body.upload_url, data)).status).toBe(200);
}

let emu: JottaEmulator;
let s: Session;

beforeAll(async () => {
  emu = await startJottacloudEmulator({});
  s = await login(emu);
});
afterAll(async () => {
  await emu?.stop();
  await agent.close();
});

describe('auth: Personal Login Token, refresh rotation, bearer checks', () => {
  it('issues unpadded base64url login tokens whose well_known_link points at the emulator', () => {
    const raw = emu.issueLoginToken();
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    const t = decodeLoginToken(raw);
    expect(t).toMatchObject({ username: emu.defaultAccount, realm: 'jottacloud' });
    expect(t.well_known_link).toBe(`${emu.url}/auth/realms/jottacloud/.well-known/openid-configuration`);
    expect(raw.length).toBeGreaterThan(250);
  });

  it('accepts a login token exactly once', async () => {
    const token = emu.issueLoginToken();
    await login(emu, token);
    const t = decodeLoginToken(token);
    const form = new URLSearchParams({ client_id: 'jottacli', grant_type: 'password', password: t.auth_token, scope: 'openid offline_access', username: t.username });
    const res = await request(`${emu.url}/auth/realms/jottacloud/protocol/openid-connect/token`, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('POST /__emulator/login-token hands out fresh tokens for the same account', async () => {
    const res = await request(`${emu.url}/__emulator/login-token`, { method: 'POST' });
    const body = (await res.body.json()) as { loginToken: string; username: string };
    expect(body.username).toBe(emu.defaultAccount);
    const other = await login(emu, body.loginToken);
    expect(other.user).toBe(emu.defaultAccount);
  });

  it('rotates refresh tokens with either client-auth style and kills the family on reuse', async () => {
    const a = await login(emu);
    const r1 = await refresh(a, 'basic');
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(a.refresh);
    const b = { ...a, access: String(r1.body.access_token), refresh: String(r1.body.refresh_token) };
    const r2 = await refresh(b, 'body');
    expect(r2.status).toBe(200);
    const c = { ...b, access: String(r2.body.access_token), refresh: String(r2.body.refresh_token) };
    expect((await jfs(emu, c, 'GET', '')).status).toBe(200);
    // Reuse of an old refresh token: 400 invalid_grant, and the whole family dies.
    const reuse = await refresh(b, 'basic');
    expect(reuse).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: "Session doesn't have required client" } });
    expect((await refresh(c, 'basic')).status).toBe(400);
    expect((await jfs(emu, c, 'GET', '')).status).toBe(401);
    expect(emu.authStats().reuseDetected).toBeGreaterThanOrEqual(1);
  });

  it('checks client authentication before consuming a refresh token', async () => {
    const a = await login(emu);
    const bad = await request(a.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.refresh }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('someone:secret').toString('base64')}` },
    });
    expect(bad.statusCode).toBe(401);
    expect(await bad.body.json()).toMatchObject({ error: 'invalid_client' });
    expect((await refresh(a, 'body')).status).toBe(200); // not consumed by the rejected try
    const upper = await request(a.tokenEndpoint, { method: 'POST', body: 'grant_type=REFRESH_TOKEN&client_id=jottacli&refresh_token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(await upper.body.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('answers missing, bad and foreign tokens with 401 in each host style', async () => {
    const noTok = await request(`${emu.jfsUrl}${s.user}/Jotta/Archive`);
    expect(noTok.statusCode).toBe(401);
    const xml = await noTok.body.text();
    expect(xml).toContain('<code>401</code>');
    expect(xml).toContain('BadCredentialsException: No token or token is malformed!');
    const api = await request(`${emu.apiUrl}account/v1/customer`, { headers: { authorization: 'Bearer nope' } });
    expect(api.statusCode).toBe(401);
    expect(await api.body.json()).toMatchObject({ code: 401, error_id: 'BadCredentialsException' });
    const other = emu.addAccount('someone-else');
    const mismatch = await request(`${emu.jfsUrl}${other}/Jotta/Archive`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(mismatch.statusCode).toBe(401);
    expect(await mismatch.body.text()).toContain('Token mismatch!');
  });
});

describe('JFS: listing, uploads, downloads, trash, revisions', () => {
  it('lists the mountpoint and folders in the exact XML shapes', async () => {
    expect((await jfs(emu, s, 'POST', 'docs/sub', '?mkDir=true')).status).toBe(200);
    await put(emu, s, 'docs/a.txt', Buffer.from('hello'));
    const mp = await jfs(emu, s, 'GET', '');
    expect(mp.status).toBe(200);
    expect(mp.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<mountPoint time="[^"]+" host="dn-emu">/);
    expect(mp.text).toContain(`<path xml:space="preserve">/${s.user}/Jotta</path>`);
    expect(mp.text).toContain('<folders><folder name="docs"/></folders>');
    const folder = await jfs(emu, s, 'GET', 'docs');
    expect(folder.text).toMatch(/<folder name="docs" time="[^"]+" host="dn-emu"><path xml:space="preserve">\/[^<]+\/Jotta\/Archive<\/path>/);
    expect(folder.text).toContain('<metadata first="" max="" total="2" num_folders="1" num_files="1"/>');
    const rev = /<currentRevision><number>1<\/number><state>COMPLETED<\/state><created>([^<]+)<\/created><modified>([^<]+)<\/modified><mime>text\/plain<\/mime><mstyle>TEXT_PLAIN<\/mstyle><size>5<\/size><md5>5d41402abc4b2a76b9719d911017c592<\/md5><updated>([^<]+)<\/updated><\/currentRevision>/.exec(folder.text);
    expect(rev).not.toBeNull();
    for (const t of rev!.slice(1)) expect(t).toMatch(JOTTA_TIME);
    expect(rev![1]).toBe('2024-05-01-T08:19:09Z'); // RFC3339 with offset in, UTC Jotta time out
    const missing = await jfs(emu, s, 'GET', 'docs/nope.txt');
    expect(missing.status).toBe(404);
    expect(missing.text).toMatch(/<error><code>404<\/code><message>no\.jotta\.backup\.errors\.NoSuchFileException: [^<]+<\/message><reason>Not Found<\/reason>/);
  });

  it('allocates, uploads, resumes from resume_pos, and answers 420 for a partial chunk', async () => {
    const data = randomBytes(300_000);
    const a = await allocate(emu, s, 'resume/r.bin', data);
    expect(a.body).toMatchObject({ state: 'INCOMPLETE', resume_pos: 0, bytes: data.length, name: 'r.bin', path: '/jfs/Jotta/Archive/resume/r.bin' });
    const part = await send(s, a.body.upload_url, data.subarray(0, 100_000), { range: `bytes=0-99999` });
    expect(part.status).toBe(420);
    expect(part.body).toMatchObject({ error_id: 'IncompleteUploadOpenApiException' });
    const stat = await jfs(emu, s, 'GET', 'resume/r.bin');
    expect(stat.text).toMatch(/<latestRevision><number>1<\/number><state>INCOMPLETE<\/state>.*<size>100000<\/size>/);
    expect(stat.text).not.toContain('<currentRevision>');
    const listing = await jfs(emu, s, 'GET', 'resume');
    expect(listing.text).toContain('<state>INCOMPLETE</state>');
    expect(listing.text).not.toContain('<size>100000</size>'); // §4.2: no size for INCOMPLETE in listings
    const b = await allocate(emu, s, 'resume/r.bin', data);
    expect(b.body).toMatchObject({ state: 'INCOMPLETE', resume_pos: 100_000 });
    expect(b.body.upload_id).not.toBe(a.body.upload_id);
    const done = await send(s, b.body.upload_url, data.subarray(100_000), { range: `bytes=100000-${data.length - 1}` });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ path: '/jfs/Jotta/Archive/resume/r.bin', bytes: data.length, md5: md5(data), modified: Date.parse('2024-05-01T08:19:09Z') });
    expect(emu.file('Jotta/Archive/resume/r.bin')?.revisions).toEqual([{ number: 1, state: 'COMPLETED', size: data.length, md5: md5(data) }]);
    expect(await emu.storedMd5('Jotta/Archive/resume/r.bin')).toBe(md5(data));
    // The same upload URL posted again after completion: same answer, no second revision.
    expect((await send(s, b.body.upload_url, Buffer.alloc(0), {}, 0)).status).toBe(200);
    expect(emu.file('Jotta/Archive/resume/r.bin')?.revisions).toHaveLength(1);
  });

  it('answers COMPLETED for known content: same path (timestamps only), elsewhere (dedupe), zero bytes', async () => {
    const data = Buffer.from('dedupe me');
    await put(emu, s, 'dd/one.txt', data);
    const same = await allocate(emu, s, 'dd/one.txt', data, { modified: '2020-01-01T00:00:00Z' });
    expect(same.body.state).toBe('COMPLETED');
    expect(emu.file('Jotta/Archive/dd/one.txt')?.revisions).toHaveLength(1);
    expect((await jfs(emu, s, 'GET', 'dd/one.txt')).text).toContain('<modified>2020-01-01-T00:00:00Z</modified>');
    const other = await allocate(emu, s, 'dd/two.txt', data);
    expect(other.body.state).toBe('COMPLETED');
    expect(emu.file('Jotta/Archive/dd/two.txt')).toMatchObject({ md5: md5(data), size: data.length });
    const empty = await allocate(emu, s, 'dd/empty', Buffer.alloc(0));
    expect(empty.body.state).toBe('COMPLETED');
    expect(emu.file('Jotta/Archive/dd/empty')).toMatchObject({ size: 0, md5: 'd41d8cd98f00b204e9800998ecf8427e' });
    // Integer-millisecond times ([A]) are accepted too.
    expect((await allocate(emu, s, 'dd/ms.txt', Buffer.from('ms'), { created: 1714551549000, modified: 1714551549000 })).status).toBe(200);
  });

  it('marks an MD5 mismatch CORRUPT (421) and keeps the current revision', async () => {
    const good = Buffer.from('version one');
    await put(emu, s, 'c/file.txt', good);
    const claimed = Buffer.from('version two');
    const a = await allocate(emu, s, 'c/file.txt', claimed);
    const r = await send(s, a.body.upload_url, Buffer.from('version 2!!'));
    expect(r.status).toBe(421);
    expect(r.body).toMatchObject({ error_id: 'CorruptUploadOpenApiException' });
    const stat = await jfs(emu, s, 'GET', 'c/file.txt');
    expect(stat.text).toContain(`<md5>${md5(good)}</md5>`);
    expect(stat.text).toMatch(new RegExp(`<latestRevision><number>2</number><state>CORRUPT</state>(?:(?!<size>).)*<md5>${md5(claimed)}</md5>`));
    expect(emu.file('Jotta/Archive/c/file.txt')).toMatchObject({ md5: md5(good), latestRevision: { state: 'CORRUPT' } });
  });

  it('keeps older revisions on overwrite and shows them on stat', async () => {
    await put(emu, s, 'v/f.txt', Buffer.from('one'));
    await put(emu, s, 'v/f.txt', Buffer.from('two'));
    expect(emu.file('Jotta/Archive/v/f.txt')?.revisions.map((r) => r.number)).toEqual([1, 2]);
    const stat = await jfs(emu, s, 'GET', 'v/f.txt');
    expect(stat.text).toMatch(new RegExp(`<currentRevision><number>2</number>.*<revisions><revision><number>1</number>.*<md5>${md5('one')}</md5>`, 's'));
  });

  it('downloads with mode=bin and one Range', async () => {
    const data = randomBytes(10_000);
    await put(emu, s, 'dl/x.bin', data);
    const full = await request(`${emu.jfsUrl}${jfsPath(s, 'dl/x.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(full.statusCode).toBe(200);
    expect(Buffer.from(await full.body.arrayBuffer()).equals(data)).toBe(true);
    const part = await request(`${emu.jfsUrl}${jfsPath(s, 'dl/x.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}`, range: 'bytes=100-199' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 100-199/10000');
    expect(Buffer.from(await part.body.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
    const tail = await request(`${emu.jfsUrl}${jfsPath(s, 'dl/x.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}`, range: 'bytes=9990-' } });
    expect((await tail.body.arrayBuffer()).byteLength).toBe(10);
    const bad = await request(`${emu.jfsUrl}${jfsPath(s, 'dl/x.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}`, range: 'bytes=20000-' } });
    expect(bad.statusCode).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */10000');
    await bad.body.text();
  });

  it('trashes with dl/dlDir, keeps tombstones addressable, purges with rm/rmDir and purge_trash', async () => {
    await put(emu, s, 't/keep.txt', Buffer.from('keep'));
    await put(emu, s, 't/gone.txt', Buffer.from('gone'));
    await put(emu, s, 't/dir/inner.txt', Buffer.from('inner'));
    const dl = await jfs(emu, s, 'POST', 't/gone.txt', '?dl=true');
    expect(dl.status).toBe(200);
    expect(dl.text).toMatch(/<file name="gone.txt" uuid="[^"]+" deleted="\d{4}-\d{2}-\d{2}-T\d{2}:\d{2}:\d{2}Z"/);
    expect((await jfs(emu, s, 'POST', 't/never-there.txt', '?dl=true')).status).toBe(200); // §9.4 item 1
    expect((await jfs(emu, s, 'POST', 't/never-there.txt', '?rm=true')).status).toBe(404);
    const stat = await jfs(emu, s, 'GET', 't/gone.txt');
    expect(stat.status).toBe(200);
    expect(stat.text).toContain('deleted="');
    expect((await jfs(emu, s, 'POST', 't/dir', '?dlDir=true')).status).toBe(200);
    const listing = await jfs(emu, s, 'GET', 't');
    expect(listing.text).toMatch(/<folder name="dir" deleted="[^"]+"><abspath xml:space="preserve">\/[^<]+\/Jotta\/Archive\/t<\/abspath><\/folder>/);
    expect(listing.text).toMatch(/<file name="gone.txt" uuid="[^"]+" deleted="[^"]+"><abspath/);
    expect((await jfs(emu, s, 'GET', 't/dir/inner.txt')).text).toContain('deleted="'); // subtree stays readable
    const trash = await request(`${emu.jfsUrl}${s.user}/Jotta/Trash`, { headers: { authorization: `Bearer ${s.access}` } });
    const trashXml = await trash.body.text();
    expect(trashXml).toContain('<name xml:space="preserve">Trash</name>');
    expect(trashXml).toMatch(/<file name="gone.txt"[^>]*contextType="TRASH"/);
    expect(emu.trash().map((f) => f.path)).toEqual(expect.arrayContaining(['/Jotta/Archive/t/gone.txt', '/Jotta/Archive/t/dir/inner.txt']));
    const purge = await request(`${emu.apiUrl}files/v1/purge_trash`, { method: 'POST', headers: { authorization: `Bearer ${s.access}` } });
    expect(await purge.body.json()).toEqual({ folders: 1, files: 2 });
    expect(emu.trash()).toEqual([]);
    expect((await jfs(emu, s, 'GET', 't/gone.txt')).status).toBe(404);
    expect((await jfs(emu, s, 'POST', 't/keep.txt', '?rm=true')).status).toBe(200);
    expect(emu.file('Jotta/Archive/t/keep.txt')).toBeUndefined();
    await put(emu, s, 't/d2/x', Buffer.from('x'));
    expect((await jfs(emu, s, 'POST', 't/d2', '?rmDir=true')).status).toBe(200);
    expect(emu.folders().some((f) => f.path === '/Jotta/Archive/t/d2')).toBe(false);
  });

  it('moves, copies and moves folders; cp onto a trashed file stays trashed until cphash restores it', async () => {
    const data = Buffer.from('move me');
    await put(emu, s, 'm/a.txt', data);
    const target = (p: string): string => encodeURIComponent(`/${s.user}/Jotta/Archive/${p}`).replace(/%20/g, '+');
    const mv = await jfs(emu, s, 'POST', 'm/a.txt', `?mv=${target('m/new dir/b.txt')}`);
    expect(mv.status).toBe(200);
    expect(mv.text).toMatch(/<file name="b.txt"[^>]*><path xml:space="preserve">\/[^<]+\/Jotta\/Archive\/m\/new dir<\/path>.*<state>COMPLETED<\/state>/);
    expect(emu.file('Jotta/Archive/m/a.txt')).toBeUndefined();
    const again = await jfs(emu, s, 'POST', 'm/a.txt', `?mv=${target('m/c.txt')}`);
    expect(again.status).toBe(404); // §9.4 item 4
    expect(again.text).toContain('NoSuchFileException');
    await put(emu, s, 'm/trashed.txt', Buffer.from('old'));
    await jfs(emu, s, 'POST', 'm/trashed.txt', '?dl=true');
    const cp = await jfs(emu, s, 'POST', 'm/new dir/b.txt', `?cp=${target('m/trashed.txt')}`);
    expect(cp.status).toBe(200);
    expect(cp.text).toMatch(/<file name="trashed.txt"[^>]*deleted=/); // #6112
    const h = await jfs(emu, s, 'POST', 'm/trashed.txt', '?cphash=true', { JSize: String(data.length), JMd5: md5(data), JCreated: '2024-05-01-T08:19:09Z', JModified: '2024-05-01-T08:19:09Z' });
    expect(h.status).toBe(200);
    expect(h.text).not.toContain('deleted=');
    expect(emu.file('Jotta/Archive/m/trashed.txt')).toMatchObject({ deleted: false, md5: md5(data) });
    const miss = await jfs(emu, s, 'POST', 'm/other.txt', '?cphash=true', { JSize: '3', JMd5: md5('zzz'), JCreated: 'junk', JModified: 'junk' });
    expect(miss.status).toBe(404);
    // mvDir with the raw source path and a trailing slash (§3 quirk).
    const raw = await request(`${emu.jfsUrl}${s.user}/Jotta/Archive/m/new dir/?mvDir=${target('m2/moved dir')}`.replace(/ /g, '%20'), { method: 'POST', headers: { authorization: `Bearer ${s.access}` } });
    expect(raw.statusCode).toBe(200);
    await raw.body.text();
    expect(emu.file('Jotta/Archive/m2/moved dir/b.txt')).toMatchObject({ md5: md5(data) });
  });

  it('streams mode=liststream with folders before files and exact stats', async () => {
    await put(emu, s, 'ls/a/1.txt', Buffer.from('1'));
    await put(emu, s, 'ls/a/b/2.txt', Buffer.from('22'));
    await jfs(emu, s, 'POST', 'ls/empty', '?mkDir=true');
    await put(emu, s, 'ls/gone.txt', Buffer.from('g'));
    await jfs(emu, s, 'POST', 'ls/gone.txt', '?dl=true');
    const r = await jfs(emu, s, 'GET', 'ls', '?mode=liststream');
    expect(r.status).toBe(200);
    const folders = [...r.text.matchAll(/<folder><path>([^<]+)<\/path><\/folder>/g)].map((m) => m[1]);
    expect(folders).toEqual(['/Archive/ls', '/Archive/ls/a', '/Archive/ls/a/b', '/Archive/ls/empty']);
    expect(r.text).toContain(`<file><path>/Archive/ls/a/b</path><filename>2.txt</filename><md5>${md5('22')}</md5><size>2</size><modified>2024-05-01T08:19:09.000Z</modified>`);
    expect(r.text).not.toContain('gone.txt');
    expect(r.text).toContain('<stats><folders>4</folders><files>2</files></stats>');
    expect(r.text.indexOf('<folder><path>/Archive/ls/a/b</path>')).toBeLessThan(r.text.indexOf('<filename>2.txt</filename>'));
  });

  it('serves the user, device and customer documents', async () => {
    const user = await request(`${emu.jfsUrl}${s.user}`, { headers: { authorization: `Bearer ${s.access}` } });
    const xml = await user.body.text();
    expect(xml).toMatch(/<user time="[^"]+" host="dn-emu"><username>[0-9a-f]{24}<\/username><account-type>unlimited<\/account-type><locked>false<\/locked><capacity>-1<\/capacity>/);
    expect(xml).toContain('<devices><device><name xml:space="preserve">Jotta</name>');
    const dev = await request(`${emu.jfsUrl}${s.user}/Jotta`, { headers: { authorization: `Bearer ${s.access}` } });
    const devXml = await dev.body.text();
    expect(devXml).toContain('<type>JOTTA</type>');
    expect(devXml).toContain('num_mountpoints="4"');
    expect(devXml).not.toContain('>Trash<');
    const cust = await request(`${emu.apiUrl}account/v1/customer`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(await cust.body.json()).toMatchObject({ username: s.user, quota: -1, write_locked: false });
  });

  it('refuses long names, raw plus signs, and treats raw semicolons as servlet path parameters', async () => {
    const long = 'x'.repeat(256);
    const r = await jfs(emu, s, 'POST', long, '?mkDir=true');
    expect(r.status).toBe(400);
    expect(r.text).toContain('InvalidArgumentException: JFS file names may not be longer than 255 characters');
    expect((await allocate(emu, s, long, Buffer.from('x'))).status).toBe(400);
    expect((await jfs(emu, s, 'POST', 'x'.repeat(255), '?mkDir=true')).status).toBe(200);
    const plus = await request(`${emu.jfsUrl}${s.user}/Jotta/Archive/a+b`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(plus.statusCode).toBe(400);
    expect(await plus.body.text()).toContain('Unable to validate decoded path');
    await put(emu, s, 'semi/a;b.txt', Buffer.from('s'));
    const raw = await request(`${emu.jfsUrl}${s.user}/Jotta/Archive/semi/a;b.txt`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(raw.statusCode).toBe(404);
    await raw.body.text();
    expect((await jfs(emu, s, 'GET', 'semi/a;b.txt')).status).toBe(200); // encoded %3B works
  });

  it('stores a name with a literal %XX through allocate, then refuses every JFS request for it with a bare 400 (rclone#9153)', async () => {
    await put(emu, s, 'pct/Pinus%20palustris.jpg', Buffer.from('p'));
    const stat = await jfs(emu, s, 'GET', 'pct/Pinus%20palustris.jpg');
    expect(stat.status).toBe(400);
    expect(stat.text).toBe('400 Bad Request'); // no <error> document: rclone says "error 400: 400 Bad request"
    expect((await jfs(emu, s, 'GET', 'pct/Pinus%20palustris.jpg', '?mode=bin')).status).toBe(400);
    expect((await jfs(emu, s, 'POST', 'pct/Pinus%20palustris.jpg', '?dl=true')).status).toBe(400);
    expect((await jfs(emu, s, 'POST', 'pct/x%4a/y', '?mkDir=true')).status).toBe(400);
    // The folder lists it, as the real service lists what it cannot open.
    expect((await jfs(emu, s, 'GET', 'pct')).text).toContain('name="Pinus%20palustris.jpg"');
    // A % that starts no escape, and rclone's fullwidth ％, are ordinary characters.
    await put(emu, s, 'pct/100%.txt', Buffer.from('h'));
    expect((await jfs(emu, s, 'GET', 'pct/100%.txt')).status).toBe(200);
    await put(emu, s, 'pct/Pinus％20palustris.jpg', Buffer.from('f'));
    expect((await jfs(emu, s, 'GET', 'pct/Pinus％20palustris.jpg')).status).toBe(200);
  });

  it('handles a 1 GiB file from disk with flat memory, and reads back a range from its middle', async () => {
    const block = randomBytes(1 << 20);
    const blocks = 1024;
    const h = createHash('md5');
    for (let i = 0; i < blocks; i++) h.update(block);
    const digest = h.digest('hex');
    const size = blocks * block.length;
    const a = await allocate(emu, s, 'big/1g.bin', { md5: digest, bytes: size });
    const rssBefore = process.memoryUsage().rss;
    const body = Readable.from((function* () {
      for (let i = 0; i < blocks; i++) yield block;
    })());
    const r = await send(s, a.body.upload_url, body, {}, size);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ bytes: size, md5: digest });
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    const mid = await request(`${emu.jfsUrl}${jfsPath(s, 'big/1g.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}`, range: `bytes=${512 * block.length + 10}-${512 * block.length + 9 + 1000}` } });
    expect(mid.statusCode).toBe(206);
    expect(Buffer.from(await mid.body.arrayBuffer()).equals(block.subarray(10, 1010))).toBe(true);
    await jfs(emu, s, 'POST', 'big/1g.bin', '?rm=true');
  }, 240_000);
});

describe('faults', () => {
  it('throttles the next N requests with 429, with and without Retry-After, and 503', async () => {
    emu.faults.throttle(2, { retryAfterSec: 7 });
    const a = await jfs(emu, s, 'GET', '');
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe('7');
    expect((await allocate(emu, s, 'th/x', Buffer.from('x'))).status).toBe(429);
    expect((await jfs(emu, s, 'GET', '')).status).toBe(200);
    emu.faults.throttle(1);
    const b = await jfs(emu, s, 'GET', '');
    expect(b.status).toBe(429);
    expect(b.headers['retry-after']).toBeUndefined();
    emu.faults.throttle(1, { status: 503, roles: ['download'] });
    expect((await jfs(emu, s, 'GET', '')).status).toBe(200);
    await put(emu, s, 'th/y', Buffer.from('y'));
    expect((await jfs(emu, s, 'GET', 'th/y', '?mode=bin')).status).toBe(503);
    expect((await jfs(emu, s, 'GET', 'th/y', '?mode=bin')).status).toBe(200);
  });

  it('caps upload bandwidth', async () => {
    emu.faults.capUploadBandwidth(200_000);
    const data = randomBytes(300_000);
    const a = await allocate(emu, s, 'bw/slow.bin', data);
    const t0 = Date.now();
    expect((await send(s, a.body.upload_url, data)).status).toBe(200);
    const ms = Date.now() - t0;
    emu.faults.capUploadBandwidth(null);
    expect(ms).toBeGreaterThanOrEqual(1300);
  });

  it('cuts an upload after K bytes, keeping them for resume', async () => {
    const data = randomBytes(500_000);
    emu.faults.cutUploadAfter(123_456);
    const a = await allocate(emu, s, 'cut/u.bin', data);
    await expect(send(s, a.body.upload_url, data)).rejects.toThrow();
    const b = await allocate(emu, s, 'cut/u.bin', data);
    expect(b.body.resume_pos).toBe(123_456);
    expect((await send(s, b.body.upload_url, data.subarray(123_456), { range: `bytes=123456-${data.length - 1}` })).status).toBe(200);
    expect(await emu.storedMd5('Jotta/Archive/cut/u.bin')).toBe(md5(data));
    expect(emu.log.some((e) => e.role === 'upload' && e.cut && e.bytes === 123_456)).toBe(true);
  });

  it('cuts a download after K bytes', async () => {
    const data = randomBytes(200_000);
    await put(emu, s, 'cut/d.bin', data);
    emu.faults.cutDownloadAfter(50_000);
    const res = await request(`${emu.jfsUrl}${jfsPath(s, 'cut/d.bin')}?mode=bin`, { headers: { authorization: `Bearer ${s.access}` } });
    let got = 0;
    await expect(
      (async () => {
        for await (const c of res.body) got += (c as Buffer).length;
      })(),
    ).rejects.toThrow();
    expect(got).toBe(50_000);
  });

  it('expires access tokens quickly, and on demand', async () => {
    emu.faults.setAccessTokenLifetime(1);
    const a = await login(emu, emu.issueLoginToken(emu.addAccount('expiry')));
    expect((await jfs(emu, a, 'GET', '')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await jfs(emu, a, 'GET', '')).status).toBe(401);
    emu.faults.setAccessTokenLifetime(null);
    const r = await refresh(a, 'basic');
    expect(r.body.expires_in).toBe(3600);
    const b = { ...a, access: String(r.body.access_token), refresh: String(r.body.refresh_token) };
    expect((await jfs(emu, b, 'GET', '')).status).toBe(200);
    emu.faults.expireAccessTokens(b.user);
    expect((await jfs(emu, b, 'GET', '')).status).toBe(401);
    expect((await refresh(b, 'body')).status).toBe(200); // refresh tokens survive
  });

  it('revokes every session of an account', async () => {
    const acct = emu.addAccount('revoke-me');
    const a = await login(emu, emu.issueLoginToken(acct));
    emu.faults.revokeSessions(acct);
    expect((await request(`${emu.apiUrl}account/v1/customer`, { headers: { authorization: `Bearer ${a.access}` } })).statusCode).toBe(401);
    expect(await refresh(a, 'basic')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(emu.sessions(acct).every((x) => x.revoked)).toBe(true);
  });

  it('corrupts an MD5: different bytes stored, or a wrong md5 reported', async () => {
    const data = randomBytes(5000);
    emu.faults.corruptMd5('bytes');
    await put(emu, s, 'bad/bytes.bin', data);
    expect(emu.file('Jotta/Archive/bad/bytes.bin')?.md5).toBe(md5(data));
    expect(await emu.storedMd5('Jotta/Archive/bad/bytes.bin')).not.toBe(md5(data));
    const data2 = randomBytes(5000);
    emu.faults.corruptMd5('md5');
    await put(emu, s, 'bad/md5.bin', data2);
    expect(emu.file('Jotta/Archive/bad/md5.bin')?.md5).not.toBe(md5(data2));
    expect(await emu.storedMd5('Jotta/Archive/bad/md5.bin')).toBe(md5(data2));
    // A corrupted blob never serves as a dedupe source: the next upload of the same content sends bytes.
    expect((await allocate(emu, s, 'bad/again.bin', data)).body.state).toBe('INCOMPLETE');
  });

  it('reports the quota full: allocate refused with 460, account shows write-locked', async () => {
    emu.faults.setQuotaFull(true);
    const a = await allocate(emu, s, 'q/x.bin', randomBytes(10));
    expect(a.status).toBe(460);
    const cust = await request(`${emu.apiUrl}account/v1/customer`, { headers: { authorization: `Bearer ${s.access}` } });
    expect(await cust.body.json()).toMatchObject({ write_locked: true });
    expect((await jfs(emu, s, 'GET', '')).status).toBe(200); // reading still works
    emu.faults.setQuotaFull(false);
    expect((await allocate(emu, s, 'q/x.bin', randomBytes(10))).status).toBe(200);
  });

  it('fails huge folders with 500 (#5639)', async () => {
    emu.faults.failFoldersLargerThan(1);
    const r = await jfs(emu, s, 'GET', 'docs');
    expect(r.status).toBe(500);
    expect(r.text).toContain('Packet for query is too large');
    emu.faults.failFoldersLargerThan(null);
  });

  it('takes faults over HTTP at /__emulator/faults', async () => {
    const post = async (body: unknown) => {
      const res = await request(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const set = await post({ throttle: { count: 1, status: 429, retryAfterSec: 2 }, cutUpload: { afterBytes: 10 }, quotaFull: { account: s.user, full: true } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ throttle: { remaining: 1, status: 429, retryAfterSec: 2 }, cutUpload: { afterBytes: 10, remaining: 1 }, quotaFull: [s.user] });
    expect((await jfs(emu, s, 'GET', '')).status).toBe(429);
    expect((await post({ bogus: 1 })).status).toBe(400);
    const reset = await post({ reset: true });
    expect(reset.body).toMatchObject({ quotaFull: false, accessTokenLifetimeSec: 3600 });
    expect(reset.body.cutUpload).toBeUndefined();
    const acct = emu.addAccount('http-revoke');
    await login(emu, emu.issueLoginToken(acct));
    expect((await post({ revokeSessions: acct })).body).toMatchObject({ revokedSessions: 1 });
  });
});

describe('TLS mode and the command line', () => {
  it('serves HTTPS with a generated CA, for the Jotta hosts and loopback', async () => {
    const t = await startJottacloudEmulator({ tls: true });
    try {
      expect(t.caCert).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const tlsAgent = new Agent({ connect: { ca: t.caCert } });
      const s2 = await login(t, t.issueLoginToken(), tlsAgent);
      expect(s2.tokenEndpoint.startsWith(t.url)).toBe(true);
      // Host-header routing: reached as jfs.jottacloud.com, only /jfs paths are served there.
      const res = await request(`https://localhost:${t.port}/jfs/${s2.user}/Jotta/Archive`, { headers: { authorization: `Bearer ${s2.access}` }, dispatcher: tlsAgent });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      const wrongHost = await request(`https://localhost:${t.port}/account/v1/customer`, { headers: { authorization: `Bearer ${s2.access}`, host: 'jfs.jottacloud.com' }, dispatcher: tlsAgent });
      expect(wrongHost.statusCode).toBe(404);
      await wrongHost.body.text();
      await tlsAgent.close();
    } finally {
      await t.stop();
    }
  });

  it('npm run fake -- jottacloud prints one JSON line and serves until SIGTERM; bad flags exit 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fakes/main.ts', 'jottacloud', '--tls'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    expect(line.trim().split('\n')).toHaveLength(1);
    const info = JSON.parse(line) as { url: string; loginToken: string; caCert: string };
    expect(Object.keys(info).sort()).toEqual(['caCert', 'loginToken', 'url']);
    expect(decodeLoginToken(info.loginToken).well_known_link.startsWith(info.url)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const bad = spawn(process.execPath, ['--import', 'tsx', 'test/fakes/main.ts', 'jottacloud', '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((r) => bad.on('exit', r))).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
