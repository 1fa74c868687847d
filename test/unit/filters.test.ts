import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterPresets, filtersSchema, type JobFilters } from '../../core/filters.js';
import { parseDuration, parseSize } from '../../core/units.js';
import { compileFilter } from '../../engine/filter.js';

const now = Date.UTC(2026, 11, 3);
const day = 86_400_000;
const keeps = (raw: Record<string, unknown>, path: string, size = 100, mtimeMs = now - day) =>
  compileFilter(filtersSchema.parse(raw), now).file(path, size, mtimeMs);

describe('sizes and durations, as rclone writes them', () => {
  it('reads binary units and plain bytes', () => {
    expect(parseSize(2048)).toBe(2048);
    expect(parseSize('2048')).toBe(2048);
    expect(parseSize('10M')).toBe(10 * 2 ** 20);
    expect(parseSize('2G')).toBe(2 * 2 ** 30);
    expect(parseSize('1.5k')).toBe(1536);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize('3 MB')).toBe(3 * 2 ** 20);
  });
  it('reads durations, m being minutes and M months', () => {
    expect(parseDuration('30d')).toBe(30 * day);
    expect(parseDuration('2w')).toBe(14 * day);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('1M')).toBe(30 * day);
    expect(parseDuration('1y')).toBe(365 * day);
  });
  it('refuses what it cannot read, saying how to write it', () => {
    expect(() => parseSize('10X')).toThrow(/"10X" is not a size.*"10M"/);
    expect(() => parseSize(-1)).toThrow(/not a size/);
    expect(() => parseDuration('3 days')).toThrow(/"3 days" is not a duration.*"30d"/);
    expect(() => parseDuration('')).toThrow(/not a duration/);
  });
});

describe('the filters schema', () => {
  it('normalises sizes to bytes and ages to milliseconds', () => {
    expect(filtersSchema.parse({ minSize: '1K', maxSize: '2M', minAge: '1d', maxAge: '2w', folders: ['/Photos/2024/'] }))
      .toEqual({ minSize: 1024, maxSize: 2 * 2 ** 20, minAge: day, maxAge: 14 * day, folders: ['Photos/2024'] });
  });
  it.each([
    [{ minSize: '10X' }, 'minSize', /not a size/],
    [{ maxAge: 'soon' }, 'maxAge', /not a duration/],
    [{ minSize: '2M', maxSize: '1M' }, 'minSize', /larger than maxSize/],
    [{ minAge: '2w', maxAge: '1d' }, 'minAge', /longer than maxAge/],
    [{ folders: ['../etc'] }, 'folders', /not a folder inside the source/],
    [{ presets: ['pictures'] }, 'presets', /photos, videos, documents, audio/],
    [{ changedSince: 'yesterday' }, 'changedSince', /ISO 8601/],
    [{ include: [''] }, 'include', /cannot be empty/],
    [{ incluud: ['*.jpg'] }, '', /incluud/],
  ])('refuses %j, naming %s', (raw, field, message) => {
    const r = filtersSchema.safeParse(raw);
    expect(r.success).toBe(false);
    const issue = r.error!.issues[0];
    expect(String(issue.path[0] ?? '')).toBe(field);
    expect(issue.message + JSON.stringify(issue)).toMatch(message);
  });
});

