import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ggufNumber, ggufString, readGgufHeader, readGgufMetadata, readGgufTensorBytes, type GgufHeader } from '../../main/gguf/read';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufError, GgufType, gguf, type GgufValue } from '../../main/gguf/types';
import { hasListingKeys, isListingKey } from '../../main/models/facts';
import { GgufWriter, f16ToF32, f32ArrayToF16, f32ToF16 } from '../../main/gguf/write';
import { TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Expects `promise` to reject with a GgufError of `code` whose one-line message names `file`. */
async function expectGgufError(promise: Promise<unknown>, code: GgufError['code'], file: string): Promise<GgufError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(GgufError);
  const g = err as GgufError;
  expect(g.code).toBe(code);
  expect(g.path).toBe(file);
  expect(g.message).toContain(file);
  expect(g.message).not.toMatch(/[\r\n]/);
  return g;
}

/** Every metadata value type, with edge values. */
const ALL_TYPES: [string, GgufValue][] = [
  ['t.uint8', gguf.u8(255)],
  ['t.int8', gguf.i8(-128)],
  ['t.uint16', gguf.u16(65535)],
  ['t.int16', gguf.i16(-32768)],
  ['t.uint32', gguf.u32(0xffffffff)],
  ['t.int32', gguf.i32(-0x80000000)],
  ['t.float32', gguf.f32(-1.5)],
  ['t.float64', gguf.f64(0.1)],
  ['t.bool.true', gguf.bool(true)],
  ['t.bool.false', gguf.bool(false)],
  ['t.string', gguf.str('héllo ☃ 🚀 "quoted"\n{{ jinja }}')],
  ['t.string.empty', gguf.str('')],
  ['t.uint64', gguf.u64(0xffffffffffffffffn)],
  ['t.int64', gguf.i64(-(1n << 63n))],
  ['a.uint8', gguf.arr('uint8', [0, 1, 255])],
  ['a.int8', gguf.arr('int8', [-128, 0, 127])],
  ['a.uint16', gguf.arr('uint16', [0, 65535])],
  ['a.int16', gguf.arr('int16', [-32768, 32767])],
  ['a.uint32', gguf.arr('uint32', [0, 0xffffffff])],
  ['a.int32', gguf.arr('int32', [-0x80000000, 0x7fffffff, 3])],
  ['a.float32', gguf.arr('float32', [0, -0.25, 1e10, Infinity])],
  ['a.float64', gguf.arr('float64', [Math.PI, -1e300])],
  ['a.bool', gguf.arr('bool', [true, false, true])],
  ['a.string', gguf.arr('string', ['<s>', '', 'Ġthe', '▁日本'])],
  ['a.uint64', gguf.arr('uint64', [0n, 0xffffffffffffffffn])],
  ['a.int64', gguf.arr('int64', [-(1n << 63n), (1n << 63n) - 1n])],
  ['a.empty', gguf.arr('int32', [])],
  ['a.nested', gguf.arr('array', [gguf.arr('string', ['x', 'y']), gguf.arr('int32', [1, 2, 3]), gguf.arr('array', [gguf.arr('bool', [true])])])],
];

/** A read value with its typed arrays as plain arrays, to compare with what was written. */
function plain(v: GgufValue): GgufValue {
  if (v.type !== 'array') return v;
  const value = v.itemType === 'array' ? (v.value as GgufValue[]).map(plain) : Array.from(v.value as ArrayLike<unknown>);
  return { ...v, value } as GgufValue;
}

function writerWithAllTypes(alignment?: number): GgufWriter {
  const w = new GgufWriter(alignment === undefined ? {} : { alignment });
  for (const [key, value] of ALL_TYPES) w.set(key, value);
  return w;
}

