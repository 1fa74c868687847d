/**
 * The Nextcloud emulator's HTTP server: basic auth, throttling, routing to the files/ and uploads/
 * DAV trees, `status.php` and the OCS user endpoint; and `startNextcloudEmulator`, the
 * programmatic API. See README.md beside this file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenOn } from '../shared/listen.js';
import { filesBase, handleFiles } from './dav.js';
import { Faults, Stats } from './faults.js';
import { type Ctx, decodeSegments, type Emu, fail, send } from './http.js';
import { SPACE_UNLIMITED } from './props.js';
import { Store } from './store.js';
import { handleUploads, orderedChunks, uploadsBase, Uploads } from './uploads.js';

export const NEXTCLOUD_VERSION = '30.0.0.0';
export const NEXTCLOUD_VERSION_STRING = '30.0.0';

export interface NextcloudEmulatorOptions {
  user?: string;
  password?: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Loopback address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Where file bodies and chunks are kept; a fresh temp dir (removed on stop) by default. */
  dataDir?: string;
  /** The emulator's clock (ms); Date.now by default. Drives mtimes and the 24 h upload expiry. */
  now?: () => number;
  /**
   * Refuse (400) a PUT or an assembly whose bytes do not match its OC-Checksum. Default true.
   * Real Nextcloud stores OC-Checksum without checking it (apps/dav File::put); ownCloud 10 checks.
   */
  verifyChecksums?: boolean;
  /**
   * Answer PROPFIND Depth: infinity (as real Nextcloud does: its Sabre server sets
   * enablePropfindDepthInfinity). Default false: 403, like Apache, nginx and lighttpd, so a
   * client that relies on it is caught.
   */
  depthInfinity?: boolean;
}

export interface NextcloudFaults {
  /** The next upload (a PUT to files/ or a chunk PUT) has its connection destroyed after that many body bytes; nothing of it is kept. */
  cutNextUpload(afterBytes: number): void;
  /** The next `count` requests answer 429 Too Many Requests (with Retry-After when given), as Nextcloud's rate limiter and brute-force protection do. */
  throttleNext(count: number, retryAfterSeconds?: number): void;
  /** The next `count` MOVEs of an upload's `.file` answer 423 Locked (assembly still running on a real server). */
  lockNextMove(count: number): void;
  /** A quota for the user: writes beyond it answer 507; quota-available-bytes reports what is left. null = unlimited. */
  quotaBytes(bytes: number | null): void;
  /** The next file written reports a wrong checksum in oc:checksums (its stored OC-Checksum value altered). */
  corruptNextChecksumReport(): void;
  reset(): void;
}

export interface NextcloudStats {
  bytesReceived: number;
  chunkPuts: number;
  chunkBytes: number;
  /** Requests answered 429 by throttleNext. */
  throttled: number;
  /** Upload connections destroyed by cutNextUpload. */
  cuts: number;
  reset(): void;
}

export interface NextcloudFile {
  /** The file's bytes (read from disk when asked; small files only). */
  data: Buffer;
  size: number;
  mtimeMs: number;
  /** The OC-Checksum entries stored with it, e.g. ['SHA1:ab…'] (only what the uploader sent). */
  checksums: string[];
  etag: string;
  fileId: number;
}

export interface NextcloudEmulator {
  /** `http://127.0.0.1:PORT` */
  url: string;
  user: string;
  password: string;
  /** `${url}/remote.php/dav/files/${user}` */
  davUrl: string;
  /** `${url}/remote.php/dav/uploads/${user}` */
  uploadsUrl: string;
  faults: NextcloudFaults;
  stats: NextcloudStats;
  file(path: string): NextcloudFile | undefined;
  /** A digest of a file's stored bytes, streamed from disk (for files too big for `data`). */
  fileHash(path: string, algorithm: 'md5' | 'sha1' | 'sha256'): Promise<string | undefined>;
  /** Whether a folder exists at path. */
  folder(path: string): boolean;
  uploads(): { id: string; destination?: string; chunks: { name: string; size: number }[] }[];
  /** The config of a knarr `webdav` remote pointing at this emulator (optionally at a sub-folder). */
  remoteConfig(root?: string): Record<string, unknown>;
  /** Request log (method, path, status), most recent 10,000. */
  log: { method: string; path: string; status: number }[];
  stop(): Promise<void>;
}

