/**
 * Anthropic's Messages API, translated to the engine's chat request and back: the request schema
 * (Anthropic's fields, llama-server's sampler names, and what Hearth refuses with a reason: images and
 * documents until vision lands, server tools), content blocks as the engine's messages (tool_use →
 * an assistant's tool_calls, tool_result → a tool message, thinking → reasoning_content), and the
 * result as a `message` with thinking, text and tool_use blocks.
 */
import crypto from 'crypto';
import { z } from 'zod';
import type { ChatMessage, ChatRequest, GenerateResult } from '../engine/protocol';
import { MAX_TOKENS, REQUEST_FIELDS } from '../params';
import { ApiError, invalidBody } from './errors';
import { ClientEffort, effortOf } from './reasoning';
import { samplerBodyShape, samplingOf } from './samplers';
import { engineTool, engineToolCall } from './generate';

/** A content block: its type checked here, its fields by the type's own schema (blockOf), so an error names the block. */
const Block = z.object({ type: z.string().min(1) }).passthrough();
const Content = z.union([z.string(), z.array(Block)]);

const TextBlock = z.object({ type: z.literal('text'), text: z.string() }).passthrough();
const ThinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string() }).passthrough();
const ToolUseBlock = z.object({ type: z.literal('tool_use'), id: z.string().min(1), name: z.string().min(1), input: z.unknown() }).passthrough();
const ToolResultBlock = z
  .object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.union([z.string(), z.array(Block)]).optional(),
    is_error: z.boolean().optional(),
  })
  .passthrough();

/** blocks this dialect does not map yet (images go through the OpenAI chat API): refused with a clear error */
const MEDIA_BLOCKS = new Set(['image', 'document', 'search_result', 'container_upload']);

export const AnthropicMessage = z.object({ role: z.enum(['user', 'assistant']), content: Content }).passthrough();

export const AnthropicTool = z
  .object({
    name: z.string().min(1).max(256),
    description: z.string().optional(),
    input_schema: z.record(z.unknown()),
    /** a client tool; Anthropic's server tools (web search, code execution, …) are not Hearth's */
    type: z.literal('custom').nullable().optional(),
  })
  .passthrough();

export const AnthropicToolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }).passthrough(),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }).passthrough(),
  z.object({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }).passthrough(),
  z.object({ type: z.literal('none') }).passthrough(),
]);

/** Thinking on (its budget the engine's reasoning budget: Anthropic's floor of 1,024 is Claude's, not a local model's) or off. */
const Thinking = z.discriminatedUnion('type', [
  z.object({ type: z.literal('enabled'), budget_tokens: REQUEST_FIELDS.reasoningBudget.schema.optional() }).passthrough(),
  z.object({ type: z.literal('disabled') }).passthrough(),
  z.object({ type: z.literal('adaptive') }).passthrough(),
  z.object({ type: z.literal('between_tools') }).passthrough(),
]);

/** How much to think (reasoning.ts) and the reply's JSON schema. */
const OutputConfig = z
  .object({
    effort: ClientEffort.nullable().optional(),
    format: z.object({ type: z.literal('json_schema'), schema: z.record(z.unknown()) }).passthrough().nullable().optional(),
  })
  .passthrough();

/** What a messages request and a token count share: the conversation and the tools. */
const conversationShape = {
  model: z.string().min(1).max(4096),
  system: z.union([z.string(), z.array(Block)]).optional(),
  messages: z.array(AnthropicMessage).min(1),
  tools: z.array(AnthropicTool).max(512).optional(),
  tool_choice: AnthropicToolChoice.optional(),
  thinking: Thinking.optional(),
  output_config: OutputConfig.nullable().optional(),
};

export const CountTokensBody = z.object(conversationShape).passthrough();
export type CountTokensBody = z.infer<typeof CountTokensBody>;

export const MessagesBody = z
  .object({
    ...conversationShape,
    max_tokens: z.number().int().min(1).max(MAX_TOKENS),
    stop_sequences: z.array(z.string()).max(16).optional(),
    stream: z.boolean().optional(),
    /** Anthropic's user id for abuse tracking: nothing to track here */
    metadata: z.unknown().optional(),
    /** every engine sampler under llama-server's names (temperature, top_p and top_k among them) */
    ...samplerBodyShape,
  })
  .passthrough();
