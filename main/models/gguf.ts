/**
 * GGUF reader and writer, in pure TypeScript (Node `fs` only, no native code).
 *
 * File layout (all integers little-endian; see ggml/docs/gguf.md in llama.cpp):
 *
 *   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count × { string key | u32 value_type | value }
 *   tensor_count × { string name | u32 n_dims | u64 dims[n_dims] | u32 ggml_type | u64 offset }
 *   padding up to `general.alignment` (default 32)
 *   tensor data: each tensor at `data_offset + offset`, every tensor padded to the alignment
 *
 * A string is `u64 byte_length` followed by UTF-8 bytes (no terminator). An array value is
 * `u32 item_type | u64 count | items`; items may themselves be arrays (nested arrays).
 * Tensor dims are listed fastest-varying first: `dims[0]` is ne0, the number of columns.
 *
 * The reader parses only the header (metadata + tensor infos) with positional, buffered reads,
 * so a multi-GB model costs a few reads. Every length and count read from the file is checked
 * against hard caps and against the bytes left in the file *before* anything is allocated, and
 * every failure is a {@link GgufError} with a machine-readable `code`.
 *
 * The writer keeps metadata and tensor descriptions in memory and streams tensor data to disk
 * tensor by tensor: a tensor's data can be a function that generates chunks only when the writer
 * reaches it, so a file much larger than memory can be produced.
 */
import { promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import * as os from 'os';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The version this module writes. Versions 2 and 3 share a layout and are both read. */
export const GGUF_VERSION = 3;
/** Alignment of the tensor data section when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGML_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: tensor names must be shorter than this (in bytes). */
export const GGML_MAX_NAME = 64;

/** Sanity caps applied while reading. Values beyond these are reported as `corrupt`. */
export const GGUF_LIMITS = {
  /** Metadata key count. Real files have tens to a few hundred. */
  maxKvCount: 1 << 20,
  /** Tensor count. The largest MoE models have a few thousand. */
  maxTensorCount: 1 << 20,
  /** Byte length of a metadata key or tensor name. */
  maxNameLength: 4096,
  /** Byte length of a string value (chat templates are the largest, ~100 KB). */
  maxStringLength: 256 * 1024 * 1024,
  /** Element count of one array (tokenizer arrays have up to a few hundred thousand). */
  maxArrayLength: 1 << 30,
  /** Nesting depth of arrays of arrays. */
  maxArrayDepth: 16,
  /** Largest accepted `general.alignment`. */
  maxAlignment: 1 << 20,
} as const;

/** GGUF metadata value type ids, as stored in the file. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** Metadata value types that hold a JS `number`. */
export type GgufNumberTypeName = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
/** Metadata value types that hold a JS `bigint` (64-bit integers are kept exact). */
export type GgufBigIntTypeName = 'uint64' | 'int64';
export type GgufScalarTypeName = GgufNumberTypeName | GgufBigIntTypeName | 'bool' | 'string';
export type GgufTypeName = GgufScalarTypeName | 'array';

const TYPE_NAME_BY_ID: readonly GgufTypeName[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];
const TYPE_ID_BY_NAME: Readonly<Record<GgufTypeName, number>> = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12,
};
/** Encoded size of fixed-size types; strings and arrays have at least an 8-byte length/count. */
const MIN_ENCODED_SIZE: Readonly<Record<GgufTypeName, number>> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, string: 8, array: 12, uint64: 8, int64: 8, float64: 8,
};

// ---------------------------------------------------------------------------------------------
// Metadata values
// ---------------------------------------------------------------------------------------------

export interface GgufNumberValue { type: GgufNumberTypeName; value: number }
export interface GgufBigIntValue { type: GgufBigIntTypeName; value: bigint }
export interface GgufBoolValue { type: 'bool'; value: boolean }
export interface GgufStringValue { type: 'string'; value: string }

/**
 * An array value. Items are plain JS values of `itemType`; an array of arrays holds nested
 * {@link GgufArrayValue}s (each may have its own item type, as the format allows).
 */
