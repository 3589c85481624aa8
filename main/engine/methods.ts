/**
 * Every method of the engine protocol, defined once: the params the host accepts, the result the
 * client accepts, and the event it streams before its response (when it streams one). The host
 * validates params before dispatch (host-methods.ts: a request that does not fit is answered
 * `invalid_argument`), its handler table is typed from this map (a method without a handler does not
 * compile), and the client validates every result (channel.ts: one that does not fit rejects the call
 * with `internal`). Parameter families come from main/params; shapes from protocol.ts.
 */
import { z } from 'zod';
import { ImageSize, LOAD_FIELDS, LoadParams, MAX_IMAGES, REQUEST_FIELDS } from '../params';
import {
  ChatRequest,
  CompletionRequest,
  InfillRequest,
  Device,
  Estimate,
  FitResult,
  GenerateResult,
  HostStats,
  LoadedModule,
  MemoryBreakdown,
  ModelMetadata,
  numberList,
  PieceEvent,
  ProgressEvent,
} from './protocol';

const ModelId = z.string().min(1);
const FilePath = z.string().min(1);
/** the KV cache sequence (slot) a session call works on: the request family's `seq` */
const Seq = REQUEST_FIELDS.seq.schema.default(REQUEST_FIELDS.seq.default);
const None = z.object({}).strict();
/** a chat template setting (main/params/load.ts) */
const ChatTemplate = LOAD_FIELDS.chatTemplate.schema;

/** What a context was created with (llama_context's own values) and the tokens each sequence holds; the addon may add keys. */
export const ContextInfo = z
  .object({
    contextSize: z.number(),
    batchSize: z.number(),
    ubatchSize: z.number(),
    parallel: z.number(),
    threads: z.number(),
    threadsBatch: z.number(),
    cacheTypeK: z.string(),
    cacheTypeV: z.string(),
    flashAttention: z.string(),
    embeddings: z.boolean(),
    /** whether sliding-window layers keep the whole context (the swaFull setting) */
    swaFull: z.boolean(),
    /** the model's attention window in its sliding-window layers (0: it has none) */
    slidingWindow: z.number(),
    /** tokens held per sequence, as the worker last published them */
    sequenceTokens: z.array(z.number()),
  })
  .passthrough();
export type ContextInfo = z.infer<typeof ContextInfo>;

/** What llama.cpp's fitting chose for a load (gpuLayers "auto" with a GPU): the split is not reported. */
export const LoadFit = FitResult.omit({ tensorSplit: true });

export const LoadedModel = z.object({
  modelId: z.string(),
  metadata: ModelMetadata,
  context: ContextInfo,
  /** what llama.cpp's fitting chose when gpuLayers was "auto" and a GPU was present */
  fit: LoadFit.nullable(),
});
export type LoadedModel = z.infer<typeof LoadedModel>;

export const VersionInfo = z.object({
  llamaCommit: z.string(),
  backends: z.array(z.string()),
  systemInfo: z.string(),
  /** the threads a context gets when its load settings name none (llama.cpp's common_cpu_get_num_math) */
  defaultThreads: z.number().int().positive(),
  pid: z.number(),
  /** the backend modules the host chose (for the CPU built in variants, which one this machine runs) */
  modules: z.array(LoadedModule),
});

export const TemplateResult = z.object({
  prompt: z.string(),
  tokens: z.number(),
  format: z.string(),
  supportsThinking: z.boolean(),
  /** the thinking tags llama.cpp's chat library found in the template (a reasoning budget counts between them; empty: none) */
  thinkingStart: z.string(),
  thinkingEnd: z.array(z.string()),
});
export const SessionResult = z.object({ tokens: z.number() });

interface MethodSpec {
  params: z.ZodTypeAny;
  result: z.ZodTypeAny;
  /** what the method streams before its response (absent: nothing) */
  event?: z.ZodTypeAny;
}

/** The most documents one rerank call scores. */
export const RERANK_DOCUMENTS_MAX = 4096;

