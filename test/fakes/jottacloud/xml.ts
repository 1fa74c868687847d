/**
 * Renders the JFS XML documents from the shapes in wire.ts. Element order, attributes and the
 * `xml:space="preserve"` markers follow the captured responses cited in
 * shared/specs/jottacloud-api.md §4.2, §5, §9.1 and §10.
 */
import { jottaTime, listStreamTime } from './time.js';
import type {
  DeviceXml,
  ErrorXml,
  FileXml,
  FolderChildXml,
  FolderXml,
  ListStreamItem,
  MountPointXml,
  RevisionXml,
  UserXml,
} from './wire.js';

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Escapes text and attribute values. Control characters other than TAB/LF/CR cannot appear in XML 1.0. */
export function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\uFFFD');
}

/** `time` and `host` on every root element (§4.2). */
function rootAttrs(host: string, now: Date): string {
  return ` time="${jottaTime(now)}" host="${esc(host)}"`;
}

function t(d: Date | undefined): string {
  return d ? jottaTime(d) : '';
}

function preserve(tag: string, value: string): string {
  return `<${tag} xml:space="preserve">${esc(value)}</${tag}>`;
}

/** §4.2: `<number>`, `<state>`, `<created>`, `<modified>`, `<mime>`, `<mstyle>`, `<size>`, `<md5>`, `<updated>`. */
function revision(tag: string, r: RevisionXml): string {
  return (
    `<${tag}><number>${r.number}</number><state>${r.state}</state>` +
    `<created>${t(r.created)}</created><modified>${t(r.modified)}</modified>` +
    `<mime>${esc(r.mime)}</mime><mstyle>${esc(r.mstyle)}</mstyle>` +
    (r.size === undefined ? '' : `<size>${r.size}</size>`) +
    `<md5>${esc(r.md5)}</md5><updated>${t(r.updated)}</updated></${tag}>`
  );
}

/** A `<file>` as a listing child (no `<path>`; a trashed one carries `deleted` and `<abspath>`). */
function fileChild(f: FileXml): string {
  const attrs =
    ` name="${esc(f.name)}" uuid="${esc(f.uuid)}"` +
    (f.deleted ? ` deleted="${jottaTime(f.deleted)}"` : '') +
    (f.contextType ? ` contextType="${f.contextType}"` : '');
  return (
    `<file${attrs}>` +
    (f.deleted ? preserve('abspath', f.parentPath) : '') +
    (f.currentRevision ? revision('currentRevision', f.currentRevision) : '') +
    (f.latestRevision ? revision('latestRevision', f.latestRevision) : '') +
    '</file>'
  );
}

/** A `<folder name=".."/>` listing child; trashed ones get `deleted` and `<abspath>` (§4.2). */
function folderChild(f: FolderChildXml): string {
  if (!f.deleted) return `<folder name="${esc(f.name)}"/>`;
  return (
    `<folder name="${esc(f.name)}" deleted="${jottaTime(f.deleted)}"` +
    (f.contextType ? ` contextType="${f.contextType}"` : '') +
    `>${preserve('abspath', f.parentPath)}</folder>`
  );
}

function children(folders: FolderChildXml[], files: FileXml[]): string {
  // Empty containers are left out, as in the captured MountPoint.xml (§4.2).
  return (
    (folders.length ? `<folders>${folders.map(folderChild).join('')}</folders>` : '') +
    (files.length ? `<files>${files.map(fileChild).join('')}</files>` : '')
  );
}

function metadata(folders: number, files: number): string {
  return `<metadata first="" max="" total="${folders + files}" num_folders="${folders}" num_files="${files}"/>`;
}

export function folderDoc(f: FolderXml, host: string, now: Date): string {
  const attrs = ` name="${esc(f.name)}"` + (f.deleted ? ` deleted="${jottaTime(f.deleted)}"` : '') + rootAttrs(host, now);
  return (
    PROLOG +
    `<folder${attrs}>` +
    preserve('path', f.parentPath) +
    preserve('abspath', f.parentPath) +
    children(f.folders, f.files) +
    (f.withMetadata ? metadata(f.folders.length, f.files.length) : '') +
    '</folder>'
  );
}

export function mountPointDoc(m: MountPointXml, host: string, now: Date): string {
  return (
    PROLOG +
    `<mountPoint${rootAttrs(host, now)}>` +
    preserve('name', m.name) +
    preserve('path', m.parentPath) +
    preserve('abspath', m.parentPath) +
    `<size>${m.size}</size><modified>${t(m.modified)}</modified>` +
    `<device>${esc(m.device)}</device><user>${esc(m.user)}</user>` +
    children(m.folders, m.files) +
    metadata(m.folders.length, m.files.length) +
    '</mountPoint>'
  );
}

