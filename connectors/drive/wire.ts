/**
 * Drive v3 as it comes over the wire (providers.md A.2): the file resource with the fields this
 * connector asks for, file and change lists, about, and the error body whose `reason` decides.
 */

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const SHORTCUT_MIME = 'application/vnd.google-apps.shortcut';
export const GOOGLE_APPS_PREFIX = 'application/vnd.google-apps.';

/** The fields planning needs of a file; nothing else is asked for (listings are the bulk of the traffic). */
export const FILE_FIELDS = 'id,name,mimeType,size,md5Checksum,modifiedTime';
/** …plus parents, for a walk by parent batches (entries are grouped by the folder they are in). */
export const WALK_FILE_FIELDS = `${FILE_FIELDS},parents`;
/** …plus what a change needs: where the file is, whether it is in the trash, when a folder was made. */
export const CHANGE_FILE_FIELDS = `${FILE_FIELDS},parents,trashed,createdTime`;

export interface DriveFile {
  id: string;
  name: string;
  mimeType: string;
  /** Bytes, as a decimal string; only for files with binary content. */
  size?: string;
  md5Checksum?: string;
  /** RFC 3339. */
  modifiedTime?: string;
  createdTime?: string;
  parents?: string[];
  trashed?: boolean;
}

export interface FileList {
  nextPageToken?: string;
  incompleteSearch?: boolean;
  files?: DriveFile[];
}

export interface Change {
  fileId: string;
  removed: boolean;
  file?: DriveFile;
}

export interface ChangeList {
  nextPageToken?: string;
  newStartPageToken?: string;
  changes?: Change[];
}

export interface AboutJson {
  storageQuota?: { limit?: string; usage?: string; usageInDrive?: string };
}

export interface DriveErrorBody {
  error?: { code?: number; message?: string; errors?: { reason?: string; message?: string; domain?: string }[] };
}

/** Drive's reason and message of an error body, when it has them. */
export function errorReason(bodyText: string): { reason?: string; message?: string } {
  try {
    const body = JSON.parse(bodyText) as DriveErrorBody;
    const first = body.error?.errors?.[0];
    return { reason: first?.reason, message: first?.message ?? body.error?.message };
  } catch {
    return {};
  }
}

/** A name inside a `q` string literal: backslash and quote escaped. */
export function qString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function timeOf(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

export function sizeOf(f: DriveFile): number | undefined {
  if (f.size === undefined) return undefined;
  const n = Number(f.size);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
