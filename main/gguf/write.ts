/**
 * GGUF writer and f32 → f16 conversion, in pure TypeScript (used by scripts/make-test-model.ts and
 * tests; not part of the app). The writer keeps metadata and tensor descriptions in memory and
 * streams tensor data to disk tensor by tensor: a tensor's data can be a function that generates
 * chunks only when the writer reaches it, so a file much larger than memory can be produced.
 */
import { promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import * as os from 'os';
import {
  alignUp, GGML_MAX_DIMS, GGML_MAX_NAME, GgmlType, ggmlTensorBytes, gguf, GGUF_DEFAULT_ALIGNMENT, GGUF_LIMITS, GGUF_MAGIC,
  GGUF_VERSION, GgufArrayValue, GgufBigIntTypeName, GgmlTypeName, GgufNumberTypeName, GgufScalarTypeName, GgufValue, quote, TYPE_ID_BY_NAME,
} from './types';

// ---------------------------------------------------------------------------------------------
// f32 → f16
// ---------------------------------------------------------------------------------------------

const convF32 = new Float32Array(1);
const convU32 = new Uint32Array(convF32.buffer);

/**
 * IEEE binary16 bits of a number (rounded to f32 first), round-to-nearest-even, with
 * subnormals, overflow to ±Infinity and NaN preserved — the same result as a hardware cast.
 */
export function f32ToF16(value: number): number {
  convF32[0] = value;
  return f32BitsToF16(convU32[0]!);
}

function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // f16 subnormal (or zero): value = mant24 × 2^(e-14-10)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++; // a carry rolls into the exponent, up to Inf
  return sign | half;
}

/** Converts an f32 array to f16 bits (into `out` when given; it must be at least as long). */
export function f32ArrayToF16(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = out ?? new Uint16Array(src.length);
  if (dst.length < src.length) throw new RangeError('f32ArrayToF16: output array too short');
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16(bits[i]!);
  return dst;
}

/** The number an f16 bit pattern encodes. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/** Tensor types the writer can produce from f32 values. */
export type GgufWriterTensorType = 'F32' | 'F16';

/**
 * Tensor data for {@link GgufWriter.addTensor}:
 * - a `Float32Array` of all values (converted to the tensor type when written);
 * - a function returning an iterable of `Float32Array` chunks, called only when the writer reaches
 *   the tensor (so data is generated while writing). The writer consumes each chunk before asking
 *   for the next, so a generator may reuse one buffer;
 * - a `Uint8Array` of bytes already in the tensor's encoding (little-endian).
 */
export type GgufTensorData = Float32Array | Uint8Array | (() => Iterable<Float32Array>);

/**
 * A tensor to write: values of a type the writer converts to, or bytes already in any ggml type's
 * encoding (a copied tensor, or a crafted file).
 */
export type GgufTensorSpec = {
  name: string;
  /** Dimensions, fastest-varying first: `[ne0 (columns), ne1 (rows), …]`. */
  shape: readonly number[];
} & ({ type: GgufWriterTensorType; data: GgufTensorData } | { type: GgmlTypeName; data: Uint8Array });

export interface GgufWriteResult {
  path: string;
  /** File size in bytes. */
  bytes: number;
  kvCount: number;
  tensorCount: number;
  /** Total number of tensor elements. */
  parameterCount: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
}

const INT_RANGES: Readonly<Record<Exclude<GgufNumberTypeName, 'float32' | 'float64'>, readonly [number, number]>> = {
  uint8: [0, 0xff], int8: [-0x80, 0x7f], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff],
};

