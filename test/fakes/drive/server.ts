/**
 * The Google Drive emulator: one listener for every Google host it plays (www.googleapis.com for
 * the API and uploads, oauth2.googleapis.com for tokens, accounts.google.com for the consent
 * page), routed by path so it works the same on a plain loopback port; the `/__emulator/*`
 * control endpoints; and `startDriveEmulator`, the programmatic handle. See README.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenOn, readBody } from '../shared/listen.js';
import { FakeOAuth, type RcloneToken } from '../shared/oauth.js';
import { driveError, exportBytes, exportTypes, handleApi, handleUpload, sendJson, unauthorized, type ApiDeps, type ApiStats } from './api.js';
import { faultRequestSchema, Faults, type Role } from './faults.js';
import { docKinds, DriveStore, FOLDER_MIME, MY_DRIVE_ROOT, SHORTCUT_MIME, type DocKind, type DriveItem } from './store.js';
import { UploadSessions } from './uploads.js';

/** providers.md D.1: the hosts rclone has hard-coded, and the consent page's. */
export const DRIVE_HOSTS = ['www.googleapis.com', 'oauth2.googleapis.com', 'accounts.google.com'] as const;

export interface DriveEmulatorOptions {
  /** Bind address (loopback only); default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** HTTPS for DRIVE_HOSTS with a CA made at start (`caCert`). */
  tls?: boolean;
  /** Where bodies are kept; a fresh temp dir (removed on stop) by default. */
  dataDir?: string;
  /** Lifetime of access tokens, s. Default 3600. */
  accessTtlSec?: number;
  clientId?: string;
  clientSecret?: string;
  /** What about() reports as the account's limit; null (default 15 GiB): unlimited. */
  storageLimit?: number | null;
}

export interface LogEntry {
  method: string;
  path: string;
  role: Role | 'control' | 'auth-page' | 'other';
  status: number;
  /** The query string (no secrets travel there). */
  query: string;
}

export interface SeedOptions {
  /** Modification time, ms since the epoch or a Date; now by default. */
  mtime?: number | Date;
  /** A shared drive's id; My Drive by default. */
  driveId?: string;
  /** Add another file of the same name instead of updating the existing one (Drive allows both). */
  duplicate?: boolean;
}

export interface ListedItem {
  path: string;
  id: string;
  isDir: boolean;
  mimeType: string;
  size?: number;
  md5?: string;
  sha1?: string;
  sha256?: string;
  modifiedTime: number;
  trashed: boolean;
}

export interface DriveEmulatorStats extends ApiStats {
  requests: number;
  /** Resumable sessions opened, status queries (a Content-Range of bytes star-slash-N) and chunks received. */
  resumableSessions: number;
  statusQueries: number;
  chunks: number;
}

