/**
 * GGUF header reader (shipped: the engine host checks every model file with it before llama.cpp
 * sees the file). Parses only the header (metadata + tensor infos) with positional, buffered reads,
 * so a multi-GB model costs a few reads.
 *
 * A hostile file cannot make it take much memory or time: every length and count read from the
 * file is checked against hard caps and against the bytes left in the file *before* anything is
 * allocated; the decoded metadata is counted against `GGUF_LIMITS.maxMetadataBytes` before it is
 * allocated (numeric arrays become typed arrays), and metadata skipped undecoded (readGgufMetadata)
 * is counted as if decoded; every tensor dimension is checked (no zero, no
 * overflowing product, data inside the file); and a parse checks its AbortSignal before each chunk
 * it reads. Every failure is a {@link GgufError} with a machine-readable `code`.
 */
import { openForReading } from '../regular-file';
import { Cursor, fileSource, READ_CHUNK, type GgufByteSource } from './cursor';
import {
  alignUp, GGML_MAX_DIMS, GGML_MAX_NAME, GGML_TYPE_TRAITS, GgmlTypeName, ggmlTensorBytes, ggmlTypeName, GGUF_DEFAULT_ALIGNMENT,
  GGUF_LIMITS, GGUF_MAGIC, GgufArrayValue, GgufError, GgufNumberArray, GgufNumberTypeName, GgufScalarTypeName, GgufTypeName,
  GgufValue, MIN_ENCODED_SIZE, quote, TYPE_NAME_BY_ID,
} from './types';

export { bufferSource, fileSource, type GgufByteSource } from './cursor';

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
  /** Memory the decoded metadata takes, as counted against `GGUF_LIMITS.maxMetadataBytes`. */
  metadataBytes: number;
}

export interface ReadOptions {
  /** Checked before each chunk read from the file: an aborted parse rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface MetadataOptions extends ReadOptions {
  /**
   * Asked before each entry with the entries picked so far: true ends the read there (every key the
   * caller needs is found), so the rest of the metadata is neither read nor checked.
   */
  complete?: (found: ReadonlyMap<string, GgufValue>) => boolean;
}


/** What the reader counts for one decoded item (see `GGUF_LIMITS.maxMetadataBytes`). */
const COST = {
  /** a metadata entry, a scalar value, an array object */
  entry: 64,
  /** per string, on top of 2 bytes per UTF-8 byte (a JS string is UTF-16 at worst) */
  string: 40,
  /** a slot of a JS array (bools, strings, nested arrays) */
  slot: 8,
} as const;

const TYPED_ARRAY: Readonly<Record<GgufNumberTypeName | 'uint64' | 'int64', { new (n: number): GgufNumberArray | BigUint64Array | BigInt64Array; BYTES_PER_ELEMENT: number }>> = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array,
  float32: Float32Array, float64: Float64Array, uint64: BigUint64Array, int64: BigInt64Array,
};

/** Parses the header; all reads go through `cur`. */
class HeaderParser {
  /** Decoded metadata memory counted so far. */
  private used = 0;

  constructor(private readonly cur: Cursor, private readonly path: string) {}

  private corrupt(detail: string): GgufError {
    return new GgufError('corrupt', this.path, detail);
  }

  private truncated(detail: string): GgufError {
    return new GgufError('truncated', this.path, detail);
  }

  /** Counts `bytes` of decoded metadata, before they are allocated. */
  private charge(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > GGUF_LIMITS.maxMetadataBytes) {
      throw new GgufError('too_large', this.path,
        `the metadata would take more than ${GGUF_LIMITS.maxMetadataBytes / (1024 * 1024)} MiB of memory (at ${what})`);
    }
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
  private stringFast(max: number, what: string): string | undefined {
    const cur = this.cur;
    if (!cur.has(8)) return undefined;
    const start = cur.pos;
    const n = cur.u64n();
    if (n <= max && cur.has(n)) {
      this.charge(2 * n, what);
      return cur.utf8(n);
    }
    cur.pos = start;
    return undefined;
  }