export type GgufArrayValue =
  | { type: 'array'; itemType: GgufNumberTypeName; value: number[] }
  | { type: 'array'; itemType: GgufBigIntTypeName; value: bigint[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] }
  | { type: 'array'; itemType: 'array'; value: GgufArrayValue[] };

/** A typed metadata value, as read from and written to a GGUF file. */
export type GgufValue = GgufNumberValue | GgufBigIntValue | GgufBoolValue | GgufStringValue | GgufArrayValue;

/** Builders for typed metadata values: `gguf.u32(5)`, `gguf.arr('string', ['a'])`, … */
export const gguf = {
  u8: (value: number): GgufNumberValue => ({ type: 'uint8', value }),
  i8: (value: number): GgufNumberValue => ({ type: 'int8', value }),
  u16: (value: number): GgufNumberValue => ({ type: 'uint16', value }),
  i16: (value: number): GgufNumberValue => ({ type: 'int16', value }),
  u32: (value: number): GgufNumberValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufNumberValue => ({ type: 'int32', value }),
  f32: (value: number): GgufNumberValue => ({ type: 'float32', value }),
  f64: (value: number): GgufNumberValue => ({ type: 'float64', value }),
  u64: (value: number | bigint): GgufBigIntValue => ({ type: 'uint64', value: BigInt(value) }),
  i64: (value: number | bigint): GgufBigIntValue => ({ type: 'int64', value: BigInt(value) }),
  bool: (value: boolean): GgufBoolValue => ({ type: 'bool', value }),
  str: (value: string): GgufStringValue => ({ type: 'string', value }),
  arr: arrayValue,
};

function arrayValue(itemType: GgufNumberTypeName, value: number[]): GgufArrayValue;
function arrayValue(itemType: GgufBigIntTypeName, value: bigint[]): GgufArrayValue;
function arrayValue(itemType: 'bool', value: boolean[]): GgufArrayValue;
function arrayValue(itemType: 'string', value: string[]): GgufArrayValue;
function arrayValue(itemType: 'array', value: GgufArrayValue[]): GgufArrayValue;
function arrayValue(itemType: GgufScalarTypeName | 'array', value: unknown[]): GgufArrayValue {
  return { type: 'array', itemType, value } as GgufArrayValue;
}

// ---------------------------------------------------------------------------------------------
// ggml tensor types
// ---------------------------------------------------------------------------------------------

/** ggml tensor type ids (ggml.h `enum ggml_type`). Ids 4, 5, 31–33 and 36–38 were removed. */
export const GgmlType = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15,
  IQ2_XXS: 16, IQ2_XS: 17, IQ3_XXS: 18, IQ1_S: 19, IQ4_NL: 20, IQ3_S: 21, IQ2_S: 22, IQ4_XS: 23,
  I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, IQ1_M: 29, BF16: 30,
  TQ1_0: 34, TQ2_0: 35, MXFP4: 39, NVFP4: 40, Q1_0: 41, Q2_0: 42,
} as const;
export type GgmlTypeName = keyof typeof GgmlType;

