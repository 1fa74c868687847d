/**
 * The Dropbox emulator: the API v2 routes of providers.md D.2 on one listener, routed by path (a
 * plain loopback URL serves every host) or, reached as api/content/notify.dropboxapi.com and
 * www.dropbox.com (TLS mode, for rclone), by Host as well; the OAuth server of test/fakes/shared;
 * the `/__emulator/*` control endpoints; and `startDropboxEmulator`, the programmatic handle.
 */
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeOAuth, type RcloneToken } from '../shared/oauth.js';
import { listenOn, readBody } from '../shared/listen.js';
import { contentHashOfBytes, contentHashOfFill } from './blocks.js';
import { DEFAULT_CONTENTION, DbxFaults, newStats, type DbxStats } from './faults.js';
import { MAX_PAYLOAD, Sessions, type Session } from './sessions.js';
import { checkWritable, DbxFault, lower, Namespace, type DbxNode } from './store.js';
import {
  BadInput,
  Cut,
  decodeCursor,
  deletedOf,
  encodeCursor,
  headerJson,
  metadataOf,
  modeOf,
  sendBadInput,
  sendFault,
  sendJson,
  sendRateLimit,
  type Cursor,
} from './wire.js';

/** The hosts rclone's Dropbox SDK has hard-coded (providers.md D.1), plus the consent page's. */
export const DROPBOX_HOSTS = ['api.dropboxapi.com', 'content.dropboxapi.com', 'notify.dropboxapi.com', 'www.dropbox.com'] as const;

const CONTENT_ROUTES = new Set(['files/download', 'files/upload', 'files/upload_session/start', 'files/upload_session/append_v2', 'files/upload_session/append', 'files/upload_session/finish']);
const NOTIFY_ROUTES = new Set(['files/list_folder/longpoll']);
/**
 * RPC routes that take the namespace's write lock whole (too_many_write_operations when
 * contended); uploads take it only to commit, once their bytes are in.
 */
const LOCKED_ROUTES = new Set(['files/create_folder_v2', 'files/delete_v2', 'files/permanently_delete', 'files/move_v2', 'files/copy_v2']);

export interface DropboxEmulatorOptions {
  /** Bind address; default 127.0.0.1 (loopback only). */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** HTTPS for the real Dropbox host names with a CA made at start (`caCert`). */
  tls?: boolean;
  /** Where bodies live; a temp dir removed on stop by default. */
  dataDir?: string;
  /** Lifetime of access tokens, s. Default 14400 (Dropbox's short-lived tokens: 4 h). */
  accessTtlSec?: number;
  clientId?: string;
  clientSecret?: string;
  /** Entries per list_folder page at most (whatever `limit` asks). Default 500. */
  pageSize?: number;
}

export interface SeedContent {
  size: number;
  /** Every byte's value. Default 0 (kept as a sparse file). */
  fill?: number;
}

export interface EmulatedEntry {
  path: string;
  isDir: boolean;
  size: number;
  contentHash: string;
  rev: string;
  id: string;
  clientModified: number;
}

export interface DropboxEmulator {
  url: string;
  caCert?: string;
  address: string;
  port: number;
  oauth: FakeOAuth;
  clientId: string;
  clientSecret: string;
  /** A token pair for `account` (default "default"), as `rclone authorize` prints it. */
  issueToken(account?: string): RcloneToken;
  /** A remote's `config` for POST /v1/remotes: a fresh token and every endpoint pointed here. */
  remoteConfig(account?: string): Record<string, unknown>;
  faults: DbxFaults;
  stats: DbxStats;
  /** A file as another client would have made it (the change feed sees it); `path` like "/a/b.txt". */
  seed(path: string, content: Buffer | SeedContent, mtime?: number | Date, opts?: { account?: string; downloadable?: boolean }): Promise<EmulatedEntry>;
  mkdirs(path: string, account?: string): EmulatedEntry | undefined;
  /** Everything in the account, parents before children. */
  list(account?: string): EmulatedEntry[];
  readFile(path: string, account?: string): Promise<Buffer>;
  namespace(account?: string): Namespace;
  stop(): Promise<void>;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  route: string;
  ns: Namespace;
  arg: Record<string, unknown>;
}

