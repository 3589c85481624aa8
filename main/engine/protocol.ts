/**
 * The typed protocol between EngineClient (main process) and the engine host process: the messages
 * (envelopes) and the shapes requests and results are made of. Every message crossing the process
 * boundary is validated with these zod schemas on arrival; each method's params, result and streamed
 * event are in methods.ts.
 */
import { z } from 'zod';
import { chatChars, chatTooLong, GrammarSafeSchema, imageCount, MAX_CHAT_CHARS, MAX_IMAGES, MemoryBreakdown, MessageContent, RequestOptions, Sampling, TokenLogprobs } from '../params';
import type { EngineErrorCode } from '../errors/catalogue';

export { CONTEXT_STEP, contextSizeUsed, DEFAULT_CONTEXT_SIZE, defaultContextSize, LoadParams, MAX_CONTEXT_SIZE, QUANTIZED_CACHE_TYPES, Sampling, TokenLogprobs } from '../params';
export type { LoadParamsInput } from '../params';
/** The devices and memory use the host reports: shapes shared with the contract (main/params/devices.ts). */
export { Device, DeviceMemory, MemoryBreakdown, MemoryUse } from '../params';

/**
 * A list of numbers (token ids, an embedding), checked in one plain pass: such results run to millions
 * of items, checked on main's thread, where z.array(z.number())'s per-item parse is many times slower.
 */
export function numberList(o: { integers?: boolean } = {}): z.ZodType<number[]> {
  const ok = o.integers ? Number.isInteger : (n: unknown) => typeof n === 'number';
  return z.custom<number[]>((v) => Array.isArray(v) && v.every((n) => ok(n)), { message: o.integers ? 'expected a list of integers' : 'expected a list of numbers' });
}

export const ChatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  /** text, or text and image parts (images need the model's projector: metadata `vision`) */
  content: MessageContent.nullable().default(''),
  reasoning_content: z.string().optional(),
  tool_calls: z
    .array(z.object({ id: z.string().optional(), type: z.literal('function').default('function'), function: z.object({ name: z.string(), arguments: z.string() }) }))
    .optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});
export type ChatMessage = z.input<typeof ChatMessage>;

export const Tool = z.object({
  type: z.literal('function'),
  // its parameters are a JSON schema llama.cpp builds the tool-call grammar from: the response format's bounds
  function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: GrammarSafeSchema.optional() }),
});

/** What every generation takes beside its input: sampling (main/params/sampling.ts) and the request family (main/params/chat.ts). */
const GenerateCommon = { sampling: Sampling.default({}), ...RequestOptions.shape };

export const ChatRequest = z
  .object({
    messages: z
      .array(ChatMessage)
      .min(1)
      .superRefine((msgs, ctx) => {
        const chars = chatChars(msgs);
        if (chars > MAX_CHAT_CHARS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: chatTooLong(chars) });
        const images = imageCount(msgs);
        if (images > MAX_IMAGES) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `the conversation has ${images} images; one request may carry at most ${MAX_IMAGES}` });
      }),
    tools: z.array(Tool).optional(),
    toolChoice: z.enum(['auto', 'none', 'required']).optional(),
    /** the model may make several calls in one reply (llama.cpp's parallel_tool_calls; off unless set) */
    parallelToolCalls: z.boolean().optional(),
    enableThinking: z.boolean().optional(),
    reasoning: z.boolean().optional(),
    continueFinal: z.boolean().optional(),
    ...GenerateCommon,
  })
  .strict();
export type ChatRequest = z.input<typeof ChatRequest>;

export const CompletionRequest = z.object({ prompt: z.union([z.string().min(1), z.array(z.number().int().min(0)).min(1)]), addSpecial: z.boolean().optional(), ...GenerateCommon }).strict();
export type CompletionRequest = z.input<typeof CompletionRequest>;

/** The characters an infill request carries over its parts, as MAX_CHAT_CHARS counts them. */
function infillChars(r: { prefix: string; suffix: string; prompt?: string; extra?: { text: string }[] }): number {
  return r.prefix.length + r.suffix.length + (r.prompt?.length ?? 0) + (r.extra ?? []).reduce((n, e) => n + e.text.length, 0);
}

/** The most extra context chunks (other files) one infill request carries. */
export const INFILL_EXTRA_MAX = 256;

