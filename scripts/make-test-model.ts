/**
 * Deterministic test-model generator: writes a llama-architecture GGUF with seeded random weights
 * and a real tokenizer copied from one of llama.cpp's vocab-only GGUF files
 * (`build/llama.cpp/models/ggml-vocab-<name>.gguf`).
 *
 * The weights are noise, so the model's output is gibberish, but llama.cpp loads it, tokenizes,
 * evaluates, samples and embeds with it exactly as with a real model. Same options ⇒ byte-identical
 * file: every tensor has its own PRNG stream seeded from (seed, tensor name), and the values are
 * produced with integer and exactly-rounded float arithmetic only.
 *
 * CLI (see `scripts/make-test-model --help`):
 *   scripts/make-test-model --size tiny|fast|bench|1b [--vocab llama-spm] [--seed N] [--pooling mean] --out FILE
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { readGgufHeader } from '../main/gguf/read';
import type { GgufValue } from '../main/gguf/types';
import { GgufWriter } from '../main/gguf/write';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** llama.cpp vocab files whose tokenizers work with the llama architecture (checked by loading them). */
export const TEST_MODEL_VOCABS = ['llama-spm', 'llama-bpe', 'qwen2', 'phi-3', 'deepseek-llm', 'gpt-2'] as const;
export type TestModelVocab = (typeof TEST_MODEL_VOCABS)[number];

export const TEST_MODEL_SIZES = ['tiny', 'fast', 'bench', '1b'] as const;
export type TestModelSize = (typeof TEST_MODEL_SIZES)[number];

/** llama.cpp `enum llama_pooling_type` values written as `llama.pooling_type`. */
const POOLING_TYPE = { mean: 1, cls: 2, last: 3, rank: 4 } as const;
export type TestModelPooling = 'none' | keyof typeof POOLING_TYPE;

export const testModelOptionsSchema = z.object({
  /** Output file. */
  out: z.string().min(1),
  size: z.enum(TEST_MODEL_SIZES),
  vocab: z.enum(TEST_MODEL_VOCABS).default('llama-spm'),
  /** PRNG seed (uint32). */
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  /** Pooling for an embedding-model variant; 'none' writes no `llama.pooling_type`. 'rank' is a
   *  reranker's pooling (a score per sequence, not a vector). */
  pooling: z.enum(['none', 'mean', 'cls', 'last', 'rank']).default('none'),
  /** Write `llama.attention.causal = false`: bidirectional attention, as BERT-style embedders have. */
  nonCausal: z.boolean().default(false),
  /** Jinja chat template; defaults to {@link DEFAULT_CHAT_TEMPLATE}. */
  chatTemplate: z.string().min(1).optional(),
  /** `general.name`; defaults to a name derived from the options. */
  name: z.string().min(1).optional(),
  /** Write a separate `output.weight` even where the size ties it to the embeddings (tied tiny models
   *  decode greedily into a repetition of the last prompt token; untied ones give varied text). */
  untied: z.boolean().default(false),
  /**
   * The architecture: 'llama', or 'gemma3' (Gemma 3's layers: extra norms, and with `slidingWindow`
   * sliding-window attention in every layer but each `slidingWindowPattern`-th).
   */
  arch: z.enum(['llama', 'gemma3']).default('llama'),
  /** gemma3: the attention window of its sliding-window layers, in tokens (0: none). */
  slidingWindow: z.number().int().min(0).default(0),
  /** gemma3: every n-th layer attends to the whole context, the others to the window. */
  slidingWindowPattern: z.number().int().min(1).default(2),
  /** FIM special tokens: `tokenizer.ggml.fim_{pre,suf,mid}_token_id` set to these vocab entries (a code model's infill markers). */
  fimTokens: z.object({ pre: z.string().min(1), suf: z.string().min(1), mid: z.string().min(1) }).strict().optional(),
  /** Folder holding `ggml-vocab-<vocab>.gguf`; defaults to the llama.cpp checkout (see {@link resolveVocabFile}). */
  vocabDir: z.string().min(1).optional(),
  /** Experts per layer: a mixture-of-experts model as Mixtral is written (`llama.expert_count`, a router
   *  `ffn_gate_inp` and 3-D `ffn_{gate,up,down}_exps` per layer instead of the dense FFN); 0: dense. */
  experts: z.number().int().min(0).max(64).default(0),
  /** Experts each token is routed to (`llama.expert_used_count`), at most `experts`. */
  expertsUsed: z.number().int().min(1).max(64).default(2),
  /**
   * Scales the weights of each layer's output projections (`attn_output`, `ffn_down`, `ffn_down_exps`):
   * below 1 the layers write little into the residual stream. With tied embeddings such a model predicts
   * its input token again by a margin of ~√(embedding width) standard deviations, so a quantized copy of
   * it agrees with it token for token: a speculative-decoding pair with real acceptance on random weights.
   * At least 1e-4 (smaller F16 weights round to zero); llama only (gemma3's post-norms undo the scale).
   */
  residualScale: z.number().min(1e-4).max(1).default(1),
  /**
   * Fewer layers than the size has. Each tensor's weights come from its name and the seed, so they are the
   * size's first layers with its embeddings: a smaller model of the same family, a draft for it.
   */
  blockCount: z.number().int().min(1).optional(),
  /**
   * Tokens appended to the vocabulary (`<extra_N>`, normal tokens), whose output rows (untied) are ten
   * times louder, so greedy decoding picks them nearly always: a draft whose vocabulary is larger than
   * its target's, as llama.cpp's compatibility check allows (up to 128 more).
   */
  extraTokens: z.number().int().min(0).max(128).default(0),
}).strict()
  .refine((o) => o.experts === 0 || o.expertsUsed <= o.experts, { message: 'expertsUsed must not exceed experts', path: ['expertsUsed'] })
  .refine((o) => o.blockCount === undefined || o.blockCount <= TEST_MODEL_HPARAMS[o.size].blockCount, (o) => ({
    message: `must not exceed the ${o.size} size's ${TEST_MODEL_HPARAMS[o.size].blockCount} layers`,
    path: ['blockCount'],
  }))
  .refine((o) => o.residualScale === 1 || o.arch === 'llama', { message: "applies to the llama architecture only (gemma3's post-norms undo it)", path: ['residualScale'] });

