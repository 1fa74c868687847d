/**
 * Drive names against knarr paths. Drive takes any UTF-8 in a name, `/` included, and allows
 * several items of one name in a folder. A path segment cannot hold `/`, so a `/` in a Drive name
 * is shown as `／` (FULLWIDTH SOLIDUS), and a `／` or `‛` that was in the name already is quoted
 * with `‛`: rclone's own mapping (its Standard encoding's Slash rule), so both tools name a
 * Drive file the same.
 *
 * Google Docs, Sheets, Slides and Drawings have no bytes; they are listed under their name plus
 * the extension of the format they are exported to, as rclone does.
 */
import { FOLDER_MIME, GOOGLE_APPS_PREFIX, SHORTCUT_MIME, timeOf, type DriveFile } from './wire.js';

const SLASH_SUB = '\uFF0F';
const QUOTE = '\u201B';

/** A Drive name as a path segment. */
export function fromDrive(name: string): string {
  let out = '';
  for (const c of name) out += c === '/' ? SLASH_SUB : c === SLASH_SUB || c === QUOTE ? QUOTE + c : c;
  return out;
}

/** A path segment as the Drive name. */
export function toDrive(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === QUOTE && i + 1 < segment.length && (segment[i + 1] === SLASH_SUB || segment[i + 1] === QUOTE)) out += segment[++i];
    else out += c === SLASH_SUB ? '/' : c;
  }
  return out;
}

/** The Google types that export, their config key and the formats each offers (extension → MIME type). */
export const exportable = {
  'application/vnd.google-apps.document': {
    key: 'document',
    formats: { docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', odt: 'application/vnd.oasis.opendocument.text', pdf: 'application/pdf', txt: 'text/plain' },
  },
  'application/vnd.google-apps.spreadsheet': {
    key: 'spreadsheet',
    formats: { xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ods: 'application/x-vnd.oasis.opendocument.spreadsheet', csv: 'text/csv', pdf: 'application/pdf' },
  },
  'application/vnd.google-apps.presentation': {
    key: 'presentation',
    formats: { pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', odp: 'application/vnd.oasis.opendocument.presentation', pdf: 'application/pdf' },
  },
  'application/vnd.google-apps.drawing': {
    key: 'drawing',
    formats: { svg: 'image/svg+xml', pdf: 'application/pdf', png: 'image/png' },
  },
} as const;

export type ExportKey = (typeof exportable)[keyof typeof exportable]['key'];
/** Per kind: an extension of its formats, or `skip`. */
export type ExportFormats = Record<ExportKey, string>;

export const defaultExportFormats: ExportFormats = { document: 'docx', spreadsheet: 'xlsx', presentation: 'pptx', drawing: 'svg' };

/** What one Drive item is in a listing. */
export type Listed =
  | { kind: 'folder' | 'file'; name: string; file: DriveFile }
  | { kind: 'export'; name: string; file: DriveFile; mime: string; ext: string }
  | { kind: 'skip'; name: string; file: DriveFile; why: string };

export function listedOf(file: DriveFile, formats: ExportFormats): Listed {
  const name = fromDrive(file.name);
  if (file.mimeType === FOLDER_MIME) return { kind: 'folder', name, file };
  if (file.mimeType === SHORTCUT_MIME) return { kind: 'skip', name, file, why: 'a shortcut to another item; shortcuts are not copied (the item itself is, where it lives)' };
  if (!file.mimeType.startsWith(GOOGLE_APPS_PREFIX)) return { kind: 'file', name, file };
  const kind = exportable[file.mimeType as keyof typeof exportable];
  if (!kind) return { kind: 'skip', name, file, why: `a Google item of type ${file.mimeType.slice(GOOGLE_APPS_PREFIX.length)} with no bytes and no export format` };
  const ext = formats[kind.key];
  const mime = (kind.formats as Record<string, string>)[ext];
  if (!mime) return { kind: 'skip', name, file, why: `a Google ${kind.key}; exportFormats.${kind.key} is "skip"` };
  return { kind: 'export', name: `${name}.${ext}`, file, mime, ext };
}

/** The Drive names a path segment may stand for: itself, or a Google item listed with an export extension. */
export function candidateNames(segment: string, formats: ExportFormats): string[] {
  const names = new Set([toDrive(segment)]);
  const dot = segment.lastIndexOf('.');
  if (dot > 0 && Object.values(formats).includes(segment.slice(dot + 1))) names.add(toDrive(segment.slice(0, dot)));
  return [...names];
}

/**
 * Of items listed under one name, the one that stands for the path: the most recently modified
 * (ties: the greater id, so every listing picks the same one). The others are duplicates.
 */
export function choose<T extends { file: DriveFile }>(group: readonly T[]): T {
  return group.reduce((best, x) => {
    const a = timeOf(best.file.modifiedTime);
    const b = timeOf(x.file.modifiedTime);
    return b > a || (b === a && x.file.id > best.file.id) ? x : best;
  });
}
