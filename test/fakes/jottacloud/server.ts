/**
 * The Jottacloud emulator's HTTP(S) server: routing by path (one server plays the jfs, api and id
 * hosts, and the white-labels' login hosts), or by Host header when reached by those names; the
 * `/__emulator/*` control endpoints; and `startJottacloudEmulator`, the programmatic API. See
 * README.md beside this file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleCustomer, handlePurgeTrash } from './api.js';
import { AuthService, REALM, type SessionInfo, wellKnown, wellKnownPath } from './auth.js';
import { type FaultRequest, faultRequestSchema, Faults, type FaultState, type RequestRole } from './faults.js';
import { apiError, type Ctx, type Emu, jfsError, EX, type LogEntry, readBody, send, sendJson } from './http.js';
import { handleJfs } from './jfs.js';
import { type AccountOptions, type FileSnapshot, key, Store } from './store.js';
import { listenOn } from '../shared/listen.js';
import type { RcloneToken } from '../shared/oauth.js';
import { REALMS, realmOf, realmPath, realmRequest, WHITE_LABEL_HOSTS } from './realms.js';
import { handleAllocate, handleUpload, Uploads } from './upload.js';

/** §12.1: the hosts rclone has hard-coded, plus the id host of the fallback token URL, and the white-labels' login hosts (§2.6). */
export const JOTTA_HOSTS: readonly string[] = ['jfs.jottacloud.com', 'api.jottacloud.com', 'id.jottacloud.com', ...WHITE_LABEL_HOSTS];

export interface JottaEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Bind address; default 127.0.0.1. Must be a loopback address. */
  host?: string;
  /** Serve HTTPS with a certificate from a CA generated at start (exposed as caCert). */
  tls?: boolean;
  /** Where file bytes are kept; a fresh temp dir (removed on stop) by default. */
  dataDir?: string;
  /** User name of the default account; a 24-hex-digit name like real ones (§2.8) by default. */
  account?: string;
  /** Base URL written into login tokens' well_known_link; the emulator's own url by default. */
  publicUrl?: string;
}

export interface JottaEmulator {
  /** `http://127.0.0.1:PORT` or `https://HOST[:PORT]`: every role is served under it by path. */
  url: string;
  /** Where the connector's jfs base points: `${url}/jfs/` (real: https://jfs.jottacloud.com/jfs/). */
  jfsUrl: string;
  /** Where the connector's api base points: `${url}/` (real: https://api.jottacloud.com/). */
  apiUrl: string;
  /** PEM of the generated CA, with `tls: true`. */
  caCert?: string;
  host: string;
  port: number;
  defaultAccount: string;
  /** A fresh single-use Personal Login Token for an account (the default one if omitted) of Jottacloud's realm. */
  issueLoginToken(account?: string): string;
  /**
   * Adds an account (idempotent); returns its user name. With `realm` (`telia_se`, `get`, …) it
   * belongs to that white-label realm: it logs in through that realm's login page only.
   */
  addAccount(name: string, opts?: AccountOptions & { realm?: string }): string;
  /**
   * A new session of an account at its realm's login-page client (`desktop`), as the rclone-style
   * token object a person would paste (what the authorization-code flow gives).
   */
  issueToken(account?: string): RcloneToken;
  /** A realm's endpoints on this emulator (§2.6 paths). */
  realmUrls(realm: string): { wellKnown: string; authUrl: string; tokenUrl: string };
  /** Ends the sessions of a realm (of one account, or all), as the service's "log out everywhere": refreshes get invalid_grant, access tokens 401. Returns the count. */
  revokeRealmSessions(realm: string, account?: string): number;
  faults: Faults;
  /** Every file of an account (trashed ones included), with revisions and any pending latest revision. */
  files(account?: string): FileSnapshot[];
  /** Every folder of an account with its trash state. */
  folders(account?: string): { path: string; deleted: boolean }[];
  /** Trashed files of an account. */
  trash(account?: string): FileSnapshot[];
  /** One file by `Jotta/Archive/dir/name` (device/mountpoint/path, case-insensitive). */
  file(path: string, account?: string): FileSnapshot | undefined;
  /** MD5 of the bytes actually stored for a file's current revision (reads the disk). */
  storedMd5(path: string, account?: string): Promise<string | undefined>;
  /** Bytes of a file's current revision (small files only). */
  readFile(path: string, account?: string): Promise<Buffer | undefined>;
  /** Token families of an account. */
  sessions(account?: string): SessionInfo[];
  authStats(): AuthService['stats'];
  /** Every access and refresh token the emulator has handed out. */
  issuedTokens(): string[];
  /** The request log (most recent 20,000 requests). */
  log: LogEntry[];
  stop(): Promise<void>;
}

