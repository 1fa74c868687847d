/**
 * The parts of one large file a chunk writer has made durable. Parts are numbered from 0, each
 * `partSize` bytes but the last; an empty file has one part of 0 bytes.
 */

/** Parts held, as saved in an UploadState: inclusive ranges of part numbers, `[[0, 3], [5, 5]]`. */
export type PartRanges = [number, number][];

/** How many parts a file of `size` bytes has. */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** The length of part `part` (from 0) of a file of `size` bytes. */
export function partLength(size: number, partSize: number, part: number): number {
  return Math.min(partSize, size - part * partSize);
}

/** Refuses a part number outside the file or data of the wrong length (a caller's bug, not the provider's). */
export function checkPart(size: number, partSize: number, part: number, length: number, of: string): void {
  const want = partLength(size, partSize, part);
  if (part < 0 || part >= partCount(size, partSize) || length !== want) {
    throw new RangeError(`part ${part} of ${of} must be ${want} bytes, not ${length}`);
  }
}

export class PartSet {
  /** Parts in the file. */
  readonly count: number;
  private readonly held = new Set<number>();

  constructor(readonly fileSize: number, readonly partSize: number) {
    this.count = partCount(fileSize, partSize);
  }

  lengthOf(part: number): number {
    return partLength(this.fileSize, this.partSize, part);
  }

  add(part: number): void {
    this.held.add(part);
  }

  has(part: number): boolean {
    return this.held.has(part);
  }

  /** How many parts are held. */
  get size(): number {
    return this.held.size;
  }

  /** Parts not held yet. */
  get missing(): number {
    return this.count - this.held.size;
  }

  /** Every part is held; an empty file needs none written. */
  get complete(): boolean {
    return this.held.size === this.count || this.fileSize === 0;
  }

  /** Bytes of all parts held. */
  heldBytes(): number {
    let n = 0;
    for (const p of this.held) n += this.lengthOf(p);
    return n;
  }

  /** Bytes of the unbroken run of parts held from the first: what a writer that sends in order goes on from. */
  contiguousBytes(): number {
    let p = 0;
    while (this.held.has(p)) p++;
    return Math.min(this.fileSize, p * this.partSize);
  }

  checkPart(part: number, length: number, of: string): void {
    checkPart(this.fileSize, this.partSize, part, length, of);
  }

  toRanges(): PartRanges {
    const ranges: PartRanges = [];
    for (const p of [...this.held].sort((a, b) => a - b)) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === p - 1) last[1] = p;
      else ranges.push([p, p]);
    }
    return ranges;
  }

  /** Marks the parts of saved ranges as held; numbers past the file's last part are ignored. */
  addRanges(ranges: PartRanges): void {
    for (const [a, b] of ranges) for (let p = a; p <= b && p < this.count; p++) this.held.add(p);
  }
}

/** True for a saved state that carries a chunk writer's parts: a positive `partSize` and the held ranges as `done`. */
export function isPartsState<S extends object>(state: S): state is S & { partSize: number; done: PartRanges } {
  const s = state as { partSize?: unknown; done?: unknown };
  return typeof s.partSize === 'number' && s.partSize > 0 && Array.isArray(s.done);
}
