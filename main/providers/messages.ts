/**
 * A turn's messages, as the chat service builds them for the engine (main/engine/protocol.ts
 * ChatMessage: OpenAI's shape, images as the stored files' paths), put in each remote API's shape:
 * OpenAI's chat completions (images as data: URLs) and Anthropic's Messages (the system prompt apart,
 * tool calls as tool_use blocks, their results as tool_result blocks in a user message, images as
 * base64 sources). Pure but for reading the image files.
 */
import fs from 'fs';
import type { ChatMessage } from '../engine/protocol';
import { imageKindOf, type ContentPart } from '../params';

/** A tool as the engine takes it (OpenAI's function tool). */
export interface RemoteTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

/** An image part's bytes and MIME type (the stored file's, by its magic bytes). */
async function imageData(part: Extract<ContentPart, { type: 'image' }>): Promise<{ mime: string; base64: string }> {
  let bytes: Buffer;
  if (part.data !== undefined) {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(part.data);
    if (m) return { mime: m[1], base64: m[2] };
    bytes = Buffer.from(part.data, 'base64');
  } else bytes = await fs.promises.readFile(part.path!);
  const kind = imageKindOf(bytes);
  return { mime: kind?.mimeType ?? 'application/octet-stream', base64: bytes.toString('base64') };
}

function textOf(content: ChatMessage['content']): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((p): p is Extract<ContentPart, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join('');
}

type OpenAIPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/**
 * OpenAI's chat completions messages. A reply's reasoning (the replies REASONING_SENT names for the
 * kind carry it, or what stands for it: main/chat/history.ts) goes as `reasoning_content` where
 * `reasoning` says so: to a llama.cpp-family server, which renders it with the model's template, as the
 * engine does (a tool loop's steps, and a reply being continued: only such a server is asked to
 * continue, so a reply cut off while thinking goes on thinking there too), and to DeepSeek's and Kimi's
 * APIs. Other hosted APIs are not sent any, as OpenAI's asks. A
 * reply being continued that has nothing in it yet is left out: llama-server would continue none and
 * end the prompt with no generation prompt; without it, it writes the reply afresh, as the engine does.
 */
export async function toOpenAIMessages(messages: readonly ChatMessage[], reasoning: boolean): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const last = messages[messages.length - 1];
  const emptyReply = last?.role === 'assistant' && !textOf(last.content) && !last.reasoning_content && !last.tool_calls?.length;
  for (const m of emptyReply ? messages.slice(0, -1) : messages) {
    let content: string | OpenAIPart[];
    if (Array.isArray(m.content)) {
      const parts: OpenAIPart[] = [];
      for (const p of m.content) {
        if (p.type === 'text') parts.push({ type: 'text', text: p.text });
        else {
          const img = await imageData(p);
          parts.push({ type: 'image_url', image_url: { url: `data:${img.mime};base64,${img.base64}` } });
        }
      }
      content = parts;
    } else content = m.content ?? '';
    if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.tool_call_id ?? '', content: textOf(m.content) });
    else if (m.role === 'assistant') {
      const calls = m.tool_calls?.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
      out.push({
        role: 'assistant',
        content: textOf(m.content) || (calls?.length ? null : ''),
        ...(calls?.length ? { tool_calls: calls } : {}),
        ...(reasoning && m.reasoning_content !== undefined ? { reasoning_content: m.reasoning_content } : {}),
      });
    } else out.push({ role: m.role, content });
  }
  return out;
}

type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string };

interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

/** A tool call's id as Anthropic takes it (letters, digits, _ and -), the same for the call and its result. */
export function anthropicToolId(id: string | undefined, fallback: string): string {
  const clean = (id ?? '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200);
  return clean || fallback;
}

/** A tool call's arguments as an object (Anthropic's input); text that is not a JSON object goes under `input`. */
function argumentsObject(text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    /* not JSON */
  }
  return text ? { input: text } : {};
}

/**
 * Anthropic's Messages request: the system messages joined as `system`, the rest as alternating user and
 * assistant messages (consecutive ones of a role merged: a tool result is a user message there).
 */
export async function toAnthropicMessages(messages: readonly ChatMessage[]): Promise<{ system: string; messages: AnthropicMessage[] }> {
  const system: string[] = [];
  const out: AnthropicMessage[] = [];
  const push = (role: 'user' | 'assistant', blocks: AnthropicBlock[]) => {
    if (blocks.length === 0) return;
    const last = out[out.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    if (m.role === 'system') {
      const t = textOf(m.content);
      if (t) system.push(t);
      continue;
    }
    if (m.role === 'tool') {
      push('user', [{ type: 'tool_result', tool_use_id: anthropicToolId(m.tool_call_id, 'call_0'), content: textOf(m.content) }]);
      continue;
    }
    const blocks: AnthropicBlock[] = [];
    if (Array.isArray(m.content)) {
      for (const p of m.content) {
        if (p.type === 'text') {
          if (p.text) blocks.push({ type: 'text', text: p.text });
        } else {
          const img = await imageData(p);
          blocks.push({ type: 'image', source: { type: 'base64', media_type: img.mime, data: img.base64 } });
        }
      }
    } else if (m.content) blocks.push({ type: 'text', text: m.content });
    if (m.role === 'assistant') {
      (m.tool_calls ?? []).forEach((c, i) => blocks.push({ type: 'tool_use', id: anthropicToolId(c.id, `call_${i}`), name: c.function.name, input: argumentsObject(c.function.arguments) }));
    }
    push(m.role, blocks);
  }
  // the API wants the first message to be the user's
  if (out[0]?.role === 'assistant') out.unshift({ role: 'user', content: [{ type: 'text', text: '(continue)' }] });
  return { system: system.join('\n\n'), messages: out };
}

/** Anthropic's tools from the engine's (OpenAI's) tool definitions. */
export function toAnthropicTools(tools: readonly RemoteTool[]): { name: string; description?: string; input_schema: unknown }[] {
  return tools.map((t) => ({
    name: t.function.name,
    ...(t.function.description ? { description: t.function.description } : {}),
    input_schema: t.function.parameters ?? { type: 'object', properties: {} },
  }));
}