export async function startDropboxEmulator(opts: DropboxEmulatorOptions = {}): Promise<DropboxEmulator> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'knarr-dropbox-')));
  const blobDir = join(dataDir, 'blobs');
  const sessionDir = join(dataDir, 'sessions');
  await mkdir(blobDir, { recursive: true });
  await mkdir(sessionDir, { recursive: true });
  const pageSize = opts.pageSize ?? 500;
  const oauth = new FakeOAuth({ clientId: opts.clientId, clientSecret: opts.clientSecret, accessTtlSec: opts.accessTtlSec ?? 14_400, declinedWords: 'The user chose not to give your app access to their Dropbox account.' });
  const spaces = new Map<string, Namespace>();
  const namespace = (account = 'default'): Namespace => {
    let ns = spaces.get(account);
    if (!ns) spaces.set(account, (ns = new Namespace(account, blobDir)));
    return ns;
  };
  const sessions = new Sessions(sessionDir);
  const stats = newStats();
  const faults = new DbxFaults({
    resetCursors: (account) => {
      for (const ns of account ? [namespace(account)] : spaces.values()) ns.epoch++;
    },
    expireTokens: () => oauth.expireAccessTokens(),
    revoke: (account) => oauth.revoke(account ?? 'default'),
    setAllocation: (bytes, account) => {
      namespace(account).allocated = bytes;
    },
  });
  const listings = new Map<string, string[]>();
  let listingIds = 0;
  let blobIds = 0;
  const newBlob = (ns: Namespace) => ns.blobPath(`b${++blobIds}-${Date.now().toString(36)}`);
  const activeWrites = new Map<Namespace, number>();

  // ---- bodies ----

  /** An upload body as it arrives, with the cut and bandwidth faults applied. */
  async function* uploadBody(req: IncomingMessage): AsyncGenerator<Buffer> {
    for await (const raw of req) {
      const chunk = raw as Buffer;
      stats.receivedBytes += chunk.length;
      if (faults.cutAfter !== undefined) {
        if (chunk.length >= faults.cutAfter) {
          faults.cutAfter = undefined;
          stats.cuts++;
          req.socket.destroy();
          throw new Cut();
        }
        faults.cutAfter -= chunk.length;
      }
      if (faults.uploadBps > 0) await sleep((chunk.length / faults.uploadBps) * 1000);
      yield chunk;
    }
  }

  async function writeOp<T>(ns: Namespace, fn: () => Promise<T>): Promise<T> {
    const c = faults.contention;
    const active = activeWrites.get(ns) ?? 0;
    if (active >= c.maxConcurrent) throw Object.assign(new DbxFault(['too_many_write_operations'], {}, 429), { retryAfterSec: c.retryAfterSec ?? 1 });
    activeWrites.set(ns, active + 1);
    try {
      if (c.holdMs > 0) await sleep(c.holdMs);
      return await fn();
    } finally {
      activeWrites.set(ns, (activeWrites.get(ns) ?? 1) - 1);
    }
  }

  // ---- paths ----

  function resolve(ns: Namespace, raw: unknown, prefix: string): { lower: string; display: string; node?: DbxNode } {
    if (typeof raw !== 'string') throw new BadInput(`${prefix}: expected a string`);
    if (raw === '') return { lower: '', display: '' };
    let display = raw;
    if (raw.startsWith('id:')) {
      const slash = raw.indexOf('/');
      const node = ns.byIdPath(slash < 0 ? raw : raw.slice(0, slash));
      if (!node) throw new DbxFault([prefix, 'not_found']);
      display = node.pathDisplay + (slash < 0 ? '' : raw.slice(slash));
    } else if (!raw.startsWith('/') || raw.endsWith('/') || raw.includes('//')) {
      throw new DbxFault([prefix, 'malformed_path']);
    }
    const key = lower(display);
    return { lower: key, display, node: ns.get(key) };
  }

  const existing = (ns: Namespace, raw: unknown, prefix: string): DbxNode => {
    const r = resolve(ns, raw, prefix);
    if (!r.node) throw new DbxFault([prefix, 'not_found']);
    return r.node;
  };

  const writable = (ns: Namespace, raw: unknown, prefix: string) => {
    const r = resolve(ns, raw, prefix);
    if (r.lower === '') throw new DbxFault([prefix, 'malformed_path']);
    checkWritable(r.display, prefix);
    return r;
  };

  // ---- commits ----

  async function commit(ns: Namespace, s: Session, size: number, info: Record<string, unknown>, lookupPrefix: string[]): Promise<DbxNode> {
    const target = writable(ns, info.path, 'path');
    const mode = modeOf(info.mode);
    const clientModified = typeof info.client_modified === 'string' ? Date.parse(info.client_modified) : undefined;
    if (clientModified !== undefined && Number.isNaN(clientModified)) throw new BadInput('commit.client_modified: not a timestamp');
    const blob = newBlob(ns);
    const sealed = await sessions.seal(s, size, blob, lookupPrefix);
    try {
      const contentHash = faults.corruptHash ? sealed.contentHash.replace(/^./, (c) => (c === '0' ? '1' : '0')) : sealed.contentHash;
      faults.corruptHash = false;
      return await ns.putFile(target.display, { size, contentHash, blob: blob.slice(blob.lastIndexOf('/') + 1), clientModified }, mode);
    } catch (err) {
      await sealed.undo();
      throw err;
    }
  }

  const sessionTypeOf = (raw: unknown): boolean => {
    const tag = typeof raw === 'string' ? raw : (raw as { '.tag'?: string } | undefined)?.['.tag'];
    if (tag === undefined || tag === 'sequential') return false;
    if (tag === 'concurrent') return true;
    throw new BadInput('session_type: unknown');
  };

  const cursorOf = (raw: unknown): { session_id: string; offset: number } => {
    const c = raw as { session_id?: unknown; offset?: unknown } | undefined;
    if (!c || typeof c.session_id !== 'string' || typeof c.offset !== 'number') throw new BadInput('cursor: session_id and offset are required');
    return { session_id: c.session_id, offset: c.offset };
  };

  const sessionOf = (ns: Namespace, id: string, prefix: string[]): Session => {
    let s: Session;
    try {
      s = sessions.get(id);
    } catch {
      throw new DbxFault([...prefix, 'not_found']);
    }
    if (s.account !== ns.account) throw new DbxFault([...prefix, 'not_found']);
    return s;
  };

  /** Appends a request's body to a session; the lost-response fault applies it and then drops the connection. */
  async function append(ctx: Ctx, s: Session, offset: number, close: boolean, prefix: string[], finishing: boolean): Promise<void> {
    const declared = Number(ctx.req.headers['content-length'] ?? NaN);
    if (declared > MAX_PAYLOAD) throw new DbxFault(['payload_too_large']);
    sessions.check(s, offset, prefix, { finishing, hasData: declared > 0, declared: Number.isNaN(declared) ? undefined : declared, close });
    const n = await sessions.write(s, offset, uploadBody(ctx.req), { close, contentHash: typeof ctx.arg.content_hash === 'string' ? ctx.arg.content_hash : undefined, prefix });
    stats.appliedBytes += n;
  }

  const loseAnswer = (ctx: Ctx): boolean => {
    if (!faults.loseResponse) return false;
    faults.loseResponse = false;
    ctx.req.socket.destroy();
    return true;
  };

  // ---- routes ----

  type Route = (ctx: Ctx) => Promise<unknown>;
  const routes: Record<string, Route> = {
    'users/get_current_account': async (ctx) => ({
      account_id: `dbid:${Buffer.from(ctx.ns.account).toString('hex').padEnd(40, '0').slice(0, 40)}`,
      name: { given_name: ctx.ns.account, surname: 'Emulated', familiar_name: ctx.ns.account, display_name: `${ctx.ns.account} Emulated`, abbreviated_name: 'EM' },
      email: `${ctx.ns.account}@example.invalid`,
      email_verified: true,
      disabled: false,
      country: 'NO',
      locale: 'en',
      is_paired: false,
      account_type: { '.tag': 'pro' },
      root_info: { '.tag': 'user', root_namespace_id: '1', home_namespace_id: '1' },
    }),
    'users/get_space_usage': async (ctx) => ({ used: ctx.ns.used, allocation: { '.tag': 'individual', allocated: ctx.ns.allocated } }),

    'files/get_metadata': async (ctx) => {
      if (ctx.arg.path === '') throw new BadInput('path: The root folder is unsupported.');
      return metadataOf(existing(ctx.ns, ctx.arg.path, 'path'));
    },

    'files/list_folder': async (ctx) => {
      const r = resolve(ctx.ns, ctx.arg.path, 'path');
      if (r.lower !== '' && !r.node) throw new DbxFault(['path', 'not_found']);
      if (r.node && !r.node.isDir) throw new DbxFault(['path', 'not_folder']);
      const recursive = ctx.arg.recursive === true;
      const limit = typeof ctx.arg.limit === 'number' ? Math.max(1, Math.min(ctx.arg.limit, 2000, pageSize)) : pageSize;
      const withPaper = ctx.arg.include_non_downloadable_files !== false;
      const snapshot = (recursive ? ctx.ns.below(r.lower) : ctx.ns.childrenOf(r.lower).sort((a, b) => (a.pathLower < b.pathLower ? -1 : 1)))
        .filter((n) => withPaper || n.downloadable)
        .map((n) => n.pathLower);
      const base: Cursor = { a: ctx.ns.account, p: r.lower, r: recursive, s: ctx.ns.seq, e: ctx.ns.epoch, n: limit, include_non_downloadable: withPaper };
      const id = `L${++listingIds}`;
      listings.set(id, snapshot);
      if (listings.size > 200) listings.delete(listings.keys().next().value as string);
      return pageOfListing(ctx.ns, { ...base, l: id, o: 0 });
    },

    'files/list_folder/continue': async (ctx) => {
      const c = decodeCursor(ctx.arg.cursor);
      if (c.a !== ctx.ns.account) throw new BadInput('cursor: of another account');
      if (c.e !== ctx.ns.epoch) throw new DbxFault(['reset']);
      if (c.l !== undefined) {
        if (!listings.has(c.l)) throw new DbxFault(['reset']);
        return pageOfListing(ctx.ns, c);
      }
      return pageOfChanges(ctx.ns, c);
    },

    'files/list_folder/get_latest_cursor': async (ctx) => {
      const r = resolve(ctx.ns, ctx.arg.path, 'path');
      if (r.lower !== '' && !r.node) throw new DbxFault(['path', 'not_found']);
      if (r.node && !r.node.isDir) throw new DbxFault(['path', 'not_folder']);
      const limit = typeof ctx.arg.limit === 'number' ? Math.max(1, Math.min(ctx.arg.limit, 2000, pageSize)) : pageSize;
      return { cursor: encodeCursor({ a: ctx.ns.account, p: r.lower, r: ctx.arg.recursive === true, s: ctx.ns.seq, e: ctx.ns.epoch, n: limit, include_non_downloadable: ctx.arg.include_non_downloadable_files !== false }) };
    },

    'files/list_folder/longpoll': async (ctx) => {
      const c = decodeCursor(ctx.arg.cursor);
      const ns = namespace(c.a);
      if (c.e !== ns.epoch) throw new DbxFault(['reset']);
      const timeoutSec = typeof ctx.arg.timeout === 'number' ? Math.max(30, Math.min(480, ctx.arg.timeout)) : 30;
      const until = Date.now() + timeoutSec * 1000;
      while (ns.changesSince(c.t ?? c.s, c.p, c.r).length === 0) {
        if (Date.now() >= until || ctx.req.socket.destroyed) return { changes: false };
        await new Promise<void>((resolveWait) => {
          const wake = () => {
            clearTimeout(t);
            ns.watchers.delete(wake);
            resolveWait();
          };
          const t = setTimeout(wake, Math.min(1000, until - Date.now()));
          ns.watchers.add(wake);
        });
      }
      return { changes: true };
    },

    'files/create_folder_v2': async (ctx) => {
      const r = writable(ctx.ns, ctx.arg.path, 'path');
      if (r.node) throw new DbxFault(['path', 'conflict', r.node.isDir ? 'folder' : 'file']);
      return { metadata: metadataOf(ctx.ns.mkdirs(r.display) as DbxNode) };
    },

    'files/delete_v2': async (ctx) => {
      const node = existing(ctx.ns, ctx.arg.path, 'path_lookup');
      await ctx.ns.remove(node);
      return { metadata: metadataOf(node) };
    },

    'files/permanently_delete': async (ctx) => {
      await ctx.ns.remove(existing(ctx.ns, ctx.arg.path, 'path_lookup'));
      return null;
    },

    'files/move_v2': async (ctx) => {
      const from = existing(ctx.ns, ctx.arg.from_path, 'from_lookup');
      const to = writable(ctx.ns, ctx.arg.to_path, 'to');
      if (from.pathDisplay === to.display) throw new DbxFault(['duplicated_or_nested_paths']);
      return { metadata: metadataOf(ctx.ns.move(from, to.display)) };
    },

    'files/copy_v2': async (ctx) => {
      const from = existing(ctx.ns, ctx.arg.from_path, 'from_lookup');
      const to = writable(ctx.ns, ctx.arg.to_path, 'to');
      return { metadata: metadataOf(ctx.ns.copy(from, to.display)) };
    },

    'files/download': async (ctx) => {
      const node = existing(ctx.ns, ctx.arg.path, 'path');
      if (node.isDir) throw new DbxFault(['path', 'not_file']);
      if (!node.downloadable) throw new DbxFault(['unsupported_file']);
      const range = parseRange(ctx.req.headers.range, node.size);
      if (range === 'unsatisfiable') {
        ctx.res.writeHead(416, { 'content-range': `bytes */${node.size}` });
        ctx.res.end();
        return undefined;
      }
      const [start, end] = range ?? [0, node.size - 1];
      const length = Math.max(0, end - start + 1);
      ctx.res.writeHead(range ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
        'dropbox-api-result': headerJson(metadataOf(node)),
        etag: `W/"${node.rev}"`,
        'accept-ranges': 'bytes',
        ...(range ? { 'content-range': `bytes ${start}-${end}/${node.size}` } : {}),
      });
      await sendBytes(ctx, ctx.ns.blobPath(node.blob), start, length);
      return undefined;
    },

    'files/upload': async (ctx) => {
      const s = sessions.create(ctx.ns.account, false);
      try {
        await append(ctx, s, 0, true, [], false);
      } catch (err) {
        await sessions.drop(s);
        throw err;
      }
      return writeOp(ctx.ns, async () => {
        try {
          return metadataOf(await commit(ctx.ns, s, s.offset, ctx.arg, []));
        } catch (err) {
          await sessions.drop(s);
          throw err;
        }
      });
    },

    'files/upload_session/start': async (ctx) => {
      const concurrent = sessionTypeOf(ctx.arg.session_type);
      const declared = Number(ctx.req.headers['content-length'] ?? 0);
      if (concurrent && declared > 0) throw new DbxFault(['concurrent_session_data_not_allowed']);
      const s = sessions.create(ctx.ns.account, concurrent);
      if (concurrent) {
        if (ctx.arg.close === true) throw new DbxFault(['concurrent_session_close_not_allowed']);
        return { session_id: s.id };
      }
      try {
        await append(ctx, s, 0, ctx.arg.close === true, [], false);
      } catch (err) {
        await sessions.drop(s);
        throw err;
      }
      return { session_id: s.id };
    },

    'files/upload_session/append_v2': async (ctx) => {
      const c = cursorOf(ctx.arg.cursor);
      const s = sessionOf(ctx.ns, c.session_id, []);
      await append(ctx, s, c.offset, ctx.arg.close === true, [], false);
      return loseAnswer(ctx) ? undefined : null;
    },

    'files/upload_session/append': async (ctx) => {
      const c = cursorOf(ctx.arg);
      const s = sessionOf(ctx.ns, c.session_id, []);
      await append(ctx, s, c.offset, false, [], false);
      return loseAnswer(ctx) ? undefined : null;
    },

    'files/upload_session/finish': async (ctx) => {
      stats.finishes++;
      const c = cursorOf(ctx.arg.cursor);
      const s = sessionOf(ctx.ns, c.session_id, ['lookup_failed']);
      await append(ctx, s, c.offset, false, ['lookup_failed'], true);
      const size = s.concurrent ? c.offset : s.offset;
      const node = await writeOp(ctx.ns, () => commit(ctx.ns, s, size, (ctx.arg.commit ?? {}) as Record<string, unknown>, ['lookup_failed']));
      return loseAnswer(ctx) ? undefined : metadataOf(node);
    },

    'files/upload_session/finish_batch_v2': async (ctx) => {
      const entries = ctx.arg.entries;
      if (!Array.isArray(entries) || entries.length > 1000) throw new BadInput('entries: a list of at most 1000');
      stats.finishBatches++;
      stats.finishBatchEntries += entries.length;
      return writeOp(ctx.ns, async () => {
        const out: unknown[] = [];
        for (const e of entries as Record<string, unknown>[]) {
          try {
            const c = cursorOf(e.cursor);
            const s = sessionOf(ctx.ns, c.session_id, ['lookup_failed']);
            if (!s.closed) throw new DbxFault(['lookup_failed', 'not_closed']);
            const node = await commit(ctx.ns, s, s.concurrent ? c.offset : (sessions.check(s, c.offset, ['lookup_failed'], { finishing: true, hasData: false, close: false }), s.offset), (e.commit ?? {}) as Record<string, unknown>, ['lookup_failed']);
            out.push({ ...metadataOf(node), '.tag': 'success' });
          } catch (err) {
            if (!(err instanceof DbxFault)) throw err;
            out.push({ '.tag': 'failure', failure: taggedFailure(err) });
          }
        }
        return { entries: out };
      });
    },
  };

  function taggedFailure(f: DbxFault): Record<string, unknown> {
    let inner: Record<string, unknown> = { '.tag': f.tags[f.tags.length - 1], ...f.extra };
    for (let i = f.tags.length - 2; i >= 0; i--) inner = { '.tag': f.tags[i], [f.tags[i]]: inner };
    return inner;
  }

  function pageOfListing(ns: Namespace, c: Cursor): unknown {
    const snapshot = listings.get(c.l as string) as string[];
    const from = c.o ?? 0;
    const slice = snapshot.slice(from, from + c.n);
    const entries = slice.map((p) => ns.get(p)).filter((n): n is DbxNode => n !== undefined).map(metadataOf);
    const more = from + c.n < snapshot.length;
    if (!more) listings.delete(c.l as string);
    const next: Cursor = more ? { ...c, o: from + c.n } : { a: c.a, p: c.p, r: c.r, s: c.s, e: c.e, n: c.n, include_non_downloadable: c.include_non_downloadable };
    return { entries, cursor: encodeCursor(next), has_more: more };
  }

  function pageOfChanges(ns: Namespace, c: Cursor): unknown {
    const upTo = c.t ?? ns.seq;
    const events = ns.changesSince(c.s, c.p, c.r).filter((e) => e.seq <= upTo);
    const from = c.o ?? 0;
    const slice = events.slice(from, from + c.n);
    const entries = slice
      .map((e) => {
        const node = ns.get(e.pathLower);
        if (!node) return deletedOf(e.pathLower, e.pathDisplay);
        return c.include_non_downloadable === false && !node.downloadable ? null : metadataOf(node);
      })
      .filter((x) => x !== null);
    const more = from + c.n < events.length;
    const next: Cursor = more ? { ...c, t: upTo, o: from + c.n } : { a: c.a, p: c.p, r: c.r, s: upTo, e: c.e, n: c.n, include_non_downloadable: c.include_non_downloadable };
    return { entries, cursor: encodeCursor(next), has_more: more };
  }

  async function sendBytes(ctx: Ctx, file: string, start: number, length: number): Promise<void> {
    if (length === 0) {
      ctx.res.end();
      return;
    }
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (let pos = start, left = length; left > 0; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), pos);
        if (bytesRead === 0) break;
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        if (faults.downloadBps > 0) await sleep((bytesRead / faults.downloadBps) * 1000);
        if (ctx.res.destroyed) return;
        stats.downloadedBytes += bytesRead;
        if (!ctx.res.write(chunk)) await drained(ctx.res);
        pos += bytesRead;
        left -= bytesRead;
      }
    } finally {
      await fh.close();
    }
    ctx.res.end();
  }

  // ---- the request pipeline ----

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = url.pathname;
    if (path === '/oauth2/authorize' && req.method === 'GET') return count('oauth2/authorize', () => oauth.handleAuthorize(req, res, url));
    // rclone's Dropbox backend names the token endpoint by its old v1 path; both lead to the same place.
    if ((path === '/oauth2/token' || path === '/1/oauth2/token') && req.method === 'POST') {
      const body = (await readBody(req)).toString('utf8');
      return count('oauth2/token', () => oauth.handleToken(req, res, body));
    }
    if (path === '/__emulator/token' && req.method === 'POST') {
      const body = (await readBody(req)).toString('utf8');
      const account = body ? ((JSON.parse(body) as { account?: string }).account ?? 'default') : 'default';
      return sendJson(res, 200, oauth.issue(account));
    }
    if (!path.startsWith('/2/')) return sendBadInput(res, path, 'Unknown API function');
    const route = path.slice(3);
    stats.requests[route] = (stats.requests[route] ?? 0) + 1;
    if (!routes[route]) return sendBadInput(res, route, 'Unknown API function');
    const wantHost = CONTENT_ROUTES.has(route) ? 'content.dropboxapi.com' : NOTIFY_ROUTES.has(route) ? 'notify.dropboxapi.com' : 'api.dropboxapi.com';
    if ((DROPBOX_HOSTS as readonly string[]).includes(host) && host !== wantHost) return sendBadInput(res, route, `this function is served by ${wantHost}, not ${host}`);
    if (req.method !== 'POST' && !(req.method === 'GET' && CONTENT_ROUTES.has(route))) return sendBadInput(res, route, 'method not allowed');

    let arg: Record<string, unknown>;
    try {
      arg = await argOf(req, url, route);
    } catch (err) {
      req.resume();
      return sendBadInput(res, route, (err as Error).message);
    }
    let ns: Namespace;
    if (NOTIFY_ROUTES.has(route)) ns = namespace();
    else {
      const who = oauth.authenticate(req.headers.authorization);
      if ('error' in who) {
        req.resume();
        if (who.error === 'missing') return sendBadInput(res, route, 'Must provide HTTP header "Authorization" or URL parameter "authorization".');
        const tag = who.error === 'expired' ? 'expired_access_token' : 'invalid_access_token';
        return sendJson(res, 401, { error_summary: `${tag}/..`, error: { '.tag': tag } });
      }
      ns = namespace(who.account);
    }
    const t = faults.takeThrottle(route);
    if (t) {
      req.resume();
      if ((t.status ?? 429) !== 429) return sendJson(res, t.status as number, { error_summary: 'internal_error/..', error: { '.tag': 'internal_error' } });
      stats.throttled++;
      if (t.reason === 'too_many_write_operations') stats.writeThrottled++;
      return sendRateLimit(res, t.reason ?? 'too_many_requests', t.retryAfterSec, !t.jsonOnly);
    }
    const ctx: Ctx = { req, res, route, ns, arg };
    try {
      const run = () => routes[route](ctx);
      const out = LOCKED_ROUTES.has(route) ? await writeOp(ns, run) : await run();
      // undefined: the route answered itself (a download) or the connection is gone on purpose.
      if (out === undefined || res.headersSent || res.destroyed || req.socket.destroyed) return;
      return sendJson(res, 200, out);
    } catch (err) {
      if (err instanceof Cut || req.socket.destroyed) return;
      if (!req.complete) req.resume();
      if (err instanceof BadInput) return sendBadInput(res, route, err.message);
      if (err instanceof DbxFault) {
        if (err.status === 429) {
          stats.throttled++;
          stats.writeThrottled++;
          return sendRateLimit(res, err.tags[0], (err as DbxFault & { retryAfterSec?: number }).retryAfterSec ?? 1);
        }
        return sendFault(res, err);
      }
      throw err;
    }
  }

  function count(route: string, fn: () => void): void {
    stats.requests[route] = (stats.requests[route] ?? 0) + 1;
    fn();
  }

  const listening = await listenOn(handle, { host: opts.host, port: opts.port, tls: opts.tls ? { hosts: DROPBOX_HOSTS } : undefined });
  const url = listening.url;

  const entryOf = (n: DbxNode): EmulatedEntry => ({ path: n.pathDisplay, isDir: n.isDir, size: n.size, contentHash: n.contentHash, rev: n.rev, id: n.id, clientModified: n.clientModified });
  const slashed = (p: string) => (p.startsWith('/') ? p : `/${p}`);

  return {
    url,
    caCert: listening.caCert,
    address: listening.address,
    port: listening.port,
    oauth,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    faults,
    stats,
    issueToken: (account) => oauth.issue(account),
    remoteConfig: (account) => ({
      token: oauth.issue(account),
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      apiUrl: url,
      contentUrl: url,
      tokenUrl: `${url}/oauth2/token`,
      authUrl: `${url}/oauth2/authorize`,
    }),
    async seed(path, content, mtime, o = {}) {
      const ns = namespace(o.account);
      const display = slashed(path);
      checkWritable(display, 'path');
      const blob = newBlob(ns);
      let size: number;
      let contentHash: string;
      if (Buffer.isBuffer(content)) {
        // Put there as by another client, whatever its size: not one request, so no payload cap.
        size = content.length;
        contentHash = contentHashOfBytes(content);
        await writeFile(blob, content);
      } else {
        size = content.size;
        const fill = content.fill ?? 0;
        contentHash = contentHashOfFill(size, fill);
        const fh = await open(blob, 'w');
        try {
          if (fill === 0) await fh.truncate(size);
          else {
            const piece = Buffer.alloc(Math.min(size, 8 * 1024 * 1024), fill);
            for (let at = 0; at < size; at += piece.length) await fh.write(piece, 0, Math.min(piece.length, size - at), at);
          }
        } finally {
          await fh.close();
        }
      }
      const when = mtime === undefined ? Date.now() : typeof mtime === 'number' ? mtime : mtime.getTime();
      const node = await ns.putFile(display, { size, contentHash, blob: blob.slice(blob.lastIndexOf('/') + 1), clientModified: when, downloadable: o.downloadable }, 'overwrite');
      return entryOf(node);
    },
    mkdirs(path, account) {
      const node = namespace(account).mkdirs(slashed(path));
      return node && entryOf(node);
    },
    list(account) {
      return namespace(account).below('').map(entryOf);
    },
    async readFile(path, account) {
      const ns = namespace(account);
      const node = ns.get(lower(slashed(path)));
      if (!node || node.isDir) throw new Error(`no file ${path}`);
      return readFile(ns.blobPath(node.blob));
    },
    namespace,
    async stop() {
      await listening.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The route's argument: the JSON body (RPC), or the `Dropbox-API-Arg` header / `arg` query (content), which must be ASCII. */
async function argOf(req: IncomingMessage, url: URL, route: string): Promise<Record<string, unknown>> {
  if (CONTENT_ROUTES.has(route)) {
    const header = req.headers['dropbox-api-arg'];
    const raw = typeof header === 'string' ? header : url.searchParams.get('arg');
    if (raw === null || raw === undefined) throw new Error('Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".');
    if (typeof header === 'string' && /[^\x20-\x7e]/.test(header)) throw new Error('Bad HTTP "Dropbox-API-Arg" header: it must be ASCII; escape other characters as \\uXXXX');
    try {
      return (JSON.parse(raw) ?? {}) as Record<string, unknown>;
    } catch {
      throw new Error('could not decode input as JSON');
    }
  }
  const body = (await readBody(req)).toString('utf8').trim();
  if (body === '' || body === 'null') return {};
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error('request body: could not decode input as JSON');
  }
}

/** Resolves when the response can take more, or is gone; leaves no listener behind. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** An HTTP Range against a file of `size` bytes: [first, last], null for none, or unsatisfiable. */
function parseRange(header: string | undefined, size: number): [number, number] | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? 'unsatisfiable' : [size - n, size - 1];
  }
  const start = Number(m[1]);
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return [start, end];
}

export { DEFAULT_CONTENTION };
