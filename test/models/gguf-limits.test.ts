/**
 * The GGUF reader against hostile headers (issue 12, item 17): a memory cap on decoded metadata,
 * numeric arrays as typed arrays, every tensor dimension checked, a cancellable parse, and the
 * header cache that parses a file once while it is unchanged.
 */
import { execFileSync } from 'child_process';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GgufHeaderCache } from '../../main/gguf/cache';
import { bufferSource, parseGgufHeader, readGgufHeader, type GgufByteSource } from '../../main/gguf/read';
import { GGUF_LIMITS, GgufError, GgufType } from '../../main/gguf/types';
import { TINY_BPE, TINY_SPM } from '../helpers/models';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-limits-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

// ---- a raw GGUF builder: writes what the GgufWriter refuses to ---------------------------------

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: bigint | number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);

interface RawTensor { name: string; dims: bigint[]; type: number; offset: bigint }

/** A GGUF v3 file: `kvs` are pre-encoded key/value entries; `dataBytes` of zeros follow the aligned infos. */
function rawGguf(kvs: Buffer[], tensors: RawTensor[] = [], dataBytes = 0): Buffer {
  const parts = [u32(0x46554747), u32(3), u64(tensors.length), u64(kvs.length), ...kvs];
  for (const t of tensors) parts.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(t.offset));
  const head = Buffer.concat(parts);
  const pad = tensors.length ? (32 - (head.length % 32)) % 32 : 0;
  return Buffer.concat([head, Buffer.alloc(pad + dataBytes)]);
}

const kvArch = Buffer.concat([str('general.architecture'), u32(GgufType.STRING), str('llama')]);

/** A key holding an array of `n` items of `itemType`, each `itemBytes` of zeros. */
function kvArray(key: string, itemType: number, n: number, itemBytes: number): Buffer {
  return Buffer.concat([str(key), u32(GgufType.ARRAY), u32(itemType), u64(n), Buffer.alloc(n * itemBytes)]);
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

async function ggufError(bytes: Buffer, code: GgufError['code']): Promise<GgufError> {
  const e = await errorOf(parseGgufHeader(bufferSource(bytes), 'mem.gguf'));
  expect(e).toBeInstanceOf(GgufError);
  expect((e as GgufError).code).toBe(code);
  return e as GgufError;
}

describe('metadata memory cap', () => {
  const MiB = 1024 * 1024;

  it('refuses metadata that would decode past the cap, before allocating it', async () => {
    expect(GGUF_LIMITS.maxMetadataBytes).toBe(64 * MiB);
    // 1.5 M empty strings: a 12 MB file, but 1.5 M JS strings (≥ 48 bytes each counted)
    const strings = await ggufError(rawGguf([kvArch, kvArray('x.strings', GgufType.STRING, 1_500_000, 8)]), 'too_large');
    expect(strings.message).toMatch(/more than 64 MiB of memory.*x\.strings/);
    // 9 M bools: 9 MB in the file, a JS array of 8 bytes per item
    await ggufError(rawGguf([kvArch, kvArray('x.bools', GgufType.BOOL, 9_000_000, 1)]), 'too_large');
    // a 66 MiB byte array: counted at 1 byte per item, still past the cap
    await ggufError(rawGguf([kvArch, kvArray('x.bytes', GgufType.UINT8, 66 * MiB, 1)]), 'too_large');
  });

  it('reads numeric arrays into typed arrays, counted at their element size', async () => {
    const h = await parseGgufHeader(bufferSource(rawGguf([kvArch, kvArray('x.bytes', GgufType.UINT8, 60 * MiB, 1)])), 'mem.gguf');
    const v = h.metadata.get('x.bytes')!;
    expect(v.type === 'array' && v.value).toBeInstanceOf(Uint8Array);
    expect((v.value as Uint8Array).length).toBe(60 * MiB);
    expect(h.metadataBytes).toBeGreaterThanOrEqual(60 * MiB);
    expect(h.metadataBytes).toBeLessThan(61 * MiB);
  });

  it('real tokenizers stay far below the cap', async () => {
    const bpe = await readGgufHeader(TINY_BPE); // Llama 3: 128,256 tokens and 280,147 merges
    const spm = await readGgufHeader(TINY_SPM);
    const tokenTypes = bpe.metadata.get('tokenizer.ggml.token_type')!;
    expect(tokenTypes.type === 'array' && tokenTypes.value).toBeInstanceOf(Int32Array);
    console.log(`gguf metadata counted: llama-bpe ${(bpe.metadataBytes / MiB).toFixed(1)} MiB, llama-spm ${(spm.metadataBytes / MiB).toFixed(1)} MiB (cap ${GGUF_LIMITS.maxMetadataBytes / MiB} MiB)`);
    expect(bpe.metadataBytes).toBeLessThan(GGUF_LIMITS.maxMetadataBytes / 2);
  });
});

describe('key and tensor counts', () => {
  it("refuses more keys or tensors than ggml reads in reasonable time (it checks each name against every one before it)", async () => {
    const kv = (i: number) => Buffer.concat([str(`k.${i}`), u32(GgufType.UINT32), u32(i)]);
    const keys = Array.from({ length: GGUF_LIMITS.maxKvCount }, (_, i) => kv(i));
    // at the bound it reads; one more is refused by its count, before anything else is read
    expect((await parseGgufHeader(bufferSource(rawGguf([kvArch, ...keys.slice(1)])), 'mem.gguf')).metadata.size).toBe(GGUF_LIMITS.maxKvCount);
    expect((await ggufError(rawGguf([kvArch, ...keys]), 'corrupt')).message).toMatch(/metadata key\/value count is 16385, more than the limit of 16384/);
    const tensors = Array.from({ length: GGUF_LIMITS.maxTensorCount + 1 }, (_, i) => ({ name: `t.${i}`, dims: [1n], type: 0, offset: BigInt(i * 32) }));
    expect((await ggufError(rawGguf([kvArch], tensors, tensors.length * 32), 'corrupt')).message).toMatch(/tensor count is 32769, more than the limit of 32768/);
  });
});

describe('tensor dimensions', () => {
  const F32 = 0;
  it('refuses a zero dimension, even when the other dimensions would overflow', async () => {
    const e = await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [0n, 1n << 62n, 1n << 62n], type: F32, offset: 0n }]), 'corrupt');
    expect(e.message).toMatch(/tensor "w" has a zero dimension/);
    await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [4n, 0n], type: F32, offset: 0n }], 64), 'corrupt');
  });

  it('refuses dimensions whose product overflows, or one dimension past 2^53', async () => {
    const big = await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [1n << 60n], type: F32, offset: 0n }]), 'corrupt');
    expect(big.message).toMatch(/absurd shape/);
    const prod = await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [1n << 30n, 1n << 30n], type: F32, offset: 0n }]), 'corrupt');
    expect(prod.message).toMatch(/too many elements/);
  });

  it('refuses data offsets and sizes beyond the file', async () => {
    const off = await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [8n], type: F32, offset: 1n << 40n }], 32), 'corrupt');
    expect(off.message).toMatch(/beyond the end of the file/);
    // 2^40 F32 elements = 4 TiB of data in a tiny file
    const size = await ggufError(rawGguf([kvArch], [{ name: 'w', dims: [1n << 20n, 1n << 20n], type: F32, offset: 0n }], 32), 'truncated');
    expect(size.message).toMatch(/needs 4398046511104 bytes/);
  });

  it('refuses tensor names ggml would refuse (64 bytes or more)', async () => {
    const e = await ggufError(rawGguf([kvArch], [{ name: 'n'.repeat(64), dims: [8n], type: F32, offset: 0n }], 32), 'corrupt');
    expect(e.message).toMatch(/at most 63/);
  });
});

