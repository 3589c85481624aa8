/**
 * Open WebUI's chat export (Settings › Chats › Export, or one chat's "Export chat (.json)"): a top-level
 * array of {id, title, created_at, updated_at (seconds), chat: {title, models, history: {currentId,
 * messages: {id: {id, parentId, childrenIds, role, content, timestamp, model}}}, messages: [...]}}.
 *
 * Shapes checked against (2026-12): eltanno/slc-ai-tutor-app-modernized frontend/src/app/types/Conversation.ts
 * (the chat record with chat.history.messages / currentId, parentId, childrenIds, timestamp, model),
 * CAkai/edge-extension (ChatBase: id, title, created_at, updated_at), and public typings of the history
 * (messages keyed by id, currentId).
 *
 * - The tree comes from parentId; the active branch is the path from history.currentId. A chat without a
 *   history (older exports) reads chat.messages as a line.
 * - Open WebUI keeps a reasoning model's thinking inside the content, as
 *   <details type="reasoning">…</details>; that block becomes the reasoning.
 * - Times are seconds, though older versions kept ms (judged by size).
 */
import { z } from 'zod';
import { isImportedRole, type ImportedThread, type ImportReader, type SkipNote } from '../imported';
import { readConversations, type JsonSource } from './stream';
import { buildTree, describeIssue, epochToMs, idMap, NOTES, quote, threadTimes, tooManyNodes, type RawNode } from './tree';

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

const messageSchema = z.object({
  id: nullish(z.string()),
  parentId: nullish(z.string()),
  childrenIds: nullish(z.array(z.string())),
  role: z.string(),
  content: nullish(z.union([z.string(), z.array(z.unknown())])),
  timestamp: nullish(z.number()),
  model: nullish(z.string()),
  files: nullish(z.array(z.unknown())),
}).passthrough();

export const openwebuiChatSchema = z.object({
  id: z.string(),
  title: nullish(z.string()),
  created_at: nullish(z.number()),
  updated_at: nullish(z.number()),
  chat: z.object({
    title: nullish(z.string()),
    models: nullish(z.array(z.string())),
    history: nullish(z.object({ currentId: nullish(z.string()), messages: idMap(messageSchema) }).passthrough()),
    messages: nullish(z.array(messageSchema)),
    timestamp: nullish(z.number()),
  }).passthrough(),
}).passthrough();

type WebuiMessage = z.infer<typeof messageSchema>;

const REASONING = /<details\b[^>]*\btype="reasoning"[^>]*>([\s\S]*?)<\/details>\s*/g;

/** The content without its reasoning blocks, and their text (summary line and quote marks taken off). */
export function splitReasoning(content: string): { content: string; reasoning: string } {
  const parts: string[] = [];
  const rest = content.replace(REASONING, (_all, inner: string) => {
    const body = inner.replace(/<summary>[\s\S]*?<\/summary>/, '').split('\n').map((l) => l.replace(/^>\s?/, '')).join('\n').trim();
    if (body) parts.push(body);
    return '';
  });
  return { content: rest.trim(), reasoning: parts.join('\n\n') };
}

function textOf(m: WebuiMessage, skipped: SkipNote[]): string {
  if (typeof m.content === 'string') return m.content;
  const out: string[] = [];
  for (const p of m.content ?? []) {
    const o = p as { type?: unknown; text?: unknown };
    if (o && o.type === 'text' && typeof o.text === 'string') out.push(o.text);
    else skipped.push({ reason: NOTES.files });
  }
  return out.join('\n');
}

/** One chat of the export in Hearth's shape. */
export function readOpenwebuiChat(value: unknown): ImportedThread | { skipped: SkipNote } {
  const r = openwebuiChatSchema.safeParse(value);
  if (!r.success) return { skipped: { reason: `an Open WebUI chat that could not be read (${describeIssue(r.error)})` } };
  const c = r.data;
  const tooMany = tooManyNodes(Math.max(c.chat.history?.messages.size ?? 0, c.chat.messages?.length ?? 0));
  if (tooMany) return tooMany;
  const skipped: SkipNote[] = [];
  const nodes: RawNode[] = [];
  const add = (key: string, parentKey: string | null, m: WebuiMessage) => {
    const role = m.role;
    if (!isImportedRole(role)) { skipped.push({ reason: `messages from ${quote(m.role)} (not a chat role)` }); nodes.push({ key, parentKey, message: null }); return; }
    for (let i = 0; i < (m.files?.length ?? 0); i++) skipped.push({ reason: NOTES.files });
    const { content, reasoning } = splitReasoning(textOf(m, skipped));
    if (!content && !reasoning) { nodes.push({ key, parentKey, message: null }); return; }
    nodes.push({
      key, parentKey,
      message: { role, content, ...(reasoning ? { reasoning } : {}), createdAt: epochToMs(m.timestamp), ...(role === 'assistant' && m.model ? { model: m.model } : {}) },
    });
  };
  let leaf: string | null = null;
  const history = c.chat.history;
  if (history && history.messages.size > 0) {
    for (const [key, m] of history.messages) add(m.id ?? key, m.parentId ?? null, m);
    leaf = history.currentId ?? null;
  } else {
    let previous: string | null = null;
    (c.chat.messages ?? []).forEach((m, i) => {
      const key = m.id ?? `m${i}`;
      add(key, previous, m);
      previous = key;
    });
    leaf = previous;
  }
  const messages = buildTree(nodes, leaf, skipped);
  return {
    sourceId: c.id,
    title: (c.title ?? c.chat.title)?.trim() || 'Open WebUI chat',
    ...threadTimes(epochToMs(c.created_at ?? c.chat.timestamp), epochToMs(c.updated_at), messages, Date.now()),
    model: c.chat.models?.[0] ?? null,
    messages,
    skipped,
  };
}

/** An Open WebUI export file as a reader. */
export function openwebuiReader(source: JsonSource): ImportReader {
  return {
    format: 'openwebui',
    source: source.where,
    async *conversations(signal?: AbortSignal) {
      yield* readConversations(source, readOpenwebuiChat, { signal });
    },
  };
}