const realmsPattern = (names: string[]) => new RegExp(`^/auth/realms/(${names.join('|')})/`);

/** What each real host serves: a white-label's login host only its realm(s), like id.jottacloud.com only Jottacloud's. */
const JOTTA_HOST_ROLES: Record<string, RegExp> = {
  'jfs.jottacloud.com': /^\/jfs(\/|$)/i,
  'api.jottacloud.com': /^\/(account|files|auth\/v1)\//,
  ...Object.fromEntries(
    [...new Set(Object.values(REALMS).flatMap((r) => r.domains))].map((d) => [d, realmsPattern(Object.values(REALMS).filter((r) => r.domains.includes(d)).map((r) => r.name))]),
  ),
};

function roleOf(path: string, q: URLSearchParams): RequestRole | 'control' | 'other' {
  if (path.startsWith('/__emulator/')) return 'control';
  if (/^\/jfs(\/|$)/i.test(path)) return q.get('mode') === 'bin' ? 'download' : 'jfs';
  if (path === '/files/v1/allocate') return 'allocate';
  if (path.startsWith('/files/v1/upload/')) return 'upload';
  if (path.startsWith('/account/') || path.startsWith('/files/')) return 'api';
  if (path.endsWith('/.well-known/openid-configuration')) return 'wellknown';
  if (path.endsWith('/protocol/openid-connect/token')) return 'token';
  if (path.endsWith('/protocol/openid-connect/auth')) return 'authorize';
  return 'other';
}

