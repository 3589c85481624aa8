/** Export a thread to Markdown (readable) and to JSON (lossless; re-importable with importJson). */
import { Sources } from '../ipc/docs';
import { z } from 'zod';
import type { Assistant } from './assistants';
import { AssistantTools, DOC_KINDS, MAX_DOC_BYTES, MAX_THREAD_DOCS, SHA256_HEX } from '../params';
import { activePath } from './tree';
import type { Message, MessagesApi, Thread, ThreadsApi } from './types';
import {
  attachmentSchema, idSchema, LIMITS, metricsSchema, modelRefSchema, roleSchema, samplingSchema, statusSchema, storedLoadSchema,
  finishReasonSchema, toolCallSchema,
} from './validation';

export const EXPORT_FORMAT = 'hearth.thread';
export const EXPORT_BUNDLE_FORMAT = 'hearth.threads';
/** The most documents a bundle carries (or names missing). */
export const MAX_EXPORT_DOCUMENTS = 20_000;
/**
 * 2: messages carry finishReason; 3: a bundle carries its attached documents' bytes (`documents`,
 * `documentsMissing`). Each is optional, so older files still read.
 */
export const EXPORT_VERSION = 3;

const ts = z.number().int().min(0);

export const exportedThreadSchema = z.object({
  id: idSchema,
  title: z.string(),
  assistantId: idSchema.nullable(),
  model: modelRefSchema.nullable(),
  createdAt: ts,
  updatedAt: ts,
  pinned: z.boolean(),
  archived: z.boolean(),
  overrides: z.object({
    instructions: z.string().max(LIMITS.instructionsChars).nullable().optional(),
    sampling: samplingSchema.optional(),
    load: storedLoadSchema.optional(), // an older export's settings read as stored ones are
  }).strict(),
}).strict();

export const exportedMessageSchema = z.object({
  id: idSchema,
  parentId: idSchema.nullable(),
  active: z.boolean(),
  role: roleSchema,
  content: z.string(),
  reasoning: z.string(),
  toolCalls: z.array(toolCallSchema).nullable(),
  toolCallId: z.string().min(1).max(256).nullable(),
  attachments: z.array(attachmentSchema),
  /** the documents' passages a reply was given; absent in files written before documents */
  sources: Sources.nullable().optional(),
  status: statusSchema,
  /** absent in files written before finish reasons were kept */
  finishReason: finishReasonSchema.nullable().optional(),
  error: z.string().max(LIMITS.errorChars).nullable(),
  model: modelRefSchema.nullable(),
  metrics: metricsSchema.nullable(),
  createdAt: ts,
  updatedAt: ts,
}).strict();

export const exportedAssistantSchema = z.object({
  id: idSchema,
  name: z.string().min(1).max(200),
  avatar: z.string().max(LIMITS.modelRefChars).nullable(),
  description: z.string().max(10_000),
  instructions: z.string().max(LIMITS.instructionsChars),
  sampling: samplingSchema,
  model: modelRefSchema.nullable(),
  /** the tools its chats are offered (exports before tools have none: every enabled one) */
  tools: AssistantTools.nullable().default(null),
  createdAt: ts,
  updatedAt: ts,
}).strict();

export const threadExportSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.number().int().min(1).max(EXPORT_VERSION),
  exportedAt: ts,
  thread: exportedThreadSchema,
  assistant: exportedAssistantSchema.nullable(),
  messages: z.array(exportedMessageSchema),
  /** documents its messages attach that the chat took out ("Remove from chat"): an import keeps them out */
  removedDocuments: z.array(z.string().regex(SHA256_HEX)).max(MAX_THREAD_DOCS * 10).optional(),
}).strict();

const docRefSchema = z.string().regex(SHA256_HEX, 'not a sha256 hex digest');