export type MessagesBody = z.infer<typeof MessagesBody>;

/** One block as its type's schema reads it (a 400 naming the block's field), media and unknown types refused. */
function blockOf<S extends z.ZodTypeAny>(schema: S, block: unknown, where: string): z.output<S> {
  const r = schema.safeParse(block);
  if (!r.success) throw invalidBody(r.error, where.split('.'));
  return r.data;
}

function refuse(block: { type: string }, where: string, allowed: string): never {
  const a = /^[aeiou]/.test(block.type) ? 'an' : 'a';
  if (MEDIA_BLOCKS.has(block.type)) {
    throw new ApiError(400, 'not_supported', `${where} is ${a} ${block.type} block: Hearth's Anthropic API does not read images or documents yet (its OpenAI chat API reads images, as image_url data: URLs); send text`, where);
  }
  throw new ApiError(400, 'invalid_request_error', `${where} is ${a} ${block.type} block, which Hearth does not take here (it takes ${allowed})`, where);
}

/** Text from a string or text blocks (system prompts, tool results). */
function textOf(content: string | z.infer<typeof Block>[] | undefined, where: string): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((b, i) => {
      const at = `${where}.${i}`;
      if (b.type !== 'text') refuse(b, at, 'text blocks');
      return blockOf(TextBlock, b, at).text;
    })
    .join('\n');
}

/** Anthropic's system prompt and messages as the engine's messages. */
export function engineMessages(system: CountTokensBody['system'], messages: z.infer<typeof AnthropicMessage>[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const sys = textOf(system, 'system');
  if (sys) out.push({ role: 'system', content: sys });
  messages.forEach((m, i) => {
    const where = `messages.${i}.content`;
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content });
      return;
    }
    if (m.role === 'assistant') {
      const texts: string[] = [];
      const thoughts: string[] = [];
      const calls: NonNullable<ChatMessage['tool_calls']> = [];
      m.content.forEach((b, j) => {
        const at = `${where}.${j}`;
        if (b.type === 'text') texts.push(blockOf(TextBlock, b, at).text);
        else if (b.type === 'thinking') thoughts.push(blockOf(ThinkingBlock, b, at).thinking);
        else if (b.type === 'redacted_thinking') return; // encrypted by Anthropic: nothing a local model can read
        else if (b.type === 'tool_use') {
          const u = blockOf(ToolUseBlock, b, at);
          calls.push(engineToolCall(u.id, u.name, u.input));
        } else refuse(b, at, 'text, thinking and tool_use blocks from the assistant');
      });
      out.push({
        role: 'assistant',
        content: texts.join('\n'),
        ...(thoughts.length ? { reasoning_content: thoughts.join('\n') } : {}),
        ...(calls.length ? { tool_calls: calls } : {}),
      });
      return;
    }
    // a user turn: tool results become tool messages, runs of text one user message, in their order
    let texts: string[] | null = null;
    const flush = () => {
      if (texts) out.push({ role: 'user', content: texts.join('\n') });
      texts = null;
    };
    m.content.forEach((b, j) => {
      const at = `${where}.${j}`;
      if (b.type === 'text') (texts ??= []).push(blockOf(TextBlock, b, at).text);
      else if (b.type === 'tool_result') {
        flush();
        const r = blockOf(ToolResultBlock, b, at);
        const text = textOf(r.content, `${at}.content`);
        out.push({ role: 'tool', tool_call_id: r.tool_use_id, content: r.is_error ? `Error: ${text}` : text });
      } else refuse(b, at, 'text and tool_result blocks from the user');
    });
    flush();
  });
  return out;
}