/**
 * Fill-in-the-middle for code models: the text before and after the cursor, other files as extra
 * context, and an optional start of the middle (`prompt`). The engine builds the prompt from the
 * vocab's FIM tokens as llama-server's /infill does (native/src/generation.cpp infillPrompt); a model
 * without them is refused (not_supported).
 */
export const InfillRequest = z
  .object({
    prefix: z.string().max(MAX_CHAT_CHARS),
    suffix: z.string().max(MAX_CHAT_CHARS),
    extra: z.array(z.object({ filename: z.string().max(4096).optional(), text: z.string().max(MAX_CHAT_CHARS) }).strict()).max(INFILL_EXTRA_MAX).optional(),
    prompt: z.string().max(MAX_CHAT_CHARS).optional(),
    ...GenerateCommon,
  })
  .strict()
  // all of it together within one chat request's bound (the engine tokenizes every part)
  .refine((r) => infillChars(r) <= MAX_CHAT_CHARS, (r) => ({ message: `the infill request has ${infillChars(r)} characters; one request may carry at most ${MAX_CHAT_CHARS}`, path: ['prefix'] }));
export type InfillRequest = z.input<typeof InfillRequest>;

export const StopReason = z.enum(['eos', 'stop', 'length', 'aborted']);

export const Timings = z.object({
  promptTokens: z.number(),
  cachedTokens: z.number(),
  /** the prompt's tokens made by tokenizing for this request, not taken over from an earlier render (each render of a chat cut to fit counts; an image's positions count): a chat's follow-up takes most of its prompt's from its sequence's previous prompt */
  tokenizedTokens: z.number().optional(),
  generatedTokens: z.number(),
  ttftMs: z.number(),
  promptMs: z.number(),
  genMs: z.number(),
  promptTps: z.number(),
  genTps: z.number(),
  /** speculative decoding: tokens drafted and how many the model accepted (absent or 0: no drafts) */
  draftTokens: z.number().optional(),
  acceptedTokens: z.number().optional(),
});
export type Timings = z.infer<typeof Timings>;

export const GenerateResult = z.object({
  text: z.string(),
  content: z.string(),
  reasoning: z.string(),
  toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })),
  /** generated token ids */
  tokens: numberList({ integers: true }),
  /** tokens generated after an abort reached the running request (-1 when it was not aborted while running) */
  tokensAfterAbort: z.number(),
  /** prompt tokens decoded after an abort reached the running request (-1 likewise): at most one micro-batch */
  promptTokensAfterAbort: z.number(),
  stopReason: StopReason,
  droppedMessages: z.number(),
  shifted: z.boolean(),
  contextFull: z.boolean(),
  timings: Timings,
});
export type GenerateResult = z.infer<typeof GenerateResult>;

export const ModelMetadata = z.object({
  path: z.string(),
  architecture: z.string(),
  name: z.string(),
  description: z.string(),
  fileSize: z.number(),
  size: z.number(),
  parameters: z.number(),
  fileType: z.number().nullable(),
  fileTypeName: z.string().optional(),
  layers: z.number(),
  embeddingSize: z.number(),
  heads: z.number(),
  trainedContext: z.number(),
  vocabSize: z.number(),
  chatTemplate: z.string().nullable(),
  pooling: z.string(),
  isEmbedding: z.boolean(),
  specialTokens: z.record(z.object({ id: z.number(), text: z.string() })),
  addBos: z.boolean(),
  tokenizer: z.string(),
  fingerprint: z.string(),
  /** a projector (mmproj) is loaded: chat messages may carry image parts */
  vision: z.boolean().default(false),
});
export type ModelMetadata = z.infer<typeof ModelMetadata>;

/** experts: the model's experts per MoE layer (0: a dense model) */
export const Estimate = MemoryBreakdown.extend({ layers: z.number(), trainedContext: z.number(), contextSize: z.number(), experts: z.number().default(0) });
export type Estimate = z.infer<typeof Estimate>;
/**
 * llama.cpp's fit: the layers and context it chose, and where it put tensors by name (tensorOverrides,
 * "pattern=buffer type" as the load setting takes them; for a MoE model the experts it keeps in system
 * RAM, one entry per layer: main/models/fit.ts cpuExpertLayers counts them) and, with several GPUs, the
 * layers it gave each (tensorSplit, indexed by the GPUs' numbers; empty when it left the split to llama.cpp).
 */
