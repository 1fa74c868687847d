/**
 * The OneDrive emulator: one listener for graph.microsoft.com (the Graph API under /v1.0, upload
 * URLs, download URLs and copy monitors on their own paths) and login.microsoftonline.com (the
 * OAuth authorize and token endpoints), routed by path, or by Host header when reached by those
 * names over TLS. See README.md beside this file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenOn, readBody } from '../shared/listen.js';
import { FakeOAuth, type RcloneToken } from '../shared/oauth.js';
import { Faults, type Role } from './faults.js';
import { handleGraph, handleMonitor } from './graph.js';
import { type Drive, nameProblem, Store } from './store.js';
import { handleDownload, handleUploadUrl, type Session } from './transfer.js';
import { DownloadSigner, graphError, sendJson, toSecond, type Ctx } from './wire.js';

export const ONEDRIVE_HOSTS = ['graph.microsoft.com', 'login.microsoftonline.com'] as const;

export interface OneDriveEmulatorOptions {
  host?: string;
  port?: number;
  /** HTTPS for graph.microsoft.com and login.microsoftonline.com, with a CA made at start. */
  tls?: boolean;
  /** Where file bytes are kept; a fresh temp dir (removed on stop) by default. */
  dataDir?: string;
  accessTtlSec?: number;
  /** The default drive's type: `personal` (default) or `business`. */
  driveType?: 'personal' | 'business';
  /** The default drive's id; random by default. */
  driveId?: string;
  /** The default drive's quota, bytes. Default 1 TiB. */
  quotaBytes?: number;
}

export interface OneDriveStats {
  requests: Record<Role | 'control', number>;
  /** Body bytes that reached the emulator through upload URLs and simple PUTs (cut ones included). */
  uploadBytes: number;
  fragments: number;
  sessionsCreated: number;
  simplePuts: number;
  cutUploads: number;
  downloads: number;
  downloadBytes: number;
  deltaRequests: number;
  copies: number;
  /** Requests to an upload URL, or a download URL, that carried an Authorization header (a token sent where it is not needed). */
  uploadUrlWithAuth: number;
  downloadUrlWithAuth: number;
  unauthorized: number;
}

export interface SeedSource {
  size: number;
  /** The byte repeated; 0 by default. */
  fill?: number;
}

export interface EmulatedFile {
  /** Names from the drive's root, as stored. */
  path: string;
  isDir: boolean;
  size: number;
  /** fileSystemInfo.lastModifiedDateTime, ms. */
  mtimeMs: number;
  quickXorHash?: string;
  sha1Hash?: string;
}

export interface OneDriveEmulator {
  url: string;
  caCert?: string;
  address: string;
  port: number;
  oauth: FakeOAuth;
  clientId: string;
  clientSecret: string;
  driveId: string;
  driveType: 'personal' | 'business';
  /** Another rclone-style token for the default account. */
  issueToken(account?: string): RcloneToken;
  /** What `POST /v1/remotes` takes as `config` for this drive, a fresh token included, every endpoint pointed here. */
  remoteConfig(): Record<string, unknown>;
  /** A SharePoint site with its document library, reachable as `https://<host><path>`; returns the ids. */
  addSite(siteUrl: string): { siteId: string; driveId: string };
  faults: Faults & {
    /** Every delta token handed out so far answers 410 resyncRequired. */
    expireDeltaTokens(driveId?: string): void;
    /** The drive is full: uploads get 507 quotaLimitReached. */
    setQuotaFull(full: boolean, driveId?: string): void;
  };
  stats: OneDriveStats;
  /** A file at `path` (names as stored, created with its folders), with these bytes or `size` bytes of `fill`. */
  /** `mtime`: a Date or ms since the epoch (kept to the second, as fileSystemInfo). */
  seed(path: string, data: Buffer | SeedSource, mtime?: Date | number, driveId?: string): Promise<EmulatedFile>;
  mkdirs(path: string, driveId?: string): void;
  /** A OneNote notebook at `path` (a `package` item) with one section file in it. */
  addNotebook(path: string, driveId?: string): Promise<void>;
  /** Every item of the drive, folders included. */
  list(driveId?: string): EmulatedFile[];
  readFile(path: string, driveId?: string): Promise<Buffer | undefined>;
  /** Open upload sessions (for tests of resume and cancel). */
  sessions(): { name: string; received: number; size?: number }[];
  stop(): Promise<void>;
}

