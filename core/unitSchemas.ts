import { z } from 'zod';
import { parseDuration, parseSize, UnitError } from './units.js';

/** A unit parser as a zod transform: a parse error becomes the field's message, as the API returns it. */
const unit = <T>(parse: (v: T) => number) => (v: T, ctx: z.RefinementCtx) => {
  try {
    return parse(v);
  } catch (err) {
    if (!(err instanceof UnitError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
};

/** Bytes, from a number or a string such as "10M"; stored as the number, so parsing it again gives the same. */
export const sizeSchema = z.union([z.number(), z.string()]).transform(unit(parseSize));
/** Milliseconds, from a string such as "30d" (or the number it was stored as). */
export const durationSchema = z.union([z.number().int().min(0), z.string()]).transform(unit((v: number | string) => (typeof v === 'number' ? v : parseDuration(v))));
/** Bytes per second (rclone's --bwlimit): a number or a size such as "10M", at least 1 KiB. */
export const bwlimitSchema = sizeSchema.pipe(z.number().min(1024, { message: 'bwlimit is bytes per second, at least 1024 ("1K")' }));
