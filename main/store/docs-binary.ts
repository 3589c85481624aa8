/**
 * A space's vectors in memory for docs-vectors.ts's two-stage search: as sign bits (one bit a dimension, 1: the
 * value is > 0, packed in 32-bit words; 8 MB at 100,000 × 640) for the first stage, whose Hamming distance
 * approximates the angle between the vectors, and as int8 codes for the cosine distance of the candidates (each
 * vector scaled by 127 / its largest |value| and rounded; the scale cancels out of a cosine, so only the codes' length
 * is kept: dims + 8 bytes a vector, 64 MB of codes at 100,000 × 640 where floats took 256 MB). A distance from the codes
 * is within ~1e-3 of the float vector's. The codes are here because a vec0 point lookup costs ~1 ms (vec0 keeps 1,024
 * vectors in one 2.6 MB blob, and reading one walks its overflow pages). Each vector's chunk id and document id are in
 * typed arrays, which a worker thread builds and moves to the main thread (arrays / fromArrays:
 * docs-index-worker.ts). Pure: no store, no I/O.
 */

/** The packed sign bits of a vector: ceil(dims / 32) words, the bits past dims 0. */
export function signBits(v: Float32Array, out: Uint32Array = new Uint32Array(Math.ceil(v.length / 32)), at = 0): Uint32Array {
  const words = Math.ceil(v.length / 32);
  for (let w = 0; w < words; w++) {
    let bits = 0;
    const end = Math.min(v.length, (w + 1) * 32);
    for (let i = w * 32; i < end; i++) if (v[i] > 0) bits |= 1 << (i & 31);
    out[at + w] = bits >>> 0;
  }
  return out;
}

/**
 * `v` as int8 codes at `out[at…]`: scaled so its largest |value| is 127, rounded. Returns the codes' length (0 for a
 * zero vector). A cosine from the codes differs from the float vector's by the rounding alone (≤ 0.5 a value).
 */
export function quantize(v: Float32Array, out: Int8Array, at: number): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  const scale = max === 0 ? 0 : 127 / max;
  let nn = 0;
  for (let i = 0; i < v.length; i++) {
    const c = Math.round(v[i] * scale);
    out[at + i] = c;
    nn += c * c;
  }
  return Math.sqrt(nn);
}

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** What an index holds, as typed arrays (a worker thread builds them: docs-index-worker.ts). */
export interface IndexArrays {
  bits: Uint32Array;
  codes: Int8Array;
  norms: Float64Array;
  chunkIds: Float64Array;
  docIds: Float64Array;
  /** slots in use */
  used: number;
}

export class BinaryIndex {
  readonly words: number;
  private bits: Uint32Array;
  /** each vector scaled by 127 / its largest |value| and rounded (int8 scalar quantization, a scale per vector) */
  private codes: Int8Array;
  /** the length of each vector's codes */
  private norms: Float64Array;
  private chunkIds: Float64Array;
  private docIds: Float64Array;
  /** slots in use (some may be holes: chunk id 0) */
  private used = 0;
  private readonly slotOf = new Map<number, number>();

  constructor(readonly dims: number, capacity = 1024, from?: IndexArrays) {
    this.words = Math.ceil(dims / 32);
    if (from) {
      const cap = from.chunkIds.length;
      if (cap < 1 || from.used > cap || from.bits.length !== cap * this.words || from.codes.length !== cap * dims
        || from.norms.length !== cap || from.docIds.length !== cap) throw new Error('the index arrays do not fit together');
      ({ bits: this.bits, codes: this.codes, norms: this.norms, chunkIds: this.chunkIds, docIds: this.docIds, used: this.used } = from);
      for (let s = 0; s < this.used; s++) if (this.chunkIds[s] !== 0) this.slotOf.set(this.chunkIds[s], s);
      return;
    }
    this.bits = new Uint32Array(Math.max(1, capacity) * this.words);
    this.codes = new Int8Array(Math.max(1, capacity) * dims);
    this.norms = new Float64Array(Math.max(1, capacity));
    this.chunkIds = new Float64Array(Math.max(1, capacity));
    this.docIds = new Float64Array(Math.max(1, capacity));
  }

  /** An index over arrays another thread built (arrays(), moved here): they are used as they are, not copied. */
  static fromArrays(dims: number, a: IndexArrays): BinaryIndex {
    return new BinaryIndex(dims, 0, a);
  }

  /** The index's arrays (to move to another thread; this index must not be used afterwards). */
  arrays(): IndexArrays {
    return { bits: this.bits, codes: this.codes, norms: this.norms, chunkIds: this.chunkIds, docIds: this.docIds, used: this.used };
  }

  /** The arrays' buffers, for a transfer list. */
  static buffers(a: IndexArrays): ArrayBuffer[] {
    return [a.bits, a.codes, a.norms, a.chunkIds, a.docIds].map((x) => x.buffer as ArrayBuffer);
  }