/** A stat of a file, or the reply of dl/mv/cp/cphash (§5): the root `<file>` with `<path>`, `<abspath>`. */
export function fileDoc(f: FileXml, host: string, now: Date): string {
  const attrs =
    ` name="${esc(f.name)}" uuid="${esc(f.uuid)}"` + (f.deleted ? ` deleted="${jottaTime(f.deleted)}"` : '') + rootAttrs(host, now);
  return (
    PROLOG +
    `<file${attrs}>` +
    preserve('path', f.parentPath) +
    preserve('abspath', f.parentPath) +
    (f.currentRevision ? revision('currentRevision', f.currentRevision) : '') +
    (f.latestRevision ? revision('latestRevision', f.latestRevision) : '') +
    (f.revisions && f.revisions.length ? `<revisions>${f.revisions.map((r) => revision('revision', r)).join('')}</revisions>` : '') +
    '</file>'
  );
}

function deviceBody(d: DeviceXml, withMountPoints: boolean): string {
  return (
    preserve('name', d.name) +
    preserve('display_name', d.displayName) +
    `<type>${esc(d.type)}</type><sid>${esc(d.sid)}</sid><size>${d.size}</size><modified>${t(d.modified)}</modified>` +
    (withMountPoints
      ? `<user>${esc(d.user)}</user><mountPoints>` +
        d.mountPoints
          .map(
            (m) =>
              `<mountPoint>${preserve('name', m.name)}<size>${m.size}</size><modified>${t(m.modified)}</modified>` +
              (m.deleted ? `<deleted>${jottaTime(m.deleted)}</deleted>` : '') +
              '</mountPoint>',
          )
          .join('') +
        `</mountPoints><metadata first="" max="" total="${d.mountPoints.length}" num_mountpoints="${d.mountPoints.length}"/>`
      : '')
  );
}

/** §10: `GET /jfs/<user>/<device>`. */
export function deviceDoc(d: DeviceXml, host: string, now: Date): string {
  return PROLOG + `<device${rootAttrs(host, now)}>${deviceBody(d, true)}</device>`;
}

/** §10: `GET /jfs/<user>`; `<capacity>` -1 means unlimited. */
export function userDoc(u: UserXml, host: string, now: Date): string {
  return (
    PROLOG +
    `<user${rootAttrs(host, now)}>` +
    `<username>${esc(u.username)}</username><account-type>${esc(u.accountType)}</account-type>` +
    `<locked>${u.locked}</locked><capacity>${u.capacity}</capacity>` +
    `<max-devices>${u.maxDevices}</max-devices><max-mobile-devices>${u.maxMobileDevices}</max-mobile-devices>` +
    `<usage>${u.usage}</usage><read-locked>${u.readLocked}</read-locked><write-locked>${u.writeLocked}</write-locked>` +
    `<quota-write-locked>${u.quotaWriteLocked}</quota-write-locked><enable-sync>${u.enableSync}</enable-sync>` +
    `<enable-foldershare>${u.enableFolderShare}</enable-foldershare>` +
    `<devices>${u.devices.map((d) => `<device>${deviceBody(d, false)}</device>`).join('')}</devices>` +
    '</user>'
  );
}

/** §9.1: `<error><code>…</code><message>…</message><reason>…</reason><cause>…</cause><hostname>…</hostname><x-id>…</x-id></error>`. */
export function errorDoc(e: ErrorXml): string {
  return (
    PROLOG +
    `<error><code>${e.code}</code><message>${esc(e.message)}</message><reason>${esc(e.reason)}</reason>` +
    `<cause>${esc(e.cause)}</cause><hostname>${esc(e.hostname)}</hostname><x-id>${esc(e.xId)}</x-id></error>`
  );
}

/**
 * §4.4 `mode=liststream`. The real root element name is not in the sources and rclone ignores it;
 * the emulator uses `<filestream>`. Chunks are yielded so a large tree streams.
 */
export const listStreamHead = PROLOG + '<filestream>';

export function listStreamEntry(item: ListStreamItem): string {
  if (item.kind === 'folder') return `<folder><path>${esc(item.path)}</path></folder>`;
  return (
    `<file><path>${esc(item.parentPath)}</path><filename>${esc(item.name)}</filename>` +
    `<md5>${esc(item.md5)}</md5><size>${item.size}</size>` +
    `<modified>${listStreamTime(item.modified)}</modified><created>${listStreamTime(item.created)}</created></file>`
  );
}

export function listStreamTail(folders: number, files: number): string {
  return `<stats><folders>${folders}</folders><files>${files}</files></stats></filestream>`;
}