/** What the routes share. */
export interface Emu {
  store: Store;
  signer: DownloadSigner;
  faults: Faults;
  stats: OneDriveStats;
  defaultDriveId: string;
  sites: Map<string, { id: string; webUrl: string; driveId: string }>;
  sessions: Map<string, Session>;
  pages: Map<string, { items: unknown[]; last: Record<string, unknown> }>;
  copies: Map<string, { polls: number; done: Promise<{ id: string } | { error: string }> }>;
  quotaFull(d: Drive): boolean;
}

const LOGIN = /^\/[^/]+\/oauth2\/v2\.0\/(authorize|token)$/;

function roleOf(path: string): Role | 'control' | 'other' {
  if (path.startsWith('/__emulator/')) return 'control';
  if (path.startsWith('/__upload/')) return 'upload';
  if (path.startsWith('/__download/')) return 'download';
  if (path.startsWith('/__monitor/')) return 'monitor';
  if (LOGIN.test(path)) return 'token';
  if (path.startsWith('/v1.0/')) return 'api';
  return 'other';
}

export async function startOneDriveEmulator(opts: OneDriveEmulatorOptions = {}): Promise<OneDriveEmulator> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'knarr-onedrive-')));
  const store = new Store(dataDir);
  const driveType = opts.driveType ?? 'personal';
  const driveId = opts.driveId ?? (driveType === 'personal' ? randomBytes(8).toString('hex').toUpperCase() : `b!${randomBytes(24).toString('base64url')}`);
  store.addDrive(driveId, driveType, 'default', opts.quotaBytes);
  // Microsoft rotates refresh tokens on every refresh.
  const oauth = new FakeOAuth({ accessTtlSec: opts.accessTtlSec, rotateRefresh: true, declinedWords: 'AADSTS65004: User declined to consent to access the app.' });
  const faults = new Faults();
  const full = new Set<string>();
  const stats: OneDriveStats = {
    requests: { api: 0, upload: 0, download: 0, token: 0, monitor: 0, control: 0 },
    uploadBytes: 0,
    fragments: 0,
    sessionsCreated: 0,
    simplePuts: 0,
    cutUploads: 0,
    downloads: 0,
    downloadBytes: 0,
    deltaRequests: 0,
    copies: 0,
    uploadUrlWithAuth: 0,
    downloadUrlWithAuth: 0,
    unauthorized: 0,
  };
  const emu: Emu = {
    store,
    signer: new DownloadSigner(randomBytes(32)),
    faults,
    stats,
    defaultDriveId: driveId,
    sites: new Map(),
    sessions: new Map(),
    pages: new Map(),
    copies: new Map(),
    quotaFull: (d) => full.has(d.id) || store.used(d) >= d.quotaTotal,
  };
  let url = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const proto = opts.tls ? 'https' : 'http';
    const base = `${proto}://${req.headers.host ?? 'localhost'}`;
    const parsed = new URL(req.url ?? '/', base);
    // Graph's `:/path:` addressing is matched on the raw (encoded) path.
    const path = (req.url ?? '/').split('?')[0];
    const ctx: Ctx = { req, res, url: parsed, base };
    const role = roleOf(path);
    if (role !== 'other') stats.requests[role]++;
    const hostOnly = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (hostOnly === 'login.microsoftonline.com' && role !== 'token') return graphError(ctx, 404, 'itemNotFound', 'Not served on the login host');
    if (hostOnly === 'graph.microsoft.com' && role === 'token') return graphError(ctx, 404, 'itemNotFound', 'Not served on the Graph host');
    if (role === 'control') return control(ctx, path);
    if (role === 'other') return graphError(ctx, 404, 'itemNotFound', `No such resource: ${req.method} ${path}`);
    const throttled = faults.takeThrottle(role);
    if (throttled) {
      const headers: Record<string, string> = throttled.retryAfterSec !== undefined ? { 'retry-after': String(throttled.retryAfterSec) } : {};
      if (throttled.status === 503) return graphError(ctx, 503, 'serviceNotAvailable', 'Service unavailable', headers);
      return graphError(ctx, 429, 'activityLimitReached', 'The request has been throttled', headers, 'throttledRequest');
    }
    switch (role) {
      case 'token': {
        const what = LOGIN.exec(path)![1];
        if (what === 'authorize' && req.method === 'GET') return void oauth.handleAuthorize(req, res, parsed);
        if (what === 'token' && req.method === 'POST') return void oauth.handleToken(req, res, (await readBody(req)).toString('utf8'));
        return graphError(ctx, 405, 'invalidRequest', 'Method not allowed');
      }
      case 'upload':
        return handleUploadUrl(emu, ctx, decodeURIComponent(path.slice('/__upload/'.length)));
      case 'download': {
        const [d, id] = path.slice('/__download/'.length).split('/').map(decodeURIComponent);
        return handleDownload(emu, ctx, d, id ?? '');
      }
      case 'monitor':
        return handleMonitor(emu, ctx, path.slice('/__monitor/'.length));
      case 'api': {
        const check = oauth.authenticate(req.headers.authorization);
        if ('error' in check) {
          stats.unauthorized++;
          const message = {
            missing: 'Access token is empty.',
            invalid: 'Invalid authentication token.',
            expired: 'Access token has expired or is not yet valid.',
            revoked: 'The user or administrator has revoked the token.',
          }[check.error];
          return graphError(ctx, 401, 'InvalidAuthenticationToken', message, { 'www-authenticate': `Bearer realm="", error="invalid_token", error_description="${message}"` });
        }
        return handleGraph(emu, ctx, path.slice('/v1.0'.length));
      }
    }
  };

  /** `/__emulator/*`: no authentication; loopback only. */
  const control = async (ctx: Ctx, path: string): Promise<void> => {
    const raw = (await readBody(ctx.req)).toString('utf8').trim();
    let body: Record<string, unknown> = {};
    try {
      if (raw) body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendJson(ctx, 400, { error: 'body must be JSON' });
    }
    if (path === '/__emulator/token' && ctx.req.method === 'POST') {
      return sendJson(ctx, 200, { token: oauth.issue(typeof body.account === 'string' ? body.account : 'default') });
    }
    if (path === '/__emulator/stats' && ctx.req.method === 'GET') return sendJson(ctx, 200, stats);
    sendJson(ctx, 404, { error: `unknown control endpoint ${ctx.req.method} ${path}` });
  };

  const listening = await listenOn(handle, { host: opts.host, port: opts.port, tls: opts.tls ? { hosts: ONEDRIVE_HOSTS } : undefined });
  url = listening.url;

  const driveOf = (id?: string): Drive => {
    const d = store.drives.get(id ?? driveId);
    if (!d) throw new Error(`no such drive: ${id}`);
    return d;
  };
  const mkdirs = (path: string, id?: string) => {
    const d = driveOf(id);
    let cur = store.root(d);
    for (const s of path.split('/').filter(Boolean)) {
      const problem = nameProblem(s);
      if (problem) throw new Error(`${s}: ${problem}`);
      const next = store.child(d, cur, s);
      if (next && !next.isDir) throw new Error(`${s} is a file`);
      cur = next ?? store.mkdir(d, cur, s);
    }
    return cur;
  };
  const fileOf = (d: Drive, segs: string[]) => {
    const it = store.lookup(d, store.root(d), segs);
    return it && !it.isDir ? it : undefined;
  };

  return {
    url,
    caCert: listening.caCert,
    address: listening.address,
    port: listening.port,
    oauth,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    driveId,
    driveType,
    issueToken: (account) => oauth.issue(account),
    remoteConfig: () => ({
      token: oauth.issue(),
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      driveId,
      driveType,
      apiUrl: `${url}/v1.0`,
      authUrl: `${url}/common/oauth2/v2.0/authorize`,
      tokenUrl: `${url}/common/oauth2/v2.0/token`,
    }),
    addSite: (siteUrl) => {
      const u = new URL(siteUrl);
      const siteId = `${u.hostname},${randomUUID()},${randomUUID()}`;
      const libId = `b!${randomBytes(24).toString('base64url')}`;
      store.addDrive(libId, 'documentLibrary', 'default');
      emu.sites.set(`${u.hostname.toLowerCase()}${decodeURIComponent(u.pathname).replace(/\/$/, '').toLowerCase()}`, { id: siteId, webUrl: `https://${u.hostname}${u.pathname.replace(/\/$/, '')}`, driveId: libId });
      return { siteId, driveId: libId };
    },
    faults: Object.assign(faults, {
      expireDeltaTokens: (id?: string) => {
        const d = driveOf(id);
        d.oldestToken = d.seq + 1;
      },
      setQuotaFull: (isFull: boolean, id?: string) => {
        if (isFull) full.add(driveOf(id).id);
        else full.delete(driveOf(id).id);
      },
    }),
    stats,
    seed: async (path, data, mtime, id) => {
      const d = driveOf(id);
      const segs = path.split('/').filter(Boolean);
      const name = segs.pop()!;
      const problem = nameProblem(name);
      if (problem) throw new Error(`${name}: ${problem}`);
      const parent = mkdirs(segs.join('/'), id);
      const blob = await store.writeBlob(data);
      const facts = await store.hashBlob(blob);
      const when = mtime !== undefined ? toSecond(new Date(mtime)) : undefined;
      const it = store.commitFile(d, parent, name, blob, { ...facts, fsModified: when, fsCreated: when });
      return { path: [...segs, name].join('/'), isDir: false, size: it.size, mtimeMs: it.fsModified.getTime(), quickXorHash: it.quickXor, sha1Hash: it.sha1 };
    },
    mkdirs: (path, id) => void mkdirs(path, id),
    addNotebook: async (path, id) => {
      const notebook = mkdirs(path, id);
      notebook.package = 'oneNote';
      const blob = await store.writeBlob(Buffer.from('onenote section'));
      store.commitFile(driveOf(id), notebook, 'Section.one', blob, await store.hashBlob(blob));
    },
    list: (id) => {
      const d = driveOf(id);
      return [...d.items.values()]
        .filter((it) => it.id !== d.rootId)
        .map((it) => ({ path: store.pathOf(d, it).join('/'), isDir: it.isDir, size: it.isDir ? 0 : it.size, mtimeMs: it.fsModified.getTime(), ...(it.isDir ? {} : { quickXorHash: it.quickXor, sha1Hash: it.sha1 }) }))
        .sort((a, b) => (a.path < b.path ? -1 : 1));
    },
    readFile: async (path, id) => {
      const it = fileOf(driveOf(id), path.split('/').filter(Boolean));
      return it ? readFile(store.blobPath(it.blob!)) : undefined;
    },
    sessions: () => [...emu.sessions.values()].map((s) => ({ name: s.name, received: s.received, size: s.size })),
    stop: async () => {
      await listening.close();
      for (const s of emu.sessions.values()) await s.fd.close().catch(() => {});
      store.destroy(ownDir);
    },
  };
}

