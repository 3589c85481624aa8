/**
 * OpenAI's chat completions, translated to the engine's chat request and back: the request schema
 * (OpenAI's fields, llama-server's sampler names, images as data: URLs for a model with a projector,
 * and what Hearth refuses with a reason: image URLs it would have to fetch, audio, files, n > 1), the
 * result as `chat.completion`, and a stream as `chat.completion.chunk`s.
 */
import crypto from 'crypto';
import { z } from 'zod';
import type { ChatMessage, ChatRequest, GenerateResult, TokenLogprobs } from '../engine/protocol';
import { type ContentPart, MAX_TOKENS, REQUEST_FIELDS } from '../params';
import { ClientEffort, effortOf } from './reasoning';
import { ApiError } from './errors';
import { LoraField } from './lora';
import { samplerBodyShape, samplingOf, StopField, stopList } from './samplers';
import { engineTool, engineToolCall } from './generate';

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).passthrough();
/** media parts: images (image_url, input_image) as data: URLs; the rest refused with a clear error */
const MediaPart = z.object({ type: z.enum(['image_url', 'input_image', 'input_audio', 'file', 'image']) }).passthrough();
const Content = z.union([z.string(), z.array(z.union([TextPart, MediaPart])), z.null()]);

const ToolCall = z
  .object({
    id: z.string().optional(),
    type: z.literal('function').default('function'),
    function: z.object({ name: z.string().min(1), arguments: z.union([z.string(), z.record(z.unknown())]).default('{}') }).passthrough(),
  })
  .passthrough();

export const OpenAiMessage = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: Content.optional(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCall).nullable().optional(),
    tool_call_id: z.string().optional(),
    reasoning_content: z.string().nullable().optional(),
  })
  .passthrough();

export const OpenAiTool = z
  .object({
    type: z.literal('function'),
    function: z.object({ name: z.string().min(1).max(256), description: z.string().optional(), parameters: z.record(z.unknown()).optional(), strict: z.boolean().nullable().optional() }).passthrough(),
  })
  .passthrough();

export const ToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }).passthrough() }).passthrough(),
]);

export const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }).passthrough(),
  z.object({ type: z.literal('json_object') }).passthrough(),
  z
    .object({
      type: z.literal('json_schema'),
      json_schema: z.object({ name: z.string().optional(), schema: z.record(z.unknown()).optional(), strict: z.boolean().nullable().optional() }).passthrough(),
    })
    .passthrough(),
]);

const MaxTokens = z.number().int().min(0).max(MAX_TOKENS).nullable().optional();

/** What every OpenAI generation takes beside its input (chat and completions). */
export const generationShape = {
  model: z.string().max(4096).optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
  max_tokens: MaxTokens,
  max_completion_tokens: MaxTokens,
  /** llama-server's name */
  n_predict: z.number().int().min(-1).max(MAX_TOKENS).optional(),
  stop: StopField,
  n: z.number().int().min(1).max(1, 'Hearth generates one choice per request (n = 1)').nullable().optional(),
  ignore_eos: z.boolean().optional(),
  grammar: z.string().max(1_000_000).optional(),
  /** llama-server's: the tokens after the BOS a context shift keeps (-1: the whole prompt) */
  n_keep: REQUEST_FIELDS.nKeep.schema.optional(),
  /** llama-server's: this request's LoRA scales by adapter id (applied once the model is known: lora.ts) */
  lora: LoraField.optional(),
  ...samplerBodyShape,
};

export const ChatCompletionBody = z
  .object({
    messages: z.array(OpenAiMessage).min(1),
    tools: z.array(OpenAiTool).max(512).nullable().optional(),
    tool_choice: ToolChoice.nullable().optional(),
    response_format: ResponseFormat.nullable().optional(),
    /** llama-server's: a JSON schema the reply follows */
    json_schema: z.record(z.unknown()).optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    /** llama-server's: options passed to the template (enable_thinking; preserve_reasoning: earlier turns' reasoning kept by templates that can, on unless false) */
    chat_template_kwargs: z
      .object({ enable_thinking: z.boolean().optional(), reasoning_effort: ClientEffort.optional(), preserve_reasoning: REQUEST_FIELDS.preserveReasoning.schema.optional() })
      .passthrough()
      .optional(),
    /** OpenAI's: passed to the template as its reasoning_effort, as llama-server does ('none' turns thinking off; a level templates do not read goes as the nearest one: reasoning.ts) */
    reasoning_effort: ClientEffort.nullable().optional(),
    /** llama-server's: most tokens of reasoning before the end of thinking is forced (-1: no limit) */
    reasoning_budget_tokens: REQUEST_FIELDS.reasoningBudget.schema.optional(),
    thinking_budget_tokens: REQUEST_FIELDS.reasoningBudget.schema.optional(),
    ...generationShape,
  })
  .passthrough();