/** Elements per block and bytes per block of each ggml type (ggml.c `type_traits`). */
const GGML_TYPE_TRAITS: Readonly<Record<GgmlTypeName, { blockSize: number; typeSize: number }>> = {
  F32: { blockSize: 1, typeSize: 4 }, F16: { blockSize: 1, typeSize: 2 },
  Q4_0: { blockSize: 32, typeSize: 18 }, Q4_1: { blockSize: 32, typeSize: 20 },
  Q5_0: { blockSize: 32, typeSize: 22 }, Q5_1: { blockSize: 32, typeSize: 24 },
  Q8_0: { blockSize: 32, typeSize: 34 }, Q8_1: { blockSize: 32, typeSize: 36 },
  Q2_K: { blockSize: 256, typeSize: 84 }, Q3_K: { blockSize: 256, typeSize: 110 },
  Q4_K: { blockSize: 256, typeSize: 144 }, Q5_K: { blockSize: 256, typeSize: 176 },
  Q6_K: { blockSize: 256, typeSize: 210 }, Q8_K: { blockSize: 256, typeSize: 292 },
  IQ2_XXS: { blockSize: 256, typeSize: 66 }, IQ2_XS: { blockSize: 256, typeSize: 74 },
  IQ3_XXS: { blockSize: 256, typeSize: 98 }, IQ1_S: { blockSize: 256, typeSize: 50 },
  IQ4_NL: { blockSize: 32, typeSize: 18 }, IQ3_S: { blockSize: 256, typeSize: 110 },
  IQ2_S: { blockSize: 256, typeSize: 82 }, IQ4_XS: { blockSize: 256, typeSize: 136 },
  I8: { blockSize: 1, typeSize: 1 }, I16: { blockSize: 1, typeSize: 2 },
  I32: { blockSize: 1, typeSize: 4 }, I64: { blockSize: 1, typeSize: 8 },
  F64: { blockSize: 1, typeSize: 8 }, IQ1_M: { blockSize: 256, typeSize: 56 },
  BF16: { blockSize: 1, typeSize: 2 }, TQ1_0: { blockSize: 256, typeSize: 54 },
  TQ2_0: { blockSize: 256, typeSize: 66 }, MXFP4: { blockSize: 32, typeSize: 17 },
  NVFP4: { blockSize: 64, typeSize: 36 }, Q1_0: { blockSize: 128, typeSize: 18 },
  Q2_0: { blockSize: 64, typeSize: 18 },
};

const GGML_TYPE_NAME_BY_ID: ReadonlyMap<number, GgmlTypeName> = new Map(
  (Object.keys(GgmlType) as GgmlTypeName[]).map((name) => [GgmlType[name], name]),
);

/** The name of a ggml type id (`1` → `'F16'`), or undefined for an unknown or removed id. */
export function ggmlTypeName(id: number): GgmlTypeName | undefined {
  return GGML_TYPE_NAME_BY_ID.get(id);
}