/** Throws a TypeError unless `v` is a well-formed value (types match, integers in range). */
function validateValue(key: string, v: GgufValue, depth = 0): void {
  const bad = (why: string): never => { throw new TypeError(`GGUF metadata ${quote(key)}: ${why}`); };
  const checkNumber = (type: GgufNumberTypeName, x: unknown): void => {
    if (typeof x !== 'number') bad(`${type} value must be a number`);
    if (type === 'float32' || type === 'float64') return;
    const [lo, hi] = INT_RANGES[type];
    if (!Number.isInteger(x) || (x as number) < lo || (x as number) > hi) bad(`${String(x)} is not a ${type}`);
  };
  const checkBig = (type: GgufBigIntTypeName, x: unknown): void => {
    if (typeof x !== 'bigint') bad(`${type} value must be a bigint`);
    const b = x as bigint;
    if (type === 'uint64' ? b < 0n || b > 0xffffffffffffffffn : b < -(1n << 63n) || b >= 1n << 63n) bad(`${b} is not a ${type}`);
  };
  switch (v.type) {
    case 'string': if (typeof v.value !== 'string') bad('string value must be a string'); return;
    case 'bool': if (typeof v.value !== 'boolean') bad('bool value must be a boolean'); return;
    case 'uint64': case 'int64': checkBig(v.type, v.value); return;
    case 'array': {
      if (depth >= GGUF_LIMITS.maxArrayDepth) bad('arrays nested too deeply');
      if (!Array.isArray(v.value) && !ArrayBuffer.isView(v.value)) bad('array value must be an array or a typed array');
      const it = v.itemType;
      if (TYPE_ID_BY_NAME[it] === undefined) bad(`unknown array item type ${String(it)}`);
      for (const x of v.value as ArrayLike<unknown> & Iterable<unknown>) {
        if (it === 'array') validateValue(key, x as GgufArrayValue, depth + 1);
        else if (it === 'string') { if (typeof x !== 'string') bad('string array holds a non-string'); }
        else if (it === 'bool') { if (typeof x !== 'boolean') bad('bool array holds a non-boolean'); }
        else if (it === 'uint64' || it === 'int64') checkBig(it, x);
        else checkNumber(it, x);
      }
      return;
    }
    default: checkNumber(v.type, v.value);
  }
}

/** A growable little-endian byte buffer for the header. */
class ByteBuilder {
  private buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  /** Grows the buffer for `n` more bytes and returns it (call before reading `this.buf`). */
  private reserve(n: number): Buffer {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    return this.buf;
  }
  private advance(n: number): number {
    const o = this.length;
    this.length += n;
    return o;
  }
  u8(v: number): void { this.reserve(1).writeUInt8(v, this.advance(1)); }
  i8(v: number): void { this.reserve(1).writeInt8(v, this.advance(1)); }
  u16(v: number): void { this.reserve(2).writeUInt16LE(v, this.advance(2)); }
  i16(v: number): void { this.reserve(2).writeInt16LE(v, this.advance(2)); }
  u32(v: number): void { this.reserve(4).writeUInt32LE(v, this.advance(4)); }
  i32(v: number): void { this.reserve(4).writeInt32LE(v, this.advance(4)); }
  f32(v: number): void { this.reserve(4).writeFloatLE(v, this.advance(4)); }
  f64(v: number): void { this.reserve(8).writeDoubleLE(v, this.advance(8)); }
  u64(v: bigint | number): void {
    if (typeof v === 'bigint') {
      this.reserve(8).writeBigUInt64LE(v, this.advance(8));
    } else {
      // Lengths and counts: safe integers, written without a BigInt allocation.
      const buf = this.reserve(8);
      const o = this.advance(8);
      buf.writeUInt32LE(v % 0x100000000, o);
      buf.writeUInt32LE(Math.floor(v / 0x100000000), o + 4);
    }
  }
  i64(v: bigint): void { this.reserve(8).writeBigInt64LE(v, this.advance(8)); }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    this.reserve(n).write(s, this.advance(n), n, 'utf8');
  }
  toBuffer(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeScalar(b: ByteBuilder, type: GgufScalarTypeName, v: number | bigint | boolean | string): void {
  switch (type) {
    case 'uint8': b.u8(v as number); break;
    case 'int8': b.i8(v as number); break;
    case 'uint16': b.u16(v as number); break;
    case 'int16': b.i16(v as number); break;
    case 'uint32': b.u32(v as number); break;
    case 'int32': b.i32(v as number); break;
    case 'float32': b.f32(v as number); break;
    case 'float64': b.f64(v as number); break;
    case 'uint64': b.u64(v as bigint); break;
    case 'int64': b.i64(v as bigint); break;
    case 'bool': b.u8(v ? 1 : 0); break;
    case 'string': b.str(v as string); break;
  }
}

function writeArrayBody(b: ByteBuilder, a: GgufArrayValue): void {
  b.u32(TYPE_ID_BY_NAME[a.itemType]);
  b.u64(a.value.length);
  if (a.itemType === 'array') {
    for (const inner of a.value) writeArrayBody(b, inner);
  } else {
    const t = a.itemType;
    for (const x of a.value as Iterable<number | bigint | boolean | string>) writeScalar(b, t, x);
  }
}

/** Sequential file writer with a large buffer (tensor data goes through here). */
class BufferedFileWriter {
  private readonly buf = Buffer.allocUnsafe(4 << 20);
  private len = 0;
  written = 0;

  constructor(private readonly fh: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.buf.length - this.len);
      this.buf.set(bytes.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === this.buf.length) await this.flush();
    }
  }

  async zeros(n: number): Promise<void> {
    if (n > 0) await this.write(new Uint8Array(n));
  }

  async flush(): Promise<void> {
    let off = 0;
    while (off < this.len) {
      const { bytesWritten } = await this.fh.write(this.buf, off, this.len - off, this.written + off);
      off += bytesWritten;
    }
    this.written += this.len;
    this.len = 0;
  }
}