export const METHODS = {
  version: { params: None, result: VersionInfo },
  devices: { params: None, result: z.array(Device) },
  info: { params: z.object({ path: FilePath }).strict(), result: ModelMetadata },
  load: {
    params: z.object({ modelId: ModelId, path: FilePath, params: LoadParams.default({}) }).strict(),
    result: LoadedModel,
    event: ProgressEvent,
  },
  /** whether the model was loaded (or loading) */
  unload: { params: z.object({ modelId: ModelId }).strict(), result: z.boolean() },
  loaded: { params: None, result: z.array(z.object({ modelId: z.string(), path: z.string(), params: LoadParams, context: ContextInfo })) },
  chat: { params: z.object({ modelId: ModelId, request: ChatRequest }).strict(), result: GenerateResult, event: PieceEvent },
  complete: { params: z.object({ modelId: ModelId, request: CompletionRequest }).strict(), result: GenerateResult, event: PieceEvent },
  /** fill-in-the-middle (a code model's FIM tokens): the text between a prefix and a suffix */
  infill: { params: z.object({ modelId: ModelId, request: InfillRequest }).strict(), result: GenerateResult, event: PieceEvent },
  /**
   * `parseSpecial` (embed and rerank; default true, as llama-server): control-token text in the inputs
   * ("</s>", "<|im_end|>") is that token; false: it is text (inputs that are data, as documents are).
   * A reranker without a rerank template reads its query and documents as text either way (llama-server's).
   */
  embed: { params: z.object({ modelId: ModelId, texts: z.array(z.string()).min(1).max(4096), parseSpecial: z.boolean().optional() }).strict(), result: z.array(numberList()) },
  /** a reranker (rank pooling) scores each document against the query (raw scores, as llama-server's); `tokens`: of all the pairs */
  rerank: {
    params: z.object({ modelId: ModelId, query: z.string(), documents: z.array(z.string()).min(1).max(RERANK_DOCUMENTS_MAX), parseSpecial: z.boolean().optional() }).strict(),
    result: z.object({ scores: numberList(), tokens: z.number().int() }),
  },
  tokenize: {
    params: z.object({ modelId: ModelId, text: z.string(), addSpecial: z.boolean().optional(), parseSpecial: z.boolean().optional() }).strict(),
    result: numberList({ integers: true }),
  },
  detokenize: { params: z.object({ modelId: ModelId, tokens: z.array(z.number().int()) }).strict(), result: z.string() },
  /** renders a chat with the model's template, or with `template` instead (a preview of the chatTemplate setting) */
  applyTemplate: { params: z.object({ modelId: ModelId, request: ChatRequest, template: ChatTemplate.optional() }).strict(), result: TemplateResult },
  /**
   * renders a chat with `template` (absent: the file's own) for a model file that need not be loaded (its
   * vocabulary only): the settings' preview; `template` in the result is the one rendered
   */
  previewTemplate: {
    params: z.object({ path: FilePath, template: ChatTemplate.optional(), request: ChatRequest }).strict(),
    result: TemplateResult.extend({ template: z.string() }),
  },
  saveSession: { params: z.object({ modelId: ModelId, path: FilePath, seq: Seq }).strict(), result: SessionResult },
  restoreSession: { params: z.object({ modelId: ModelId, path: FilePath, seq: Seq }).strict(), result: SessionResult },
  clearSequence: { params: z.object({ modelId: ModelId, seq: Seq }).strict(), result: z.null() },
  contextInfo: { params: z.object({ modelId: ModelId }).strict(), result: ContextInfo },
  /**
   * the positions an image of each size takes in a chat prompt on the model, in the sizes' order: what
   * its projector makes of the media marker with such an image (mtmd's tokens, nothing encoded);
   * not_supported when the model has no projector
   */
  imageTokens: { params: z.object({ modelId: ModelId, sizes: z.array(ImageSize).min(1).max(MAX_IMAGES) }).strict(), result: numberList({ integers: true }) },
  estimate: { params: z.object({ path: FilePath, params: LoadParams.default({}) }).strict(), result: Estimate },
  fit: {
    params: z
      .object({
        path: FilePath,
        params: LoadParams.default({}),
        marginMiB: LOAD_FIELDS.fitMarginMiB.schema.default(LOAD_FIELDS.fitMarginMiB.default),
        autoContext: z.boolean().default(false),
      })
      .strict(),
    result: FitResult,
  },
  memory: { params: z.object({ modelId: ModelId }).strict(), result: MemoryBreakdown },
  /** what the host holds and has done: native models and contexts alive, loads and generations started, its RSS */
  stats: { params: None, result: HostStats },
  /** test hook, honoured only when the host runs with HEARTH_TEST_HOOKS=1: abort() like a failed assert (never answered) */
  crash: { params: z.object({ how: z.enum(['abort', 'exit']) }).strict(), result: z.never() },
  /** test hook (HEARTH_TEST_HOOKS=1): busy-waits on the host's JS thread, as a hung native call would */
  block: { params: z.object({ ms: z.number().int().min(0).max(600_000) }).strict(), result: z.null() },
  /**
   * test hook (HEARTH_TEST_HOOKS=1): the next model file the host checks waits after the check, before
   * llama.cpp gets it: the host writes `<dir>/checked` and goes on once `<dir>/go` exists. `identity`
   * takes the path Windows and macOS take (llama.cpp opens the files by name; their identity is
   * verified after the load).
   */
  loadGate: { params: z.object({ dir: z.string().min(1), identity: z.boolean().default(false) }).strict(), result: z.null() },
} satisfies Record<string, MethodSpec>;

type Spec = typeof METHODS;
export type Method = keyof Spec;
/** A method's params as the host's handler gets them (defaults applied). */
export type ParamsOf<M extends Method> = z.output<Spec[M]['params']>;
/** A method's params as a caller sends them. */
export type ParamsIn<M extends Method> = z.input<Spec[M]['params']>;
export type ResultOf<M extends Method> = z.output<Spec[M]['result']>;
/** What a method streams (never: nothing). */
export type EventOf<M extends Method> = M extends Method ? (Spec[M] extends { event: infer E extends z.ZodTypeAny } ? z.output<E> : never) : never;
/** The methods that name a loaded model. */
export type ModelMethod = { [M in Method]: ParamsIn<M> extends { modelId: string } ? M : never }[Method];

/** Whether `name` is a method (an own key: `toString` is not one). */
export function isMethod(name: string): name is Method {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}

/** How much of a zod error issuesText words: its first issues, and at most this many characters of them. */
export const ISSUES_SHOWN = 3;
export const ISSUES_CHARS = 300;

/**
 * A zod error's issues in one line: `path message; …` (`value`: the whole value), the first
 * ISSUES_SHOWN of them in at most ISSUES_CHARS characters, then how many more there are, so a
 * request with a million bad values is answered in a line, not in megabytes.
 */
export function issuesText(e: z.ZodError): string {
  const shown = e.issues.slice(0, ISSUES_SHOWN).map((i) => `${i.path.join('.') || 'value'} ${i.message}`).join('; ');
  const text = shown.length > ISSUES_CHARS ? `${shown.slice(0, ISSUES_CHARS - 1)}…` : shown;
  const more = e.issues.length - ISSUES_SHOWN;
  return more > 0 ? `${text} (and ${more} more)` : text;
}
