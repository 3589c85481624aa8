/**
 * Ollama's API translated to the engine's requests and back: the request schemas (the `ollama` npm
 * client's shapes), `options` mapped to the engine's samplers by llama-server's names (Ollama uses the
 * same snake_case names; only num_predict and a negative seed differ), what Hearth refuses with a
 * reason (images until vision lands, a generate `suffix` or `template`), and the result fields
 * (durations in nanoseconds, done_reason, a model's details from its GGUF header).
 */
import crypto from 'crypto';
import { z } from 'zod';
import type { ChatMessage, ChatRequest, GenerateResult } from '../engine/protocol';
import type { HeaderFacts } from '../models/facts';
import { MAX_TOKENS } from '../params';
import { ApiError } from './errors';
import { ClientEffort, effortOf } from './reasoning';
import { samplerBodyShape, samplingOf, StopField, stopList } from './samplers';
import { engineTool, engineToolCall } from './generate';

/**
 * Ollama's `options`: the samplers under their (llama-server) names, num_predict and stop; every
 * other option Ollama knows is a load setting (num_ctx, num_gpu, num_thread, num_batch, use_mmap, …),
 * which Hearth takes from the model's saved load settings instead: accepted and ignored, as Ollama
 * ignores options it does not know.
 */
export const OllamaOptions = z
  .object({
    ...samplerBodyShape,
    // Ollama's seed -1 (and any negative one): a new random seed, the engine's default
    seed: z.number().int().optional(),
    num_predict: z.number().int().min(-2).max(MAX_TOKENS).optional(),
    stop: StopField,
  })
  .passthrough();
export type OllamaOptions = z.infer<typeof OllamaOptions>;

/** The engine's sampling, length and stop strings for Ollama's options. */
export function optionsOf(o: OllamaOptions | undefined): Pick<ChatRequest, 'sampling' | 'maxTokens' | 'stop'> {
  if (!o) return { sampling: {}, maxTokens: -1 };
  const { seed, ...rest } = o;
  const sampling = { ...samplingOf(rest), ...(seed !== undefined && seed >= 0 ? (samplerBodyShape.seed.safeParse(seed).success ? { seed } : {}) : {}) };
  // -1: until the end of text; -2: until the context is full (the engine stops there either way)
  const maxTokens = o.num_predict === undefined || o.num_predict < 0 ? -1 : o.num_predict;
  const stop = stopList(o.stop);
  return { sampling, maxTokens, ...(stop ? { stop } : {}) };
}

/** `format`: "json" (any JSON object) or a JSON schema; "" or absent: free text. */
const Format = z.union([z.string(), z.record(z.unknown())]).nullable().optional();
export function jsonSchemaOf(format: z.infer<typeof Format>): unknown {
  if (format === undefined || format === null || format === '') return undefined;
  if (typeof format === 'string') {
    if (format === 'json') return { type: 'object' };
    throw new ApiError(400, 'invalid_request_error', `format must be "json" or a JSON schema, not ${JSON.stringify(format).slice(0, 40)}`, 'format');
  }
  return format;
}

/** `think`: true turns the template's thinking on, false off, a level (gpt-oss's) is also its effort; absent: the template's default. */
const Think = z.union([z.boolean(), ClientEffort]).optional();
const thinkingOf = (t: z.infer<typeof Think>) => (t === undefined ? {} : typeof t === 'boolean' ? { enableThinking: t } : { enableThinking: true, ...effortOf(t) });

/** keep_alive ("5m", 300, 0): accepted; the API server's model TTL decides when a model goes. */
const KeepAlive = z.union([z.string(), z.number()]).optional();

/** Images (base64): refused until the engine reads them. */
const Images = z.array(z.unknown()).nullable().optional();
function refuseImages(images: z.infer<typeof Images>, where: string): void {
  if (images?.length) throw new ApiError(400, 'not_supported', `${where}.images: Hearth's Ollama API does not read images yet (its OpenAI chat API does, as image_url data: URLs); send text`, `${where}.images`);
}

const OllamaToolCall = z
  .object({
    id: z.string().optional(),
    function: z.object({ name: z.string().min(1), arguments: z.union([z.record(z.unknown()), z.string()]).default({}) }).passthrough(),
  })
  .passthrough();

const OllamaMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.string().nullable().default(''),
    thinking: z.string().optional(),
    images: Images,
    tool_calls: z.array(OllamaToolCall).nullable().optional(),
    tool_name: z.string().optional(),
    tool_call_id: z.string().optional(),
  })
  .passthrough();

const OllamaTool = z
  .object({
    type: z.string().default('function'),
    function: z.object({ name: z.string().min(1).max(256), description: z.string().optional(), parameters: z.record(z.unknown()).optional() }).passthrough(),
  })
  .passthrough();

const common = {
  model: z.string().max(4096).optional(),
  stream: z.boolean().nullable().optional(),
  format: Format,
  options: OllamaOptions.nullable().optional(),
  keep_alive: KeepAlive,
  think: Think,
};

export const OllamaChatBody = z
  .object({
    messages: z.array(OllamaMessage).default([]),
    tools: z.array(OllamaTool).max(512).nullable().optional(),
    ...common,
  })
  .passthrough();
export type OllamaChatBody = z.infer<typeof OllamaChatBody>;

export const OllamaGenerateBody = z
  .object({
    prompt: z.string().default(''),
    system: z.string().optional(),
    raw: z.boolean().optional(),
    suffix: z.string().optional(),
    template: z.string().optional(),
    images: Images,
    ...common,
  })
  .passthrough();