describe('cancelling a parse', () => {
  it('stops between chunks when the signal aborts', async () => {
    const bytes = await fsp.readFile(TINY_BPE);
    const abort = new AbortController();
    let reads = 0;
    const src = bufferSource(bytes);
    const counting: GgufByteSource = {
      size: src.size,
      read: async (...args) => {
        reads++;
        if (reads === 2) abort.abort();
        return src.read(...args);
      },
    };
    const e = await errorOf(parseGgufHeader(counting, 'bpe.gguf', { signal: abort.signal }));
    expect((e as Error).name).toBe('AbortError');
    expect(reads).toBe(2); // the whole header takes several 1 MiB chunks
    const full = { n: 0 };
    await parseGgufHeader({ size: src.size, read: (...a) => { full.n++; return src.read(...a); } }, 'bpe.gguf');
    expect(full.n).toBeGreaterThan(2);
    // already aborted: nothing is read
    const before = reads;
    await expect(readGgufHeader(TINY_BPE, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(reads).toBe(before);
  });
});

describe('header cache', () => {
  it('parses a file once per (path, size, mtime), again when it changes, and keeps errors', async () => {
    const file = path.join(tmp, 'cached.gguf');
    await fsp.copyFile(TINY_SPM, file);
    const cache = new GgufHeaderCache();
    const a = await cache.read(file);
    const b = await cache.read(file);
    expect(b).toBe(a);
    expect(cache.parses).toBe(1);
    const later = new Date(Date.now() + 5000);
    await fsp.utimes(file, later, later);
    await cache.read(file);
    expect(cache.parses).toBe(2);
    expect(cache.size).toBe(1); // the older version's entry went

    const bad = path.join(tmp, 'bad.gguf');
    await fsp.writeFile(bad, 'not a model');
    for (let i = 0; i < 3; i++) await expect(cache.read(bad)).rejects.toMatchObject({ code: 'bad_magic' });
    expect(cache.parses).toBe(3);
    await expect(cache.read(path.join(tmp, 'missing.gguf'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('one parse for many concurrent reads of one file; a reader that withdraws fails no other; a FIFO is refused, not waited on', async () => {
    const file = path.join(tmp, 'concurrent.gguf');
    await fsp.copyFile(TINY_SPM, file);
    const cache = new GgufHeaderCache();
    const all = await Promise.all(Array.from({ length: 16 }, () => cache.read(file)));
    expect(cache.parses).toBe(1);
    expect(new Set(all).size).toBe(1);
    // a reader that withdraws does not fail the others that joined its parse
    const other = path.join(tmp, 'concurrent-2.gguf');
    await fsp.copyFile(TINY_SPM, other);
    const ac = new AbortController();
    const first = cache.read(other, { signal: ac.signal });
    const second = cache.read(other);
    ac.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect((await second).dataOffset).toBe(all[0].dataOffset);
    if (process.platform !== 'win32') {
      const fifo = path.join(tmp, 'fifo.gguf');
      execFileSync('mkfifo', [fifo]);
      await expect(cache.read(fifo)).rejects.toMatchObject({ code: 'corrupt' });
    }
  });

  it('is bounded in entries and in metadata bytes', async () => {
    const cache = new GgufHeaderCache({ maxEntries: 2, maxBytes: 1024 * 1024 * 1024 });
    for (let i = 0; i < 4; i++) {
      const f = path.join(tmp, `lru-${i}.gguf`);
      await fsp.copyFile(TINY_SPM, f);
      await cache.read(f);
    }
    expect(cache.size).toBe(2);
    const tiny = new GgufHeaderCache({ maxEntries: 16, maxBytes: 1000 });
    await tiny.read(TINY_SPM); // its metadata is far over 1000 bytes: not kept
    expect(tiny.size).toBe(0);
  });
});