describe('matching, by rclone rules', () => {
  it('an unanchored pattern matches the end of the path, an anchored one from the root', () => {
    expect(keeps({ include: ['*.jpg'] }, 'a/b/c.jpg')).toBe(true);
    expect(keeps({ include: ['*.jpg'] }, 'c.jpg')).toBe(true);
    expect(keeps({ include: ['*.jpg'] }, 'c.jpeg')).toBe(false);
    expect(keeps({ include: ['b/*.jpg'] }, 'a/b/c.jpg')).toBe(true);
    expect(keeps({ include: ['/b/*.jpg'] }, 'a/b/c.jpg')).toBe(false);
    expect(keeps({ include: ['/a/*.jpg'] }, 'a/c.jpg')).toBe(true);
    expect(keeps({ include: ['/a/*.jpg'] }, 'a/b/c.jpg')).toBe(false);
    expect(keeps({ include: ['/a/**.jpg'] }, 'a/b/c.jpg')).toBe(true);
    expect(keeps({ include: ['/a/**'] }, 'a/b/c/d.txt')).toBe(true);
  });
  it('knows ?, [...] and {a,b}, and matches dot-files like any other', () => {
    expect(keeps({ include: ['file?.txt'] }, 'x/file1.txt')).toBe(true);
    expect(keeps({ include: ['file?.txt'] }, 'x/file10.txt')).toBe(false);
    expect(keeps({ include: ['[a-c]*.log'] }, 'b1.log')).toBe(true);
    expect(keeps({ include: ['[a-c]*.log'] }, 'd1.log')).toBe(false);
    expect(keeps({ include: ['*.{jpg,png}'] }, 'p/q.png')).toBe(true);
    expect(keeps({ exclude: ['*'] }, '.hidden')).toBe(false);
    expect(keeps({ exclude: ['.DS_Store'] }, 'deep/down/.DS_Store')).toBe(false);
  });
  it('an exclude wins over an include and a preset', () => {
    expect(keeps({ include: ['*.jpg'], exclude: ['/tmp/**'] }, 'tmp/a.jpg')).toBe(false);
    expect(keeps({ presets: ['photos'], exclude: ['*.heic'] }, 'a.heic')).toBe(false);
  });
  it('presets match their extensions in any case and act as includes', () => {
    for (const [preset, exts] of Object.entries(filterPresets)) {
      for (const ext of exts) {
        expect(keeps({ presets: [preset] }, `Album/IMG_0001.${ext.toUpperCase()}`), `${preset} ${ext}`).toBe(true);
      }
    }
    expect(keeps({ presets: ['photos'] }, 'a/IMG_1.HEIC')).toBe(true);
    expect(keeps({ presets: ['photos'] }, 'a/IMG_1.CR3')).toBe(true);
    expect(keeps({ presets: ['videos'] }, 'a/IMG_1.MOV')).toBe(true);
    expect(keeps({ presets: ['photos'] }, 'a/IMG_1.MOV')).toBe(false);
    expect(keeps({ presets: ['photos'] }, 'a/jpg')).toBe(false);
    expect(keeps({ presets: ['photos'] }, 'a.jpg/readme')).toBe(false);
    expect(keeps({ presets: ['audio'], include: ['*.txt'] }, 'notes.txt')).toBe(true);
  });
  it('sizes are inclusive; ages count back from the run start; changedSince is a lower bound', () => {
    expect(keeps({ minSize: 100 }, 'f', 100)).toBe(true);
    expect(keeps({ minSize: 101 }, 'f', 100)).toBe(false);
    expect(keeps({ maxSize: '1K' }, 'f', 1024)).toBe(true);
    expect(keeps({ maxSize: '1K' }, 'f', 1025)).toBe(false);
    expect(keeps({ minAge: '7d' }, 'f', 1, now - 8 * day)).toBe(true);
    expect(keeps({ minAge: '7d' }, 'f', 1, now - 6 * day)).toBe(false);
    expect(keeps({ maxAge: '7d' }, 'f', 1, now - 6 * day)).toBe(true);
    expect(keeps({ maxAge: '7d' }, 'f', 1, now - 8 * day)).toBe(false);
    expect(keeps({ changedSince: '2026-12-01T00:00:00Z' }, 'f', 1, Date.UTC(2026, 11, 1))).toBe(true);
    expect(keeps({ changedSince: '2026-12-01T00:00:00Z' }, 'f', 1, Date.UTC(2026, 10, 30))).toBe(false);
  });
  it('folders keep what is inside them, and only folders on the way to them are listed', () => {
    const f = compileFilter(filtersSchema.parse({ folders: ['Photos/2024', 'Docs'] }), now);
    expect(f.file('Photos/2024/a.jpg', 1, now)).toBe(true);
    expect(f.file('Photos/2024/x/a.jpg', 1, now)).toBe(true);
    expect(f.file('Photos/2023/a.jpg', 1, now)).toBe(false);
    expect(f.file('Photos/20245/a.jpg', 1, now)).toBe(false);
    expect(f.file('Docs/a.pdf', 1, now)).toBe(true);
    expect(f.file('a.pdf', 1, now)).toBe(false);
    expect([f.dir(''), f.dir('Photos'), f.dir('Photos/2024'), f.dir('Photos/2024/x'), f.dir('Docs/y')]).toEqual([true, true, true, true, true]);
    expect([f.dir('Photos/2023'), f.dir('Music'), f.dir('Doc'), f.dir('Photos/20245')]).toEqual([false, false, false, false]);
  });
  it('with no filters, everything is kept', () => {
    const f = compileFilter({} as JobFilters, now);
    expect(f.file('.x/y z/#%.bin', 0, 0)).toBe(true);
    expect(f.dir('anything')).toBe(true);
  });
  it('property: a plain unanchored name matches exactly the paths that end in it', () => {
    const seg = fc.stringMatching(/^[a-z0-9 ._-]{1,8}$/).filter((s) => s !== '.' && s !== '..' && !s.startsWith('-'));
    fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), seg, (dirs, name) => {
      const path = [...dirs, name].join('/');
      const other = [...dirs].join('/');
      expect(keeps({ include: [name] }, path)).toBe(true);
      expect(keeps({ exclude: [name] }, path)).toBe(false);
      if (!other.split('/').includes(name) || dirs[dirs.length - 1] !== name) {
        expect(keeps({ include: [name] }, `${other}/${name}x`)).toBe(false);
      }
    }));
  });
});

describe('rclone globs in picomatch', () => {
  it('a ** that starts a name crosses folders, as in rclone', () => {
    expect(keeps({ include: ['**.jpg'] }, 'a/b/c.jpg')).toBe(true);
    expect(keeps({ include: ['/a/**.jpg'] }, 'a/c.jpg')).toBe(true);
    expect(keeps({ include: ['/a/**.jpg'] }, 'b/c.jpg')).toBe(false);
  });
  it('a ** inside a name is refused with a way out', () => {
    const r = filtersSchema.safeParse({ exclude: ['foo**bar'] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].message).toMatch(/\*\* must start a folder or name/);
  });
});