  /** Reads a string whose byte length must be ≤ `max` (else corrupt) and fit in the file (else truncated). */
  async string(what: string, max: number): Promise<string> {
    const fast = this.stringFast(max, what);
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
      this.charge(2 * n, what);
      await cur.need(n, what);
    } else {
      this.charge(2 * n, what);
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
    this.charge(COST.entry, what);
    if (type === 'string') {
      this.charge(COST.string, what);
      return { type, value: await this.string(what, GGUF_LIMITS.maxStringLength) };
    }
    if (type === 'array') return this.array(what, depth + 1);
    await this.cur.need(MIN_ENCODED_SIZE[type], what);
    const v = this.scalarSync(type, what);
    switch (type) {
      case 'uint64': case 'int64': return { type, value: v as bigint };
      case 'bool': return { type, value: v as boolean };
      default: return { type, value: v as number };
    }
  }

  /** Counts the array slots of `n` items of `itemType` (strings' bytes and nested arrays' items are counted as they are read). */
  private chargeItems(itemType: GgufTypeName, n: number, what: string): void {
    switch (itemType) {
      case 'string': return this.charge(n * (COST.slot + COST.string), what);
      case 'array': return this.charge(n * (COST.slot + COST.entry), what);
      case 'bool': return this.charge(n * COST.slot, what);
      default: return this.charge(n * TYPED_ARRAY[itemType].BYTES_PER_ELEMENT, what);
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
    this.chargeItems(itemType, n, what);
    if (itemType === 'string') {
      const out: string[] = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        out[i] = this.stringFast(GGUF_LIMITS.maxStringLength, what) ?? await this.string(`${what}[${i}]`, GGUF_LIMITS.maxStringLength);
      }
      return { type: 'array', itemType, value: out };
    }
    if (itemType === 'array') {
      const out: GgufArrayValue[] = new Array<GgufArrayValue>(n);
      for (let i = 0; i < n; i++) out[i] = await this.array(`${what}[${i}]`, depth + 1);
      return { type: 'array', itemType, value: out };
    }
    // Fixed-size items, read in buffered batches: numbers into a typed array, bools into a JS array.
    const batchOf = Math.floor(READ_CHUNK / minSize);
    if (itemType === 'bool') {
      const out: boolean[] = new Array<boolean>(n);
      for (let i = 0; i < n;) {
        const batch = Math.min(n - i, batchOf);
        if (!cur.has(batch)) await cur.need(batch, what);
        for (let j = 0; j < batch; j++, i++) out[i] = this.scalarSync('bool', what) as boolean;
      }
      return { type: 'array', itemType, value: out };
    }
    const out = new TYPED_ARRAY[itemType](n);
    for (let i = 0; i < n;) {
      const batch = Math.min(n - i, batchOf);
      if (!cur.has(batch * minSize)) await cur.need(batch * minSize, what);
      for (let j = 0; j < batch; j++, i++) out[i] = this.scalarSync(itemType, what) as never;
    }
    return { type: 'array', itemType, value: out } as GgufArrayValue;
  }

  /**
   * Moves past a value of `type` without decoding it: its lengths and counts checked as a read checks
   * them, and counted against `maxMetadataBytes` as a read counts them, so a skip refuses what a full
   * parse refuses (`too_large` included) and its work is bounded the same way.
   */
  private async skip(type: GgufTypeName, what: string, depth: number): Promise<void> {
    this.charge(COST.entry, what);
    if (type === 'string') {
      this.charge(COST.string, what);
      return this.skipStrings(1, what);
    }
    if (type === 'array') return this.skipArray(what, depth + 1);
    return this.cur.skip(MIN_ENCODED_SIZE[type], what);
  }