/** Bytes taken by `nElements` elements of a ggml type (`nElements` must be a multiple of the block size). */
export function ggmlTensorBytes(type: GgmlTypeName, nElements: number): number {
  const { blockSize, typeSize } = GGML_TYPE_TRAITS[type];
  return (nElements / blockSize) * typeSize;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * Why a file is not a usable GGUF file:
 * - `bad_magic`: it does not start with "GGUF";
 * - `bad_version`: a GGUF version this reader does not handle (only 2 and 3 are);
 * - `truncated`: the file ends before the header or the tensor data it describes;
 * - `corrupt`: a value that cannot be right (absurd count or length, unknown type, bad offset…).
 */
export type GgufErrorCode = 'bad_magic' | 'bad_version' | 'truncated' | 'corrupt';

/** A malformed or unsupported GGUF file. `message` is one line and names the file. */
export class GgufError extends Error {
  override readonly name = 'GgufError';
  constructor(
    readonly code: GgufErrorCode,
    readonly path: string,
    /** What is wrong, without the path. */
    readonly detail: string,
  ) {
    super(`Invalid GGUF file ${JSON.stringify(path)} (${code}): ${detail}`.replace(/[\r\n]+/g, ' '));
  }
}

/** Quotes a name read from a file for an error message: one line, bounded length. */
function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/** One tensor described in the header. Sizes and offsets are in bytes. */
export interface GgufTensorInfo {
  name: string;
  /** Dimensions, fastest-varying first (`dims[0]` = ne0 = columns). */
  dims: number[];
  /** ggml type id (`GgmlType`). */
  type: number;
  /** ggml type name ('F32', 'F16', 'Q4_K', …). */
  typeName: GgmlTypeName;
  /** Offset of the data relative to the start of the data section, as stored in the file. */
  offset: number;
  /** Absolute offset of the data in the file (`dataOffset + offset`). */
  fileOffset: number;
  nElements: number;
  nBytes: number;
}

/** Everything before the tensor data. */
export interface GgufHeader {
  path: string;
  fileSize: number;
  version: number;
  /** Metadata in file order. */
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Alignment of the data section and of each tensor (`general.alignment`, default 32). */
  alignment: number;
  /** Absolute offset where the tensor data starts. */
  dataOffset: number;
  /** Size of the data section, each tensor padded to the alignment. */
  dataSize: number;
}

const READ_CHUNK = 1 << 20;

/** Buffered, positional reader over an open file; every access is bounds-checked. */
class Cursor {
  private buf: Buffer = Buffer.allocUnsafe(READ_CHUNK);
  private bufStart = 0;
  private bufLen = 0;
  /** Absolute position of the next byte to consume. */
  pos = 0;

  constructor(private readonly fh: FileHandle, readonly size: number, private readonly path: string) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  /** True when the next `n` bytes are already buffered (lets hot loops skip an `await`). */
  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.bufLen;
  }

  /** Makes the next `n` bytes available, or throws `truncated` naming `what` was being read. */
  async need(n: number, what: string): Promise<void> {
    if (this.has(n)) return;
    if (n > this.remaining) {
      throw new GgufError('truncated', this.path,
        `file ends while reading ${what}: needs ${n} bytes at offset ${this.pos}, file size is ${this.size}`);
    }
    const want = Math.min(Math.max(n, READ_CHUNK), this.remaining);
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    else if (this.buf.length > READ_CHUNK && want <= READ_CHUNK) this.buf = Buffer.allocUnsafe(READ_CHUNK);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(this.buf, got, want - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.bufStart = this.pos;
    this.bufLen = got;
    if (got < n) {
      throw new GgufError('truncated', this.path, `file shrank while reading ${what} at offset ${this.pos}`);
    }
  }

  // The accessors below assume `need`/`has` covered the bytes.
  private at(n: number): number {
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u8(): number { return this.buf.readUInt8(this.at(1)); }
  i8(): number { return this.buf.readInt8(this.at(1)); }
  u16(): number { return this.buf.readUInt16LE(this.at(2)); }
  i16(): number { return this.buf.readInt16LE(this.at(2)); }
  u32(): number { return this.buf.readUInt32LE(this.at(4)); }
  i32(): number { return this.buf.readInt32LE(this.at(4)); }
  f32(): number { return this.buf.readFloatLE(this.at(4)); }
  f64(): number { return this.buf.readDoubleLE(this.at(8)); }
  u64(): bigint { return this.buf.readBigUInt64LE(this.at(8)); }
  /** A u64 as a number: exact below 2^53, and above it still a number ≥ 2^53 (fine for limit checks). */
  u64n(): number {
    const o = this.at(8);
    return this.buf.readUInt32LE(o) + this.buf.readUInt32LE(o + 4) * 0x100000000;
  }
  i64(): bigint { return this.buf.readBigInt64LE(this.at(8)); }
  utf8(n: number): string {
    const o = this.at(n);
    return this.buf.toString('utf8', o, o + n);
  }
}

/** Parses the header; all reads go through `cur`. */
class HeaderParser {
  constructor(private readonly cur: Cursor, private readonly path: string) {}

  private corrupt(detail: string): GgufError {
    return new GgufError('corrupt', this.path, detail);
  }

  private truncated(detail: string): GgufError {
    return new GgufError('truncated', this.path, detail);
  }

  /** A u64 that must fit in a JS number and be at most `max`. */
  private async count(what: string, max: number): Promise<number> {
    await this.cur.need(8, what);
    const v = this.cur.u64();
    if (v > BigInt(max)) throw this.corrupt(`${what} is ${v}, more than the limit of ${max}`);
    return Number(v);
  }

  /**
   * Reads a string without awaiting when its length and bytes are already buffered and within
   * `max`; otherwise consumes nothing and returns undefined (then {@link string} does the work).
   */
  private stringFast(max: number): string | undefined {
    const cur = this.cur;
    if (!cur.has(8)) return undefined;
    const start = cur.pos;
    const n = cur.u64n();
    if (n <= max && cur.has(n)) return cur.utf8(n);
    cur.pos = start;
    return undefined;
  }

  /** Reads a string whose byte length must be ≤ `max` (else corrupt) and fit in the file (else truncated). */
  async string(what: string, max: number): Promise<string> {
    const fast = this.stringFast(max);
    if (fast !== undefined) return fast;
    const cur = this.cur;
    if (!cur.has(8)) await cur.need(8, `length of ${what}`);
    const big = cur.u64();
    if (big > BigInt(max)) throw this.corrupt(`length of ${what} is ${big} bytes, more than the limit of ${max}`);
    const n = Number(big);
    if (!cur.has(n)) {
      if (n > cur.remaining) {
        throw this.truncated(`${what} of ${n} bytes at offset ${cur.pos} runs past the end of the file (size ${cur.size})`);
      }
      await cur.need(n, what);
    }
    return cur.utf8(n);
  }

  private async typeId(what: string): Promise<GgufTypeName> {
    await this.cur.need(4, what);
    const id = this.cur.u32();
    const name = TYPE_NAME_BY_ID[id];
    if (name === undefined) throw this.corrupt(`${what} has unknown value type ${id}`);
    return name;
  }

  /** Reads one value of a scalar type; the caller made its bytes available. */
  private scalarSync(type: GgufScalarTypeName, what: string): number | bigint | boolean {
    const c = this.cur;
    switch (type) {
      case 'uint8': return c.u8();
      case 'int8': return c.i8();
      case 'uint16': return c.u16();
      case 'int16': return c.i16();
      case 'uint32': return c.u32();
      case 'int32': return c.i32();
      case 'float32': return c.f32();
      case 'float64': return c.f64();
      case 'uint64': return c.u64();
      case 'int64': return c.i64();
      case 'bool': {
        const b = c.u8();
        if (b > 1) throw this.corrupt(`${what} is a bool with byte value ${b}`);
        return b === 1;
      }
      case 'string': throw new Error('unreachable: strings are read by string()');
    }
  }

  async value(type: GgufTypeName, what: string, depth: number): Promise<GgufValue> {
    if (type === 'string') return { type, value: await this.string(what, GGUF_LIMITS.maxStringLength) };
    if (type === 'array') return this.array(what, depth + 1);
    await this.cur.need(MIN_ENCODED_SIZE[type], what);
    const v = this.scalarSync(type, what);
    switch (type) {
      case 'uint64': case 'int64': return { type, value: v as bigint };
      case 'bool': return { type, value: v as boolean };
      default: return { type, value: v as number };
    }
  }

  private async array(what: string, depth: number): Promise<GgufArrayValue> {
    if (depth > GGUF_LIMITS.maxArrayDepth) throw this.corrupt(`${what} nests arrays deeper than ${GGUF_LIMITS.maxArrayDepth}`);
    const itemType = await this.typeId(`item type of ${what}`);
    const n = await this.count(`element count of ${what}`, GGUF_LIMITS.maxArrayLength);
    const minSize = MIN_ENCODED_SIZE[itemType];
    if (n * minSize > this.cur.remaining) {
      throw this.truncated(`${what} has ${n} elements of type ${itemType} but only ${this.cur.remaining} bytes are left in the file`);
    }
    const cur = this.cur;
    if (itemType === 'string') {
      const out: string[] = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        out[i] = this.stringFast(GGUF_LIMITS.maxStringLength) ?? await this.string(`${what}[${i}]`, GGUF_LIMITS.maxStringLength);
      }
      return { type: 'array', itemType, value: out };
    }
    if (itemType === 'array') {
      const out: GgufArrayValue[] = new Array<GgufArrayValue>(n);
      for (let i = 0; i < n; i++) out[i] = await this.array(`${what}[${i}]`, depth + 1);
      return { type: 'array', itemType, value: out };
    }
    // Fixed-size items: read in buffered batches.
    const out: (number | bigint | boolean)[] = new Array(n);
    let i = 0;
    while (i < n) {
      const batch = Math.min(n - i, Math.floor(READ_CHUNK / minSize));
      if (!cur.has(batch * minSize)) await cur.need(batch * minSize, what);
      for (let j = 0; j < batch; j++, i++) out[i] = this.scalarSync(itemType, what);
    }
    return { type: 'array', itemType, value: out } as GgufArrayValue;
  }

  async parse(): Promise<GgufHeader> {
    const cur = this.cur;
    if (cur.size < 4) throw new GgufError('bad_magic', this.path, `file is ${cur.size} bytes, too small to be a GGUF file`);
    await cur.need(4, 'magic');
    const magic = cur.u32();
    if (magic !== GGUF_MAGIC) {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32LE(magic);
      throw new GgufError('bad_magic', this.path, `expected magic "GGUF", found 0x${bytes.toString('hex')}`);
    }
    await cur.need(4, 'version');
    const version = cur.u32();
    if (version !== 2 && version !== 3) {
      const hint = version === 1 ? ' (GGUF v1 is obsolete)' : version > 0xffff ? ' (big-endian file?)' : '';
      throw new GgufError('bad_version', this.path, `unsupported GGUF version ${version}${hint}; versions 2 and 3 are supported`);
    }
    const tensorCount = await this.count('tensor count', GGUF_LIMITS.maxTensorCount);
    const kvCount = await this.count('metadata key/value count', GGUF_LIMITS.maxKvCount);
    // Smallest possible tensor info: empty name (8) + n_dims (4) + type (4) + offset (8); smallest KV: 8 + 1 + 4 + 1.
    if (tensorCount * 24 + kvCount * 14 > cur.remaining) {
      throw this.truncated(`header declares ${kvCount} metadata entries and ${tensorCount} tensors but only ${cur.remaining} bytes follow`);
    }

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = await this.string(`metadata key #${i}`, GGUF_LIMITS.maxNameLength);
      if (key.length === 0) throw this.corrupt(`metadata key #${i} is empty`);
      if (metadata.has(key)) throw this.corrupt(`duplicate metadata key ${quote(key)}`);
      const type = await this.typeId(`metadata ${quote(key)}`);
      metadata.set(key, await this.value(type, `metadata ${quote(key)}`, 0));
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const alignValue = metadata.get('general.alignment');
    if (alignValue !== undefined) {
      if (alignValue.type !== 'uint32') throw this.corrupt(`general.alignment must be a uint32, found ${alignValue.type}`);
      alignment = alignValue.value;
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0 || alignment > GGUF_LIMITS.maxAlignment) {
        throw this.corrupt(`general.alignment ${alignment} is not a power of two ≤ ${GGUF_LIMITS.maxAlignment}`);
      }
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const name = await this.string(`name of tensor #${i}`, GGUF_LIMITS.maxNameLength);
      if (names.has(name)) throw this.corrupt(`duplicate tensor name ${quote(name)}`);
      names.add(name);
      const what = `tensor ${quote(name)}`;
      await cur.need(4, `dimension count of ${what}`);
      const nDims = cur.u32();
      if (nDims > GGML_MAX_DIMS) throw this.corrupt(`${what} has ${nDims} dimensions, at most ${GGML_MAX_DIMS} are allowed`);
      await cur.need(8 * nDims + 12, what);
      const dims: number[] = [];
      let nElementsBig = 1n;
      for (let d = 0; d < nDims; d++) {
        const ne = cur.u64();
        nElementsBig *= ne;
        if (nElementsBig > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} has an absurd shape (dimension ${d} is ${ne})`);
        dims.push(Number(ne));
      }
      const type = cur.u32();
      const typeName = ggmlTypeName(type);
      if (typeName === undefined) throw this.corrupt(`${what} has unknown or removed ggml type ${type}`);
      const { blockSize } = GGML_TYPE_TRAITS[typeName];
      const ne0 = dims[0] ?? 1;
      if (ne0 % blockSize !== 0) throw this.corrupt(`${what} of type ${typeName} has ${ne0} columns, not a multiple of its block size ${blockSize}`);
      const offsetBig = cur.u64();
      if (offsetBig > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} has an absurd data offset ${offsetBig}`);
      const nElements = Number(nElementsBig);
      tensors.push({
        name, dims, type, typeName,
        offset: Number(offsetBig), fileOffset: 0,
        nElements, nBytes: ggmlTensorBytes(typeName, nElements),
      });
    }

    // ggml pads the end of the tensor infos to the alignment only when there are tensors.
    const dataOffset = tensors.length > 0 ? alignUp(cur.pos, alignment) : cur.pos;
    // Like ggml's gguf reader: tensors are stored in header order, each at the aligned end of the previous one.
    let dataSize = 0;
    for (const t of tensors) {
      if (t.offset !== dataSize) {
        throw this.corrupt(`tensor ${quote(t.name)} has data offset ${t.offset}, expected ${dataSize}`);
      }
      t.fileOffset = dataOffset + t.offset;
      if (t.fileOffset + t.nBytes > cur.size) {
        throw this.truncated(`data of tensor ${quote(t.name)} (${t.nBytes} bytes at offset ${t.fileOffset}) extends past the end of the file (size ${cur.size})`);
      }
      dataSize += alignUp(t.nBytes, alignment);
    }

    return { path: this.path, fileSize: cur.size, version, metadata, tensors, alignment, dataOffset, dataSize };
  }
}