export type TestModelOptions = z.input<typeof testModelOptionsSchema>;

/** Model shape of each size. */
export interface TestModelHparams {
  contextLength: number;
  embeddingLength: number;
  blockCount: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  rmsEps: number;
  ropeFreqBase: number;
  /** No `output.weight`: llama.cpp then reuses `token_embd.weight` as the output projection. */
  tieEmbeddings: boolean;
  /** Standard deviation of the random matrix weights (norm weights are 1.0). */
  weightStd: number;
}

export const TEST_MODEL_HPARAMS: Readonly<Record<TestModelSize, Readonly<TestModelHparams>>> = {
  // ~2M parameters + the embedding table; a few MB, generated in well under a second.
  tiny: {
    contextLength: 2048, embeddingLength: 64, blockCount: 2, feedForwardLength: 128,
    // head size 32: quantized KV caches (q8_0, q4_0: blocks of 32) need it
    headCount: 2, headCountKv: 1, rmsEps: 1e-5, ropeFreqBase: 10000, tieEmbeddings: true, weightStd: 0.02,
  },
  // ~87M parameters with the 32k llama-spm vocab (~175 MB in F16, ~93 MB in Q8_0): a small, fast model
  // on which the engine's own per-token and per-request costs show against llama.cpp's.
  fast: {
    contextLength: 4096, embeddingLength: 640, blockCount: 10, feedForwardLength: 1536,
    headCount: 10, headCountKv: 10, rmsEps: 1e-5, ropeFreqBase: 10000, tieEmbeddings: false, weightStd: 0.02,
  },
  // ~134M parameters with the 32k llama-spm vocab (~270 MB in F16): a realistic load for benchmarks.
  bench: {
    contextLength: 4096, embeddingLength: 768, blockCount: 12, feedForwardLength: 2048,
    headCount: 12, headCountKv: 12, rmsEps: 1e-5, ropeFreqBase: 10000, tieEmbeddings: false, weightStd: 0.02,
  },
  // Llama 3.2 1B's layers (2048 wide, 16 blocks, 32 heads sharing 8 KV heads, FFN 8192, tied output)
  // with the 32k vocab: ~1.04B parameters (~2.1 GB in F16). The bench model above spends an unusually
  // large share of each token's work on attention (it is narrow for its FFN and context); this one
  // has the proportions of the small chat models people run, for the conversation measures.
  '1b': {
    contextLength: 8192, embeddingLength: 2048, blockCount: 16, feedForwardLength: 8192,
    headCount: 32, headCountKv: 8, rmsEps: 1e-5, ropeFreqBase: 500000, tieEmbeddings: true, weightStd: 0.02,
  },
};