export interface DriveEmulator {
  /** `http://127.0.0.1:PORT`, or `https://ADDRESS` with `tls`: every Google host is served under it by path. */
  url: string;
  caCert?: string;
  address: string;
  port: number;
  oauth: FakeOAuth;
  clientId: string;
  clientSecret: string;
  store: DriveStore;
  faults: Faults;
  readonly stats: DriveEmulatorStats;
  /** The most recent 20,000 requests. */
  log: LogEntry[];
  /** A token pair for `account` ("default"), as `rclone authorize` prints it. */
  issueToken(account?: string): RcloneToken;
  /** Exactly what `POST /v1/remotes` takes as `config` for this emulator, a fresh token included. */
  remoteConfig(o?: { driveId?: string; rootFolderId?: string; exportFormats?: Record<string, string>; account?: string }): Record<string, unknown>;
  /** A shared drive; returns its id. */
  addSharedDrive(name: string): string;
  /** Folders along `path` (created as needed); returns the last one's id. */
  mkdirs(path: string, o?: Pick<SeedOptions, 'driveId'>): string;
  /** A binary file at `path` (parents made); returns its id. The third argument may be just the mtime. */
  seed(path: string, data: Buffer | string | { size: number; fill?: number }, o?: SeedOptions | number | Date): Promise<string>;
  /** A Google Doc, Sheet, Slides... (no bytes; exports are made from `text`). */
  createGoogleDoc(path: string, kind: DocKind, o?: SeedOptions & { text?: string }): string;
  createShortcut(path: string, targetPath: string, o?: Pick<SeedOptions, 'driveId'>): string;
  /** Renames or moves an item, as a user would in the web UI (recorded in the change feed). */
  move(path: string, to: string, o?: Pick<SeedOptions, 'driveId'>): void;
  /** To the trash (default), or gone for good. */
  remove(path: string, o?: Pick<SeedOptions, 'driveId'> & { permanent?: boolean }): void;
  /** The item at `path` (the most recently modified of duplicates), untrashed only. */
  item(path: string, o?: Pick<SeedOptions, 'driveId'>): DriveItem | undefined;
  /** Every item below the root (My Drive or a shared drive), depth first, trashed ones when asked. */
  list(o?: Pick<SeedOptions, 'driveId'> & { includeTrashed?: boolean }): ListedItem[];
  /** The stored bytes of a binary file, or a Doc's export as the API would give it. */
  readFile(path: string, o?: Pick<SeedOptions, 'driveId'> & { exportMime?: string }): Promise<Buffer>;
  stop(): Promise<void>;
}

function roleOf(method: string, url: URL): LogEntry['role'] {
  const p = url.pathname;
  if (p.startsWith('/__emulator/')) return 'control';
  if (p === '/token' || p === '/oauth2/v4/token') return 'token';
  if (p === '/o/oauth2/auth' || p === '/o/oauth2/v2/auth') return 'auth-page';
  if (p.startsWith('/upload/')) return 'upload';
  if (!p.startsWith('/drive/v3/')) return 'other';
  if (url.searchParams.get('alt') === 'media' || p.endsWith('/export')) return 'download';
  if (p.startsWith('/drive/v3/changes')) return 'changes';
  if (p === '/drive/v3/about') return 'about';
  if (p === '/drive/v3/files' && method === 'GET') return 'list';
  return 'metadata';
}

