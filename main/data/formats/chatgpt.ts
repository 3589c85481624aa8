/**
 * ChatGPT's data export: conversations.json, a top-level array of conversations, each a tree of nodes
 * (`mapping`: id → {message | null, parent, children}) with `current_node` the leaf the app showed.
 *
 * Shapes checked against (2026-12): sjhomer/recovery-gpt types/index.d.ts (Conversation, Mapping, Message),
 * umayangag/chatgpt-merge internal/models/conversation.go ("parts: mostly []string, but can be a map for
 * attachments"), public typings of multimodal parts (image_asset_pointer, audio_transcription,
 * audio_asset_pointer) and of the `thoughts` / `reasoning_recap` content types (thoughts: [{summary, content}],
 * reasoning_recap: {content: "Thought for 5s"}), and conversation fields conversation_id / id /
 * default_model_slug from public exports' typings.
 *
 * - The null-message root, empty system messages and nodes with metadata.is_visually_hidden_from_conversation
 *   are left out; their children hang from the nearest kept ancestor.
 * - `thoughts` become the reasoning of the next assistant message below them (or a note when none follows);
 *   `reasoning_recap` (a "Thought for 5s" label) is dropped.
 * - Content types other than text / multimodal_text / code, and non-text parts, are notes.
 */
import { z } from 'zod';
import { isImportedRole, type ImportedThread, type ImportReader, type SkipNote } from '../imported';
import { readConversations, type JsonSource } from './stream';
import { buildTree, describeIssue, idMap, MAX_NODES, memoUp, NOTES, quote, secondsToMs, threadTimes, tooManyNodes, type RawNode } from './tree';

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

const contentSchema = z.object({
  content_type: z.string(),
  parts: nullish(z.array(z.unknown())),
  text: nullish(z.string()),
  language: nullish(z.string()),
  thoughts: nullish(z.array(z.object({ summary: nullish(z.string()), content: nullish(z.string()) }).passthrough())),
}).passthrough();

const messageSchema = z.object({
  id: z.string(),
  author: z.object({ role: z.string() }).passthrough(),
  content: contentSchema,
  create_time: nullish(z.number()),
  metadata: nullish(z.record(z.unknown())),
}).passthrough();

const nodeSchema = z.object({
  id: nullish(z.string()),
  message: nullish(messageSchema),
  parent: nullish(z.string()),
  children: nullish(z.array(z.string())),
}).passthrough();

export const chatgptConversationSchema = z.object({
  title: nullish(z.string()),
  create_time: nullish(z.number()),
  update_time: nullish(z.number()),
  mapping: idMap(nodeSchema),
  current_node: nullish(z.string()),
  conversation_id: nullish(z.string()),
  id: nullish(z.string()),
  default_model_slug: nullish(z.string()),
}).passthrough();

type ChatgptMessage = z.infer<typeof messageSchema>;

const TEXT_TYPES = new Set(['text', 'multimodal_text', 'code']);

/** A message's text, and notes for what it held that is not text. */
function textOf(m: ChatgptMessage, skipped: SkipNote[]): string {
  const c = m.content;
  if (c.content_type === 'code') {
    const text = c.text ?? '';
    return text ? `\`\`\`${c.language && c.language !== 'unknown' ? c.language : ''}\n${text}\n\`\`\`` : '';
  }
  const out: string[] = [];
  let files = false;
  let audio = false;
  for (const p of c.parts ?? []) {
    if (typeof p === 'string') { out.push(p); continue; }
    const kind = p && typeof p === 'object' ? (p as { content_type?: unknown }).content_type : undefined;
    const text = p && typeof p === 'object' ? (p as { text?: unknown }).text : undefined;
    if (kind === 'audio_transcription' && typeof text === 'string') out.push(text);
    else if (kind === 'image_asset_pointer' || kind === 'file_asset_pointer') files = true;
    else if (typeof kind === 'string' && kind.includes('audio')) audio = true;
    else skipped.push({ reason: `unknown content part ${quote(typeof kind === 'string' ? kind : typeof p)}` });
  }
  if (files) skipped.push({ reason: NOTES.files });
  if (audio) skipped.push({ reason: NOTES.audio });
  return out.join('\n');
}