/** ChatML: renders system/user/assistant turns, then an open assistant turn when asked. */
export const DEFAULT_CHAT_TEMPLATE =
  "{%- for message in messages -%}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}" +
  "{{- '<|im_start|>assistant\\n' -}}" +
  "{%- endif -%}";

export interface TestModelResult {
  path: string;
  /** File size in bytes. */
  bytes: number;
  parameters: number;
  tensors: number;
  size: TestModelSize;
  vocab: TestModelVocab;
  nVocab: number;
  seed: number;
  pooling: TestModelPooling;
  /** Wall time of the generation, in milliseconds. */
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// Vocab files
// ---------------------------------------------------------------------------------------------

/** The repository root: the nearest folder above `start` with package.json and scripts/run-ts.js. */
export function findRepoRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'scripts', 'run-ts.js'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root above ${start}`);
    dir = parent;
  }
}

/**
 * Path of `ggml-vocab-<vocab>.gguf`. Looks in `vocabDir` when given; otherwise in the llama.cpp
 * checkout `build/llama.cpp/models/`, then in `.cache/llama-vocab/`, and as a last resort extracts
 * the file from node-llama-cpp's git bundle of llama.cpp into `.cache/llama-vocab/` (needs `git`).
 * `root` is the repository root those paths are relative to.
 */
export function resolveVocabFile(vocab: TestModelVocab, vocabDir?: string, root: string = findRepoRoot()): string {
  const file = `ggml-vocab-${vocab}.gguf`;
  if (vocabDir !== undefined) {
    const p = path.resolve(vocabDir, file);
    if (!fs.existsSync(p)) throw new Error(`vocab file ${p} not found`);
    return p;
  }
  const checkout = path.join(root, 'build', 'llama.cpp', 'models', file);
  if (fs.existsSync(checkout)) return checkout;
  const cacheDir = path.join(root, '.cache', 'llama-vocab');
  const cached = path.join(cacheDir, file);
  if (fs.existsSync(cached)) return cached;

  const bundle = path.join(root, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
  if (!fs.existsSync(bundle)) throw new Error(`vocab file ${file} not found: neither ${checkout} nor ${bundle} exists`);
  const gitDir = path.join(cacheDir, 'llama.cpp.git');
  if (!fs.existsSync(gitDir)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    execFileSync('git', ['clone', '--bare', '--quiet', bundle, gitDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const data = execFileSync('git', ['--git-dir', gitDir, 'show', `HEAD:models/${file}`], { maxBuffer: 1 << 30 });
  const tmp = `${cached}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, cached);
  return cached;
}

const stringValue = z.object({ type: z.literal('string'), value: z.string().min(1) });
const stringArrayValue = z.object({
  type: z.literal('array'),
  itemType: z.literal('string'),
  value: z.custom<string[]>((v) => Array.isArray(v) && v.length > 0, 'a non-empty array'),
});
const tokenIdValue = z.object({ type: z.literal('uint32'), value: z.number() });
/** The tokenizer metadata a vocab file must have for the model to be usable. */
const vocabMetadataSchema = z.object({
  'tokenizer.ggml.model': stringValue,
  'tokenizer.ggml.tokens': stringArrayValue,
  'tokenizer.ggml.bos_token_id': tokenIdValue.optional(),
  'tokenizer.ggml.eos_token_id': tokenIdValue.optional(),
});