  /** Moves past an array (as {@link array} reads one: same checks, same charges). */
  private async skipArray(what: string, depth: number): Promise<void> {
    const cur = this.cur;
    if (depth > GGUF_LIMITS.maxArrayDepth) throw this.corrupt(`${what} nests arrays deeper than ${GGUF_LIMITS.maxArrayDepth}`);
    const itemType = await this.typeId(`item type of ${what}`);
    const n = await this.count(`element count of ${what}`, GGUF_LIMITS.maxArrayLength);
    if (n * MIN_ENCODED_SIZE[itemType] > cur.remaining) {
      throw this.truncated(`${what} has ${n} elements of type ${itemType} but only ${cur.remaining} bytes are left in the file`);
    }
    this.chargeItems(itemType, n, what);
    if (itemType === 'string') return this.skipStrings(n, what);
    if (itemType !== 'array') return cur.skip(n * MIN_ENCODED_SIZE[itemType], what);
    for (let i = 0; i < n; i++) await this.skipArray(`${what}[${i}]`, depth + 1);
  }

  /** Moves past `n` strings, each counted as a read counts it (awaiting only to read more of the file). */
  private async skipStrings(n: number, what: string): Promise<void> {
    const cur = this.cur;
    for (let i = 0; i < n; i++) {
      if (!cur.has(8)) await cur.need(8, `length of ${what}`);
      const len = cur.u64n();
      if (len > GGUF_LIMITS.maxStringLength) throw this.corrupt(`length of ${what} is ${len} bytes, more than the limit of ${GGUF_LIMITS.maxStringLength}`);
      if (len > cur.remaining) throw this.truncated(`${what} of ${len} bytes at offset ${cur.pos} runs past the end of the file (size ${cur.size})`);
      this.charge(2 * len, what);
      cur.skip(len, what);
    }
  }

  /** The metadata entries whose keys `wanted` picks, the others skipped undecoded; the tensor infos are not read. */
  async metadata(wanted: (key: string) => boolean, complete?: MetadataOptions['complete']): Promise<Map<string, GgufValue>> {
    return this.entries((await this.preamble()).kvCount, wanted, complete);
  }

  /**
   * The `kvCount` metadata entries, in file order: those `wanted` picks decoded, the others skipped;
   * it stops after the entry that makes `complete` say so.
   */
  private async entries(kvCount: number, wanted: (key: string) => boolean, complete?: MetadataOptions['complete']): Promise<Map<string, GgufValue>> {
    const metadata = new Map<string, GgufValue>();
    const keys = new Set<string>();
    for (let i = 0; i < kvCount && !complete?.(metadata); i++) {
      const key = await this.string(`metadata key #${i}`, GGUF_LIMITS.maxNameLength);
      if (key.length === 0) throw this.corrupt(`metadata key #${i} is empty`);
      if (keys.has(key)) throw this.corrupt(`duplicate metadata key ${quote(key)}`);
      keys.add(key);
      const type = await this.typeId(`metadata ${quote(key)}`);
      if (wanted(key)) metadata.set(key, await this.value(type, `metadata ${quote(key)}`, 0));
      else await this.skip(type, `metadata ${quote(key)}`, 0);
    }
    return metadata;
  }

  /** The magic, the version and the counts, checked. */
  private async preamble(): Promise<{ version: number; tensorCount: number; kvCount: number }> {
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
    return { version, tensorCount, kvCount };
  }

