/**
 * The live properties Nextcloud answers for a file or folder (FilesPlugin + QuotaPlugin + Sabre's
 * core ones), and the PROPFIND answer built from them.
 */
import type { Emu } from './http.js';
import type { Node } from './store.js';
import { type Clark, esc, type PropRequest, type PropValues, type ResponseEntry } from './xml.js';

const D = (l: string): Clark => `{DAV:}${l}`;
const OC = (l: string): Clark => `{http://owncloud.org/ns}${l}`;
const NC = (l: string): Clark => `{http://nextcloud.org/ns}${l}`;

/** Instance id Nextcloud appends to oc:id and OC-FileId (`oc` + 10 characters). */
export const INSTANCE_ID = 'ocemu0nc30x';

/** `%08d` of the id + the instance id, as Nextcloud formats oc:id and the OC-FileId header. */
export const ocId = (fileId: number): string => `${String(fileId).padStart(8, '0')}${INSTANCE_ID}`;

/** Nextcloud's FileInfo::SPACE_UNLIMITED, reported as quota-available-bytes when no quota is set. */
export const SPACE_UNLIMITED = -3;

/** Every live property of a node, by Clark name; undefined values are "404 Not Found" for this node. */
export function liveProps(emu: Emu, node: Node): Map<Clark, string | undefined> {
  const m = new Map<Clark, string | undefined>();
  const isFile = node.kind === 'file';
  m.set(D('getlastmodified'), new Date(node.mtime * 1000).toUTCString());
  m.set(D('getcontentlength'), isFile ? String(node.size) : undefined);
  m.set(D('getetag'), `&quot;${node.etag}&quot;`);
  m.set(D('resourcetype'), isFile ? '' : '<d:collection/>');
  m.set(D('getcontenttype'), isFile ? esc(node.contentType) : undefined);
  m.set(OC('id'), ocId(node.fileId));
  m.set(OC('fileid'), String(node.fileId));
  m.set(OC('permissions'), isFile ? 'RGDNVW' : 'RGDNVCK');
  m.set(OC('size'), String(emu.store.sizeOf(node)));
  if (isFile) {
    m.set(
      OC('checksums'),
      node.checksum
        ? node.checksum
            .split(',')
            .map((c) => `<oc:checksum>${esc(c)}</oc:checksum>`)
            .join('')
        : undefined,
    );
  } else m.set(OC('checksums'), undefined);
  if (!isFile) {
    const quota = emu.faults.quota;
    m.set(D('quota-used-bytes'), String(emu.store.sizeOf(node)));
    m.set(D('quota-available-bytes'), String(quota === null ? SPACE_UNLIMITED : Math.max(0, quota - emu.store.used())));
  } else {
    m.set(D('quota-used-bytes'), undefined);
    m.set(D('quota-available-bytes'), undefined);
  }
  m.set(NC('has-preview'), 'false');
  m.set(OC('owner-id'), esc(emu.user));
  m.set(OC('owner-display-name'), esc(emu.user));
  return m;
}

/** One `d:response` of a PROPFIND. Unknown properties (dead ones set by PROPPATCH aside) are 404. */
export function propEntry(emu: Emu, node: Node, href: string, want: PropRequest): ResponseEntry {
  const live = liveProps(emu, node);
  const dead = node.dead;
  const found: PropValues = new Map();
  const missing: Clark[] = [];
  if (want.all) {
    for (const [k, v] of live) if (v !== undefined) found.set(k, v);
    for (const [k, v] of dead) found.set(k, esc(v));
  } else if (want.namesOnly) {
    for (const [k, v] of live) if (v !== undefined) found.set(k, '');
  } else {
    for (const name of want.names) {
      const v = live.has(name) ? live.get(name) : dead.has(name) ? esc(dead.get(name) as string) : undefined;
      if (v === undefined) missing.push(name);
      else found.set(name, v);
    }
  }
  return { href, found, missing };
}
