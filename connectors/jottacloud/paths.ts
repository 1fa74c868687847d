/**
 * Where a remote path lives at Jottacloud (shared/specs/jottacloud-api.md §3): every JFS URL is
 * `<jfs>/<user>/<device>/<mountpoint>/<path>`; the remote's root is one mountpoint of one device,
 * `Jotta/Archive` by default (rclone's default, line 49). `Sync` or a backup device's mountpoint
 * is chosen in the remote's config.
 */
import { ConnectorError } from '../errors.js';
import { nameEncoder } from '../shared/encoder.js';
import { connectorPath } from '../shared/paths.js';
import type { NameRules } from '../types.js';

/** §7.2 / §8: "JFS file names may not be longer than 255 characters". The server is Java, whose
 * String length counts UTF-16 code units, as JavaScript's does. */
export const MAX_NAME_LENGTH = 255;

/**
 * §8: rclone's default encoding for Jottacloud (`Display | EncodeWin | EncodeInvalidUtf8 |
 * EncodePercent`): `" * : < > ? |` for Windows clients, `%` because a name holding a literal `%XX`
 * is refused on every request (§3 item 4, #9153), control characters, and what XML cannot carry.
 * The same substitutes as rclone, so both store (and list) the same names. rclone's `Dot` (the
 * names `.` and `..` as `．`/`．．`) is left out: core/paths.ts never lets those names through, and
 * decoding a stored `．．` to `..` would give a path no connector may take.
 */
export const jottaNameRules: NameRules = Object.freeze({ forbiddenChars: '"*:<>?|%', controlChars: true, invalidUnicode: true });

/** User names ↔ stored names; applied to path segments below the mountpoint, never to user, device or mountpoint. */
export const jottaNames = nameEncoder(jottaNameRules);

export const DEFAULT_DEVICE = 'Jotta';
export const DEFAULT_MOUNTPOINT = 'Archive';

/**
 * One path segment for a URL path. §3: Go's path escaper (rclone) leaves `+ ; $ & , : = @` alone
 * and rclone then patches `+`; the server decodes `+` to a space or refuses it (#2734) and cuts
 * a segment at `;` (#2750). `encodeURIComponent` encodes all of those, plus `#`, `?`, `%`, space
 * and non-ASCII as UTF-8 bytes — the spec's advice for a TypeScript client (§3 item 3).
 */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name);
}

export function decodeSegment(raw: string): string {
  return decodeURIComponent(raw);
}

/** The caller's path in core/paths.ts form, or invalid_name (`..`, absolute, NUL, a name over 255 once encoded). */
export function checkedPath(input: string, op: string): string {
  const rel = connectorPath(input, op);
  for (const seg of segmentsOf(rel)) {
    if (jottaNames.encode(seg).length > MAX_NAME_LENGTH) {
      throw new ConnectorError('invalid_name', `${op} ${JSON.stringify(rel)}: Jottacloud refuses names longer than ${MAX_NAME_LENGTH} characters`);
    }
  }
  return rel;
}

export function segmentsOf(rel: string): string[] {
  return rel === '' ? [] : rel.split('/');
}

/** The segments of a user's path as Jottacloud stores them. */
function storedSegments(rel: string): string[] {
  return segmentsOf(rel).map(jottaNames.encode);
}

/** The account/device/mountpoint a remote is rooted at, and the URLs and path forms built from it. */
export class JottaLocation {
  readonly jfsBase: string;

  constructor(
    jfsUrl: string,
    readonly device: string,
    readonly mountpoint: string,
  ) {
    this.jfsBase = jfsUrl.endsWith('/') ? jfsUrl : `${jfsUrl}/`;
  }

  /** `<jfs>/<user>` (§10; rclone leaves the user name unescaped, #2734 shows why not to). */
  userUrl(user: string): string {
    return `${this.jfsBase}${encodeSegment(user)}`;
  }

  /** `<jfs>/<user>/<device>/<mountpoint>[/<path>]`, every segment escaped; no trailing slash (§4.1). */
  fileUrl(user: string, rel: string, query?: URLSearchParams | string): string {
    const segs = [user, this.device, this.mountpoint, ...storedSegments(rel)];
    const q = query === undefined ? '' : typeof query === 'string' ? query : query.toString();
    return `${this.jfsBase}${segs.map(encodeSegment).join('/')}${q ? `?${q}` : ''}`;
  }

  /**
   * The raw absolute path of `mv=`, `cp=` and `mvDir=` targets: `/<user>/<device>/<mp>/<path>`,
   * unescaped; URLSearchParams form-encodes it in the query, as Go's url.Values does (§3).
   */
  absPath(user: string, rel: string): string {
    return `/${[user, this.device, this.mountpoint, ...storedSegments(rel)].join('/')}`;
  }

  /** The allocate API's form: `/jfs/<device>/<mountpoint>/<path>`, no user, no escaping, inside JSON (§3, §7.1). */
  allocatePath(rel: string): string {
    return `/jfs/${[this.device, this.mountpoint, ...storedSegments(rel)].join('/')}`;
  }

  /**
   * A liststream path `/<mountpoint>/<rest>` (§4.4: neither user nor device) as the user's names
   * below the mountpoint; undefined when it is not below this mountpoint. Names match
   * case-insensitively (§3).
   */
  listStreamSegments(path: string): string[] | undefined {
    const segs = path.split('/').filter((s) => s !== '');
    if (segs.length === 0 || segs[0].toLowerCase() !== this.mountpoint.toLowerCase()) return undefined;
    return segs.slice(1).map(jottaNames.decode);
  }
}

/** Device and mountpoint names from the config: one plain segment each. */
export function checkContainerName(kind: 'device' | 'mountpoint', name: string): string {
  if (name === '' || name.includes('/') || name === '.' || name === '..' || name.length > MAX_NAME_LENGTH) {
    throw new ConnectorError('invalid_name', `the Jottacloud ${kind} ${JSON.stringify(name)} is not a valid name`);
  }
  return name;
}
