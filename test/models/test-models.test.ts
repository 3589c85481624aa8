/**
 * The test-model writer (scripts/make-test-model.ts and its CLI): the models it writes, read back with
 * the GGUF reader; determinism; its options.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { ggufNumber, ggufString, readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { gguf } from '../../main/gguf/types';
import { f16ToF32 } from '../../main/gguf/write';
import {
  DEFAULT_CHAT_TEMPLATE, TEST_MODEL_HPARAMS, resolveVocabFile, testModelTensors, writeTestModel, type TestModelHparams,
} from '../../scripts/make-test-model';
import { REPO_ROOT, TEST_MODEL_SEED, TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'hearth-test-models-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await fsp.readFile(file)).digest('hex');
}

describe('test models', () => {
  it('TINY_SPM has the llama hyperparameters, the copied tokenizer and the expected tensors', async () => {
    const h = await readGgufHeader(TINY_SPM);
    const hp = TEST_MODEL_HPARAMS.tiny;
    const num = (key: string): number | undefined => ggufNumber(h, key);
    expect(ggufString(h, 'general.architecture')).toBe('llama');
    expect(ggufString(h, 'general.name')).toBe('hearth-test-tiny-llama-spm');
    expect(num('general.file_type')).toBe(1);
    expect(num('llama.context_length')).toBe(hp.contextLength);
    expect(num('llama.embedding_length')).toBe(64);
    expect(num('llama.block_count')).toBe(2);
    expect(num('llama.feed_forward_length')).toBe(128);
    expect(num('llama.attention.head_count')).toBe(2);
    expect(num('llama.attention.head_count_kv')).toBe(1);
    expect(num('llama.rope.dimension_count')).toBe(32);
    expect(num('llama.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    expect(num('llama.vocab_size')).toBe(32000);
    expect(h.metadata.has('llama.pooling_type')).toBe(false);
    expect(ggufString(h, 'tokenizer.chat_template')).toBe(DEFAULT_CHAT_TEMPLATE);

    // Every tokenizer.* entry of the vocab file is copied verbatim.
    const vocab = await readGgufHeader(resolveVocabFile('llama-spm'));
    const tokenizerKeys = [...vocab.metadata.keys()].filter((k) => k.startsWith('tokenizer.'));
    expect(tokenizerKeys).toEqual(expect.arrayContaining(['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']));
    for (const key of tokenizerKeys) expect(h.metadata.get(key)).toEqual(vocab.metadata.get(key));

    const shapes = Object.fromEntries(h.tensors.map((t) => [t.name, [t.dims, t.typeName]]));
    expect(shapes['token_embd.weight']).toEqual([[64, 32000], 'F16']);
    expect(shapes['output_norm.weight']).toEqual([[64], 'F32']);
    expect(shapes['output.weight']).toEqual([[64, 32000], 'F16']); // TINY_SPM is untied (varied greedy output)
    expect(shapes['blk.1.attn_q.weight']).toEqual([[64, 64], 'F16']);
    expect(shapes['blk.1.attn_k.weight']).toEqual([[64, 32], 'F16']);
    expect(shapes['blk.1.attn_v.weight']).toEqual([[64, 32], 'F16']);
    expect(shapes['blk.1.attn_output.weight']).toEqual([[64, 64], 'F16']);
    expect(shapes['blk.1.ffn_gate.weight']).toEqual([[64, 128], 'F16']);
    expect(shapes['blk.1.ffn_up.weight']).toEqual([[64, 128], 'F16']);
    expect(shapes['blk.1.ffn_down.weight']).toEqual([[128, 64], 'F16']);
    expect(shapes['blk.0.attn_norm.weight']).toEqual([[64], 'F32']);
    expect(shapes['blk.0.ffn_norm.weight']).toEqual([[64], 'F32']);
    expect(h.tensors).toHaveLength(3 + 2 * 9); // token_embd, output_norm, output + 9 per layer

    // Norms are 1.0; matrices are small, zero-centred noise.
    const norm = await readGgufTensorBytes(h, 'blk.0.attn_norm.weight');
    expect([...new Float32Array(norm.buffer, norm.byteOffset, 64)]).toEqual(new Array(64).fill(1));
    const embdBytes = await readGgufTensorBytes(h, 'token_embd.weight');
    const embd = new Uint16Array(embdBytes.buffer, embdBytes.byteOffset, embdBytes.length / 2);
    let sum = 0;
    let sumSq = 0;
    for (const x of embd) { const v = f16ToF32(x); sum += v; sumSq += v * v; }
    const mean = sum / embd.length;
    const std = Math.sqrt(sumSq / embd.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
  });

  it('TINY_BPE carries the Llama 3 BPE tokenizer', async () => {
    const h = await readGgufHeader(TINY_BPE);
    expect(ggufString(h, 'tokenizer.ggml.model')).toBe('gpt2');
    expect(ggufString(h, 'tokenizer.ggml.pre')).toBe('llama-bpe');
    expect(ggufNumber(h, 'llama.vocab_size')).toBe(128256);
    const merges = h.metadata.get('tokenizer.ggml.merges');
    expect(merges?.type === 'array' && merges.value.length).toBe(280147);
    expect(h.tensors.find((t) => t.name === 'token_embd.weight')?.dims).toEqual([64, 128256]);
  });

  it('TINY_EMBED declares mean pooling', async () => {
    const h = await readGgufHeader(TINY_EMBED);
    expect(h.metadata.get('llama.pooling_type')).toEqual(gguf.u32(1));
    expect(ggufString(h, 'general.name')).toBe('hearth-test-tiny-llama-spm-mean');
  });

  it('is deterministic: same seed and options give a byte-identical file', async () => {
    const a = path.join(tmp, 'det-a.gguf');
    const b = path.join(tmp, 'det-b.gguf');
    const c = path.join(tmp, 'det-c.gguf');
    const ra = await writeTestModel({ out: a, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, untied: true });
    await writeTestModel({ out: b, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, untied: true });
    await writeTestModel({ out: c, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED + 1, untied: true });
    expect(await sha256(a)).toBe(await sha256(b));
    expect(await sha256(a)).toBe(await sha256(TINY_SPM));
    expect(await sha256(c)).not.toBe(await sha256(a));
    expect(ra.parameters).toBe(2_122_048 + 64 * 32000);
    expect(ra.bytes).toBe((await fsp.stat(a)).size);
  });

  it('the 1b size has Llama 3.2 1B\'s layers: its parameter count less the embeddings, and its tensor shapes', () => {
    // meta-llama/Llama-3.2-1B: 1,235,814,400 parameters with a 128,256-token vocab and tied embeddings
    const count = (hp: TestModelHparams, vocab: number) => testModelTensors(hp, vocab).reduce((n, t) => n + t.shape[0] * (t.shape[1] ?? 1), 0);
    expect(count(TEST_MODEL_HPARAMS['1b'], 128_256)).toBe(1_235_814_400);
    expect(count(TEST_MODEL_HPARAMS['1b'], 32_000)).toBe(1_235_814_400 - (128_256 - 32_000) * 2048);
    const shapes = Object.fromEntries(testModelTensors(TEST_MODEL_HPARAMS['1b'], 32_000).map((t) => [t.name, t.shape]));
    expect(shapes['blk.15.attn_k.weight']).toEqual([2048, 512]); // 8 KV heads of 64
    expect(shapes['blk.15.ffn_down.weight']).toEqual([8192, 2048]);
    expect(shapes['output.weight']).toBeUndefined(); // tied
    // the tiny size's list counts what writing it reports (see the determinism test)
    expect(count({ ...TEST_MODEL_HPARAMS.tiny, tieEmbeddings: false }, 32_000)).toBe(2_122_048 + 64 * 32000);
  });

  it('the fast size is a small model as the bench measures it: under 100M parameters with the 32k vocab, untied, 640 wide, 10 layers', () => {
    const count = (hp: TestModelHparams, vocab: number) => testModelTensors(hp, vocab).reduce((n, t) => n + t.shape[0] * (t.shape[1] ?? 1), 0);
    expect(count(TEST_MODEL_HPARAMS.fast, 32_000)).toBe(86_848_640);
    const shapes = Object.fromEntries(testModelTensors(TEST_MODEL_HPARAMS.fast, 32_000).map((t) => [t.name, t.shape]));
    expect(shapes['blk.9.attn_k.weight']).toEqual([640, 640]);
    expect(shapes['blk.10.attn_k.weight']).toBeUndefined();
    expect(shapes['blk.9.ffn_down.weight']).toEqual([1536, 640]);
    expect(shapes['output.weight']).toEqual([640, 32_000]);
  });

  it('residualScale writes the layers\' output projections that much smaller and every other tensor as before; blockCount keeps the first layers', async () => {
    const plain = path.join(tmp, 'plain.gguf');
    const quiet = path.join(tmp, 'quiet.gguf');
    const p = await writeTestModel({ out: plain, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED });
    const r = await writeTestModel({ out: quiet, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, residualScale: 1e-3 });
    expect(r.parameters).toBe(p.parameters);
    const [hp, hq] = [await readGgufHeader(plain), await readGgufHeader(quiet)];
    expect(ggufString(hq, 'general.name')).toMatch(/-rs0\.001$/);
    const rms = (b: Buffer) => {
      let sum = 0;
      for (let i = 0; i < b.length; i += 2) sum += f16ToF32(b.readUInt16LE(i)) ** 2;
      return Math.sqrt(sum / (b.length / 2));
    };
    for (const name of ['blk.0.attn_output.weight', 'blk.1.ffn_down.weight']) {
      const ratio = rms(await readGgufTensorBytes(hq, name)) / rms(await readGgufTensorBytes(hp, name));
      expect(ratio).toBeGreaterThan(0.99e-3);
      expect(ratio).toBeLessThan(1.01e-3);
    }
    for (const name of ['token_embd.weight', 'blk.0.attn_q.weight', 'blk.1.ffn_up.weight']) {
      expect((await readGgufTensorBytes(hq, name)).equals(await readGgufTensorBytes(hp, name))).toBe(true);
    }
    for (const residualScale of [0, 5e-5, 2, NaN]) await expect(writeTestModel({ out: quiet, size: 'tiny', residualScale })).rejects.toThrow();
    await expect(writeTestModel({ out: quiet, size: 'tiny', arch: 'gemma3', residualScale: 0.5 })).rejects.toThrow(/llama architecture only/);
    // fewer layers than the size's: the size's first layers, the same weights
    const l1 = path.join(tmp, 'l1.gguf');
    await writeTestModel({ out: l1, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, blockCount: 1 });
    const h1 = await readGgufHeader(l1);
    expect(ggufNumber(h1, 'llama.block_count')).toBe(1);
    expect(h1.tensors.some((t) => t.name.startsWith('blk.1.'))).toBe(false);
    expect((await readGgufTensorBytes(h1, 'blk.0.attn_q.weight')).equals(await readGgufTensorBytes(hp, 'blk.0.attn_q.weight'))).toBe(true);
    await expect(writeTestModel({ out: l1, size: 'tiny', blockCount: 3 })).rejects.toThrow(/tiny size's 2 layers/);
  });

  it('rejects invalid options', async () => {
    await expect(writeTestModel({ out: path.join(tmp, 'x.gguf'), size: 'huge' as 'tiny' })).rejects.toThrow();
    await expect(writeTestModel({ out: path.join(tmp, 'x.gguf'), size: 'tiny', seed: -1 })).rejects.toThrow();
  });

  it('has a CLI that prints one JSON line', async () => {
    const out = path.join(tmp, 'cli.gguf');
    const { stdout } = await promisify(execFile)(
      path.join(REPO_ROOT, 'scripts', 'make-test-model'),
      ['--size', 'tiny', '--vocab', 'llama-spm', '--seed', String(TEST_MODEL_SEED), '--untied', '--out', out],
      { cwd: REPO_ROOT },
    );
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!) as { path: string; parameters: number; bytes: number };
    expect(result).toMatchObject({ path: out, parameters: 2_122_048 + 64 * 32000, bytes: (await fsp.stat(out)).size });
    expect(await sha256(out)).toBe(await sha256(TINY_SPM));
  });
});