/**
 * Reads the header of a GGUF file: version, metadata, tensor infos and the data offset.
 * Tensor data is not read, but its extent is checked against the file size.
 * @throws GgufError for a malformed file; fs errors (ENOENT, EACCES…) propagate unchanged.
 */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  const fh = await fsp.open(filePath, 'r');
  try {
    const { size } = await fh.stat();
    return await new HeaderParser(new Cursor(fh, size, filePath), filePath).parse();
  } finally {
    await fh.close();
  }
}

/** Reads the raw bytes of one tensor (in its ggml encoding) from a file whose header was read. */
export async function readGgufTensorBytes(header: GgufHeader, tensorName: string): Promise<Buffer> {
  const t = header.tensors.find((x) => x.name === tensorName);
  if (!t) throw new Error(`no tensor named ${quote(tensorName)} in ${header.path}`);
  const buf = Buffer.alloc(t.nBytes);
  const fh = await fsp.open(header.path, 'r');
  try {
    let got = 0;
    while (got < t.nBytes) {
      const { bytesRead } = await fh.read(buf, got, t.nBytes - got, t.fileOffset + got);
      if (bytesRead === 0) throw new GgufError('truncated', header.path, `file ends inside the data of tensor ${quote(t.name)}`);
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

/** Metadata value of `key` when it is a string. */
export function ggufString(header: Pick<GgufHeader, 'metadata'>, key: string): string | undefined {
  const v = header.metadata.get(key);
  return v?.type === 'string' ? v.value : undefined;
}

/** Metadata value of `key` when it is numeric (64-bit integers converted when exactly representable). */
export function ggufNumber(header: Pick<GgufHeader, 'metadata'>, key: string): number | undefined {
  const v = header.metadata.get(key);
  if (v === undefined) return undefined;
  switch (v.type) {
    case 'uint64': case 'int64': {
      const n = Number(v.value);
      return Number.isSafeInteger(n) ? n : undefined;
    }
    case 'bool': case 'string': case 'array': return undefined;
    default: return v.value;
  }
}

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

export interface GgufTensorSpec {
  name: string;
  /** Dimensions, fastest-varying first: `[ne0 (columns), ne1 (rows), …]`. */
  shape: readonly number[];
  type: GgufWriterTensorType;
  data: GgufTensorData;
}

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
      if (!Array.isArray(v.value)) bad('array value must be an array');
      const it = v.itemType;
      if (TYPE_ID_BY_NAME[it] === undefined) bad(`unknown array item type ${String(it)}`);
      for (const x of v.value as unknown[]) {
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
    for (const x of a.value as (number | bigint | boolean | string)[]) writeScalar(b, t, x);
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

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
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
    if (type !== 'F32' && type !== 'F16') throw new TypeError(`tensor ${quote(name)}: unsupported type ${String(type)}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(n)) throw new TypeError(`tensor ${quote(name)}: too many elements`);
    const { data } = spec;
    if (data instanceof Float32Array && data.length !== n) {
      throw new TypeError(`tensor ${quote(name)}: ${data.length} values for shape [${shape.join(', ')}] (${n} elements)`);
    }
    if (!(data instanceof Float32Array) && data instanceof Uint8Array && data.length !== ggmlTensorBytes(type, n)) {
      throw new TypeError(`tensor ${quote(name)}: ${data.length} bytes, expected ${ggmlTensorBytes(type, n)}`);
    }
    this.tensors.push({ name, shape: [...shape], type, data });
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