/** The engine's chat request for a messages body (`seq` is the slot's, added when it runs); a count_tokens body maps the same way without the generation fields. */
export function chatRequestOf(b: CountTokensBody | MessagesBody): Omit<ChatRequest, 'seq'> {
  let tools = b.tools;
  let toolChoice: 'auto' | 'none' | 'required' | undefined;
  const tc = b.tool_choice;
  if (tc?.type === 'tool') {
    // one named tool: offer only it, and require a call
    tools = tools?.filter((t) => t.name === tc.name);
    if (!tools?.length) throw new ApiError(400, 'invalid_request_error', `tool_choice names ${tc.name}, which is not among the tools`, 'tool_choice.name');
    toolChoice = 'required';
  } else if (tc) toolChoice = tc.type === 'any' ? 'required' : tc.type;
  const gen = 'max_tokens' in b ? (b as MessagesBody) : null;
  const stop = gen?.stop_sequences?.filter((s) => s.length > 0);
  return {
    messages: engineMessages(b.system, b.messages),
    ...(tools?.length && toolChoice !== 'none'
      ? { tools: tools.map((t) => engineTool(t.name, t.description, t.input_schema)), ...(toolChoice ? { toolChoice } : {}) }
      : {}),
    ...effortOf(b.output_config?.effort),
    ...(b.thinking ? { enableThinking: b.thinking.type !== 'disabled' } : {}),
    ...(b.thinking?.type === 'enabled' && b.thinking.budget_tokens !== undefined ? { reasoningBudget: b.thinking.budget_tokens } : {}),
    ...(gen && b.output_config?.format ? { jsonSchema: b.output_config.format.schema } : {}),
    ...(gen ? { sampling: samplingOf(gen), maxTokens: gen.max_tokens } : {}),
    ...(stop?.length ? { stop } : {}),
  };
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

/** Cut short is 'max_tokens' whatever it holds, as Anthropic's API says: a tool_use cut off may lack its input's end. */
export function stopReasonOf(r: GenerateResult): StopReason {
  if (r.stopReason === 'length' || r.contextFull) return 'max_tokens';
  if (r.toolCalls.length > 0) return 'tool_use';
  if (r.stopReason === 'stop') return 'stop_sequence';
  return 'end_turn';
}

/**
 * The stop sequence that ended a generation: the engine cuts the output before it, so it is the one
 * found first in the whole generated text (`generated`: its tokens as text, when known); else the
 * first one asked for.
 */
export function stopSequenceOf(r: GenerateResult, stops: readonly string[] | undefined, generated?: string): string | null {
  if (r.stopReason !== 'stop' || !stops?.length) return null;
  if (generated !== undefined) {
    let best: { s: string; at: number } | null = null;
    for (const s of stops) {
      const at = s ? generated.indexOf(s) : -1;
      if (at >= 0 && (!best || at < best.at || (at === best.at && s.length > best.s.length))) best = { s, at };
    }
    if (best) return best.s;
  }
  return stops[0];
}

/** Anthropic's usage: input_tokens are the prompt tokens not read from the cache (Anthropic counts cached ones apart). */
export function usageOf(r: GenerateResult) {
  const t = r.timings;
  const cached = Math.min(t.cachedTokens, t.promptTokens);
  return {
    input_tokens: t.promptTokens - cached,
    output_tokens: t.generatedTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** A tool call's arguments as a tool_use block's input: the parsed JSON, else the text as the model wrote it. */
function inputOf(args: string): unknown {
  try {
    return JSON.parse(args || '{}');
  } catch {
    return args;
  }
}

export interface ToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

export function toolUsesOf(r: GenerateResult): ToolUse[] {
  return r.toolCalls.map((c) => ({ type: 'tool_use', id: c.id || `toolu_${crypto.randomBytes(12).toString('hex')}`, name: c.name, input: inputOf(c.arguments) }));
}

export function messageId(): string {
  return `msg_${crypto.randomBytes(12).toString('hex')}`;
}

/** The content blocks of a finished generation: thinking (with an empty signature: nothing is signed here), text, tool uses. */
export function contentOf(r: GenerateResult): unknown[] {
  return [
    ...(r.reasoning ? [{ type: 'thinking', thinking: r.reasoning, signature: '' }] : []),
    ...(r.content ? [{ type: 'text', text: r.content, citations: null }] : []),
    ...toolUsesOf(r),
  ];
}
