/**
 * OneDrive's quickXorHash (shared/specs/providers.md A.3; Microsoft's C# reference in
 * OneDrive/onedrive-api-docs code-snippets/quickxorhash.md): every byte at absolute index i is
 * XORed into a 160-bit state at bit (11·i) mod 160, and the 64-bit little-endian length is XORed
 * into bytes 12..19 at the end. Streaming: the position depends only on the index, so chunk
 * boundaries do not matter, and the whole state is small enough to be saved in an upload's
 * checkpoint and taken up again on resume (`snapshot`/`restore`).
 */

const WIDTH_BYTES = 20;
const WIDTH_BITS = 160;
const SHIFT = 11;

/** What a resumed upload keeps of the hash: the state after `bytes` bytes, base64. */
export interface QuickXorSnapshot {
  state: string;
  bytes: number;
}

export class QuickXorHash {
  private state = new Uint8Array(WIDTH_BYTES);
  private shift = 0;
  /** Bytes hashed so far. */
  bytes = 0;

  update(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    // Up to the next multiple of 160 bytes one by one; then whole 160-byte blocks, whose bytes at
    // the same index land on the same bits (11·160 ≡ 0 mod 160), so they are XORed together first
    // and shifted into the state once per index; the rest one by one again.
    while (i < n && this.shift !== 0) this.one(chunk[i++]);
    if (n - i >= WIDTH_BITS) {
      const acc = new Uint8Array(WIDTH_BITS);
      const end = i + Math.floor((n - i) / WIDTH_BITS) * WIDTH_BITS;
      if ((chunk.byteOffset + i) % 4 === 0) {
        const acc32 = new Uint32Array(acc.buffer);
        const words = new Uint32Array(chunk.buffer, chunk.byteOffset + i, (end - i) / 4);
        for (let w = 0; w < words.length; w += WIDTH_BITS / 4) for (let k = 0; k < WIDTH_BITS / 4; k++) acc32[k] ^= words[w + k];
      } else {
        for (let b = i; b < end; b += WIDTH_BITS) for (let k = 0; k < WIDTH_BITS; k++) acc[k] ^= chunk[b + k];
      }
      // The folded block goes in as 160 bytes starting at shift 0, then the count is set right.
      const before = this.bytes;
      for (let k = 0; k < WIDTH_BITS; k++) this.one(acc[k]);
      this.bytes = before + (end - i);
      i = end;
    }
    while (i < n) this.one(chunk[i++]);
  }

  private one(byte: number): void {
    const v = byte << (this.shift & 7);
    const at = this.shift >> 3;
    this.state[at] ^= v & 0xff;
    if (v > 0xff) this.state[at === WIDTH_BYTES - 1 ? 0 : at + 1] ^= v >> 8;
    this.shift += SHIFT;
    if (this.shift >= WIDTH_BITS) this.shift -= WIDTH_BITS;
    this.bytes++;
  }

  /** The 20 digest bytes; the state goes on unchanged, so a caller may ask more than once. */
  digestBytes(): Buffer {
    const out = Buffer.from(this.state);
    let len = BigInt(this.bytes);
    for (let i = 12; i < WIDTH_BYTES; i++) {
      out[i] ^= Number(len & 0xffn);
      len >>= 8n;
    }
    return out;
  }

  /** As Graph reports it in `file.hashes.quickXorHash`. */
  digestBase64(): string {
    return this.digestBytes().toString('base64');
  }

  /** As knarr's Hashes (and rclone) carry it: lower-case hex. */
  digestHex(): string {
    return this.digestBytes().toString('hex');
  }

  snapshot(): QuickXorSnapshot {
    return { state: Buffer.from(this.state).toString('base64'), bytes: this.bytes };
  }

  /** A hash that goes on from a snapshot; undefined for one that is not a snapshot of this hash. */
  static restore(s: unknown): QuickXorHash | undefined {
    if (!s || typeof s !== 'object') return undefined;
    const { state, bytes } = s as Partial<QuickXorSnapshot>;
    if (typeof state !== 'string' || !Number.isSafeInteger(bytes) || (bytes as number) < 0) return undefined;
    const raw = Buffer.from(state, 'base64');
    if (raw.length !== WIDTH_BYTES) return undefined;
    const h = new QuickXorHash();
    h.state.set(raw);
    h.bytes = bytes as number;
    h.shift = Number((BigInt(bytes as number) * BigInt(SHIFT)) % BigInt(WIDTH_BITS));
    return h;
  }
}

/** Graph's base64 quickXorHash as lower-case hex (undefined for a missing or malformed one). */
export function quickXorHex(base64: string | undefined): string | undefined {
  if (!base64) return undefined;
  const raw = Buffer.from(base64, 'base64');
  return raw.length === WIDTH_BYTES ? raw.toString('hex') : undefined;
}

/** The quickXorHash of a whole buffer, base64 as Graph has it. */
export function quickXorOf(data: Uint8Array): string {
  const h = new QuickXorHash();
  h.update(data);
  return h.digestBase64();
}