  /** Vectors held. */
  get size(): number {
    return this.slotOf.size;
  }

  has(chunkId: number): boolean {
    return this.slotOf.has(chunkId);
  }

  /** The highest chunk id held (0: none). */
  maxChunkId(): number {
    let hi = 0;
    for (let s = 0; s < this.used; s++) if (this.chunkIds[s] > hi) hi = this.chunkIds[s];
    return hi;
  }

  /** Adds or replaces a chunk's vector. */
  put(chunkId: number, docId: number, v: Float32Array): void {
    let slot = this.slotOf.get(chunkId);
    if (slot === undefined) {
      if (this.used === this.chunkIds.length) this.grow();
      slot = this.used++;
      this.slotOf.set(chunkId, slot);
    }
    this.chunkIds[slot] = chunkId;
    this.docIds[slot] = docId;
    signBits(v, this.bits, slot * this.words);
    this.norms[slot] = quantize(v, this.codes, slot * this.dims);
  }

  /**
   * The cosine distance of a chunk's vector to `query` (as sqlite-vec's: 1 - cos), from its int8 codes (the scale
   * cancels out of a cosine): within ~1e-3 of the float vector's; undefined when it is not held.
   */
  distance(chunkId: number, query: Float32Array, queryNorm: number): number | undefined {
    const slot = this.slotOf.get(chunkId);
    if (slot === undefined) return undefined;
    const f = this.codes;
    const base = slot * this.dims;
    let dot = 0;
    for (let i = 0; i < this.dims; i++) dot += f[base + i] * query[i];
    const denom = this.norms[slot] * queryNorm;
    return denom === 0 ? 1 : 1 - dot / denom;
  }

  remove(chunkId: number): void {
    const slot = this.slotOf.get(chunkId);
    if (slot === undefined) return;
    this.slotOf.delete(chunkId);
    this.chunkIds[slot] = 0;
    this.docIds[slot] = 0;
    // many holes: pack the slots again
    if (this.used > 1024 && this.slotOf.size < this.used / 2) this.compact();
  }

  /**
   * The chunk ids of the (at most) `n` vectors of `docs` nearest to `query` by Hamming distance of their sign bits,
   * nearest first (equal distances: in slot order). Every vector of `docs` when they hold `n` or fewer.
   */
  nearest(query: Float32Array, docs: ReadonlySet<number>, n: number): number[] {
    const q = signBits(query);
    const W = this.words;
    const bits = this.bits;
    const dist = new Uint16Array(this.used);
    const hist = new Uint32Array(this.dims + 2);
    const NONE = this.dims + 1;
    let found = 0;
    for (let s = 0; s < this.used; s++) {
      if (this.chunkIds[s] === 0 || !docs.has(this.docIds[s])) { dist[s] = NONE; continue; }
      let d = 0;
      const base = s * W;
      for (let w = 0; w < W; w++) d += popcount((bits[base + w] ^ q[w]) >>> 0);
      dist[s] = d;
      hist[d]++;
      found++;
    }
    // the distance at which the n nearest are reached (a counting sort: no comparisons)
    const want = Math.min(n, found);
    let cut = 0;
    for (let acc = 0; cut <= this.dims; cut++) {
      acc += hist[cut];
      if (acc >= want) break;
    }
    const byDist: number[][] = [];
    for (let s = 0; s < this.used; s++) {
      const d = dist[s];
      if (d <= cut) (byDist[d] ??= []).push(this.chunkIds[s]);
    }
    const out: number[] = [];
    for (const list of byDist) {
      if (!list) continue;
      for (const id of list) {
        if (out.length === want) return out;
        out.push(id);
      }
    }
    return out;
  }

  private grow(): void {
    const cap = this.chunkIds.length * 2;
    const codes = new Int8Array(cap * this.dims);
    codes.set(this.codes);
    this.codes = codes;
    const norms = new Float64Array(cap);
    norms.set(this.norms);
    this.norms = norms;
    const bits = new Uint32Array(cap * this.words);
    bits.set(this.bits);
    this.bits = bits;
    const c = new Float64Array(cap);
    c.set(this.chunkIds);
    this.chunkIds = c;
    const d = new Float64Array(cap);
    d.set(this.docIds);
    this.docIds = d;
  }

  private compact(): void {
    let to = 0;
    for (let s = 0; s < this.used; s++) {
      if (this.chunkIds[s] === 0) continue;
      if (to !== s) {
        this.chunkIds[to] = this.chunkIds[s];
        this.docIds[to] = this.docIds[s];
        this.bits.copyWithin(to * this.words, s * this.words, (s + 1) * this.words);
        this.codes.copyWithin(to * this.dims, s * this.dims, (s + 1) * this.dims);
        this.norms[to] = this.norms[s];
        this.slotOf.set(this.chunkIds[to], to);
      }
      to++;
    }
    this.chunkIds.fill(0, to, this.used);
    this.used = to;
  }
}