function randomUsername(): string {
  return Array.from({ length: 24 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
}

export async function startJottacloudEmulator(opts: JottaEmulatorOptions = {}): Promise<JottaEmulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost' && host !== '::1') {
    throw new Error(`the emulator binds loopback addresses only, not ${host}`);
  }
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'knarr-jotta-')));
  const store = new Store(dataDir);
  const auth = new AuthService((name) => store.account(name)?.username);
  const faults = new Faults(auth);
  const uploads = new Uploads(store.uploadDir);
  const defaultAccount = store.addAccount(opts.account ?? randomUsername()).username;
  let url = '';
  const emu: Emu = {
    store,
    auth,
    faults,
    nodeName: 'dn-emu',
    log: [],
    defaultAccount,
    publicUrl: () => opts.publicUrl ?? url,
    inflight: new Set(),
  };

  const issueLoginToken = (account?: string): string => {
    const acc = store.account(account ?? defaultAccount);
    if (!acc) throw new Error(`no such account: ${account}`);
    const realm = auth.realmOfAccount(acc.username);
    if (realm !== REALM) throw new Error(`account ${acc.username} belongs to realm ${realm}, which has no Personal Login Tokens: use issueToken or its login page`);
    return auth.loginTokens.issue(acc.username, REALM, `${emu.publicUrl()}${wellKnownPath}`);
  };
  const addAccount = (name: string, o: AccountOptions & { realm?: string } = {}): string => {
    const { realm, ...accountOpts } = o;
    if (realm !== undefined && !realmOf(realm)) throw new Error(`no such realm: ${realm} (known: ${Object.keys(REALMS).join(', ')})`);
    const username = store.addAccount(name, accountOpts).username;
    if (realm !== undefined) auth.bindAccount(username, realm);
    return username;
  };
  const issueToken = (account?: string): RcloneToken => {
    const acc = store.account(account ?? defaultAccount);
    if (!acc) throw new Error(`no such account: ${account}`);
    const t = auth.issueForAccount(acc.username);
    return { access_token: t.access_token, token_type: 'Bearer', refresh_token: t.refresh_token, expiry: new Date(Date.now() + t.expires_in * 1000).toISOString() };
  };
  /** An account of the realm to log in as when the login page is given no login_hint: the first one added. */
  const firstAccountOf = (realm: string): string | undefined =>
    realm === REALM ? defaultAccount : [...store.accounts.values()].map((a) => a.username).find((u) => auth.realmOfAccount(u) === realm);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const proto = opts.tls ? 'https' : 'http';
    const hostHeader = req.headers.host ?? `${host}`;
    const base = `${proto}://${hostHeader}`;
    const parsedUrl = new URL(req.url ?? '/', `${proto}://emulator.invalid`);
    const path = (req.url ?? '/').split('?')[0];
    const role = roleOf(path, parsedUrl.searchParams);
    const entry: LogEntry = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', role, status: 0 };
    emu.log.push(entry);
    if (emu.log.length > 20_000) emu.log.splice(0, emu.log.length - 20_000);
    const ctx: Ctx = { emu, req, res, url: parsedUrl, base, now: new Date(), entry };

    const hostOnly = hostHeader.replace(/:\d+$/, '').toLowerCase();
    const allowed = JOTTA_HOST_ROLES[hostOnly];
    if (allowed && role !== 'control' && !allowed.test(path)) {
      req.resume();
      return apiError(ctx, 404, 'NotFoundException', `No such resource on ${hostOnly}: ${path}`);
    }
    if (role === 'control') return control(ctx, path);
    if (role !== 'other') {
      const throttled = faults.takeThrottle(role);
      if (throttled) {
        req.resume();
        const headers: Record<string, string> = throttled.retryAfterSec !== undefined ? { 'Retry-After': String(throttled.retryAfterSec) } : {};
        if (role === 'jfs' || role === 'download') return jfsError(ctx, throttled.status, EX.tooManyRequests, 'Too many requests, slow down', headers);
        return apiError(ctx, throttled.status, 'TooManyRequestsException', 'Too many requests, slow down', headers);
      }
    }
    switch (role) {
      case 'wellknown':
      case 'token':
      case 'authorize': {
        const at = realmRequest(path);
        const realm = at && realmOf(at.realm);
        const rest = { wellknown: '/.well-known/openid-configuration', token: '/protocol/openid-connect/token', authorize: '/protocol/openid-connect/auth' }[role];
        if (!at || !realm || at.rest !== rest || req.method !== (role === 'token' ? 'POST' : 'GET')) {
          req.resume();
          return apiError(ctx, 404, 'NotFoundException', 'Realm does not exist');
        }
        if (role === 'wellknown') {
          req.resume();
          // §2.2: plain GET, no authentication.
          return sendJson(ctx, 200, wellKnown(base, realm.name));
        }
        if (role === 'authorize') {
          req.resume();
          const r = auth.authorize(parsedUrl.searchParams, realm.name, firstAccountOf(realm.name));
          if (r.status === 302) {
            ctx.entry.status = 302;
            res.writeHead(302, { Location: r.location, 'Cache-Control': 'no-store' });
            res.end();
            return;
          }
          return send(ctx, 400, 'text/plain; charset=utf-8', `We are sorry... ${r.message}`);
        }
        const form = new URLSearchParams((await readBody(req)).toString('utf8'));
        const r = auth.token(form, req.headers.authorization, realm.name);
        return sendJson(ctx, r.status, r.body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      }
      case 'api':
        if (path === '/account/v1/customer' && req.method === 'GET') return handleCustomer(ctx);
        if (path === '/files/v1/purge_trash' && req.method === 'POST') return handlePurgeTrash(ctx);
        req.resume();
        return apiError(ctx, 404, 'NotFoundException', `No such resource: ${req.method} ${path}`);
      case 'allocate':
        if (req.method !== 'POST') {
          req.resume();
          return apiError(ctx, 405, 'MethodNotAllowedException', 'Use POST');
        }
        return handleAllocate(ctx, uploads);
      case 'upload':
        if (req.method !== 'POST') {
          req.resume();
          return apiError(ctx, 405, 'MethodNotAllowedException', 'Use POST');
        }
        return handleUpload(ctx, uploads, path.slice('/files/v1/upload/'.length));
      case 'jfs':
      case 'download':
        return handleJfs(ctx);
      default:
        req.resume();
        return apiError(ctx, 404, 'NotFoundException', `No such resource: ${req.method} ${path}`);
    }
  };

  /** `/__emulator/*`: drive the emulator over HTTP (no authentication; loopback only). */
  const control = async (ctx: Ctx, path: string): Promise<void> => {
    const { req } = ctx;
    let body: Record<string, unknown> = {};
    try {
      const raw = (await readBody(req)).toString('utf8').trim();
      if (raw) body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendJson(ctx, 400, { error: 'body must be JSON' });
    }
    const account = typeof body.account === 'string' ? body.account : (ctx.url.searchParams.get('account') ?? undefined);
    try {
      if (path === '/__emulator/login-token' && req.method === 'POST') {
        const username = store.account(account ?? defaultAccount)?.username;
        if (!username) return sendJson(ctx, 404, { error: `no such account: ${account}` });
        return sendJson(ctx, 200, { loginToken: issueLoginToken(username), username });
      }
      if (path === '/__emulator/accounts' && req.method === 'POST') {
        if (typeof body.name !== 'string' || !body.name) return sendJson(ctx, 400, { error: 'name is required' });
        const realm = typeof body.realm === 'string' ? body.realm : undefined;
        if (realm !== undefined && !realmOf(realm)) return sendJson(ctx, 400, { error: `no such realm: ${realm}` });
        const username = addAccount(body.name, { capacity: typeof body.capacity === 'number' ? body.capacity : undefined, realm });
        const own = auth.realmOfAccount(username);
        return sendJson(ctx, 200, own === REALM ? { username, loginToken: issueLoginToken(username) } : { username, realm: own, token: issueToken(username) });
      }
      if (path === '/__emulator/token' && req.method === 'POST') {
        const username = store.account(account ?? defaultAccount)?.username;
        if (!username) return sendJson(ctx, 404, { error: `no such account: ${account}` });
        return sendJson(ctx, 200, { token: issueToken(username), username, realm: auth.realmOfAccount(username) });
      }
      if (path === '/__emulator/faults') {
        if (req.method === 'GET') return sendJson(ctx, 200, faults.snapshot());
        if (req.method === 'POST') {
          const parsed = faultRequestSchema.safeParse(body);
          if (!parsed.success) return sendJson(ctx, 400, { error: parsed.error.message });
          const done = faults.apply(parsed.data as FaultRequest);
          return sendJson(ctx, 200, { ...faults.snapshot(), ...done } satisfies FaultState & Record<string, unknown>);
        }
      }
      if (path === '/__emulator/files' && req.method === 'GET') {
        const acc = store.account(account ?? defaultAccount);
        if (!acc) return sendJson(ctx, 404, { error: `no such account: ${account}` });
        return sendJson(ctx, 200, { files: store.snapshot(acc), folders: store.folders(acc) });
      }
      return sendJson(ctx, 404, { error: `unknown control endpoint ${req.method} ${path}` });
    } catch (err) {
      return sendJson(ctx, 500, { error: String(err) });
    }
  };

  // Slow uploads (the 5 TB throttle) are never timed out, and idle keep-alive connections outlive a client's pool (shared/listen.ts).
  const listening = await listenOn(handle, { host, port: opts.port, tls: opts.tls ? { hosts: JOTTA_HOSTS } : undefined });
  url = listening.url;
  const port = listening.port;

  const accOf = (account?: string) => {
    const acc = store.account(account ?? defaultAccount);
    if (!acc) throw new Error(`no such account: ${account}`);
    return acc;
  };
  const findCurrent = (path: string, account?: string) => {
    const acc = accOf(account);
    const segs = path.split('/').filter(Boolean);
    const mp = acc.devices.get(key(segs[0] ?? ''))?.mountpoints.get(key(segs[1] ?? ''));
    const node = mp ? store.lookup(mp, segs.slice(2)) : undefined;
    return node && node.kind === 'file' ? store.current(node) : undefined;
  };

  return {
    url,
    jfsUrl: `${url}/jfs/`,
    apiUrl: `${url}/`,
    caCert: listening.caCert,
    host,
    port,
    defaultAccount,
    issueLoginToken,
    addAccount,
    issueToken,
    realmUrls: (realm) => {
      if (!realmOf(realm)) throw new Error(`no such realm: ${realm}`);
      const oidc = `${url}${realmPath(realm)}/protocol/openid-connect`;
      return { wellKnown: `${url}${realmPath(realm)}/.well-known/openid-configuration`, authUrl: `${oidc}/auth`, tokenUrl: `${oidc}/token` };
    },
    revokeRealmSessions: (realm, account) => auth.revokeRealm(realm, account === undefined ? undefined : accOf(account).username),
    faults,
    files: (account) => store.snapshot(accOf(account)),
    folders: (account) => store.folders(accOf(account)),
    trash: (account) => store.snapshot(accOf(account)).filter((f) => f.deleted),
    file: (path, account) => {
      const want = `/${path.split('/').filter(Boolean).join('/')}`.toLowerCase();
      return store.snapshot(accOf(account)).find((f) => f.path.toLowerCase() === want);
    },
    storedMd5: async (path, account) => {
      const cur = findCurrent(path, account);
      if (!cur) return undefined;
      const h = createHash('md5');
      for await (const c of createReadStream(store.blobPath(cur.blobId))) h.update(c as Buffer);
      return h.digest('hex');
    },
    readFile: async (path, account) => {
      const cur = findCurrent(path, account);
      if (!cur) return undefined;
      const chunks: Buffer[] = [];
      for await (const c of createReadStream(store.blobPath(cur.blobId))) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    sessions: (account) => auth.sessionsOf(accOf(account).username),
    authStats: () => structuredClone(auth.stats),
    issuedTokens: () => [...auth.minted],
    log: emu.log,
    stop: async () => {
      await listening.close();
      await Promise.allSettled([...emu.inflight]);
      store.destroy(ownDir);
    },
  };
}
