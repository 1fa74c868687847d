import { describe, expect, it } from 'vitest';
import { DROPBOX_BLOCK, DropboxContentHasher, dropboxContentHash } from '../../connectors/shared/dropboxHash.js';

/** Byte i has value i & 255: the rdrop2 vectors' input (shared/specs/providers.md A.4). */
function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = i & 255;
  return b;
}

function fed(data: Buffer, piece: number): string {
  const h = new DropboxContentHasher();
  for (let at = 0; at < data.length; at += piece) h.update(data.subarray(at, at + piece));
  return h.digest();
}

describe('dropbox content_hash (the spec vectors)', () => {
  it('hashes "hello rdrop2"', () => {
    expect(dropboxContentHash(Buffer.from('hello rdrop2'))).toBe('1aa2b7623dfff520c4abdc1227d10bc4e229b74005b66b3458345830e556f4de');
  });

  it('hashes exactly one block, and one block plus a byte', () => {
    const block = pattern(DROPBOX_BLOCK);
    expect(dropboxContentHash(block)).toBe('894bbb52d1212d6bcbe9967f1a2169138c4d4af0c8dfbaeae86cd1d3f0c03faf');
    expect(dropboxContentHash(Buffer.concat([block, Buffer.from([255])]))).toBe('9149387a91f71c7c2149b8427d15526b71c1a38d6c6f999ad71486a2ce788d57');
  });

  it('hashes 3.5 blocks fed in 1,000,000-byte chunks the same as whole and byte-odd pieces', () => {
    const data = pattern(14 * 1024 * 1024);
    const want = 'f61d3ae93fa4f7646d37949fc0885141bf682faa9a130896b93459c650335d0f';
    expect(fed(data, 1_000_000)).toBe(want);
    expect(dropboxContentHash(data)).toBe(want);
    expect(fed(data, 65_537)).toBe(want);
  });

  it('hashes empty input as sha256 of nothing', () => {
    expect(new DropboxContentHasher().digest()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('refuses bytes after the digest and gives the same digest again', () => {
    const h = new DropboxContentHasher().update(Buffer.from('x'));
    const d = h.digest();
    expect(h.digest()).toBe(d);
    expect(() => h.update(Buffer.from('y'))).toThrow(/after digest/);
  });
});