export type ChatCompletionBody = z.infer<typeof ChatCompletionBody>;

/** The URL of an image part: image_url {url} or a plain string (OpenAI's chat and Responses shapes). */
function imageUrlOf(p: Record<string, unknown>): string | undefined {
  const u = p.image_url;
  if (typeof u === 'string') return u;
  if (u && typeof u === 'object' && typeof (u as { url?: unknown }).url === 'string') return (u as { url: string }).url;
  return undefined;
}

/**
 * Message content from OpenAI's parts: text, and images given as data: URLs (base64), which the engine
 * reads through the model's projector. An image URL it would have to fetch, audio and files are refused
 * (naming the part).
 */
export function contentOf(content: z.infer<typeof Content> | undefined, where: string): string | ContentPart[] {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const parts: ContentPart[] = [];
  content.forEach((p, i) => {
    const at = `${where}.content.${i}`;
    if (p.type === 'text') {
      parts.push({ type: 'text', text: (p as { text: string }).text });
      return;
    }
    if (p.type === 'image_url' || p.type === 'input_image') {
      const url = imageUrlOf(p as Record<string, unknown>);
      if (!url) throw new ApiError(400, 'invalid_request_error', `${at} has no image_url.url`, at);
      if (!/^data:image\/[a-z0-9.+-]+;base64,/i.test(url)) {
        throw new ApiError(400, 'not_supported', `${at}: Hearth does not fetch image URLs; send the image as a data: URL (data:image/png;base64,...)`, at);
      }
      parts.push({ type: 'image', data: url });
      return;
    }
    throw new ApiError(400, 'not_supported', `${at} is ${p.type}: Hearth reads text and images (data: URLs), not audio or files; send text`, `${where}.content`);
  });
  // text alone stays text (the template sees the string it always did)
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n') : parts;
}

/** Message text from content parts; any media part is refused (roles whose content must be text). */
export function textOf(content: z.infer<typeof Content> | undefined, where: string): string {
  const c = contentOf(content, where);
  if (typeof c === 'string') return c;
  throw new ApiError(400, 'not_supported', `${where}.content has an image: only user messages may carry images`, `${where}.content`);
}

/** OpenAI's messages as the engine's. */
export function engineMessages(messages: z.infer<typeof OpenAiMessage>[]): ChatMessage[] {
  return messages.map((m, i): ChatMessage => {
    const where = `messages.${i}`;
    const role = m.role === 'developer' ? 'system' : m.role === 'function' ? 'tool' : m.role;
    const out: ChatMessage = { role, content: role === 'user' ? contentOf(m.content, where) : textOf(m.content, where) };
    if (m.reasoning_content) out.reasoning_content = m.reasoning_content;
    if (m.tool_calls?.length) {
      out.tool_calls = m.tool_calls.map((c) => engineToolCall(c.id, c.function.name, c.function.arguments));
    }
    if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
    if (m.name && role === 'tool') out.name = m.name;
    return out;
  });
}

/** The request fields every OpenAI generation maps the same way. */
export function requestOptions(
  b: z.infer<z.ZodObject<typeof generationShape>>,
  defaultMaxTokens = -1,
): Pick<ChatRequest, 'sampling' | 'maxTokens' | 'stop' | 'ignoreEos' | 'grammar' | 'nKeep' | 'overflow'> {
  const sampling = samplingOf(b);
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? b.n_predict ?? defaultMaxTokens;
  const stop = stopList(b.stop);
  return {
    sampling,
    maxTokens,
    ...(stop ? { stop } : {}),
    ...(b.ignore_eos !== undefined ? { ignoreEos: b.ignore_eos } : {}),
    ...(b.grammar ? { grammar: b.grammar } : {}),
    // llama-server shifts the context only when started with --context-shift; here a request opts in
    // by saying what a shift keeps
    ...(b.n_keep !== undefined ? { nKeep: b.n_keep, overflow: 'shift' as const } : {}),
  };
}

