import { describe, expect, it } from 'vitest';
import { checkPart, isPartsState, PartSet } from '../../connectors/shared/partSet.js';

describe('PartSet', () => {
  it('saves held parts as the inclusive ranges older workers saved, and reads them back', () => {
    const parts = new PartSet(10 * 4 + 3, 4);
    expect(parts.count).toBe(11);
    for (const p of [7, 0, 1, 2, 5, 10]) parts.add(p);
    expect(parts.toRanges()).toEqual([[0, 2], [5, 5], [7, 7], [10, 10]]);
    const again = new PartSet(43, 4);
    again.addRanges([[0, 2], [5, 5], [7, 7], [10, 12]]);
    expect(again.toRanges()).toEqual(parts.toRanges());
    expect(again.size).toBe(6);
    expect(again.missing).toBe(5);
  });

  it('counts held bytes (the last part is short) and the run from the first part', () => {
    const parts = new PartSet(10, 4);
    expect(parts.heldBytes()).toBe(0);
    expect(parts.contiguousBytes()).toBe(0);
    parts.add(2);
    expect(parts.heldBytes()).toBe(2);
    expect(parts.contiguousBytes()).toBe(0);
    parts.add(0);
    expect(parts.contiguousBytes()).toBe(4);
    parts.add(1);
    expect(parts.heldBytes()).toBe(10);
    expect(parts.contiguousBytes()).toBe(10);
  });

  it('an empty file is one part of 0 bytes', () => {
    const parts = new PartSet(0, 4);
    expect(parts.count).toBe(1);
    expect(parts.complete).toBe(true);
    expect(new PartSet(1, 4).complete).toBe(false);
    expect(() => parts.checkPart(0, 0, '"e"')).not.toThrow();
    expect(() => parts.checkPart(1, 0, '"e"')).toThrow(RangeError);
  });

  it('refuses a part outside the file or of the wrong length', () => {
    expect(() => checkPart(10, 4, 2, 2, '"a"')).not.toThrow();
    expect(() => checkPart(10, 4, 2, 4, '"a"')).toThrow('part 2 of "a" must be 2 bytes, not 4');
    expect(() => checkPart(10, 4, -1, 4, '"a"')).toThrow(RangeError);
    expect(() => checkPart(10, 4, 3, 0, '"a"')).toThrow(RangeError);
  });

  it('knows a saved state with parts from one without', () => {
    expect(isPartsState({ offset: 0, partSize: 4, done: [[0, 1]] })).toBe(true);
    expect(isPartsState({ offset: 0, partSize: 0, done: [] })).toBe(false);
    expect(isPartsState({ offset: 0, partSize: 4 })).toBe(false);
    expect(isPartsState({ offset: 0, done: [] })).toBe(false);
  });
});