describe('f32 → f16', () => {
  it('converts known values with round-to-nearest-even', () => {
    expect(f32ToF16(0)).toBe(0x0000);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(0.1)).toBe(0x2e66);
    expect(f32ToF16(65504)).toBe(0x7bff); // largest finite
    expect(f32ToF16(65519)).toBe(0x7bff); // rounds down
    expect(f32ToF16(65520)).toBe(0x7c00); // ties to even → Infinity
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(f32ToF16(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16(NaN) & 0x3ff).not.toBe(0);
    expect(f32ToF16(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie → even (2)
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
  });

  it('round-trips every non-NaN f16 value', () => {
    const mismatches: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const x = f16ToF32(h);
      if (!Number.isNaN(x) && f32ToF16(x) !== h) mismatches.push(h.toString(16));
    }
    expect(mismatches).toEqual([]);
  });

  it('converts arrays into a provided buffer', () => {
    const out = new Uint16Array(4);
    expect([...f32ArrayToF16(new Float32Array([1, -2, 0.5]), out)]).toEqual([0x3c00, 0xc000, 0x3800, 0]);
  });
});

describe('GgufWriter → readGgufHeader round trip', () => {
  it('preserves every metadata type, tensor shapes, types and data', async () => {
    const file = path.join(tmp, 'roundtrip.gguf');
    const w = writerWithAllTypes();
    const f32 = Float32Array.from({ length: 3 * 5 }, (_, i) => i / 7 - 1);
    const f16Src = Float32Array.from({ length: 8 * 3 * 2 }, (_, i) => Math.sin(i));
    const raw = Buffer.from(f32ArrayToF16(Float32Array.from([1, 2, 3, 4])).buffer);
    w.addTensor({ name: 'vec', shape: [7], type: 'F32', data: new Float32Array(7).fill(1) });
    w.addTensor({ name: 'mat', shape: [3, 5], type: 'F32', data: f32 });
    // Data generated in uneven chunks when the writer gets to it.
    w.addTensor({
      name: 'cube', shape: [8, 3, 2], type: 'F16',
      data: function* () { yield f16Src.subarray(0, 5); yield f16Src.subarray(5, 40); yield f16Src.subarray(40); },
    });
    w.addTensor({ name: 'raw', shape: [4], type: 'F16', data: raw });
    const result = await w.write(file);

    const h = await readGgufHeader(file);
    expect(result.bytes).toBe((await fsp.stat(file)).size);
    expect(result.parameterCount).toBe(7 + 15 + 48 + 4);
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(GGUF_DEFAULT_ALIGNMENT);
    expect([...h.metadata].map(([k, v]) => [k, plain(v)])).toEqual(ALL_TYPES);
    // numeric arrays come back as typed arrays of their item type (1 to 8 bytes per item)
    expect(h.metadata.get('a.uint8')!.value).toBeInstanceOf(Uint8Array);
    expect(h.metadata.get('a.float32')!.value).toBeInstanceOf(Float32Array);
    expect(h.metadata.get('a.int64')!.value).toBeInstanceOf(BigInt64Array);
    expect(h.dataOffset).toBe(result.dataOffset);
    expect(h.dataOffset % 32).toBe(0);

    expect(h.tensors.map((t) => [t.name, t.dims, t.typeName, t.nElements, t.nBytes])).toEqual([
      ['vec', [7], 'F32', 7, 28],
      ['mat', [3, 5], 'F32', 15, 60],
      ['cube', [8, 3, 2], 'F16', 48, 96],
      ['raw', [4], 'F16', 4, 8],
    ]);
    expect(h.tensors.map((t) => t.offset)).toEqual([0, 32, 96, 192]);
    for (const t of h.tensors) expect(t.fileOffset % 32).toBe(0);
    expect(h.dataSize).toBe(224);
    expect(h.fileSize).toBe(h.dataOffset + h.dataSize);

    const mat = await readGgufTensorBytes(h, 'mat');
    expect(new Float32Array(mat.buffer, mat.byteOffset, 15)).toEqual(f32);
    const cube = await readGgufTensorBytes(h, 'cube');
    expect(new Uint16Array(cube.buffer, cube.byteOffset, 48)).toEqual(f32ArrayToF16(f16Src));
    expect(await readGgufTensorBytes(h, 'raw')).toEqual(raw);
    expect(ggufString(h, 't.string')).toBe('héllo ☃ 🚀 "quoted"\n{{ jinja }}');
    expect(ggufNumber(h, 't.uint32')).toBe(0xffffffff);
    expect(ggufNumber(h, 't.uint64')).toBeUndefined(); // not exactly representable
    expect(ggufNumber(h, 't.string')).toBeUndefined();
  });

  it('honours a custom alignment through general.alignment', async () => {
    const file = path.join(tmp, 'align64.gguf');
    const w = new GgufWriter({ alignment: 64 });
    w.setString('general.architecture', 'test');
    w.addTensor({ name: 'a', shape: [3], type: 'F32', data: new Float32Array(3) });
    w.addTensor({ name: 'b', shape: [5], type: 'F16', data: new Float32Array(5) });
    await w.write(file);
    const h = await readGgufHeader(file);
    expect(h.alignment).toBe(64);
    expect(h.metadata.get('general.alignment')).toEqual(gguf.u32(64));
    expect(h.dataOffset % 64).toBe(0);
    expect(h.tensors.map((t) => t.offset)).toEqual([0, 64]);
  });

  it('writes a metadata-only file', async () => {
    const file = path.join(tmp, 'meta-only.gguf');
    await writerWithAllTypes().write(file);
    const h = await readGgufHeader(file);
    expect(h.tensors).toEqual([]);
    expect(h.metadata.size).toBe(ALL_TYPES.length);
  });

  it('rejects invalid values and tensors', async () => {
    const w = new GgufWriter();
    expect(() => w.set('x', gguf.u32(-1))).toThrow(TypeError);
    expect(() => w.set('x', gguf.u8(256))).toThrow(TypeError);
    expect(() => w.set('x', gguf.i32(1.5))).toThrow(TypeError);
    expect(() => w.set('x', gguf.u64(-1n))).toThrow(TypeError);
    expect(() => w.set('x', { type: 'array', itemType: 'string', value: [1 as unknown as string] })).toThrow(TypeError);
    expect(() => w.set('', gguf.u32(1))).toThrow(TypeError);
    expect(() => new GgufWriter({ alignment: 24 })).toThrow(RangeError);
    w.addTensor({ name: 't', shape: [2], type: 'F32', data: new Float32Array(2) });
    expect(() => w.addTensor({ name: 't', shape: [2], type: 'F32', data: new Float32Array(2) })).toThrow(/duplicate/);
    expect(() => w.addTensor({ name: 'u', shape: [2, 2], type: 'F32', data: new Float32Array(3) })).toThrow(TypeError);
    expect(() => w.addTensor({ name: 'v', shape: [], type: 'F32', data: new Float32Array(0) })).toThrow(TypeError);
    expect(() => w.addTensor({ name: 'x'.repeat(64), shape: [1], type: 'F32', data: new Float32Array(1) })).toThrow(TypeError);
  });

  it('fails without leaving a file when generated data has the wrong size', async () => {
    const file = path.join(tmp, 'short.gguf');
    const w = new GgufWriter();
    w.addTensor({ name: 't', shape: [4, 4], type: 'F16', data: function* () { yield new Float32Array(15); } });
    await expect(w.write(file)).rejects.toThrow(/15 elements/);
    expect(await fsp.readdir(tmp)).not.toContainEqual(expect.stringContaining('short.gguf'));
  });
});

describe('readGgufMetadata: the keys asked for, the rest skipped', () => {
  test('the values asked for equal the full parse\'s, whatever else lies around them (a vocabulary, nested arrays, numbers)', async () => {
    for (const model of [TINY_SPM, TINY_BPE, TINY_EMBED]) {
      const full = await readGgufHeader(model);
      const arch = ggufString(full, 'general.architecture');
      const picked = await readGgufMetadata(model, (k) => k === 'general.architecture' || k.endsWith('.pooling_type') || k === 'tokenizer.ggml.model');
      expect([...picked.keys()]).toEqual([...full.metadata.keys()].filter((k) => picked.has(k)));
      expect(picked.get('general.architecture')).toEqual(full.metadata.get('general.architecture'));
      expect(picked.get('tokenizer.ggml.model')).toEqual(full.metadata.get('tokenizer.ggml.model'));
      expect(picked.get(`${arch}.pooling_type`)).toEqual(full.metadata.get(`${arch}.pooling_type`));
      expect(picked.has('tokenizer.ggml.tokens')).toBe(false);
      // asking for everything reads what readGgufHeader reads
      expect(await readGgufMetadata(model, () => true)).toEqual(full.metadata);
    }
    expect((await readGgufMetadata(TINY_EMBED, (k) => k === 'llama.pooling_type')).get('llama.pooling_type')).toEqual({ type: 'uint32', value: 1 });
    const file = path.join(tmp, 'nested.gguf');
    const w = new GgufWriter();
    w.set('a.nested', gguf.arr('array', [gguf.arr('string', ['x', 'yy']), gguf.arr('uint16', [1, 2, 3])]));
    w.set('b.bools', gguf.arr('bool', [true, false]));
    w.set('c.big', gguf.u64(5n));
    w.set('d.after', gguf.str('found'));
    await w.write(file);
    expect([...(await readGgufMetadata(file, (k) => k === 'd.after'))]).toEqual([['d.after', { type: 'string', value: 'found' }]]);
  });

  test('a skipped value that runs past the end is refused as a full parse refuses it', async () => {
    const bytes = await fsp.readFile(TINY_SPM);
    const cut = path.join(tmp, 'cut-metadata.gguf');
    // inside the vocabulary: the skipped array's strings run past the end of the file
    await fsp.writeFile(cut, bytes.subarray(0, 200_000));
    await expectGgufError(readGgufMetadata(cut, (k) => k === 'general.architecture'), 'truncated', cut);
    await expectGgufError(readGgufHeader(cut), 'truncated', cut);
  });
});

describe('readGgufMetadata: skipped metadata within the full parse\'s budget', () => {
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const kv = (key: string, type: number, value: Buffer) => Buffer.concat([str(key), u32(type), value]);

  /**
   * A GGUF whose metadata is `kvs`, then a key `x.bomb` holding `n` items of `itemType`, each
   * `itemBytes` of zeros (an empty string, an empty uint8 array, false): written sparse, so a file of
   * tens of MB costs nothing to make.
   */
  async function bomb(name: string, kvs: Buffer[], itemType: number, n: number, itemBytes: number): Promise<string> {
    const head = Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(0), u64(kvs.length + 1), ...kvs, str('x.bomb'), u32(GgufType.ARRAY), u32(itemType), u64(n)]);
    const file = path.join(tmp, name);
    await fsp.writeFile(file, head);
    await fsp.truncate(file, head.length + n * itemBytes);
    return file;
  }
  const arch = kv('general.architecture', GgufType.STRING, str('llama'));

  test('a skipped value past GGUF_LIMITS.maxMetadataBytes is refused as the full parse refuses it (too_large), and as quickly', async () => {
    // 5M empty arrays (60 MB, each 72 bytes counted), 9M bools (8 each), 1.5M empty strings (48 each): each over 64 MiB
    for (const [itemType, n, itemBytes] of [[GgufType.ARRAY, 5_000_000, 12], [GgufType.BOOL, 9_000_000, 1], [GgufType.STRING, 1_500_000, 8]]) {
      const file = await bomb(`bomb-${itemType}.gguf`, [arch], itemType, n, itemBytes);
      const full = await expectGgufError(readGgufHeader(file), 'too_large', file);
      const started = performance.now();
      const skipped = await expectGgufError(readGgufMetadata(file, isListingKey), 'too_large', file);
      // refused at the array's count, before its items are walked (walking 5M arrays took seconds)
      expect(performance.now() - started).toBeLessThan(1000);
      expect(skipped.detail).toBe(full.detail);
      expect(skipped.detail).toContain('x.bomb');
    }
  });

  test('with `complete`, the read stops once the caller has its keys: what follows is neither read nor checked', async () => {
    const pooling = kv('llama.pooling_type', GgufType.UINT32, u32(1));
    const after = await bomb('bomb-after.gguf', [arch, pooling], GgufType.ARRAY, 5_000_000, 12);
    expect([...(await readGgufMetadata(after, isListingKey, { complete: hasListingKeys }))]).toEqual([
      ['general.architecture', { type: 'string', value: 'llama' }], ['llama.pooling_type', { type: 'uint32', value: 1 }],
    ]);
    // without it, or with the keys after the bomb, the whole metadata is read (and refused)
    await expectGgufError(readGgufMetadata(after, isListingKey), 'too_large', after);
    const before = await bomb('bomb-before.gguf', [arch], GgufType.ARRAY, 5_000_000, 12);
    await expectGgufError(readGgufMetadata(before, isListingKey, { complete: hasListingKeys }), 'too_large', before);
  });
});