/** Reads every `tokenizer.*` entry of a vocab file (in file order) and validates the essentials. */
export async function readTokenizerMetadata(vocabFile: string): Promise<{ entries: [string, GgufValue][]; nVocab: number }> {
  const header = await readGgufHeader(vocabFile);
  const entries = [...header.metadata].filter(([key]) => key.startsWith('tokenizer.'));
  const parsed = vocabMetadataSchema.safeParse(Object.fromEntries(entries));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${vocabFile}: unusable tokenizer metadata (${issue?.path.join('.')}: ${issue?.message})`);
  }
  const nVocab = parsed.data['tokenizer.ggml.tokens'].value.length;
  for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id'] as const) {
    const id = parsed.data[key]?.value;
    if (id !== undefined && id >= nVocab) throw new Error(`${vocabFile}: ${key} ${id} is out of range (${nVocab} tokens)`);
  }
  return { entries, nVocab };
}

// ---------------------------------------------------------------------------------------------
// Deterministic random weights
// ---------------------------------------------------------------------------------------------

/** 32-bit FNV-1a of a string's UTF-16 code units, mixed with `seed`. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** splitmix32: expands a 32-bit seed into the PRNG state (and a small seeded uint32 generator). */
export function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const CHUNK = 1 << 18;

/**
 * `n` approximately normal values with standard deviation `std`, in reused chunks: each value is
 * a centred sum of four 16-bit uniforms (Irwin–Hall) from a xoshiro128** stream, scaled — integer
 * maths plus one exactly rounded multiply, so identical on every platform.
 */
/** The values of `chunks`, those from index `from` on multiplied by `factor` (the chunks are changed in place). */
function* scaledFrom(chunks: Iterable<Float32Array>, from: number, factor: number): Generator<Float32Array> {
  let at = 0;
  for (const c of chunks) {
    for (let i = Math.max(0, from - at); i < c.length; i++) c[i] *= factor;
    at += c.length;
    yield c;
  }
}

/** The tokenizer entries with `n` normal tokens `<extra_N>` (score 0) appended to the vocabulary. */
function withExtraTokens(entries: [string, GgufValue][], n: number): [string, GgufValue][] {
  return entries.map(([key, v]): [string, GgufValue] => {
    if (v.type !== 'array') return [key, v];
    const extra = Array.from({ length: n }, (_, i) => i);
    if (key === 'tokenizer.ggml.tokens') return [key, { ...v, value: [...(v.value as string[]), ...extra.map((i) => `<extra_${i}>`)] } as GgufValue];
    if (key === 'tokenizer.ggml.scores') return [key, { ...v, value: Float32Array.from([...(v.value as ArrayLike<number> & Iterable<number>), ...extra.map(() => 0)]) } as GgufValue];
    if (key === 'tokenizer.ggml.token_type') return [key, { ...v, value: Int32Array.from([...(v.value as ArrayLike<number> & Iterable<number>), ...extra.map(() => 1)]) } as GgufValue];
    return [key, v];
  });
}

function* normalValues(n: number, std: number, seed: number): Generator<Float32Array> {
  const init = splitmix32(seed);
  // xoshiro128** state, kept in locals: this loop produces every weight of the model.
  let s0 = init(), s1 = init(), s2 = init(), s3 = init();
  // Each 16-bit uniform has variance ≈ 65536²/12, so the sum of four has std 65536/√3.
  const scale = (std * Math.sqrt(3)) / 65536;
  const buf = new Float32Array(Math.min(n, CHUNK));
  for (let done = 0; done < n;) {
    const len = Math.min(buf.length, n - done);
    for (let i = 0; i < len; i++) {
      let sum = 0;
      for (let k = 0; k < 2; k++) {
        // (a * small) | 0 is exactly Math.imul(a, small) for int32 a, and much faster under Jest,
        // whose sandbox makes each Math.imul call cost hundreds of nanoseconds.
        const x = (s1 * 5) | 0;
        const r = (((x << 7) | (x >>> 25)) * 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        sum += (r & 0xffff) + (r >>> 16);
      }
      buf[i] = (sum - 131070) * scale;
    }
    done += len;
    yield len === buf.length ? buf : buf.subarray(0, len);
  }
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

/** A tensor of a test model: a matrix of random F16 weights, or a norm vector of F32 ones. */
export interface TestModelTensor {
  name: string;
  /** ggml order: [ne0 = row length (input features), ne1 = rows (output features / tokens), ne2 = experts]. */
  shape: [number] | [number, number] | [number, number, number];
  type: 'F16' | 'F32';
}

/** The tensors of a model of shape `hp` with `nVocab` tokens (llama, or gemma3's extra norms; `experts` per layer: MoE), in file order. */
export function testModelTensors(hp: TestModelHparams, nVocab: number, arch: 'llama' | 'gemma3' = 'llama', experts = 0): TestModelTensor[] {
  const nEmbd = hp.embeddingLength;
  const nEmbdKv = (nEmbd / hp.headCount) * hp.headCountKv;
  const nFf = hp.feedForwardLength;
  const matrix = (name: string, ne0: number, ne1: number): TestModelTensor => ({ name, shape: [ne0, ne1], type: 'F16' });
  const norm = (name: string): TestModelTensor => ({ name, shape: [nEmbd], type: 'F32' });
  const tensors = [matrix('token_embd.weight', nEmbd, nVocab)];
  for (let i = 0; i < hp.blockCount; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      matrix(`blk.${i}.attn_q.weight`, nEmbd, nEmbd),
      matrix(`blk.${i}.attn_k.weight`, nEmbd, nEmbdKv),
      matrix(`blk.${i}.attn_v.weight`, nEmbd, nEmbdKv),
      matrix(`blk.${i}.attn_output.weight`, nEmbd, nEmbd),
      norm(`blk.${i}.ffn_norm.weight`),
    );
    if (arch === 'gemma3') {
      const headDim = nEmbd / hp.headCount;
      tensors.push(
        norm(`blk.${i}.post_attention_norm.weight`),
        { name: `blk.${i}.attn_k_norm.weight`, shape: [headDim], type: 'F32' },
        { name: `blk.${i}.attn_q_norm.weight`, shape: [headDim], type: 'F32' },
        norm(`blk.${i}.post_ffw_norm.weight`),
      );
    }
    if (experts === 0) {
      tensors.push(matrix(`blk.${i}.ffn_gate.weight`, nEmbd, nFf), matrix(`blk.${i}.ffn_up.weight`, nEmbd, nFf), matrix(`blk.${i}.ffn_down.weight`, nFf, nEmbd));
    } else {
      // Mixtral's layout: the router, then every expert's FFN stacked along ne2
      const stacked = (name: string, ne0: number, ne1: number): TestModelTensor => ({ name, shape: [ne0, ne1, experts], type: 'F16' });
      tensors.push(
        matrix(`blk.${i}.ffn_gate_inp.weight`, nEmbd, experts),
        stacked(`blk.${i}.ffn_gate_exps.weight`, nEmbd, nFf),
        stacked(`blk.${i}.ffn_up_exps.weight`, nEmbd, nFf),
        stacked(`blk.${i}.ffn_down_exps.weight`, nFf, nEmbd),
      );
    }
  }
  tensors.push(norm('output_norm.weight'));
  if (!hp.tieEmbeddings) tensors.push(matrix('output.weight', nEmbd, nVocab));
  return tensors;
}

/** The tensors whose output is added to the residual stream (scaled by `residualScale`). */
const WRITES_RESIDUAL = /\.(attn_output|ffn_down|ffn_down_exps)\.weight$/;

/** Writes a test model and returns what was written. Options are validated (zod). */
export async function writeTestModel(options: TestModelOptions): Promise<TestModelResult> {
  const started = performance.now();
  const opts = testModelOptionsSchema.parse(options);
  const hp = { ...TEST_MODEL_HPARAMS[opts.size], ...(opts.untied ? { tieEmbeddings: false } : {}), ...(opts.blockCount ? { blockCount: opts.blockCount } : {}) };
  const read = await readTokenizerMetadata(resolveVocabFile(opts.vocab, opts.vocabDir));
  const tokenizer = opts.extraTokens > 0 ? withExtraTokens(read.entries, opts.extraTokens) : read.entries;
  const nVocab = read.nVocab + opts.extraTokens;

  const nEmbd = hp.embeddingLength;
  const headDim = nEmbd / hp.headCount;
  const nFf = hp.feedForwardLength;

  const w = new GgufWriter();
  const a = opts.arch;
  w.setString('general.architecture', a);
  w.setString('general.name', opts.name ?? `hearth-test-${opts.size}-${opts.vocab}${a === 'llama' ? '' : `-${a}`}${opts.pooling === 'none' ? '' : `-${opts.pooling}`}${opts.nonCausal ? '-noncausal' : ''}${opts.experts ? `-${opts.experts}x` : ''}${opts.residualScale < 1 ? `-rs${opts.residualScale}` : ''}${opts.blockCount ? `-L${opts.blockCount}` : ''}`);
  w.setUint32('general.file_type', 1); // LLAMA_FTYPE_MOSTLY_F16
  w.setUint32(`${a}.context_length`, hp.contextLength);
  w.setUint32(`${a}.embedding_length`, nEmbd);
  w.setUint32(`${a}.block_count`, hp.blockCount);
  w.setUint32(`${a}.feed_forward_length`, nFf);
  w.setUint32(`${a}.attention.head_count`, hp.headCount);
  w.setUint32(`${a}.attention.head_count_kv`, hp.headCountKv);
  w.setUint32(`${a}.rope.dimension_count`, headDim);
  w.setFloat32(`${a}.rope.freq_base`, hp.ropeFreqBase);
  w.setFloat32(`${a}.attention.layer_norm_rms_epsilon`, hp.rmsEps);
  w.setUint32(`${a}.vocab_size`, nVocab);
  if (opts.experts > 0) {
    w.setUint32(`${a}.expert_count`, opts.experts);
    w.setUint32(`${a}.expert_used_count`, opts.expertsUsed);
  }
  if (opts.pooling !== 'none') w.setUint32(`${a}.pooling_type`, POOLING_TYPE[opts.pooling]);
  if (opts.nonCausal) w.setBool(`${a}.attention.causal`, false);
  if (a === 'gemma3' && opts.slidingWindow > 0) {
    w.setUint32('gemma3.attention.sliding_window', opts.slidingWindow);
    w.setUint32('gemma3.attention.sliding_window_pattern', opts.slidingWindowPattern);
  }
  for (const [key, value] of tokenizer) w.set(key, value);
  if (opts.fimTokens) {
    const tokens = tokenizer.find(([k]) => k === 'tokenizer.ggml.tokens')?.[1];
    const list = (tokens as { value?: unknown } | undefined)?.value;
    const idOf = (text: string): number => {
      const i = Array.isArray(list) ? list.indexOf(text) : -1;
      if (i < 0) throw new Error(`fimTokens: ${text} is not in the ${opts.vocab} vocab`);
      return i;
    };
    w.setUint32('tokenizer.ggml.fim_pre_token_id', idOf(opts.fimTokens.pre));
    w.setUint32('tokenizer.ggml.fim_suf_token_id', idOf(opts.fimTokens.suf));
    w.setUint32('tokenizer.ggml.fim_mid_token_id', idOf(opts.fimTokens.mid));
  }
  w.setString('tokenizer.chat_template', opts.chatTemplate ?? DEFAULT_CHAT_TEMPLATE);

  for (const t of testModelTensors(hp, nVocab, a, opts.experts)) {
    if (t.type === 'F16') {
      const seed = hash32(t.name, opts.seed);
      const n = t.shape.reduce((a, b) => a * b, 1);
      const std = hp.weightStd * (WRITES_RESIDUAL.test(t.name) ? opts.residualScale : 1);
      // the extra tokens' output rows (the last ones of output.weight), louder
      const loudFrom = t.name === 'output.weight' && opts.extraTokens > 0 ? (nVocab - opts.extraTokens) * nEmbd : n;
      w.addTensor({ name: t.name, shape: t.shape, type: 'F16', data: () => scaledFrom(normalValues(n, std, seed), loudFrom, 10) });
    } else {
      w.addTensor({ name: t.name, shape: t.shape, type: 'F32', data: new Float32Array(t.shape[0]).fill(1) });
    }
  }

  await fs.promises.mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
  const written = await w.write(opts.out);
  return {
    path: path.resolve(opts.out),
    bytes: written.bytes,
    parameters: written.parameterCount,
    tensors: written.tensorCount,
    size: opts.size,
    vocab: opts.vocab,
    nVocab,
    seed: opts.seed,
    pooling: opts.pooling,
    ms: Math.round(performance.now() - started),
  };
}
