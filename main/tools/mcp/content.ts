/**
 * What an MCP server answers a tool call with, made the text the model reads: text parts as they are,
 * images and audio as a placeholder naming their type and size (Hearth does not pass media to the
 * model from tools), a resource (link or embedded) as its URI with the embedded text. A server's answer
 * is untrusted: each part is checked on its own, and a part Hearth does not know is named, not dropped.
 */
import { z } from 'zod';
import type { ToolOutcome } from '../types';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const MediaPart = z.object({ type: z.enum(['image', 'audio']), data: z.string(), mimeType: z.string().max(200).default('unknown') });
const LinkPart = z.object({ type: z.literal('resource_link'), uri: z.string(), name: z.string().optional() });
const EmbeddedPart = z.object({
  type: z.literal('resource'),
  resource: z.object({ uri: z.string(), text: z.string().optional(), blob: z.string().optional(), mimeType: z.string().max(200).optional() }),
});
const Part = z.discriminatedUnion('type', [TextPart, MediaPart, LinkPart, EmbeddedPart]);

/** The result of tools/call as far as Hearth reads it. */
const CallResult = z.object({
  content: z.array(z.unknown()).default([]),
  structuredContent: z.record(z.unknown()).optional(),
  isError: z.boolean().optional(),
});

/** The bytes a base64 string holds. */
export function base64Bytes(data: string): number {
  const s = data.replace(/\s+/g, '');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((s.length * 3) / 4) - pad);
}

/** One content part as text. */
function partText(raw: unknown): string {
  const p = Part.safeParse(raw);
  if (!p.success) {
    const type = typeof raw === 'object' && raw !== null && typeof (raw as { type?: unknown }).type === 'string' ? (raw as { type: string }).type : 'unknown';
    return `[${type.slice(0, 40)} content]`;
  }
  const part = p.data;
  switch (part.type) {
    case 'text':
      return part.text;
    case 'image':
    case 'audio':
      return `[${part.type}: ${part.mimeType}, ${base64Bytes(part.data)} bytes]`;
    case 'resource_link':
      return part.name ? `${part.uri} (${part.name})` : part.uri;
    case 'resource': {
      const r = part.resource;
      if (r.text !== undefined) return `${r.uri}\n${r.text}`;
      if (r.blob !== undefined) return `${r.uri} [${r.mimeType ?? 'binary'}, ${base64Bytes(r.blob)} bytes]`;
      return r.uri;
    }
  }
}

/**
 * A tools/call result as an outcome: its parts' text joined by newlines (the structured content as
 * JSON when there are no parts), failed when the server says so.
 */
export function outcomeOf(result: unknown): ToolOutcome {
  const r = CallResult.safeParse(result);
  if (!r.success) return { text: 'the server answered the call with something that is not a tool result', isError: true };
  const { content, structuredContent, isError } = r.data;
  const text = content.length > 0 ? content.map(partText).join('\n') : structuredContent ? JSON.stringify(structuredContent) : '';
  return { text, isError: isError === true };
}
