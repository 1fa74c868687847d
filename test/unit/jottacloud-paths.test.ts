import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/errors.js';
import { checkContainerName, checkedPath, decodeSegment, encodeSegment, JottaLocation, jottaNames, MAX_NAME_LENGTH } from '../../connectors/jottacloud/paths.js';
import { parseRawJfsPath } from '../fakes/jottacloud/jfs.js';

const hostile = [
  'plain.txt',
  'with space.txt',
  ' leading and trailing ',
  'plus+sign',
  'a+b+c',
  'semi;colon',
  'hash#tag',
  'percent%20%25%',
  '%41',
  'question?mark',
  'amp&ersand=1',
  'slash\\back',
  "quote'\"",
  'Æ Ø Å æ ø å',
  'blåbærsyltetøy'.normalize('NFD'),
  'emoji 🚢⚓',
  '日本語のファイル',
  'colon:star*pipe|<>',
  'tilde~dollar$at@,',
];

function kindOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectorError ? err.kind : `not a ConnectorError: ${String(err)}`;
  }
  return undefined;
}

describe('segment encoding (§3)', () => {
  it('round-trips every hostile name through encode/decode', () => {
    for (const name of hostile) expect(decodeSegment(encodeSegment(name))).toBe(name);
  });

  it('leaves nothing the servlet treats specially unescaped: + ; # ? % / space', () => {
    for (const name of hostile) {
      const enc = encodeSegment(name);
      expect(enc, name).not.toMatch(/[+;#?/ ]/);
      expect(enc.replace(/%[0-9A-F]{2}/g, ''), name).not.toContain('%');
      expect(enc, name).toMatch(/^[\x21-\x7e]*$/); // ASCII only: non-ASCII is UTF-8 percent-encoded
    }
    expect(encodeSegment('a+b')).toBe('a%2Bb'); // #2734
    expect(encodeSegment('a;b')).toBe('a%3Bb'); // #2750
    expect(encodeSegment('100%')).toBe('100%25'); // #9153
    expect(encodeSegment('ø')).toBe('%C3%B8');
  });

  it("builds file URLs that the emulator's path parser decodes back to the same segments", () => {
    const loc = new JottaLocation('http://127.0.0.1:1/jfs', 'Jotta', 'Archive');
    for (const name of hostile) {
      const rel = `dir #1 & ?%/${name}`;
      const url = new URL(loc.fileUrl('user+1@x', rel, 'mkDir=true'));
      expect(url.search).toBe('?mkDir=true');
      const parsed = parseRawJfsPath(url.pathname.replace(/^\/jfs/, ''));
      // The names as stored: rclone's substitutes for what Jottacloud refuses (`?` → `？`, `%` → `％`).
      expect(parsed).toEqual({ ok: true, segs: ['user+1@x', 'Jotta', 'Archive', 'dir #1 & ？％', jottaNames.encode(name)] });
    }
  });

  it('has no trailing slash on the mountpoint root (§4.1)', () => {
    const loc = new JottaLocation('https://jfs.jottacloud.com/jfs/', 'Jotta', 'Archive');
    expect(loc.fileUrl('u1', '')).toBe('https://jfs.jottacloud.com/jfs/u1/Jotta/Archive');
    expect(loc.userUrl('u1')).toBe('https://jfs.jottacloud.com/jfs/u1');
  });

  it('puts raw absolute paths in mv/cp queries, form-encoded and decodable (§3)', () => {
    const loc = new JottaLocation('https://jfs.jottacloud.com/jfs/', 'Jotta', 'Sync');
    for (const name of hostile) {
      const abs = loc.absPath('u1', `a b/${name}`);
      expect(abs).toBe(`/u1/Jotta/Sync/a b/${jottaNames.encode(name)}`);
      const query = new URLSearchParams([['mv', abs]]).toString();
      expect(query).not.toMatch(/[ /#?]/);
      expect(new URLSearchParams(query).get('mv')).toBe(abs);
    }
  });

  it('uses the unescaped /jfs/<device>/<mountpoint>/<path> form for allocate (§3, §7.1)', () => {
    const loc = new JottaLocation('https://jfs.jottacloud.com/jfs/', 'Jotta', 'Archive');
    expect(loc.allocatePath('a b/c+d;e#f')).toBe('/jfs/Jotta/Archive/a b/c+d;e#f');
  });

  it('maps liststream paths /<mountpoint>/... case-insensitively (§4.4)', () => {
    const loc = new JottaLocation('https://jfs.jottacloud.com/jfs/', 'Jotta', 'Archive');
    expect(loc.listStreamSegments('/Archive')).toEqual([]);
    expect(loc.listStreamSegments('/archive/a b/c')).toEqual(['a b', 'c']);
    expect(loc.listStreamSegments('/Sync/a')).toBeUndefined();
  });
});

describe('path checks', () => {
  it('accepts a name of exactly 255 characters and refuses 256 as invalid_name (§7.2, §8)', () => {
    expect(MAX_NAME_LENGTH).toBe(255);
    expect(checkedPath(`d/${'a'.repeat(255)}`, 'write')).toBe(`d/${'a'.repeat(255)}`);
    expect(kindOf(() => checkedPath(`d/${'a'.repeat(256)}`, 'write'))).toBe('invalid_name');
    expect(kindOf(() => checkedPath(`${'a'.repeat(256)}/x`, 'write'))).toBe('invalid_name');
    // 255 characters in UTF-16 units, as Java counts them: 128 ships are 256 units.
    expect(kindOf(() => checkedPath('🚢'.repeat(128), 'write'))).toBe('invalid_name');
    expect(checkedPath('ø'.repeat(255), 'write')).toBe('ø'.repeat(255));
  });

  it("refuses paths that leave the root, as invalid_name", () => {
    for (const bad of ['..', 'a/../../b', '/etc/passwd', 'nul\0byte']) expect(kindOf(() => checkedPath(bad, 'stat')), bad).toBe('invalid_name');
    expect(checkedPath('a//b/./c/', 'stat')).toBe('a/b/c');
    expect(checkedPath('', 'stat')).toBe('');
  });

  it('checks device and mountpoint names', () => {
    expect(checkContainerName('mountpoint', 'Sync')).toBe('Sync');
    for (const bad of ['', 'a/b', '..', 'x'.repeat(256)]) expect(kindOf(() => checkContainerName('device', bad))).toBe('invalid_name');
  });
});