  async parse(): Promise<GgufHeader> {
    const cur = this.cur;
    const { version, tensorCount, kvCount } = await this.preamble();
    const metadata = await this.entries(kvCount, () => true);

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
      this.charge(COST.entry * 2, `tensor #${i}`);
      const name = await this.string(`name of tensor #${i}`, GGUF_LIMITS.maxNameLength);
      // ggml refuses names of GGML_MAX_NAME bytes or more (its fixed-size name field)
      if (Buffer.byteLength(name) >= GGML_MAX_NAME) throw this.corrupt(`name of tensor #${i} is ${Buffer.byteLength(name)} bytes, ggml allows at most ${GGML_MAX_NAME - 1}`);
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
        // each dimension on its own: a zero would hide an overflow of the others from the product check
        // (and ggml's own check divides by it)
        if (ne === 0n) throw this.corrupt(`${what} has a zero dimension (dimension ${d})`);
        if (ne > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} has an absurd shape (dimension ${d} is ${ne})`);
        nElementsBig *= ne;
        if (nElementsBig > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} has an absurd shape (dimension ${d} is ${ne}: too many elements)`);
        dims.push(Number(ne));
      }
      const type = cur.u32();
      const typeName = ggmlTypeName(type);
      if (typeName === undefined) throw this.corrupt(`${what} has unknown or removed ggml type ${type}`);
      const { blockSize } = GGML_TYPE_TRAITS[typeName];
      const ne0 = dims[0] ?? 1;
      if (ne0 % blockSize !== 0) throw this.corrupt(`${what} of type ${typeName} has ${ne0} columns, not a multiple of its block size ${blockSize}`);
      const offsetBig = cur.u64();
      if (offsetBig > BigInt(cur.size)) throw this.corrupt(`${what} has a data offset ${offsetBig} beyond the end of the file (size ${cur.size})`);
      const nElements = Number(nElementsBig);
      const nBytes = ggmlTensorBytes(typeName, nElements);
      if (!Number.isSafeInteger(nBytes) || nBytes > cur.size) {
        throw this.truncated(`${what} needs ${nBytes} bytes of data, more than the file's ${cur.size}`);
      }
      tensors.push({ name, dims, type, typeName, offset: Number(offsetBig), fileOffset: 0, nElements, nBytes });
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

    return { path: this.path, fileSize: cur.size, version, metadata, tensors, alignment, dataOffset, dataSize, metadataBytes: this.used };
  }
}

/** Parses a GGUF header from any byte source (`label` names it in errors). */
export function parseGgufHeader(src: GgufByteSource, label: string, opts: ReadOptions = {}): Promise<GgufHeader> {
  return new HeaderParser(new Cursor(src, label, opts.signal), label).parse();
}

/**
 * Reads only the metadata entries of a GGUF file whose keys `wanted` picks: the others (a vocabulary's
 * arrays) are skipped without being decoded, and the tensor infos are not read, so a model's header
 * costs a few reads and little memory; with `complete`, it stops once the caller has what it needs.
 * Checked and thrown as readGgufHeader, skipped values counted against `maxMetadataBytes` as decoded
 * ones are (a file the full parse refuses as too_large is refused as quickly here).
 */
export async function readGgufMetadata(filePath: string, wanted: (key: string) => boolean, opts: MetadataOptions = {}): Promise<Map<string, GgufValue>> {
  const fh = await openForReading(filePath, { signal: opts.signal });
  try {
    const { size } = await fh.stat();
    return await new HeaderParser(new Cursor(fileSource(fh, size), filePath, opts.signal), filePath).metadata(wanted, opts.complete);
  } finally {
    await fh.close();
  }
}

/**
 * Reads the header of a GGUF file: version, metadata, tensor infos and the data offset.
 * Tensor data is not read, but its extent is checked against the file size.
 * @throws GgufError for a malformed file; fs errors (ENOENT, EACCES…) propagate unchanged; an
 * aborted `signal` rejects with its reason.
 */
export async function readGgufHeader(filePath: string, opts: ReadOptions = {}): Promise<GgufHeader> {
  const fh = await openForReading(filePath, { signal: opts.signal });
  try {
    const { size } = await fh.stat();
    return await parseGgufHeader(fileSource(fh, size), filePath, opts);
  } finally {
    await fh.close();
  }
}

/** Reads the raw bytes of one tensor (in its ggml encoding) from a file whose header was read. */
export async function readGgufTensorBytes(header: GgufHeader, tensorName: string): Promise<Buffer> {
  const t = header.tensors.find((x) => x.name === tensorName);
  if (!t) throw new Error(`no tensor named ${quote(tensorName)} in ${header.path}`);
  const buf = Buffer.alloc(t.nBytes);
  const fh = await openForReading(header.path);
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