const FILES_RE = /^\/remote\.php\/dav\/files\/([^/]+)(\/.*)?$/;
const UPLOADS_RE = /^\/remote\.php\/dav\/uploads\/([^/]+)(\/.*)?$/;
/** The legacy endpoint clients still use (`/remote.php/webdav/` = the user's files). */
const WEBDAV_RE = /^\/remote\.php\/webdav(\/.*)?$/;

function authOk(req: IncomingMessage, user: string, password: string): boolean {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return false;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i >= 0 && decoded.slice(0, i) === user && decoded.slice(i + 1) === password;
}

export async function startNextcloudEmulator(opts: NextcloudEmulatorOptions = {}): Promise<NextcloudEmulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost' && host !== '::1') throw new Error(`the emulator binds loopback addresses only, not ${host}`);
  const user = opts.user ?? 'knarr';
  const password = opts.password ?? 'knarr-nextcloud-password';
  const nowMs = opts.now ?? Date.now;
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'knarr-nextcloud-'));
  const store = new Store(dataDir, () => Math.floor(nowMs() / 1000));
  const faults = new Faults();
  const stats = new Stats();
  const uploads = new Uploads(nowMs);
  const emu: Emu = {
    user,
    store,
    faults,
    stats,
    nowMs,
    verifyChecksums: opts.verifyChecksums ?? true,
    depthInfinity: opts.depthInfinity ?? false,
    inflight: new Set(),
  };
  const log: NextcloudEmulator['log'] = [];
  let url = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawPath = (req.url ?? '/').split('?')[0];
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const entry = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    log.push(entry);
    if (log.length > 10_000) log.splice(0, log.length - 10_000);
    res.on('finish', () => (entry.status = res.statusCode));
    const ctx: Ctx = { emu, req, res, rawPath };

    if (rawPath === '/status.php') {
      return send(
        ctx,
        200,
        { 'Content-Type': 'application/json' },
        JSON.stringify({
          installed: true,
          maintenance: false,
          needsDbUpgrade: false,
          version: NEXTCLOUD_VERSION,
          versionstring: NEXTCLOUD_VERSION_STRING,
          edition: '',
          productname: 'Nextcloud',
          extendedSupport: false,
        }),
      );
    }
    const throttled = faults.takeThrottle();
    if (throttled) {
      stats.throttled++;
      return fail(ctx, 429, 'Too many requests', throttled.retryAfter !== undefined ? { 'Retry-After': String(throttled.retryAfter) } : {});
    }
    if (!authOk(req, user, password)) {
      return fail(ctx, 401, 'No public access to this resource., Username or password was incorrect, No \'Authorization: Bearer\' header found. Either the client didn\'t send one, or the server didn\'t set it', {
        'WWW-Authenticate': 'Basic realm="Nextcloud", charset="UTF-8"',
      });
    }
    if (rawPath === '/ocs/v1.php/cloud/user' || rawPath === '/ocs/v2.php/cloud/user') {
      const used = store.used();
      const quota = faults.quota;
      const data = {
        enabled: true,
        id: user,
        'display-name': user,
        displayname: user,
        email: null,
        quota: {
          free: quota === null ? SPACE_UNLIMITED : Math.max(0, quota - used),
          used,
          total: quota === null ? SPACE_UNLIMITED : quota,
          relative: quota ? Math.round((used / quota) * 10000) / 100 : 0,
          quota: quota === null ? SPACE_UNLIMITED : quota,
        },
      };
      const v2 = rawPath.startsWith('/ocs/v2');
      const body = { ocs: { meta: { status: 'ok', statuscode: v2 ? 200 : 100, message: 'OK' }, data } };
      if (query.get('format') === 'json' || /json/.test(req.headers.accept ?? '')) return send(ctx, 200, { 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify(body));
      return fail(ctx, 400, 'only format=json is emulated');
    }
    let m = FILES_RE.exec(rawPath);
    const webdav = WEBDAV_RE.exec(rawPath);
    if (m || webdav) {
      if (m && decodeURIComponent(m[1]) !== user) return fail(ctx, 404, `Principal with name ${decodeURIComponent(m[1])} not found`);
      const segs = decodeSegments((m ? m[2] : webdav?.[1]) ?? '/');
      if (!segs) return fail(ctx, 400, 'The path is not valid percent-encoded UTF-8');
      return handleFiles(ctx, segs);
    }
    m = UPLOADS_RE.exec(rawPath);
    if (m) {
      if (decodeURIComponent(m[1]) !== user) return fail(ctx, 404, `Principal with name ${decodeURIComponent(m[1])} not found`);
      const segs = decodeSegments(m[2] ?? '/');
      if (!segs) return fail(ctx, 400, 'The path is not valid percent-encoded UTF-8');
      return handleUploads(ctx, uploads, segs);
    }
    return fail(ctx, 404, `No such resource: ${rawPath}`);
  };

  // Every request is tracked, so stop() waits for the ones under way.
  const tracked = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const p = handle(req, res);
    emu.inflight.add(p);
    void p.finally(() => emu.inflight.delete(p)).catch(() => {});
    return p;
  };
  const listening = await listenOn(tracked, { host, port: opts.port });
  url = listening.url;
  const davUrl = `${url}${filesBase(encodeURIComponent(user))}`;

  const segsOf = (path: string): string[] => path.split('/').filter(Boolean);

  return {
    url,
    user,
    password,
    davUrl,
    uploadsUrl: `${url}${uploadsBase(encodeURIComponent(user))}`,
    faults: {
      cutNextUpload: (n) => faults.cutNextUpload(n),
      throttleNext: (n, s) => faults.throttleNext(n, s),
      lockNextMove: (n) => faults.lockNextMove(n),
      quotaBytes: (b) => faults.quotaBytes(b),
      corruptNextChecksumReport: () => faults.corruptNextChecksumReport(),
      reset: () => faults.reset(),
    },
    stats,
    file: (path) => {
      const node = store.lookup(segsOf(path));
      if (!node || node.kind !== 'file') return undefined;
      const blob = node.blob;
      return {
        get data() {
          return store.readBlob(blob);
        },
        size: node.size,
        mtimeMs: node.mtime * 1000,
        checksums: node.checksum.split(/[\s,]+/).filter(Boolean),
        etag: node.etag,
        fileId: node.fileId,
      };
    },
    fileHash: async (path, algorithm) => {
      const node = store.lookup(segsOf(path));
      if (!node || node.kind !== 'file') return undefined;
      const h = createHash(algorithm);
      for await (const c of createReadStream(node.blob)) h.update(c as Buffer);
      return h.digest('hex');
    },
    folder: (path) => store.lookup(segsOf(path))?.kind === 'dir',
    uploads: () => {
      uploads.expire((b) => store.dropBlob(b));
      return [...uploads.byId.values()].map((u) => ({
        id: u.id,
        ...(u.destination ? { destination: u.destination.join('/') } : {}),
        chunks: orderedChunks(u).map((c) => ({ name: c.name, size: c.size })),
      }));
    },
    remoteConfig: (root) => ({
      url: root ? `${davUrl}/${segsOf(root).map(encodeURIComponent).join('/')}` : davUrl,
      vendor: 'nextcloud',
      user,
      password,
    }),
    log,
    stop: async () => {
      await listening.close();
      await Promise.allSettled([...emu.inflight]);
      store.destroy(ownDir);
    },
  };
}
