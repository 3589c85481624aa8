/**
 * Claude's data export: conversations.json, a top-level array of conversations
 * {uuid, name, created_at, updated_at (ISO), chat_messages: [...]}, each message
 * {uuid, sender: 'human' | 'assistant', text, content: [blocks], created_at, attachments, files,
 * parent_message_uuid?}.
 *
 * Shapes checked against (2026-12): Sinity/polylogue docs/providers/claude-ai.md (content segments text /
 * tool_use / tool_result, attachments / files arrays), public typings of the export (ChatMessage with
 * attachments [{file_name, file_type, file_size, extracted_content?}]), a public JSON schema of
 * conversations.json (chat_messages[].attachments[].extracted_content), and a Python adapter reading
 * uuid / name / chat_messages / sender "human" | "assistant".
 *
 * - Linear in array order, unless parent_message_uuid links messages of the conversation into a tree
 *   (the all-zero uuid Claude uses for "no parent" makes a root); the active branch ends at
 *   current_leaf_message_uuid where the export has it, else at the last message.
 * - `thinking` blocks are the reasoning; tool_use / tool_result blocks are notes.
 * - An attachment whose text the export kept (extracted_content) is appended to the message as a quoted
 *   block that says which file it was; one without, and `files` (uploaded images), are notes.
 */
import { z } from 'zod';
import type { ImportedRole, ImportedThread, ImportReader, SkipNote } from '../imported';
import { readConversations, type JsonSource } from './stream';
import { buildTree, describeIssue, isoToMs, NOTES, quote, threadTimes, tooManyNodes, type RawNode } from './tree';

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

const blockSchema = z.object({
  type: z.string(),
  text: nullish(z.string()),
  thinking: nullish(z.string()),
}).passthrough();

const messageSchema = z.object({
  uuid: z.string(),
  sender: z.string(),
  text: nullish(z.string()),
  content: nullish(z.array(blockSchema)),
  created_at: nullish(z.string()),
  attachments: nullish(z.array(z.object({ file_name: nullish(z.string()), extracted_content: nullish(z.string()) }).passthrough())),
  files: nullish(z.array(z.object({ file_name: nullish(z.string()) }).passthrough())),
  parent_message_uuid: nullish(z.string()),
}).passthrough();

export const claudeConversationSchema = z.object({
  uuid: z.string(),
  name: nullish(z.string()),
  created_at: nullish(z.string()),
  updated_at: nullish(z.string()),
  chat_messages: z.array(messageSchema),
  current_leaf_message_uuid: nullish(z.string()),
  model: nullish(z.string()),
}).passthrough();

type ClaudeMessage = z.infer<typeof messageSchema>;

const SENDERS = new Map<string, ImportedRole>([['human', 'user'], ['assistant', 'assistant']]);

/** An attachment's text as a quoted block that names it. */
export function quoteAttachment(name: string, text: string): string {
  const quoted = text.split(/\r?\n/).map((l) => (l ? `> ${l}` : '>')).join('\n');
  return `> Attached file "${name}" (its text, as the export kept it):\n>\n${quoted}`;
}

function contentOf(m: ClaudeMessage, skipped: SkipNote[]): { content: string; reasoning: string } {
  const text: string[] = [];
  const thinking: string[] = [];
  if (m.content && m.content.length > 0) {
    for (const b of m.content) {
      if (b.type === 'text') { if (b.text) text.push(b.text); }
      else if (b.type === 'thinking') { if (b.thinking) thinking.push(b.thinking); }
      else if (b.type === 'tool_use') skipped.push({ reason: 'tool calls (not imported)' });
      else if (b.type === 'tool_result') skipped.push({ reason: 'tool results (not imported)' });
      else skipped.push({ reason: `unknown content block ${quote(b.type)}` });
    }
  } else if (m.text) {
    text.push(m.text);
  }
  for (const a of m.attachments ?? []) {
    if (a.extracted_content) text.push(quoteAttachment(a.file_name ?? 'attachment', a.extracted_content));
    else skipped.push({ reason: NOTES.attachments });
  }
  for (let i = 0; i < (m.files?.length ?? 0); i++) skipped.push({ reason: NOTES.files });
  return { content: text.join('\n\n'), reasoning: thinking.join('\n\n') };
}

/** One conversation of the export in Hearth's shape. */
export function readClaudeConversation(value: unknown): ImportedThread | { skipped: SkipNote } {
  const r = claudeConversationSchema.safeParse(value);
  if (!r.success) return { skipped: { reason: `a Claude conversation that could not be read (${describeIssue(r.error)})` } };
  const c = r.data;
  const tooMany = tooManyNodes(c.chat_messages.length);
  if (tooMany) return tooMany;
  const skipped: SkipNote[] = [];
  const ids = new Set(c.chat_messages.map((m) => m.uuid));
  const tree = c.chat_messages.some((m) => m.parent_message_uuid && ids.has(m.parent_message_uuid));
  const nodes: RawNode[] = [];
  let previous: string | null = null;
  for (const m of c.chat_messages) {
    const parentKey = tree ? (m.parent_message_uuid && ids.has(m.parent_message_uuid) ? m.parent_message_uuid : null) : previous;
    previous = m.uuid;
    const role = SENDERS.get(m.sender);
    if (!role) { skipped.push({ reason: `messages from ${quote(m.sender)} (not a chat role)` }); nodes.push({ key: m.uuid, parentKey, message: null }); continue; }
    const { content, reasoning } = contentOf(m, skipped);
    if (!content && !reasoning) { nodes.push({ key: m.uuid, parentKey, message: null }); continue; }
    nodes.push({ key: m.uuid, parentKey, message: { role, content, ...(reasoning ? { reasoning } : {}), createdAt: isoToMs(m.created_at) } });
  }
  const leaf = c.current_leaf_message_uuid && ids.has(c.current_leaf_message_uuid)
    ? c.current_leaf_message_uuid : c.chat_messages[c.chat_messages.length - 1]?.uuid ?? null;
  const messages = buildTree(nodes, leaf, skipped);
  return {
    sourceId: c.uuid,
    title: c.name?.trim() || 'Claude conversation',
    ...threadTimes(isoToMs(c.created_at), isoToMs(c.updated_at), messages, Date.now()),
    model: c.model ?? null,
    messages,
    skipped,
  };
}

/** A Claude conversations.json (a file, or the entry of the export's zip) as a reader. */
export function claudeReader(source: JsonSource): ImportReader {
  return {
    format: 'claude',
    source: source.where,
    async *conversations(signal?: AbortSignal) {
      yield* readConversations(source, readClaudeConversation, { signal });
    },
  };
}