function thoughtsOf(m: ChatgptMessage): string {
  return (m.content.thoughts ?? []).map((t) => [t.summary, t.content].filter((s) => s).join('\n')).filter((s) => s).join('\n\n');
}

/** One conversation of the export in Hearth's shape (`value` is one element of the array); one of more than `maxNodes` nodes is a note. */
export function readChatgptConversation(value: unknown, index: number, maxNodes = MAX_NODES): ImportedThread | { skipped: SkipNote } {
  const r = chatgptConversationSchema.safeParse(value);
  if (!r.success) return { skipped: { reason: `a ChatGPT conversation that could not be read (${describeIssue(r.error)})` } };
  const c = r.data;
  const tooMany = tooManyNodes(c.mapping.size, maxNodes);
  if (tooMany) return tooMany;
  const skipped: SkipNote[] = [];
  const nodes: RawNode[] = [];
  const thoughts = new Map<string, string>(); // a thoughts node's key → its text, until an answer takes it

  for (const [key, n] of c.mapping) {
    const m = n.message;
    const parentKey = n.parent ?? null;
    const skip = () => nodes.push({ key, parentKey, message: null });
    if (!m) { skip(); continue; }
    const role = m.author.role;
    const type = m.content.content_type;
    const hidden = m.metadata?.is_visually_hidden_from_conversation === true;
    if (type === 'thoughts') { thoughts.set(key, thoughtsOf(m)); skip(); continue; }
    if (type === 'reasoning_recap') { skip(); continue; }
    if (!TEXT_TYPES.has(type)) {
      if (!hidden) skipped.push({ reason: `unknown content type ${quote(type)}` });
      skip(); continue;
    }
    const content = hidden ? '' : textOf(m, skipped);
    if (hidden || content.trim() === '') { skip(); continue; }
    if (!isImportedRole(role)) { skipped.push({ reason: `messages from ${quote(m.author.role)} (not a chat role)` }); skip(); continue; }
    const model = m.metadata?.model_slug;
    nodes.push({
      key, parentKey,
      message: { role, content, createdAt: secondsToMs(m.create_time), ...(role === 'assistant' && typeof model === 'string' ? { model } : {}) },
    });
  }

  // thoughts above an answer (through left-out nodes) are its reasoning; each chain is walked once
  const used = new Set<string>();
  if (thoughts.size > 0) {
    const reasoningAbove = memoUp<string>(new Map(nodes.map((n) => [n.key, n])), (n) => (n.message ? '' : undefined), '', (above, n) => {
      const t = thoughts.get(n.key);
      if (t === undefined) return above;
      used.add(n.key);
      return t ? (above ? `${above}\n\n${t}` : t) : above;
    });
    for (const n of nodes) {
      if (!n.message || n.message.role !== 'assistant' || n.parentKey === null) continue;
      const reasoning = reasoningAbove(n.parentKey);
      if (reasoning) n.message.reasoning = reasoning;
    }
  }
  for (const k of thoughts.keys()) if (!used.has(k)) skipped.push({ reason: 'reasoning without an answer after it' });

  const messages = buildTree(nodes, c.current_node ?? null, skipped);
  const times = threadTimes(secondsToMs(c.create_time), secondsToMs(c.update_time), messages, Date.now());
  const lastModel = [...messages].reverse().find((m) => m.active && m.model)?.model ?? null;
  return {
    sourceId: c.conversation_id ?? c.id ?? `chatgpt-${c.create_time ?? index}-${c.title ?? ''}`,
    title: c.title?.trim() || 'ChatGPT conversation',
    ...times,
    model: c.default_model_slug ?? lastModel,
    messages,
    skipped,
  };
}

/** A ChatGPT conversations.json (a file, or the entry of the export's zip) as a reader. */
export function chatgptReader(source: JsonSource): ImportReader {
  return {
    format: 'chatgpt',
    source: source.where,
    async *conversations(signal?: AbortSignal) {
      yield* readConversations(source, (value, i) => readChatgptConversation(value, i), { signal });
    },
  };
}