describe('readGgufHeader errors', () => {
  let small: Buffer;
  let smallHeader: GgufHeader;

  beforeAll(async () => {
    const file = path.join(tmp, 'small.gguf');
    const w = new GgufWriter();
    w.setString('general.architecture', 'llama');
    w.set('tokenizer.ggml.tokens', gguf.arr('string', Array.from({ length: 100 }, (_, i) => `token${i}`)));
    w.addTensor({ name: 'a', shape: [16, 4], type: 'F16', data: new Float32Array(64) });
    w.addTensor({ name: 'b', shape: [16], type: 'F32', data: new Float32Array(16) });
    await w.write(file);
    small = await fsp.readFile(file);
    smallHeader = await readGgufHeader(file);
  });

  /** Writes a copy of the small file, patched in place by `patch`. */
  async function variant(name: string, patch: (b: Buffer) => unknown): Promise<string> {
    const copy = Buffer.from(small);
    patch(copy);
    const file = path.join(tmp, name);
    await fsp.writeFile(file, copy);
    return file;
  }

  /** Writes `bytes` under `name`. */
  async function file(name: string, bytes: Uint8Array): Promise<string> {
    const p = path.join(tmp, name);
    await fsp.writeFile(p, bytes);
    return p;
  }

  it('rejects a wrong magic', async () => {
    const magic = await variant('magic.gguf', (b) => b.write('GGML', 0, 'latin1'));
    const err = await expectGgufError(readGgufHeader(magic), 'bad_magic', magic);
    expect(err.message).toContain('474d4c');
    const empty = await file('empty.gguf', Buffer.alloc(0));
    await expectGgufError(readGgufHeader(empty), 'bad_magic', empty);
    const text = await file('text.gguf', Buffer.from('{"not": "a model"}'));
    await expectGgufError(readGgufHeader(text), 'bad_magic', text);
  });

  it('rejects unsupported versions', async () => {
    for (const version of [1, 4, 0x03000000]) {
      const p = await variant(`version-${version}.gguf`, (b) => b.writeUInt32LE(version, 4));
      await expectGgufError(readGgufHeader(p), 'bad_version', p);
    }
  });

  it('reports a file cut inside the header as truncated', async () => {
    // Cut in the counts, in the first key's length, inside the token array, inside the tensor infos.
    const infosStart = smallHeader.dataOffset - 40;
    for (const cut of [6, 20, 28, 300, infosStart]) {
      const p = await file(`cut-${cut}.gguf`, small.subarray(0, cut));
      await expectGgufError(readGgufHeader(p), 'truncated', p);
    }
  });

  it('reports a file cut inside the tensor data as truncated', async () => {
    // "a" is 128 bytes of F16, then "b" 64 bytes of F32: cut inside "b".
    const p = await file('cut-data.gguf', small.subarray(0, smallHeader.dataOffset + 150));
    const err = await expectGgufError(readGgufHeader(p), 'truncated', p);
    expect(err.message).toContain('tensor "b"');
  });

  it('reports a cut real model as truncated (header and tensor data)', async () => {
    const model = await fsp.readFile(TINY_SPM);
    const header = await readGgufHeader(TINY_SPM);
    for (const cut of [100_000, header.dataOffset + 1_000_000, model.length - 1]) {
      const p = await file(`tiny-cut-${cut}.gguf`, model.subarray(0, cut));
      await expectGgufError(readGgufHeader(p), 'truncated', p);
    }
  });

  it('rejects absurd counts and lengths as corrupt without allocating them', async () => {
    const cases: [string, (b: Buffer) => unknown, RegExp][] = [
      ['kv-count', (b) => b.writeBigUInt64LE(1n << 40n, 16), /metadata key\/value count/],
      ['tensor-count', (b) => b.writeBigUInt64LE(0xffffffffffffffffn, 8), /tensor count/],
      ['key-length', (b) => b.writeBigUInt64LE(0xffffffffffffn, 24), /length of metadata key #0/],
      // First value: "general.architecture" (20 bytes) at 24, type at 52, string length at 56.
      ['string-length', (b) => b.writeBigUInt64LE(1n << 50n, 56), /length of metadata "general.architecture"/],
      ['value-type', (b) => b.writeUInt32LE(77, 52), /unknown value type 77/],
      ['bool-byte', (b) => { b.writeUInt32LE(7, 52); b.writeUInt8(9, 56); }, /bool/],
    ];
    for (const [name, patch, message] of cases) {
      const p = await variant(`corrupt-${name}.gguf`, patch);
      const err = await expectGgufError(readGgufHeader(p), 'corrupt', p);
      expect(err.message).toMatch(message);
    }
  });

  it('rejects corrupt tensor infos', async () => {
    // The last tensor info, of "b": name length (8) + "b" + n_dims (4) + dim (8) + type (4) + offset (8).
    const bInfo = small.indexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x62]));
    const bDims = bInfo + 9;
    const bType = bDims + 4 + 8;
    const bOffset = bType + 4;
    const cases: [string, (b: Buffer) => unknown, RegExp][] = [
      ['ggml-type', (b) => b.writeUInt32LE(4, bType), /unknown or removed ggml type 4/],
      ['offset', (b) => b.writeBigUInt64LE(64n, bOffset), /offset 64, expected 128/],
      ['n-dims', (b) => b.writeUInt32LE(9, bDims), /9 dimensions/],
      ['block-size', (b) => b.writeUInt32LE(12, bType), /block size 256/],
      ['duplicate-name', (b) => b.write('a', bInfo + 8, 'latin1'), /duplicate tensor name "a"/],
    ];
    for (const [name, patch, message] of cases) {
      const p = await variant(`corrupt-tensor-${name}.gguf`, patch);
      const err = await expectGgufError(readGgufHeader(p), 'corrupt', p);
      expect(err.message).toMatch(message);
    }
  });

  it('lets fs errors through unchanged', async () => {
    await expect(readGgufHeader(path.join(tmp, 'missing.gguf'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
