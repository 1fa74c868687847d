import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { QuickXorHash, quickXorHex, quickXorOf } from '../../connectors/shared/quickxor.js';

// Vectors: rclone backend/onedrive/quickxorhash/quickxorhash_test.go (input and digest in base64),
// which rclone checks against Microsoft's C# reference; "hello world" is the vector published
// with the PyPI and crates.io quickxorhash packages (shared/specs/providers.md A.3).
const vectors: [string, string][] = [
  ['', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
  ['Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
  ['tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
  ['jRRDVA==', 'jaDAEKgAAAAAAAAABAAAAAAAAAA='],
  ['J9iPGCbfZSTNyw==', 'J8DGIzBggm+UgQTNUgYAAAAAAAA='],
  ['2fuxhBJXtpWFe8dOfdGeHw==', 'O9tHLAghgSvYohKFyMMxnNCHaHg='],
  ['T6LYJIfDh81JrAK309H2JMJTXis=', 'zBTHrspn3mEcohlJdIUAbjGNaNg='],
  ['NbYXsp5/K6mR+NmHwExjvWeWDJFnXTKWVlzYHoesp2E=', 'wjuAuWDiq04qDt1R8hHWDDcwVoQ='],
  ['YnF4smoy9hox2jBlJ3VUa4qyCRhOZbWcmFGIiszTT4zAdYHsqJazyg==', 'arkIn+ELddmE8N34J9ydyFKW+9w='],
  ['0n7nl3YJtipy6yeUbVPWtc2h45WbF9u8hTz5tNwj3dZZwfXWkk+GN3g=', 'YJLNK7JR64j9aODWfqDvEe/u6NU='],
];

describe('quickXorHash', () => {
  it('matches the published vectors', () => {
    for (const [input, digest] of vectors) expect(quickXorOf(Buffer.from(input, 'base64')), input).toBe(digest);
    expect(quickXorOf(Buffer.from('hello world'))).toBe('aCgDG9jwBhDc4Q1yawMZAAAAAAA=');
  });

  it('does not depend on chunk boundaries', () => {
    const data = randomBytes(100_003);
    const whole = quickXorOf(data);
    for (const piece of [1, 7, 160, 161, 4096]) {
      const h = new QuickXorHash();
      for (let i = 0; i < data.length; i += piece) h.update(data.subarray(i, i + piece));
      expect(h.digestBase64(), `pieces of ${piece}`).toBe(whole);
    }
  });

  it('goes on from a snapshot as if it had never stopped (a resumed upload)', () => {
    const data = randomBytes(50_000);
    const first = new QuickXorHash();
    first.update(data.subarray(0, 12_345));
    const saved = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
    const resumed = QuickXorHash.restore(saved);
    expect(resumed).toBeDefined();
    resumed!.update(data.subarray(12_345));
    expect(resumed!.digestBase64()).toBe(quickXorOf(data));
    expect(QuickXorHash.restore({ state: 'AAAA', bytes: 3 })).toBeUndefined();
    expect(QuickXorHash.restore({ state: first.snapshot().state, bytes: -1 })).toBeUndefined();
  });

  it('is carried as lower-case hex, as rclone shows it', () => {
    expect(quickXorHex('aCgDG9jwBhDc4Q1yawMZAAAAAAA=')).toBe('6828031bd8f00610dce10d726b03190000000000');
    expect(quickXorHex('AAAA')).toBeUndefined();
    expect(quickXorHex(undefined)).toBeUndefined();
  });
});

describe('quickXorHash fast path', () => {
  it('agrees with the byte-by-byte definition at every alignment and length', () => {
    const reference = (data: Uint8Array): string => {
      const state = new Uint8Array(20);
      for (let i = 0; i < data.length; i++) {
        const bit = (11 * i) % 160;
        const v = data[i] << (bit & 7);
        state[bit >> 3] ^= v & 0xff;
        state[((bit >> 3) + 1) % 20] ^= v >> 8;
      }
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(data.length));
      for (let i = 0; i < 8; i++) state[12 + i] ^= len[i];
      return Buffer.from(state).toString('base64');
    };
    const pool = randomBytes(5000);
    for (const [offset, length] of [[0, 0], [1, 159], [3, 160], [4, 161], [0, 320], [2, 1601], [7, 4096], [0, 4993]]) {
      const slice = pool.subarray(offset, offset + length);
      expect(quickXorOf(slice), `${offset}+${length}`).toBe(reference(slice));
      const h = new QuickXorHash();
      for (let i = 0; i < slice.length; i += 333) h.update(slice.subarray(i, i + 333));
      expect(h.digestBase64(), `pieces ${offset}+${length}`).toBe(reference(slice));
    }
  });
});