/**
 * Builds a GGUF v3 file: set metadata, add tensors, then {@link GgufWriter.write}.
 * Metadata keeps insertion order (setting an existing key replaces its value in place).
 *
 * ```ts
 * const w = new GgufWriter();
 * w.set('general.architecture', gguf.str('llama'));
 * w.addTensor({ name: 'output_norm.weight', shape: [64], type: 'F32', data: new Float32Array(64).fill(1) });
 * await w.write('/tmp/model.gguf');
 * ```
 */
export class GgufWriter {
  private readonly kv = new Map<string, GgufValue>();
  private readonly tensors: GgufTensorSpec[] = [];
  private readonly tensorNames = new Set<string>();
  readonly alignment: number;

  constructor(options: { alignment?: number } = {}) {
    const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0 || alignment > GGUF_LIMITS.maxAlignment) {
      throw new RangeError(`GgufWriter: alignment ${alignment} must be a power of two ≤ ${GGUF_LIMITS.maxAlignment}`);
    }
    this.alignment = alignment;
    if (alignment !== GGUF_DEFAULT_ALIGNMENT) this.kv.set('general.alignment', gguf.u32(alignment));
  }

  /** Sets a metadata value (validated: integer ranges, item types). */
  set(key: string, value: GgufValue): this {
    if (key.length === 0) throw new TypeError('GGUF metadata key must not be empty');
    if (key === 'general.alignment' && (value.type !== 'uint32' || value.value !== this.alignment)) {
      throw new TypeError('general.alignment is set through the GgufWriter constructor');
    }
    validateValue(key, value);
    this.kv.set(key, value);
    return this;
  }

  setString(key: string, value: string): this { return this.set(key, gguf.str(value)); }
  setBool(key: string, value: boolean): this { return this.set(key, gguf.bool(value)); }
  setUint32(key: string, value: number): this { return this.set(key, gguf.u32(value)); }
  setInt32(key: string, value: number): this { return this.set(key, gguf.i32(value)); }
  setFloat32(key: string, value: number): this { return this.set(key, gguf.f32(value)); }
  setUint64(key: string, value: number | bigint): this { return this.set(key, gguf.u64(value)); }

  /** Current metadata (read-only view, in write order). */
  get metadata(): ReadonlyMap<string, GgufValue> {
    return this.kv;
  }

  /** Adds a tensor; its data is only touched by {@link write}. */
  addTensor(spec: GgufTensorSpec): this {
    const { name, shape, type } = spec;
    if (name.length === 0 || Buffer.byteLength(name) >= GGML_MAX_NAME) {
      throw new TypeError(`tensor name ${quote(name)} must be 1 to ${GGML_MAX_NAME - 1} bytes long`);
    }
    if (this.tensorNames.has(name)) throw new TypeError(`duplicate tensor name ${quote(name)}`);
    if (shape.length < 1 || shape.length > GGML_MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new TypeError(`tensor ${quote(name)}: shape [${shape.join(', ')}] must have 1 to ${GGML_MAX_DIMS} positive integer dimensions`);
    }
    const raw = !(spec.data instanceof Float32Array) && spec.data instanceof Uint8Array;
    if (!Object.hasOwn(GgmlType, type) || (!raw && type !== 'F32' && type !== 'F16')) throw new TypeError(`tensor ${quote(name)}: unsupported type ${String(type)}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(n)) throw new TypeError(`tensor ${quote(name)}: too many elements`);
    const { data } = spec;
    if (data instanceof Float32Array && data.length !== n) {
      throw new TypeError(`tensor ${quote(name)}: ${data.length} values for shape [${shape.join(', ')}] (${n} elements)`);
    }
    if (raw && data.length !== ggmlTensorBytes(type, n)) {
      throw new TypeError(`tensor ${quote(name)}: ${data.length} bytes, expected ${ggmlTensorBytes(type, n)}`);
    }
    this.tensors.push({ ...spec, shape: [...shape] });
    this.tensorNames.add(name);
    return this;
  }

  /** Total element count of the tensors added so far. */
  get parameterCount(): number {
    return this.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** Serialises metadata and tensor infos (without the trailing alignment padding). */
  private headerBytes(): Buffer {
    const b = new ByteBuilder();
    b.u32(GGUF_MAGIC);
    b.u32(GGUF_VERSION);
    b.u64(this.tensors.length);
    b.u64(this.kv.size);
    for (const [key, v] of this.kv) {
      b.str(key);
      b.u32(TYPE_ID_BY_NAME[v.type]);
      if (v.type === 'array') writeArrayBody(b, v);
      else writeScalar(b, v.type, v.value);
    }
    let offset = 0;
    for (const t of this.tensors) {
      b.str(t.name);
      b.u32(t.shape.length);
      for (const d of t.shape) b.u64(d);
      b.u32(GgmlType[t.type]);
      b.u64(offset);
      offset += alignUp(ggmlTensorBytes(t.type, t.shape.reduce((x, y) => x * y, 1)), this.alignment);
    }
    return b.toBuffer();
  }

  /**
   * Writes the file (to `<path>.tmp-<pid>` first, renamed into place once complete), streaming
   * tensor data in order. Fails with an Error if a data generator yields the wrong element count.
   */
  async write(filePath: string): Promise<GgufWriteResult> {
    if (os.endianness() !== 'LE') throw new Error('GgufWriter: big-endian hosts are not supported');
    const header = this.headerBytes();
    // Like ggml's writer, pad to the alignment only when tensor data follows.
    const dataOffset = this.tensors.length > 0 ? alignUp(header.length, this.alignment) : header.length;
    const tmp = `${filePath}.tmp-${process.pid}`;
    const fh = await fsp.open(tmp, 'w');
    let ok = false;
    try {
      const out = new BufferedFileWriter(fh);
      await out.write(header);
      await out.zeros(dataOffset - header.length);
      for (const t of this.tensors) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        const nBytes = ggmlTensorBytes(t.type, n);
        if (t.data instanceof Uint8Array) {
          await out.write(t.data);
        } else {
          const chunks: Iterable<Float32Array> = t.data instanceof Float32Array ? [t.data] : t.data();
          let count = 0;
          let f16: Uint16Array | undefined;
          for (const chunk of chunks) {
            count += chunk.length;
            if (count > n) throw new Error(`tensor ${quote(t.name)}: data has more than ${n} elements`);
            if (t.type === 'F32') {
              await out.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            } else {
              if (!f16 || f16.length < chunk.length) f16 = new Uint16Array(chunk.length);
              const h = f32ArrayToF16(chunk, f16).subarray(0, chunk.length);
              await out.write(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
            }
          }
          if (count !== n) throw new Error(`tensor ${quote(t.name)}: data has ${count} elements, shape needs ${n}`);
        }
        await out.zeros(alignUp(nBytes, this.alignment) - nBytes);
      }
      await out.flush();
      await fh.close();
      await fsp.rename(tmp, filePath);
      ok = true;
      return {
        path: filePath,
        bytes: out.written,
        kvCount: this.kv.size,
        tensorCount: this.tensors.length,
        parameterCount: this.parameterCount,
        dataOffset,
      };
    } finally {
      if (!ok) {
        await fh.close().catch(() => undefined);
        await fsp.rm(tmp, { force: true });
      }
    }
  }
}
