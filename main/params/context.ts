/**
 * The context family (llama_context_params: the KV cache, batches, threads), and the combinations
 * llama.cpp asserts on. Parsed on the C++ side by parseContext in native/src/params.cpp (which applies
 * the same rules again, with the model's own limits: native/src/limits.cpp).
 */
import { boolean, choice, integer, Rule } from './field';

export const CACHE_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1'] as const;
export type CacheType = (typeof CACHE_TYPES)[number];
/** Cache types that are quantized: a V cache of one of these needs flash attention. */
export const QUANTIZED_CACHE_TYPES: ReadonlySet<string> = new Set<CacheType>(['q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1']);

/** The context a load gets when none is asked for: this many tokens, or the model's trained context if shorter. */
export const DEFAULT_CONTEXT_SIZE = 4096;
/** llama.cpp creates every context in whole multiples of this many tokens, rounding a request up (llama-context.cpp). */
export const CONTEXT_STEP = 256;
/** The largest context a load may ask for (2^24 tokens); also bounds the "last n tokens" windows of sampling. */
export const MAX_CONTEXT_SIZE = 1 << 24;

/** The context a load of a model trained on `trained` tokens gets by default (an unknown 0 counts as long enough). */
export function defaultContextSize(trained: number): number {
  return Math.min(DEFAULT_CONTEXT_SIZE, trained || DEFAULT_CONTEXT_SIZE);
}

/** The context llama.cpp really creates for a requested size: rounded up to CONTEXT_STEP (0, the trained context, stays 0). */
export function contextSizeUsed(requested: number): number {
  return Math.ceil(requested / CONTEXT_STEP) * CONTEXT_STEP;
}

/** A context a user saves is at least this long; the engine takes any size (0: the model's trained context). */
export const MIN_CONTEXT_SETTING = CONTEXT_STEP;

export const CONTEXT_SETTINGS = {
  contextSize: integer({
    label: 'Context length',
    help: 'Tokens the conversation can hold.',
    unit: 'tokens',
    group: 'Context',
    min: 0,
    settingMin: MIN_CONTEXT_SETTING,
    max: MAX_CONTEXT_SIZE,
    step: CONTEXT_STEP,
  }),
  cacheTypeK: choice(CACHE_TYPES, { label: 'K cache type', help: 'How the attention keys are stored.', group: 'Context', default: 'f16' }),
  cacheTypeV: choice(CACHE_TYPES, { label: 'V cache type', help: 'Quantized types need flash attention.', group: 'Context', default: 'f16' }),
  flashAttention: choice(['auto', 'on', 'off'] as const, { label: 'Flash attention', help: 'Fused attention kernels.', group: 'Context', labels: { auto: 'Auto', on: 'On', off: 'Off' }, default: 'auto' }),
  threads: integer({ label: 'CPU threads', help: 'Threads for generation.', group: 'CPU and batches', min: 1, max: 1024 }),
  batchSize: integer({ label: 'Batch size', help: 'Most tokens one decode step holds (prompt chunks and generating sequences together).', unit: 'tokens', group: 'CPU and batches', min: 1, max: 1 << 20, default: 2048 }),
  ubatchSize: integer({ label: 'Micro-batch size', help: 'Tokens per compute pass; at most the batch.', unit: 'tokens', group: 'CPU and batches', min: 1, max: 1 << 20, default: 512 }),
  // llama.cpp's own default is on; off, a model with sliding-window layers (Gemma, gpt-oss) keeps only
  // their window in those layers' cache
  swaFull: boolean({
    label: 'Full sliding-window cache',
    help: 'For models with sliding-window attention (Gemma, gpt-oss): keep the whole context in those layers too. More memory; an edited earlier message then reuses more of the cache.',
    group: 'Context',
    default: false,
  }),
};

export const CONTEXT_ENGINE_ONLY = {
  threadsBatch: integer({ label: 'Batch threads', help: 'Threads for prompt processing (default: the CPU threads).', min: 1, max: 1024 }),
  parallel: integer({ label: 'Parallel sequences', help: 'Sequences generating at once, sharing one KV cache.', min: 1, max: 64, default: 1 }),
  embeddings: boolean({ label: 'Embeddings', help: 'A context for embeddings (pooled vectors) instead of generation.', default: false }),
};

export const CONTEXT_FIELDS = { ...CONTEXT_SETTINGS, ...CONTEXT_ENGINE_ONLY };

type ContextValues = { ubatchSize?: number; batchSize?: number; parallel?: number; contextSize?: number; cacheTypeV?: string; flashAttention?: string };

/** The combinations llama.cpp would assert on, refused before it sees them. */
export const CONTEXT_RULES: readonly Rule<ContextValues>[] = [
  {
    path: 'ubatchSize',
    reads: ['ubatchSize', 'batchSize'],
    ok: (p) => (p.ubatchSize ?? 0) <= (p.batchSize ?? Infinity),
    message: 'ubatchSize must not exceed batchSize',
    hint: 'The micro-batch cannot be larger than the batch.',
  },
  // every sequence may need a place in one batch, and llama.cpp caps the batch at the context
  // (the addon checks again against the model's trained context when contextSize is 0 or left out)
  {
    path: 'parallel',
    reads: ['parallel', 'batchSize'],
    ok: (p) => (p.parallel ?? 1) <= Math.min(p.batchSize ?? Infinity, p.contextSize || Infinity),
    message: 'parallel must not exceed batchSize or contextSize (every sequence may need a place in one batch)',
    hint: 'Parallel sequences cannot outnumber the batch or the context.',
  },
  {
    path: 'cacheTypeV',
    reads: ['cacheTypeV', 'flashAttention'],
    ok: (p) => !QUANTIZED_CACHE_TYPES.has(p.cacheTypeV ?? '') || p.flashAttention !== 'off',
    message: 'a quantized V cache needs flash attention (auto or on)',
    hint: 'A quantized V cache needs flash attention (auto or on).',
  },
];
