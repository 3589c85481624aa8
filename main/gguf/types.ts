/**
 * GGUF: the format's constants, value types, ggml tensor types and errors, shared by the reader
 * (./read.ts, shipped: the engine host checks every model with it) and the writer (./write.ts, used
 * by scripts and tests to make test models).
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
 */
import type { GgufErrorCode } from '../errors/catalogue';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The fixed header before the metadata: magic (u32), version (u32), tensor count (u64), metadata count (u64). */
export const GGUF_FIXED_HEADER_BYTES = 24;
/** The version this module writes. Versions 2 and 3 share a layout and are both read. */
export const GGUF_VERSION = 3;
/** Alignment of the tensor data section when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGML_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: tensor names must be shorter than this (in bytes). */
export const GGML_MAX_NAME = 64;

/** Sanity caps applied while reading. Values beyond these are reported as `corrupt` (memory: `too_large`). */
export const GGUF_LIMITS = {
  /**
   * Metadata key count. Real files have tens to a few hundred. ggml's reader checks each key against
   * every one before it (time growing with the square of the count: 16,384 short keys take it ~0.3 s,
   * of 2 KiB each a few seconds, 240,000 short ones two minutes, while it holds the engine), so a model's
   * first file or an adapter past this never reaches it (llama.cpp opens a split model's other files,
   * a projector and a draft model itself).
   */
  maxKvCount: 1 << 14,
  /** Tensor count. The largest models have about 1,200 (ggml checks tensor names the same way). */
  maxTensorCount: 1 << 15,
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
  /**
   * Memory the decoded metadata may take, as the reader counts it (a string: 2 bytes per UTF-8 byte
   * + 40; a numeric array: its typed array; a bool array: 8 bytes per item; an array or scalar: 64).
   * The Llama 3 tokenizer (128,256 tokens and 280,147 merges, the test models' llama-bpe) counts
   * under 32 MiB. A file past the cap is refused (`too_large`) before the memory is taken.
   */
  maxMetadataBytes: 64 * 1024 * 1024,
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

export const TYPE_NAME_BY_ID: readonly GgufTypeName[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];
export const TYPE_ID_BY_NAME: Readonly<Record<GgufTypeName, number>> = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12,
};
/** Encoded size of fixed-size types; strings and arrays have at least an 8-byte length/count. */
export const MIN_ENCODED_SIZE: Readonly<Record<GgufTypeName, number>> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, string: 8, array: 12, uint64: 8, int64: 8, float64: 8,
};

// ---------------------------------------------------------------------------------------------
// Metadata values
// ---------------------------------------------------------------------------------------------

export interface GgufNumberValue { type: GgufNumberTypeName; value: number }
export interface GgufBigIntValue { type: GgufBigIntTypeName; value: bigint }
export interface GgufBoolValue { type: 'bool'; value: boolean }
export interface GgufStringValue { type: 'string'; value: string }

/** A typed array holding the items of a numeric metadata array. */
export type GgufNumberArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * An array value. The reader gives numeric items as a typed array of `itemType` (1 to 8 bytes per
 * item, not a JS array's 8+), the writer takes either; bools and strings are JS arrays; an array of
 * arrays holds nested {@link GgufArrayValue}s (each may have its own item type, as the format allows).
 */
export type GgufArrayValue =
  | { type: 'array'; itemType: GgufNumberTypeName; value: readonly number[] | GgufNumberArray }
  | { type: 'array'; itemType: GgufBigIntTypeName; value: readonly bigint[] | BigUint64Array | BigInt64Array }
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
export const GGML_TYPE_TRAITS: Readonly<Record<GgmlTypeName, { blockSize: number; typeSize: number }>> = {
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
 * Why a file is not a usable GGUF file: the catalogue's `gguf` codes (main/errors/catalogue.ts): `bad_magic`,
 * `bad_version`, `truncated`, `corrupt` (a value that cannot be right: absurd count or length, unknown type,
 * bad offset, a zero or overflowing tensor dimension…), `too_large` (the metadata would take more memory
 * than `GGUF_LIMITS.maxMetadataBytes`).
 */
export type { GgufErrorCode };

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
export function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** `n` rounded up to a multiple of `alignment`. */
export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