/** The engine's chat request for an OpenAI body (`seq` is the slot's, added when it runs). */
export function chatRequestOf(b: ChatCompletionBody): Omit<ChatRequest, 'seq'> {
  // the chat template decides the grammar (its tools, a response format): a raw one has no place there
  if (b.grammar !== undefined) throw new ApiError(400, 'invalid_request_error', 'grammar is for /v1/completions; in a chat, constrain the reply with response_format (json_schema)', 'grammar');
  let tools = b.tools ?? undefined;
  let toolChoice: 'auto' | 'none' | 'required' | undefined;
  const tc = b.tool_choice ?? undefined;
  if (tc && typeof tc === 'object') {
    // one named function: offer only it, and require a call
    const named = tc.function.name;
    tools = tools?.filter((t) => t.function.name === named);
    if (!tools?.length) throw new ApiError(400, 'invalid_request_error', `tool_choice names ${named}, which is not among the tools`, 'tool_choice');
    toolChoice = 'required';
  } else toolChoice = tc;
  const rf = b.response_format ?? undefined;
  const jsonSchema = b.json_schema ?? (rf?.type === 'json_object' ? { type: 'object' } : rf?.type === 'json_schema' ? (rf.json_schema.schema ?? { type: 'object' }) : undefined);
  const nProbs = b.logprobs ? (b.top_logprobs ?? 0) || 1 : undefined;
  const opts = requestOptions(b);
  const budget = b.reasoning_budget_tokens ?? b.thinking_budget_tokens;
  return {
    messages: engineMessages(b.messages),
    ...(tools?.length && toolChoice !== 'none'
      ? { tools: tools.map((t) => engineTool(t.function.name, t.function.description, t.function.parameters)), toolChoice }
      : {}),
    ...(jsonSchema ? { jsonSchema } : {}),
    // after enable_thinking, as llama-server applies them: reasoning_effort "none" turns thinking off whatever it says
    ...(b.chat_template_kwargs?.enable_thinking !== undefined ? { enableThinking: b.chat_template_kwargs.enable_thinking } : {}),
    ...effortOf(b.reasoning_effort ?? b.chat_template_kwargs?.reasoning_effort),
    ...(b.chat_template_kwargs?.preserve_reasoning !== undefined ? { preserveReasoning: b.chat_template_kwargs.preserve_reasoning } : {}),
    ...(budget !== undefined ? { reasoningBudget: budget } : {}),
    ...opts,
    sampling: { ...opts.sampling, ...(nProbs ? { nProbs } : {}) },
  };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** Cut short (max_tokens, a full context) is 'length' whatever it holds, as llama-server says: a call cut off may lack its arguments' end. */
export function finishReason(r: GenerateResult): FinishReason {
  if (r.stopReason === 'length' || r.contextFull) return 'length';
  if (r.toolCalls.length > 0) return 'tool_calls';
  return 'stop';
}

/** OpenAI's usage, with the tokens the slot had cached (prompt_tokens_details.cached_tokens). */
export function usageOf(r: GenerateResult) {
  const t = r.timings;
  return {
    prompt_tokens: t.promptTokens,
    completion_tokens: t.generatedTokens,
    total_tokens: t.promptTokens + t.generatedTokens,
    prompt_tokens_details: { cached_tokens: t.cachedTokens },
  };
}

/** llama-server's `timings` (tools written for it read these). */
export function timingsOf(r: GenerateResult) {
  const t = r.timings;
  return {
    cache_n: t.cachedTokens,
    prompt_n: t.promptTokens - t.cachedTokens,
    prompt_ms: t.promptMs,
    prompt_per_second: t.promptTps,
    predicted_n: t.generatedTokens,
    predicted_ms: t.genMs,
    predicted_per_second: t.genTps,
    // llama-server's names for speculative decoding's counts (only when something was drafted)
    ...(t.draftTokens ? { draft_n: t.draftTokens, draft_n_accepted: t.acceptedTokens ?? 0 } : {}),
  };
}

const bytesOf = (s: string) => [...Buffer.from(s, 'utf8')];

/** Token log-probabilities in OpenAI's shape. */
export function logprobsOf(probs: TokenLogprobs[]) {
  return {
    content: probs.map((p) => ({
      token: p.text,
      logprob: p.logprob,
      bytes: bytesOf(p.text),
      top_logprobs: p.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: bytesOf(t.text) })),
    })),
  };
}

export function toolCallsOf(r: GenerateResult) {
  return r.toolCalls.map((c) => ({ id: c.id || `call_${crypto.randomBytes(12).toString('hex')}`, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
}

export function completionId(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(12).toString('hex')}`;
}