function mtimeOf(o: { mtime?: number | Date } | undefined): number {
  const m = o?.mtime;
  return m === undefined ? Date.now() : typeof m === 'number' ? m : m.getTime();
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

export async function startDriveEmulator(opts: DriveEmulatorOptions = {}): Promise<DriveEmulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') throw new Error(`the emulator binds loopback addresses only, not ${host}`);
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'knarr-drive-')));
  const store = new DriveStore(dataDir);
  await store.init();
  const oauth = new FakeOAuth({ clientId: opts.clientId, clientSecret: opts.clientSecret, accessTtlSec: opts.accessTtlSec, declinedWords: 'The user denied your request.' });
  const stats: ApiStats & { requests: number } = { uploadBytes: 0, downloadBytes: 0, listRequests: 0, changesRequests: 0, simpleUploads: 0, requests: 0 };
  const faults = new Faults({
    expireAccessTokens: () => oauth.expireAccessTokens(),
    revoke: (account) => oauth.revoke(account),
    expireUploadSessions: () => sessions.expireAll(),
    expireChangeTokens: () => store.forgetTokens(),
  });
  const sessions = new UploadSessions(store, faults, stats);
  const deps: ApiDeps = { store, faults, sessions, stats, storageLimit: opts.storageLimit === undefined ? 15 * 1024 ** 3 : opts.storageLimit };
  const log: LogEntry[] = [];

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://emulator');
    const role = roleOf(method, url);
    stats.requests++;
    res.on('finish', () => {
      log.push({ method, path: url.pathname, role, status: res.statusCode, query: url.search });
      if (log.length > 20_000) log.splice(0, log.length - 20_000);
    });
    const base = `${listening.url.startsWith('https') ? 'https' : 'http'}://${req.headers.host ?? new URL(listening.url).host}`;

    if (role === 'control') return control(req, res, url);
    if (role === 'auth-page') return oauth.handleAuthorize(req, res, url);
    if (role !== 'other') {
      const rule = faults.takeThrottle(role);
      if (rule) {
        req.resume();
        return driveError(res, rule.status, rule.reason, rule.message, rule.retryAfterSec !== undefined ? { 'retry-after': String(rule.retryAfterSec) } : {});
      }
    }
    if (role === 'token') {
      if (method !== 'POST') return driveError(res, 405, 'methodNotAllowed', 'POST only');
      return oauth.handleToken(req, res, (await readBody(req)).toString('utf8'));
    }
    if (role === 'other') {
      req.resume();
      return driveError(res, 404, 'notFound', `Not found: ${url.pathname}`);
    }
    const check = oauth.authenticate(req.headers.authorization);
    if ('error' in check) {
      req.resume();
      return unauthorized(res, check.error);
    }
    if (role === 'upload') return handleUpload(req, res, deps, url, base);
    return handleApi(req, res, deps, url);
  };

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = req.method === 'POST' ? (await readBody(req)).toString('utf8') : '';
    let json: Record<string, unknown> = {};
    try {
      json = body.trim() ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      return sendJson(res, 400, { error: 'the body must be JSON' });
    }
    if (url.pathname === '/__emulator/token' && req.method === 'POST') {
      return sendJson(res, 200, { token: oauth.issue(typeof json.account === 'string' ? json.account : 'default') });
    }
    if (url.pathname === '/__emulator/faults' && req.method === 'POST') {
      const parsed = faultRequestSchema.safeParse(json);
      if (!parsed.success) return sendJson(res, 400, { error: parsed.error.message });
      faults.apply(parsed.data);
      return sendJson(res, 200, { ok: true, usedToday: faults.usedToday, quotaBytes: faults.quotaBytes });
    }
    if (url.pathname === '/__emulator/stats' && req.method === 'GET') return sendJson(res, 200, emu.stats);
    sendJson(res, 404, { error: 'unknown control endpoint' });
  }

  const listening = await listenOn(handler, { host, port: opts.port ?? 0, tls: opts.tls ? { hosts: DRIVE_HOSTS } : undefined });

  // ---- the handle's helpers, on the store directly (no HTTP) ----

  const rootOf = (driveId?: string) => driveId ?? MY_DRIVE_ROOT;

  /** The child named `name`: the most recently modified when there are several, as knarr lists them. */
  const child = (parent: string, name: string): DriveItem | undefined =>
    store
      .children(parent)
      .filter((c) => c.name === name)
      .sort((a, b) => b.modifiedTime - a.modifiedTime)[0];

  const lookup = (path: string, driveId?: string): DriveItem | undefined => {
    let cur = store.get(rootOf(driveId));
    for (const seg of segments(path)) {
      cur = cur && child(cur.id, seg);
      if (!cur) return undefined;
    }
    return cur;
  };

  const must = (path: string, driveId?: string): DriveItem => {
    const it = lookup(path, driveId);
    if (!it) throw new Error(`drive emulator: nothing at ${JSON.stringify(path)}`);
    return it;
  };

  const mkdirs = (path: string, o: { driveId?: string } = {}): string => {
    let cur = rootOf(o.driveId);
    for (const seg of segments(path)) {
      const existing = store.children(cur).find((c) => c.name === seg && c.mimeType === FOLDER_MIME);
      cur = existing ? existing.id : store.create({ name: seg, mimeType: FOLDER_MIME, parents: [cur] }).id;
    }
    return cur;
  };

  const placeFor = (path: string, o: { driveId?: string } = {}): { parent: string; name: string } => {
    const segs = segments(path);
    const name = segs.pop();
    if (!name) throw new Error('drive emulator: a path needs a name');
    return { parent: mkdirs(segs.join('/'), o), name };
  };

  const emu: DriveEmulator = {
    url: listening.url,
    caCert: listening.caCert,
    address: listening.address,
    port: listening.port,
    oauth,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    store,
    faults,
    log,
    get stats(): DriveEmulatorStats {
      return { ...stats, resumableSessions: sessions.counts.sessions, statusQueries: sessions.counts.statusQueries, chunks: sessions.counts.chunks };
    },
    issueToken: (account) => oauth.issue(account),
    remoteConfig: (o = {}) => ({
      token: oauth.issue(o.account),
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      apiUrl: listening.url,
      tokenUrl: `${listening.url}/token`,
      authUrl: `${listening.url}/o/oauth2/auth`,
      ...(o.driveId ? { driveId: o.driveId } : {}),
      ...(o.rootFolderId ? { rootFolderId: o.rootFolderId } : {}),
      ...(o.exportFormats ? { exportFormats: o.exportFormats } : {}),
    }),
    addSharedDrive: (name) => store.addSharedDrive(name),
    mkdirs,
    async seed(path, data, opt = {}) {
      const o: SeedOptions = typeof opt === 'number' || opt instanceof Date ? { mtime: opt } : opt;
      const { parent, name } = placeFor(path, o);
      const body = Buffer.isBuffer(data) ? await store.writeBody(data) : typeof data === 'string' ? await store.writeBody(Buffer.from(data)) : await store.writeGenerated(data.size, data.fill);
      const mtime = mtimeOf(o);
      const existing = o.duplicate ? undefined : store.children(parent).find((c) => c.name === name && c.mimeType !== FOLDER_MIME && c.size !== undefined);
      if (existing) return store.update(existing, { ...body, modifiedTime: mtime }, existing.blob).id;
      return store.create({ name, mimeType: 'application/octet-stream', parents: [parent], modifiedTime: mtime, ...body }).id;
    },
    createGoogleDoc(path, kind, o = {}) {
      const { parent, name } = placeFor(path, o);
      return store.create({ name, mimeType: docKinds[kind], parents: [parent], modifiedTime: mtimeOf(o), docText: o.text ?? `the text of ${name}` }).id;
    },
    createShortcut(path, targetPath, o = {}) {
      const target = must(targetPath, o.driveId);
      const { parent, name } = placeFor(path, o);
      return store.create({ name, mimeType: SHORTCUT_MIME, parents: [parent], shortcutTargetId: target.id }).id;
    },
    move(path, to, o = {}) {
      const it = must(path, o.driveId);
      const { parent, name } = placeFor(to, o);
      store.update(it, { name, parents: [parent] });
    },
    remove(path, o = {}) {
      const it = must(path, o.driveId);
      if (o.permanent) store.remove(it);
      else {
        const trash = (x: DriveItem, via?: string) => {
          store.update(x, { trashed: true, trashedWith: via });
          if (x.mimeType === FOLDER_MIME) for (const c of store.children(x.id)) trash(c, via ?? x.id);
        };
        trash(it);
      }
    },
    item: (path, o = {}) => lookup(path, o.driveId),
    list(o = {}) {
      const out: ListedItem[] = [];
      const visit = (id: string, prefix: string) => {
        for (const c of store.children(id, o.includeTrashed)) {
          const path = prefix ? `${prefix}/${c.name}` : c.name;
          out.push({ path, id: c.id, isDir: c.mimeType === FOLDER_MIME, mimeType: c.mimeType, size: c.size, md5: c.digests?.md5, sha1: c.digests?.sha1, sha256: c.digests?.sha256, modifiedTime: c.modifiedTime, trashed: c.trashed });
          if (c.mimeType === FOLDER_MIME) visit(c.id, path);
        }
      };
      visit(rootOf(o.driveId), '');
      return out;
    },
    async readFile(path, o = {}) {
      const it = must(path, o.driveId);
      if (it.docText !== undefined) return exportBytes(it, o.exportMime ?? Object.values(exportTypes[it.mimeType] ?? {})[0] ?? 'text/plain');
      return store.readBody(it);
    },
    async stop() {
      await listening.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return emu;
}
