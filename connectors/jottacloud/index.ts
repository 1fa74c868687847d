/**
 * The Jottacloud connector, written against the API as third-party clients use it
 * (shared/specs/jottacloud-api.md; "§" numbers below refer to it; "line N" to rclone's
 * backend/jottacloud/jottacloud.go as cited there).
 */
import { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { joinPath, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { HttpClient, toConnectorError, rangedBody } from '../shared/http.js';
import type {
  About,
  Capabilities,
  Connector,
  ConnectorContext,
  DeleteOptions,
  ListOptions,
  ReadOptions,
  UploadSource,
  WriteOptions,
} from '../types.js';
import { JottaAuth, type WhiteLabelLogin } from './auth.js';
import { JottaClient } from './client.js';
import { jottaStatusMapper } from './errors.js';
import { checkContainerName, checkedPath, DEFAULT_DEVICE, DEFAULT_MOUNTPOINT, JottaLocation, jottaNameRules, jottaNames, MAX_NAME_LENGTH, segmentsOf } from './paths.js';
import { cphashHeaders, uploadFile, type JottaWriteResult } from './upload.js';
import { realmEndpoints, whiteLabelOf, type WhiteLabelKey } from './whiteLabels.js';
import { isVisibleFile, parseJfsNode, parseJfsUser, parseListStreamChild, WireError, type JfsFile, type JfsNode, type JfsRevision } from './wire.js';
import { XmlError, XmlStream } from '../shared/xml.js';
import { checkedRange, emptyRead, rangeHeader } from '../shared/ranges.js';

export type { JottaUploadState, JottaWriteResult, Md5Origin } from './upload.js';
export { decodeLoginToken, LoginTokenError, type JottaTokens, type LoginToken } from './auth.js';

/** §1: the hosts rclone hard-codes (lines 50–51). */
export const DEFAULT_JFS_URL = 'https://jfs.jottacloud.com/jfs/';
export const DEFAULT_API_URL = 'https://api.jottacloud.com/';

/** The remote's settings as stored (the login token or token object is a secret, kept in the credentials). */
export interface JottacloudConfig {
  device?: string;
  mountpoint?: string;
  jfsUrl?: string;
  apiUrl?: string;
  /** §2.6: a white-label service whose realm the account lives in (Telia Cloud: `telia_se`). */
  whiteLabel?: WhiteLabelKey;
  /** A white-label's token endpoint instead of its realm's (an emulator). */
  tokenUrl?: string;
  /** A white-label's client instead of its public one (the operator's, filled in by the connect flow). */
  clientId?: string;
}

/** Where a white-label remote's tokens are refreshed and by which client; undefined for Jottacloud itself. */
export function whiteLabelLogin(config: JottacloudConfig): WhiteLabelLogin | undefined {
  const label = whiteLabelOf(config.whiteLabel);
  if (!label) return undefined;
  return { label, tokenEndpoint: config.tokenUrl ?? realmEndpoints(label).tokenUrl, clientId: config.clientId ?? label.clientId };
}

export interface JottacloudConnectorOptions {
  /** Connections per host: the transfers that run at once against this remote. Default 16. */
  connections?: number;
  /** Extra CA certificates (PEM) to trust: an emulator started with TLS. */
  ca?: string | string[];
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export const listPageSize = 1000;

export const jottacloudCapabilities: Capabilities = Object.freeze({
  // §8: "Checksum: MD5 only (Hashes() line 1731)"; listings and stat carry it (§4.2).
  hashes: ['md5'] as const,
  // §7.1: md5 is required by allocate, before any byte is sent (#2462).
  hashBeforeUpload: 'md5',
  // §7.1/§7.2: allocate reports resume_pos; the server keeps the bytes of a cut upload.
  resumableUpload: true,
  // §5: cp= and mv=/mvDir= within the account.
  serverSideCopy: true,
  serverSideMove: true,
  // §3 and §8: names are case-insensitive but case-preserving ("You cannot have Hello.doc and
  // hello.doc side by side", rclone CaseInsensitive: true, line 1001).
  caseInsensitive: true,
  // §7.2 / §8: "JFS file names may not be longer than 255 characters".
  maxNameLength: MAX_NAME_LENGTH,
  nameRules: jottaNameRules,
  // §7.2: "no maximum file size appears in any source".
  maxFileSize: null,
  // One upload is one streamed POST (as rclone); the chunk size only spaces the checkpoints.
  preferredChunkSize: 32 * 1024 * 1024,
  // §8: "Precision is 1 second" (Precision() line 1407).
  mtimePrecisionMs: 1000,
  // §7.1: allocate takes `modified` (the mtime) and §4.2 reports it back.
  setModTime: true,
  // §4.4: mode=liststream lists a whole tree in one request.
  recursiveList: true,
});

export function createJottacloudConnector(config: JottacloudConfig, ctx: ConnectorContext, opts: JottacloudConnectorOptions = {}): JottacloudConnector {
  return new JottacloudConnector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

export class JottacloudConnector implements Connector {
  readonly type = 'jottacloud';
  readonly capabilities = jottacloudCapabilities;
  readonly client: JottaClient;
  private readonly loc: JottaLocation;

  constructor(config: JottacloudConfig, ctx: ConnectorContext, opts: JottacloudConnectorOptions = {}) {
    const whiteLabel = whiteLabelLogin(config);
    const http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: jottaStatusMapper(ctx.remoteName, whiteLabel?.label),
      userAgent: 'knarr',
      // §9.3 / §12.4: rclone's jottacloud pacer, 10 ms minimum sleep, backoff up to 2 s.
      pacer: { minSleepMs: 10, maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    this.loc = new JottaLocation(
      config.jfsUrl ?? DEFAULT_JFS_URL,
      checkContainerName('device', config.device ?? DEFAULT_DEVICE),
      checkContainerName('mountpoint', config.mountpoint ?? DEFAULT_MOUNTPOINT),
    );
    const apiUrl = config.apiUrl ?? DEFAULT_API_URL;
    const auth = new JottaAuth(http, ctx, { now: opts.now, whiteLabel });
    this.client = new JottaClient(http, auth, this.loc, apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`, ctx.remoteName);
  }

  // ---- reading the tree ----

  /** GET of a path: its `<file>`, `<folder>` or `<mountPoint>` (§4.1, §5 "Stat"). */
  private async node(rel: string, op: string, signal?: AbortSignal): Promise<JfsNode> {
    const res = await this.client.jfsGet(rel, op, { signal });
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw toConnectorError(err, op, signal);
    }
    return parseOrTransient(() => parseJfsNode(text), op);
  }

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = checkedPath(dir, 'list');
    const op = `list ${q(rel)}`;
    const node = await this.node(rel, op, opts.signal);
    // §4.3: listing a file gives an empty list at rclone; the contract wants a folder.
    if (node.kind === 'file') throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
    // §4.3: a root that is itself deleted counts as "directory not found" (lines 1127–1139).
    if (node.deleted) throw new ConnectorError('not_found', `${op}: the folder is in the trash`);
    // §4.4: no pagination exists; one GET returns every child, handed on in pages.
    const entries: Entry[] = [];
    // §4.3 validFolder: trashed subfolders are hidden.
    for (const f of node.folders) if (!f.deleted) entries.push({ path: joinPath(rel, jottaNames.decode(f.name)), isDir: true, size: 0, mtimeMs: f.modified ?? 0, hashes: {} });
    // §4.3 validFile: only COMPLETED, not trashed; INCOMPLETE/CORRUPT latest revisions leave the current one shown.
    for (const f of node.files) if (isVisibleFile(f)) entries.push(fileEntry(joinPath(rel, jottaNames.decode(f.name)), f.currentRevision));
    for (let i = 0; i < entries.length; i += listPageSize) {
      opts.signal?.throwIfAborted();
      yield entries.slice(i, i + listPageSize);
    }
  }

  /**
   * §4.4 `mode=liststream`: the whole tree below `root` in one streamed request. Each `<folder>`
   * comes before its files; a file whose folder was not announced adds that folder. The counts
   * are checked against the `<stats>` trailer at the end, as rclone does ("invalid result from
   * listStream"): a mismatch (a truncated stream) fails the walk as transient, after the pages
   * already yielded, so a caller must treat a failed walk as incomplete.
   */
  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = checkedPath(root, 'walk');
    const op = `walk ${q(rel)}`;
    const rootSegs = segmentsOf(rel);
    const res = await this.client.jfsGet(rel, op, { query: 'mode=liststream', signal: opts.signal });
    let page: Entry[] = [];
    const seen = new Set<string>();
    let folders = 0;
    let files = 0;
    let stats: { folders: number; files: number } | undefined;
    let error: unknown;
    /** Segments below the walked root, or undefined for the root itself; throws for a path outside it. */
    const below = (path: string): string[] | undefined => {
      const segs = this.loc.listStreamSegments(path);
      const inside = segs && segs.length >= rootSegs.length && rootSegs.every((s, i) => s.toLowerCase() === segs[i].toLowerCase());
      if (!segs || !inside) throw new WireError(`liststream path ${q(path)} is outside ${q(rel)}`);
      return segs.length === rootSegs.length ? undefined : segs.slice(rootSegs.length);
    };
    const folder = (segs: string[] | undefined): void => {
      const k = (segs ?? []).join('/').toLowerCase();
      if (seen.has(k)) return;
      seen.add(k);
      // The caller's spelling of the root, the server's for everything below it.
      if (segs) page.push({ path: joinPath(rel, ...segs), isDir: true, size: 0, mtimeMs: 0, hashes: {} });
    };
    const parser = new XmlStream({ select: ['*', '*'], onElement: (el) => {
      if (error) return;
      try {
        const item = parseListStreamChild(el);
        if (!item) return;
        if (item.kind === 'stats') stats = { folders: item.folders, files: item.files };
        else if (item.kind === 'folder') {
          folders++;
          folder(below(item.path));
        } else {
          const parent = below(item.parentPath);
          const pk = (parent ?? []).join('/').toLowerCase();
          // rclone lines 1228–1236: an unannounced parent adds that folder to the count.
          if (!seen.has(pk)) folders++;
          folder(parent);
          files++;
          page.push({
            path: joinPath(rel, ...(parent ?? []), jottaNames.decode(item.name)),
            isDir: false,
            size: item.size,
            mtimeMs: item.modified,
            hashes: item.md5 ? { md5: item.md5 } : {},
          });
        }
      } catch (err) {
        error = err;
      }
    } });
    try {
      for await (const chunk of res.body) {
        opts.signal?.throwIfAborted();
        parser.write(chunk as Buffer);
        if (error) throw error;
        while (page.length >= listPageSize) {
          yield page.slice(0, listPageSize);
          page = page.slice(listPageSize);
        }
      }
      parser.end();
      if (error) throw error;
    } catch (err) {
      if (err instanceof XmlError || err instanceof WireError) throw new ConnectorError('transient', `${op}: the liststream answer is malformed: ${err.message}`);
      throw toConnectorError(err, op, opts.signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!stats) throw new ConnectorError('transient', `${op}: the liststream answer has no <stats> trailer (cut short?)`);
    if (stats.folders !== folders || stats.files !== files) {
      throw new ConnectorError('transient', `${op}: invalid result from liststream: ${folders} folders and ${files} files, <stats> says ${stats.folders} and ${stats.files}`);
    }
    if (page.length > 0) yield page;
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = checkedPath(path, 'stat');
    return this.statRel(rel, `stat ${q(rel)}`, opts.signal);
  }

  private async statRel(rel: string, op: string, signal?: AbortSignal): Promise<Entry> {
    return entryOf(rel, await this.node(rel, op, signal), op);
  }

  // ---- bytes ----

  /** §6: `GET path?mode=bin` with a standard `Range`; 416 for a start past the end. */
  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = checkedPath(path, 'read');
    const op = `read ${q(rel)}`;
    const range = checkedRange(op, opts, rel);
    const { offset, length, signal } = range;
    if (length === 0) return emptyRead(op, () => this.statRel(rel, op, signal));
    const r = rangeHeader(offset, length);
    const res = await this.client.jfsGet(rel, op, { query: 'mode=bin', headers: r ? { range: r } : {}, accept: [416], signal });
    // §6: 416 RequestedRangeNotSatisfiedException is a start past the end; rclone does not check
    // 206 against 200, so a server that ignored the Range sent the whole file.
    return rangedBody(res, op, range);
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<JottaWriteResult> {
    const rel = checkedPath(path, 'write');
    if (rel === '') throw new ConnectorError('invalid_name', `write ${q(path)}: is the remote's root, not a file`);
    return uploadFile(
      {
        client: this.client,
        stat: (r) => this.statRel(r, `write ${q(r)}: stat`, opts.signal),
        cphash: (r, md5, size, mtimeMs) => this.cphash(r, md5, size, mtimeMs),
      },
      rel,
      source,
      opts,
      this.capabilities.preferredChunkSize,
    );
  }

  // ---- changing the tree ----

  /** §5: `POST path?mkDir=true` is "mkdir -p", 200 when it exists, also on the mountpoint root. */
  async mkdir(path: string): Promise<void> {
    const rel = checkedPath(path, 'mkdir');
    const res = await this.client.jfsCommand(rel, 'mkDir=true', `mkdir ${q(rel)}`);
    await res.body.dump();
  }

  /**
   * §5: files go to the trash with `dl=true` (permanently with `rm=true`), folders with
   * `dlDir=true` (`rmDir=true`). The path is stat'ed first: `dl=true` succeeds on a missing path
   * (§9.4 item 1) and the contract wants not_found, and the command differs for folders.
   */
  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    const rel = checkedPath(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    const entry = await this.statRel(rel, op);
    const command = entry.isDir ? (opts.permanent ? 'rmDir=true' : 'dlDir=true') : opts.permanent ? 'rm=true' : 'dl=true';
    const res = await this.client.jfsCommand(rel, command, op);
    await res.body.dump();
  }

  /**
   * §5: a file moves with `mv=/<user>/<device>/<mp>/<to>` (the reply is the destination file), a
   * folder with `mvDir=` on `<from>/` (rclone checks first that the destination is absent, and
   * sends the source with a trailing slash, line 1615). Not idempotent (§9.4 item 4): never
   * repeated here; a retry after a lost answer sees not_found for the source.
   */
  async move(from: string, to: string): Promise<Entry> {
    const src = checkedPath(from, 'move');
    const dst = checkedPath(to, 'move');
    const op = `move ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved or replaced`);
    const entry = await this.statRel(src, op);
    const user = await this.client.username();
    if (!entry.isDir) {
      await this.ensureParent(dst);
      const res = await this.client.jfsCommand(src, new URLSearchParams([['mv', this.loc.absPath(user, dst)]]), op);
      return this.resultFile(res, dst, op);
    }
    if (src.toLowerCase() !== dst.toLowerCase()) {
      const existing = await this.statRel(dst, op).catch((err: unknown) => (isConnectorError(err, 'not_found') ? undefined : Promise.reject(err)));
      if (existing) throw new ConnectorError('conflict', `${op}: the destination exists`);
    }
    const url = `${this.loc.fileUrl(user, src)}/?${new URLSearchParams([['mvDir', this.loc.absPath(user, dst)]])}`;
    const res = await this.client.authed({ method: 'POST', url, op });
    await res.body.dump();
    return this.statRel(dst, op);
  }

  /** §5: `cp=/<user>/<device>/<mp>/<to>`, files only, within the account. */
  async copy(from: string, to: string): Promise<Entry> {
    const src = checkedPath(from, 'copy');
    const dst = checkedPath(to, 'copy');
    const op = `copy ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be copied or replaced`);
    const entry = await this.statRel(src, op);
    if (entry.isDir) throw new ConnectorError('unsupported', `${op}: Jottacloud copies files server-side, not folders`);
    await this.ensureParent(dst);
    const user = await this.client.username();
    const res = await this.client.jfsCommand(src, new URLSearchParams([['cp', this.loc.absPath(user, dst)]]), op);
    const node = await this.parseReply(res, op);
    if (node.kind === 'file' && node.file.deleted && entry.hashes.md5) {
      // #6112: cp onto a trashed destination "succeeds" but the result stays in the trash;
      // rclone repairs it with cphash, which restores it (commit 2b67ad17a).
      await this.cphash(dst, entry.hashes.md5, entry.size, entry.mtimeMs);
      return this.statRel(dst, op);
    }
    return entryOf(dst, node, op);
  }

  /** §5 cphash: make `rel` hold this content without an upload; restores a trashed file. 404 when impossible. */
  private async cphash(rel: string, md5: string, size: number, mtimeMs: number): Promise<void> {
    const res = await this.client.jfsCommand(rel, 'cphash=true', `restore ${q(rel)} (cphash)`, { headers: cphashHeaders(md5, size, mtimeMs) });
    await res.body.dump();
  }

  /** rclone runs mkdir on the destination's parent before mv and cp (§5; jafs says the server would anyway). */
  private async ensureParent(rel: string): Promise<void> {
    const parent = parentPath(rel);
    if (parent !== '') await this.mkdir(parent);
  }

  private async parseReply(res: { body: { text(): Promise<string> } }, op: string): Promise<JfsNode> {
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw toConnectorError(err, op);
    }
    return parseOrTransient(() => parseJfsNode(text), op);
  }

  /** §5: mv/cp answer the destination `<file>`; rclone requires a COMPLETED current revision and no `deleted`. */
  private async resultFile(res: { body: { text(): Promise<string> } }, dst: string, op: string): Promise<Entry> {
    return entryOf(dst, await this.parseReply(res, op), op);
  }

  // ---- the account ----

  /**
   * §10: `GET /jfs/<user>`: `usage`, and `capacity` with -1 for unlimited. Like rclone (lines
   * 1677–1691) total and free are reported only when capacity > 0.
   */
  async about(): Promise<About> {
    const user = await this.client.username();
    const op = 'about';
    const res = await this.client.authed({ method: 'GET', url: this.loc.userUrl(user), op });
    const text = await res.body.text().catch((err: unknown) => Promise.reject(toConnectorError(err, op)));
    const u = parseOrTransient(() => parseJfsUser(text), op);
    const used = Math.max(0, u.usage);
    if (u.capacity > 0) return { usedBytes: used, totalBytes: u.capacity, freeBytes: Math.max(0, u.capacity - used), unlimited: false };
    return { usedBytes: used, totalBytes: null, freeBytes: null, unlimited: u.capacity < 0 };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function parseOrTransient<T>(fn: () => T, op: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WireError) throw new ConnectorError('transient', `${op}: Jottacloud answered something unexpected: ${err.message}`);
    throw err;
  }
}

function fileEntry(path: string, rev: JfsRevision): Entry {
  return { path, isDir: false, size: rev.size ?? 0, mtimeMs: rev.modified, hashes: rev.md5 ? { md5: rev.md5 } : {} };
}

/** A stat reply as an Entry at `rel`, or not_found for what rclone treats as absent (§4.3, §5 "Stat"). */
function entryOf(rel: string, node: JfsNode, op: string): Entry {
  if (node.kind === 'file') {
    const f: JfsFile = node.file;
    // §5: a trashed file answers 200 `<file deleted=…>`, which rclone treats as not found; a file
    // with no COMPLETED revision (an upload in progress or CORRUPT) is invisible too (§4.3).
    if (!isVisibleFile(f)) throw new ConnectorError('not_found', `${op}: ${f.deleted ? 'the file is in the trash' : 'the file has no completed upload'}`);
    return fileEntry(rel, f.currentRevision);
  }
  if (node.deleted) throw new ConnectorError('not_found', `${op}: the folder is in the trash`);
  return { path: rel, isDir: true, size: 0, mtimeMs: node.modified ?? 0, hashes: {} };
}