export const FitResult = z.object({
  fits: z.boolean(),
  gpuLayers: z.number(),
  contextSize: z.number(),
  tensorSplit: z.array(z.number()),
  tensorOverrides: z.array(z.string()).default([]),
});
export type FitResult = z.infer<typeof FitResult>;

/** A backend module the host loaded: for a backend built in variants (the CPU's), the one chosen with its ggml_backend_score (a base module is not scored). */
export const LoadedModule = z.object({ backend: z.string(), variant: z.string().optional(), path: z.string(), score: z.number().optional() });
export type LoadedModule = z.infer<typeof LoadedModule>;

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), id: z.number().int(), method: z.string(), params: z.unknown() }),
  z.object({ type: z.literal('cancel'), id: z.number().int() }),
  /** the watchdog's heartbeat: the host answers `pong` from its JS thread */
  z.object({ type: z.literal('ping') }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const ErrorPayload = z.object({ code: z.string(), message: z.string() });
export type ErrorPayload = z.infer<typeof ErrorPayload>;

export const HostMessage = z.union([
  z.object({ type: z.literal('ready'), pid: z.number(), llamaCommit: z.string(), backends: z.array(z.string()) }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: ErrorPayload }),
  z.object({ type: z.literal('event'), id: z.number().int(), event: z.unknown() }),
  z.object({ type: z.literal('log'), level: z.string(), text: z.string() }),
  z.object({ type: z.literal('pong') }),
  /**
   * the host's task watchdog gave up on native work that hangs (host.ts giveUp): it answered the requests
   * concerned and ends; `modelIds` went with it (the client does not load them again by itself), `files`
   * are the model files the work was on, `refuseFiles`: their own chat template hung (Verdict)
   */
  z.object({ type: z.literal('hung'), code: z.string(), message: z.string(), modelIds: z.array(z.string()), files: z.array(z.string()), refuseFiles: z.boolean() }),
]);
export type HungMessage = Extract<z.infer<typeof HostMessage>, { type: 'hung' }>;

/** What the `stats` method answers. */
export const HostStats = z.object({
  /** native model loads started (not counting metadata reads) */
  loadsStarted: z.number(),
  /** native models and contexts alive */
  models: z.number(),
  contexts: z.number(),
  generationsStarted: z.number(),
  loaded: z.array(z.string()),
  loading: z.array(z.string()),
  rssBytes: z.number(),
  /** native work in progress, as the task watchdog sees it (NativeActivity in addon.ts) */
  activities: z.array(z.object({ kind: z.string(), model: z.string(), runningMs: z.number(), idleMs: z.number(), templateMs: z.number().nullable(), templateGiven: z.boolean() })),
  /** llama.cpp's fitting runs alone (native/src/llama_gate.h): fits run, uses that waited, log lines from other threads during a fit (must stay 0) */
  llamaGate: z.object({ fits: z.number(), waited: z.number(), foreignLogs: z.number() }),
  /** libuv's threads in the host (UV_THREADPOOL_SIZE; supervisor.ts HOST_THREADPOOL_SIZE unless set) */
  threadpoolSize: z.number(),
});
export type HostStats = z.infer<typeof HostStats>;
export type HostMessage = z.infer<typeof HostMessage>;

/** A streamed piece of a reply (chat, complete): several tokens' text, batched by the host. */
export const PieceEvent = z.object({ kind: z.literal('piece'), content: z.string(), reasoning: z.string(), probs: z.array(TokenLogprobs).optional() });
/** A load's progress, 0..1. (Which method streams which event: methods.ts.) */
export const ProgressEvent = z.object({ kind: z.literal('progress'), progress: z.number() });

/**
 * An error with a stable code, as thrown by EngineClient: one of the catalogue's engine or native codes
 * (main/errors/catalogue.ts). A code from the wire goes through toCode(code, 'engine', 'native').
 */
export class EngineError extends Error {
  constructor(
    public readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** A request its caller withdrew (main's wait, or the host's work on it). */
export function abortedError(): EngineError {
  return new EngineError('aborted', 'the request was aborted');
}

/** GGUF general.file_type numbers and their names (llama_ftype). */
export const FILE_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4',
};
