import { describe, expect, it } from 'vitest';
import { jottaNameRules, jottaNames } from '../../connectors/jottacloud/paths.js';
import { nameEncoder } from '../../connectors/shared/encoder.js';

describe('the name encoder', () => {
  it('passes names through when no rule is declared', () => {
    const e = nameEncoder({});
    expect(e.identity).toBe(true);
    expect(e.encode('a?b%c ')).toBe('a?b%c ');
  });

  // Expected values are rclone's lib/encoder output for the same flags (Jottacloud's default
  // since #9153: Display | EncodeWin | EncodeInvalidUtf8 | EncodePercent).
  const rcloneJotta: [string, string][] = [
    ['plain.txt', 'plain.txt'],
    ['percent%41.txt', 'percent％41.txt'],
    ['Pinus%20palustris.jpg', 'Pinus％20palustris.jpg'],
    ['question?.txt', 'question？.txt'],
    ['a"*:<>?|b', 'a＂＊：＜＞？｜b'],
    ['tab\there', 'tab␉here'],
    ['del\x7f', 'del␡'],
    // Substitutes already in a name are quoted, so they come back as they were.
    ['full％width', 'full‛％width'],
    ['quote‛rune', 'quote‛‛rune'],
    ['sym␉bol', 'sym‛␉bol'],
    // Characters Jottacloud takes as they are.
    ['plus+semi;hash#amp&', 'plus+semi;hash#amp&'],
    [' leading and trailing ', ' leading and trailing '],
    ['æøå 🚢', 'æøå 🚢'],
  ];

  it.each(rcloneJotta)('encodes %j for Jottacloud as rclone does', (raw, stored) => {
    expect(jottaNames.encode(raw)).toBe(stored);
    expect(jottaNames.decode(stored)).toBe(raw);
  });

  it('never leaves a literal %XX in a Jottacloud name', () => {
    for (const raw of ['%20', '%%41', 'a%2Fb', '％41%41']) expect(jottaNames.encode(raw)).not.toMatch(/%[0-9A-Fa-f]{2}/);
    expect(jottaNameRules.forbiddenChars).toContain('%');
  });

  it('quotes unpaired surrogates, which XML cannot carry, and keeps pairs', () => {
    const lone = 'bad\uDC80name';
    expect(jottaNames.encode(lone)).toBe('bad‛DC80name');
    expect(jottaNames.decode('bad‛DC80name')).toBe(lone);
    expect(jottaNames.encode('ship 🚢')).toBe('ship 🚢');
    expect(jottaNames.decode(jottaNames.encode('\uD800'))).toBe('\uD800');
  });

  it('encodes the edges and dot names as rclone (for providers that declare them)', () => {
    const e = nameEncoder({ leadingSpace: true, trailingSpace: true, leadingDot: true, trailingDot: true, dotNames: true });
    const cases: [string, string][] = [
      [' a ', '␠a␠'],
      ['  a', '␠ a'],
      ['.hidden', '．hidden'],
      ['end.', 'end．'],
      ['.', '．'],
      ['..', '．．'],
      ['．', '‛．'],
      ['␠x', '‛␠x'],
      ['x．', 'x‛．'],
    ];
    for (const [raw, stored] of cases) {
      expect(e.encode(raw), raw).toBe(stored);
      expect(e.decode(stored), stored).toBe(raw);
    }
  });

  it('round-trips every name it is given, segment by segment', () => {
    const e = nameEncoder({ forbiddenChars: '"*:<>?|%\\', controlChars: true, leadingSpace: true, trailingSpace: true, trailingDot: true, invalidUnicode: true });
    const alphabet = ['a', ' ', '.', '%', '％', '‛', '?', '？', '\x01', '␁', '\\', '＼', '␠', '．', '\uDC80', 'DC80', '🚢'];
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 2000; i++) {
      let name = '';
      for (let j = 1 + rand(6); j > 0; j--) name += alphabet[rand(alphabet.length)];
      expect(e.decode(e.encode(name)), JSON.stringify(name)).toBe(name);
    }
    expect(e.encodePath('a?/b%/c')).toBe('a？/b％/c');
    expect(e.decodePath('a？/b％/c')).toBe('a?/b%/c');
  });

  it('refuses rules it cannot honour', () => {
    expect(() => nameEncoder({ forbiddenChars: '/' })).toThrow(RangeError);
    expect(() => nameEncoder({ forbiddenChars: 'é' })).toThrow(RangeError);
  });
});
