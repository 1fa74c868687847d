import { z } from 'zod';
import { durationSchema, sizeSchema } from './unitSchemas.js';

/**
 * Which files a job covers: rclone's filter vocabulary, checked and normalised when the job is
 * created (sizes in bytes, ages in milliseconds), applied while the plan lists each side
 * (engine/filter.ts). A file that a filter leaves out is invisible on both sides: it is neither
 * copied nor, in a sync, deleted.
 */

/**
 * File extensions of each preset, lower case, without the dot. Camera RAW formats are the
 * common makers' (Canon, Nikon, Sony, Fujifilm, Olympus, Panasonic, Pentax, Samsung, Leica,
 * Hasselblad, Phase One, Sigma, Adobe DNG); Apple's HEIC/HEIF photos and MOV videos are in.
 */
export const filterPresets = {
  photos: [
    'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'gif', 'bmp', 'tif', 'tiff', 'webp', 'heic', 'heif', 'hif', 'avif', 'jxl', 'svg',
    'dng', 'cr2', 'cr3', 'crw', 'nef', 'nrw', 'arw', 'srf', 'sr2', 'raf', 'orf', 'rw2', 'pef', 'srw', 'rwl', 'raw', '3fr', 'fff', 'iiq', 'x3f', 'erf', 'mrw', 'kdc', 'dcr',
  ],
  videos: ['mp4', 'm4v', 'mov', 'qt', 'avi', 'mkv', 'webm', 'wmv', 'flv', 'mpg', 'mpeg', 'm2ts', 'mts', 'ts', '3gp', '3g2', 'vob', 'ogv', 'mxf', 'insv', 'lrv'],
  documents: [
    'pdf', 'txt', 'md', 'rtf', 'doc', 'docx', 'odt', 'xls', 'xlsx', 'ods', 'csv', 'ppt', 'pptx', 'odp', 'pages', 'numbers', 'key', 'epub', 'tex', 'html', 'htm', 'xml', 'json',
  ],
  audio: ['mp3', 'm4a', 'aac', 'flac', 'wav', 'aiff', 'aif', 'ogg', 'oga', 'opus', 'wma', 'alac', 'ape', 'mid', 'midi', 'amr'],
} as const satisfies Record<string, readonly string[]>;
export type FilterPreset = keyof typeof filterPresets;
const presetNames = Object.keys(filterPresets) as [FilterPreset, ...FilterPreset[]];

/** A glob in rclone's syntax: `*`, `**`, `?`, `[...]`, `{a,b}`; a leading `/` anchors it at the job's root. */
const glob = z.string().min(1, { message: 'a filter pattern cannot be empty' }).max(1024)
  .refine((g) => !g.includes('\0'), { message: 'a filter pattern cannot contain a NUL character' })
  .refine((g) => !/[^/]\*\*|\*\*\*/.test(g), { message: 'in a filter pattern, ** must start a folder or name ("dir/**", "**.jpg"); inside a name use *' });

const folder = z.string().transform((f, ctx) => {
  const clean = f.replace(/^\/+|\/+$/g, '');
  if (clean === '' || clean.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    ctx.addIssue({ code: 'custom', message: `"${f}" is not a folder inside the source: give a path such as "Photos/2024", relative to the job's source` });
    return z.NEVER;
  }
  return clean;
});

const size = sizeSchema;
const age = durationSchema;

export const filtersSchema = z.strictObject({
  /** Only files matching one of these (or a preset) are covered. */
  include: z.array(glob).max(1000).optional(),
  /** Files matching one of these are left out, even when an include matches. */
  exclude: z.array(glob).max(1000).optional(),
  /** Only files inside these folders of the source; the rest of the tree is not even listed. */
  folders: z.array(folder).max(1000).optional(),
  /** Bytes, inclusive. */
  minSize: size.optional(),
  maxSize: size.optional(),
  /** Only files older than this (milliseconds, from `30d`-style strings). */
  minAge: age.optional(),
  /** Only files newer than this. */
  maxAge: age.optional(),
  /** Only files modified at or after this instant (ISO 8601). */
  changedSince: z.iso.datetime({ offset: true, message: 'changedSince must be an ISO 8601 date and time, such as "2026-01-31T00:00:00Z"' }).optional(),
  /** Extension sets, as includes: photos, videos, documents, audio. */
  presets: z.array(z.enum(presetNames, { error: `presets are: ${presetNames.join(', ')}` })).max(presetNames.length).optional(),
}).superRefine((f, ctx) => {
  if (f.minSize !== undefined && f.maxSize !== undefined && f.minSize > f.maxSize) ctx.addIssue({ code: 'custom', path: ['minSize'], message: 'minSize is larger than maxSize: no file could match' });
  if (f.minAge !== undefined && f.maxAge !== undefined && f.minAge > f.maxAge) ctx.addIssue({ code: 'custom', path: ['minAge'], message: 'minAge is longer than maxAge: no file could match' });
});
export type JobFilters = z.output<typeof filtersSchema>;

/** Whether a job's filters leave anything out at all. */
export function hasFilters(f: JobFilters): boolean {
  return Object.values(f).some((v) => v !== undefined && (!Array.isArray(v) || v.length > 0));
}
