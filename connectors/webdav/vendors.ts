/**
 * What each WebDAV server family can do, in one table (rclone's `setQuirks` in
 * backend/webdav/webdav.go is the model; shared/specs/providers.md A.5 the facts). The connector
 * reads its behaviour from here and nowhere else: how a modification time is set, which checksum
 * is sent and read back, whether large files go up in Nextcloud chunks or by partial PUT.
 */
import type { HashType } from '../../core/entry.js';
import type { NameRules } from '../types.js';

/**
 * Generic servers take almost any name (Apache stored every hostile name of the conformance suite,
 * control characters included); only what cannot be UTF-8 percent-encoded is encoded.
 */
const anyName: NameRules = Object.freeze({ invalidUnicode: true });
/** Nextcloud's filename validator refuses `\` and control characters (they are stored as rclone's substitutes). */
const ocNames: NameRules = Object.freeze({ forbiddenChars: '\\', controlChars: true, invalidUnicode: true });

export const vendorNames = ['nextcloud', 'owncloud', 'sharepoint-ntlm', 'fastmail', 'other'] as const;
export type Vendor = (typeof vendorNames)[number];

export interface VendorPreset {
  label: string;
  /** Why this version cannot talk to the vendor, and what to use instead; absent when it can. */
  refused?: string;
  /** `x-oc-mtime`: the `X-OC-Mtime` header (seconds) on PUT and on the chunk-assembly MOVE. `none`: the server keeps the time of the upload. */
  mtime: 'x-oc-mtime' | 'none';
  /**
   * Where listings carry content hashes: `oc` is `<oc:checksums>` (what the uploader declared with
   * `OC-Checksum`), `me` is Fastmail's `<ME:sha1hex>`; null: generic WebDAV has none.
   */
  checksumProp: 'oc' | 'me' | null;
  /** The hashes listings may carry; the engine reads a file back when one is absent. */
  hashes: readonly HashType[];
  nameRules: NameRules;
  /** `OC-Checksum` is sent with an upload (SHA1 preferred, else MD5) when the hash is known before the body ends. */
  sendsChecksum: boolean;
  /** Nextcloud chunked upload v2 under `/remote.php/dav/uploads/<user>/` for files larger than one chunk. */
  chunkedUpload: boolean;
  /**
   * Partial PUT (`Content-Range: bytes a-b/*` on an existing file) for resumable uploads on a
   * generic server: `probe` tries it once per connector on a scratch file and trusts only what it
   * saw (nginx answers 501, some servers truncate the file instead); `off` never uses it.
   */
  partialPut: 'probe' | 'off';
  /** `quota-available-bytes` / `quota-used-bytes` (RFC 4331) are worth asking for. */
  quota: boolean;
}

export const vendorPresets: Readonly<Record<Vendor, VendorPreset>> = Object.freeze({
  nextcloud: {
    label: 'Nextcloud',
    mtime: 'x-oc-mtime',
    checksumProp: 'oc',
    // Nextcloud keeps the checksum the uploader declared (apps/dav File::put) and knarr declares
    // SHA1 on every upload it can (rclone: hasOCSHA1 for nextcloud).
    hashes: ['sha1'],
    nameRules: ocNames,
    sendsChecksum: true,
    chunkedUpload: true,
    partialPut: 'off',
    quota: true,
  },
  owncloud: {
    // ownCloud 10 serves the same uploads endpoint ("new chunking") and keeps declared checksums.
    label: 'ownCloud',
    mtime: 'x-oc-mtime',
    checksumProp: 'oc',
    // ownCloud 10 computes SHA1, MD5 and ADLER32 of every upload itself (rclone: hasOCMD5, hasOCSHA1).
    hashes: ['sha1', 'md5'],
    nameRules: ocNames,
    sendsChecksum: true,
    chunkedUpload: true,
    partialPut: 'off',
    quota: true,
  },
  'sharepoint-ntlm': {
    label: 'SharePoint (NTLM)',
    refused:
      'NTLM authentication is not built into this version of knarr: enable Basic authentication over HTTPS on the SharePoint server and use vendor "other" with the same url, user and password',
    mtime: 'none',
    checksumProp: null,
    hashes: [],
    nameRules: anyName,
    sendsChecksum: false,
    chunkedUpload: false,
    partialPut: 'off',
    quota: false,
  },
  fastmail: {
    // rclone's fastmail quirks: X-OC-Mtime is honoured and `ME:sha1hex` reports SHA1. Partial PUT unknown: off.
    label: 'Fastmail Files',
    mtime: 'x-oc-mtime',
    checksumProp: 'me',
    hashes: ['sha1'],
    nameRules: anyName,
    sendsChecksum: false,
    chunkedUpload: false,
    partialPut: 'off',
    quota: true,
  },
  other: {
    // Apache mod_dav_fs, lighttpd, nginx...: getlastmodified is live and read-only (Apache answers a
    // PROPPATCH of it with 409 "Property is read-only"), so the time of the upload is what stays.
    label: 'WebDAV',
    mtime: 'none',
    checksumProp: null,
    hashes: [],
    nameRules: anyName,
    sendsChecksum: false,
    chunkedUpload: false,
    partialPut: 'probe',
    quota: true,
  },
});