/** A document a bundle's messages attach, its bytes carried along (ref: their SHA-256, checked on import). */
export const exportedDocumentSchema = z.object({
  ref: docRefSchema,
  name: z.string().min(1).max(1024),
  kind: z.enum(DOC_KINDS).nullable(),
  /** the file's bytes, base64 (at most a document's bytes: checked before they are decoded) */
  data: z.string().max(Math.ceil(MAX_DOC_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64'),
}).strict();

export const bundleExportSchema = z.object({
  format: z.literal(EXPORT_BUNDLE_FORMAT),
  version: z.number().int().min(1).max(EXPORT_VERSION),
  exportedAt: ts,
  threads: z.array(threadExportSchema),
  /** the attached documents, once each (absent before version 3) */
  documents: z.array(exportedDocumentSchema).max(MAX_EXPORT_DOCUMENTS).optional(),
  /** the attached documents whose file was not there (or not their content) when exported */
  documentsMissing: z.array(docRefSchema).max(MAX_EXPORT_DOCUMENTS).optional(),
}).strict();

export type ThreadExport = z.output<typeof threadExportSchema>;
export type BundleExport = z.output<typeof bundleExportSchema>;
export type ExportedMessage = z.output<typeof exportedMessageSchema>;
export type ExportedDocument = z.output<typeof exportedDocumentSchema>;

export interface ExportSource {
  threads: ThreadsApi;
  messages: MessagesApi;
  /** the documents the thread took out (their refs); none for a temporary thread */
  removedDocuments?: (threadId: string) => string[];
  /** Looks up the thread's assistant, to carry it along; null when unknown. */
  assistant?: (id: string) => Assistant | null;
}

function exportMessage(m: Message): ExportedMessage {
  return {
    id: m.id, parentId: m.parentId, active: m.active, role: m.role, content: m.content, reasoning: m.reasoning,
    toolCalls: m.toolCalls, toolCallId: m.toolCallId, attachments: m.attachments, sources: m.sources, status: m.status,
    finishReason: m.finishReason, error: m.error,
    model: m.model, metrics: m.metrics, createdAt: m.createdAt, updatedAt: m.updatedAt,
  };
}

export function exportThreadJson(src: ExportSource, threadId: string, now: number): ThreadExport {
  const t: Thread = src.threads.get(threadId);
  const messages = src.messages.listAll(threadId);
  const assistant = t.assistantId && src.assistant ? src.assistant(t.assistantId) : null;
  return {
    format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt: now,
    thread: {
      id: t.id, title: t.title, assistantId: t.assistantId, model: t.model, createdAt: t.createdAt, updatedAt: t.updatedAt,
      pinned: t.pinned, archived: t.archived, overrides: t.overrides,
    },
    assistant: assistant ? { ...assistant } : null,
    messages: messages.map(exportMessage),
    ...(src.removedDocuments ? { removedDocuments: src.removedDocuments(threadId) } : {}),
  };
}

const ROLE_TITLE: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool' };

/** Fences text with enough backticks that the text cannot close the fence. */
function fence(text: string, lang = ''): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((s) => s.length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${text}\n${f}`;
}

const escapeHtml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The thread's current path as Markdown; alternatives are noted, not repeated. */
export function exportThreadMarkdown(src: ExportSource, threadId: string, now: number): string {
  const t = src.threads.get(threadId);
  const path = activePath(src.messages.listAll(threadId));
  const lines: string[] = [`# ${t.title.replace(/\n/g, ' ')}`, ''];
  const meta = [`Exported from Hearth on ${new Date(now).toISOString()}`];
  if (t.model) meta.push(`model: ${t.model}`);
  meta.push(`${path.length} messages`);
  lines.push(`_${meta.join(' · ')}_`, '');
  if (t.overrides.instructions) lines.push('> **Instructions:** ' + t.overrides.instructions.replace(/\n/g, '\n> '), '');
  for (const m of path) {
    const head = [ROLE_TITLE[m.role] ?? m.role];
    if (m.role === 'assistant' && m.model) head.push(m.model);
    if (m.alternatives.count > 1) head.push(`alternative ${m.alternatives.index + 1} of ${m.alternatives.count}`);
    if (m.status !== 'done') head.push(m.status);
    else if (m.finishReason === 'contextFull') head.push('stopped: the context was full');
    else if (m.finishReason === 'maxTokens') head.push('stopped at the max tokens limit');
    lines.push(`## ${head.join(' · ')}`, '');
    if (m.reasoning) lines.push('<details><summary>Reasoning</summary>', '', m.reasoning, '', '</details>', '');
    if (m.role === 'tool') lines.push('<details><summary>Tool result</summary>', '', fence(m.content), '', '</details>', '');
    else if (m.content) lines.push(m.content, '');
    if (m.toolCalls?.length) {
      for (const c of m.toolCalls) {
        // collapsed, as the reasoning: a reader sees the conversation, and opens what the model did
        lines.push(`<details><summary>Tool call: ${escapeHtml(c.name)}</summary>`, '', fence(JSON.stringify(c.arguments ?? {}, null, 2), 'json'), '');
        if (c.result !== undefined) lines.push('**Result:**', '', fence(typeof c.result === 'string' ? c.result : JSON.stringify(c.result, null, 2)), '');
        if (c.error) lines.push(`**Error:** ${c.error.replace(/\n/g, ' ')}`, '');
        lines.push('</details>', '');
      }
    }
    for (const a of m.attachments) lines.push(`- Attachment (${a.type}): ${a.name ?? a.ref}`);
    if (m.attachments.length) lines.push('');
    if (m.error) lines.push(`> **Error:** ${m.error.replace(/\n/g, '\n> ')}`, '');
  }
  return lines.join('\n').replace(/\n+$/, '\n');
}