export type OllamaGenerateBody = z.infer<typeof OllamaGenerateBody>;

export const OllamaEmbedBody = z
  .object({
    model: z.string().max(4096).optional(),
    input: z.union([z.string(), z.array(z.string()).max(4096)]),
    truncate: z.boolean().default(true),
    dimensions: z.number().int().min(1).optional(),
    keep_alive: KeepAlive,
    options: OllamaOptions.nullable().optional(),
  })
  .passthrough();

export const OllamaEmbeddingsBody = z.object({ model: z.string().max(4096).optional(), prompt: z.string(), keep_alive: KeepAlive, options: OllamaOptions.nullable().optional() }).passthrough();

export const OllamaShowBody = z.object({ model: z.string().max(4096).optional(), name: z.string().max(4096).optional(), verbose: z.boolean().optional() }).passthrough();

/** Ollama's messages as the engine's (tool calls' arguments objects as JSON text, tool_name as the tool message's name). */
export function engineMessages(messages: z.infer<typeof OllamaMessage>[]): ChatMessage[] {
  return messages.map((m, i): ChatMessage => {
    refuseImages(m.images, `messages.${i}`);
    const out: ChatMessage = { role: m.role, content: m.content ?? '' };
    if (m.thinking) out.reasoning_content = m.thinking;
    if (m.tool_calls?.length) {
      out.tool_calls = m.tool_calls.map((c) => engineToolCall(c.id, c.function.name, c.function.arguments));
    }
    if (m.role === 'tool') {
      if (m.tool_name) out.name = m.tool_name;
      if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
    }
    return out;
  });
}

/** The engine's chat request for an Ollama chat body (`seq` is the slot's). */
export function chatRequestOf(b: OllamaChatBody): Omit<ChatRequest, 'seq'> {
  const jsonSchema = jsonSchemaOf(b.format);
  const tools = b.tools ?? [];
  return {
    messages: engineMessages(b.messages),
    ...(tools.length ? { tools: tools.map((t) => engineTool(t.function.name, t.function.description, t.function.parameters)), toolChoice: 'auto' as const } : {}),
    ...(jsonSchema ? { jsonSchema } : {}),
    ...thinkingOf(b.think),
    ...optionsOf(b.options ?? undefined),
  };
}

/** A generate body (raw: false) as one user turn, with `system` before it, through the chat template. */
export function generateChatOf(b: OllamaGenerateBody): Omit<ChatRequest, 'seq'> {
  refuseImages(b.images, 'body');
  if (b.suffix) throw new ApiError(400, 'not_supported', 'suffix (fill-in-the-middle) is not supported by Hearth\'s Ollama API; send the prompt alone', 'suffix');
  if (b.template) throw new ApiError(400, 'not_supported', 'template overrides are not supported: the model\'s own chat template is used (or raw: true with a formatted prompt)', 'template');
  const jsonSchema = jsonSchemaOf(b.format);
  return {
    messages: [...(b.system ? [{ role: 'system' as const, content: b.system }] : []), { role: 'user' as const, content: b.prompt }],
    ...(jsonSchema ? { jsonSchema } : {}),
    ...thinkingOf(b.think),
    ...optionsOf(b.options ?? undefined),
  };
}

export type DoneReason = 'stop' | 'length';

export function doneReason(r: GenerateResult): DoneReason {
  return r.stopReason === 'length' || r.contextFull ? 'length' : 'stop';
}

const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));

/** The final chunk's counts and durations (nanoseconds, as Ollama's): `loadMs` until a slot was held, `totalMs` the whole request. */
export function statsOf(r: GenerateResult, loadMs: number, totalMs: number) {
  const t = r.timings;
  return {
    total_duration: ns(totalMs),
    load_duration: ns(loadMs),
    prompt_eval_count: t.promptTokens,
    prompt_eval_duration: ns(t.promptMs),
    eval_count: t.generatedTokens,
    eval_duration: ns(t.genMs),
  };
}

/** The engine's tool calls as Ollama's (arguments as an object; text that is not JSON stays text). */
export function toolCallsOf(r: GenerateResult) {
  return r.toolCalls.map((c, index) => {
    let args: unknown = c.arguments;
    try {
      args = JSON.parse(c.arguments || '{}');
    } catch {
      // kept as the model wrote it
    }
    return { ...(c.id ? { id: c.id } : {}), function: { index, name: c.name, arguments: args } };
  });
}

/** The name Ollama clients use: `<name>:latest` (they add the tag; Hearth's names have none). */
export function ollamaName(name: string): string {
  return /:[\w.-]+$/.test(name) ? name : `${name}:latest`;
}

/** A stable digest for a model: the SHA-256 of its path (not of its bytes: hashing gigabytes per listing is too slow). */
export function digestOf(file: string): string {
  return crypto.createHash('sha256').update(file).digest('hex');
}

/** Ollama's parameter size ("8.0B", "494.0M") from a count. */
export function parameterSize(n: number): string {
  if (!n) return '';
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [v, u] of units) if (n >= v) return `${(n / v).toFixed(1)}${u}`;
  return String(n);
}

/** Ollama's model details from what the GGUF header says (null: the header could not be read). */
export function detailsOf(f: Pick<HeaderFacts, 'architecture' | 'parameters' | 'fileType'> | null) {
  const family = f?.architecture ?? '';
  return {
    parent_model: '',
    format: 'gguf',
    family,
    families: family ? [family] : null,
    parameter_size: f ? parameterSize(f.parameters) : '',
    quantization_level: f?.fileType ?? '',
  };
}
