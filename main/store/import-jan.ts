/**
 * Jan's history: a Jan data folder (threads/<id>/thread.json + messages.jsonl, assistants/<id>/assistant.json),
 * its threads folder, or one thread folder. Each file is read whole, asynchronously (a stalled read holds
 * the import, not the process), within bounds: thread.json and assistant.json at JAN_META_BYTES,
 * messages.jsonl at LIMITS.conversationBytes and LIMITS.conversationNodes messages (a thread over either
 * is too large: the import job skips it with a note, the store's importJan refuses it).
 */
import { randomUUID } from 'crypto';
import fs from 'fs';
import path from 'path';
import { z } from 'zod';
import { ATTACHMENT_REF_CHARS } from '../ipc/contract';
import { jsonNestsWithin } from '../params';
import type { Assistant } from './assistants';
import { checkSizes, describeZod, fail, parseJson, writePrepared, type ImportContext, type ImportResult, type PreparedThread } from './import';
import { closeFd, notRegularFile, openRegularFile, readFdBounded } from '../regular-file';
import type { Attachment, Message, MessageMetrics, MessageStatus, Role, SamplingParams, ToolCall } from './types';
import { idSchema, LIMITS, samplingSchema, toolCallSchema } from './validation';

/** The most bytes of a thread.json or assistant.json (a few fields: a larger one is not Jan's). */
export const JAN_META_BYTES = 1024 * 1024;

const num = z.number().finite();
const janModelRef = z.union([z.string(), z.object({ id: z.string().optional() }).passthrough()]).optional().nullable();

const janThreadSchema = z.object({
  id: z.string().min(1),
  title: z.string().optional().nullable(),
  assistants: z.array(z.object({
    id: z.string().optional(), name: z.string().optional(), model: janModelRef,
    instructions: z.string().optional().nullable(),
  }).passthrough()).optional().nullable(),
  created: num.optional().nullable(),
  updated: num.optional().nullable(),
  metadata: z.record(z.unknown()).optional().nullable(),
  isFavorite: z.boolean().optional(),
  model: janModelRef,
}).passthrough();

const janContentPart = z.object({ type: z.string() }).passthrough();
const janMessageSchema = z.object({
  id: z.string().min(1),
  thread_id: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'tool']),
  content: z.union([z.string(), z.array(janContentPart)]).optional().nullable(),
  status: z.string().optional().nullable(),
  created_at: num.optional().nullable(),
  created: num.optional().nullable(),
  completed_at: num.optional().nullable(),
  updated: num.optional().nullable(),
  metadata: z.record(z.unknown()).optional().nullable(),
  error_code: z.union([z.string(), z.number()]).optional().nullable(),
  tool_call_id: z.string().optional().nullable(),
  attachments: z.array(z.unknown()).optional().nullable(),
}).passthrough();

const janAssistantSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional().nullable(),
  avatar: z.string().optional().nullable(),
  description: z.string().optional().nullable(),
  model: janModelRef,
  instructions: z.string().optional().nullable(),
  created_at: num.optional().nullable(),
  parameters: z.record(z.unknown()).optional().nullable(),
}).passthrough();

/** Jan timestamps are seconds or milliseconds since the epoch. */
export function toMillis(t: number | null | undefined, fallback: number): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) return fallback;
  return Math.round(t < 1e11 ? t * 1000 : t);
}

const JAN_STATUS: Record<string, MessageStatus> = { ready: 'done', pending: 'interrupted', error: 'error', stopped: 'aborted' };

function modelId(ref: z.infer<typeof janModelRef>): string | null {
  if (!ref) return null;
  const id = typeof ref === 'string' ? ref : ref.id;
  return id && id.length <= LIMITS.modelRefChars ? id : null;
}

function validId(id: string): string {
  return idSchema.safeParse(id).success ? id : randomUUID();
}

function janSampling(params: Record<string, unknown> | null | undefined): SamplingParams {
  if (!params) return {};
  const map: Record<string, keyof SamplingParams> = {
    temperature: 'temperature', top_p: 'topP', top_k: 'topK', min_p: 'minP', max_tokens: 'maxTokens',
    repeat_penalty: 'repeatPenalty', repetition_penalty: 'repeatPenalty', seed: 'seed', stop: 'stop',
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    const key = map[k];
    if (!key || v === null || v === undefined) continue;
    const r = samplingSchema.safeParse({ [key]: v });
    if (r.success) Object.assign(out, r.data);
  }
  return out as SamplingParams;
}

function janContent(content: z.infer<typeof janMessageSchema>['content']): { text: string; attachments: Attachment[] } {
  if (typeof content === 'string') return { text: content, attachments: [] };
  const texts: string[] = [];
  const attachments: Attachment[] = [];
  for (const part of content ?? []) {
    const p = part as Record<string, unknown>;
    if (p.type === 'text') {
      const t = p.text as unknown;
      if (typeof t === 'string') texts.push(t);
      else if (t && typeof (t as { value?: unknown }).value === 'string') texts.push((t as { value: string }).value);
    } else if (p.type === 'image_url') {
      const img = p.image_url as { url?: unknown; detail?: unknown } | undefined;
      const url = typeof img?.url === 'string' ? img.url : null;
      if (url) {
        attachments.push(url.startsWith('data:')
          ? { type: 'image', ref: url.slice(0, ATTACHMENT_REF_CHARS), mimeType: url.slice(5, url.indexOf(';')) || undefined }
          : { type: 'image', ref: url.slice(0, ATTACHMENT_REF_CHARS) });
      }
    }
  }
  return { text: texts.join('\n\n'), attachments };
}

/** Splits a leading <think>…</think> block (how Jan keeps reasoning) from the answer. */
function splitThink(text: string): { content: string; reasoning: string } {
  const m = /^\s*<think>([\s\S]*?)<\/think>\s*/.exec(text);
  return m ? { content: text.slice(m[0].length), reasoning: m[1].trim() } : { content: text, reasoning: '' };
}

function janToolCalls(meta: Record<string, unknown> | null | undefined): ToolCall[] | null {
  const raw = meta?.tool_calls;
  if (!Array.isArray(raw)) return null;
  const out: ToolCall[] = [];
  for (const c of raw) {
    const tool = (c as { tool?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } } })?.tool;
    const name = tool?.function?.name;
    if (typeof name !== 'string') continue;
    let args: unknown = tool?.function?.arguments;
    if (typeof args === 'string') { try { args = JSON.parse(args); } catch { /* keep the string */ } }
    const call = { id: typeof tool?.id === 'string' ? tool.id : randomUUID(), name, arguments: args, result: (c as { response?: unknown }).response };
    if (toolCallSchema.safeParse(call).success) out.push(call);
  }
  return out.length ? out : null;
}

function janMetrics(meta: Record<string, unknown> | null | undefined): MessageMetrics | null {
  const ts = meta?.tokenSpeed as { tokenSpeed?: unknown; tokenCount?: unknown } | undefined;
  const m: MessageMetrics = {};
  if (typeof ts?.tokenSpeed === 'number' && ts.tokenSpeed >= 0) m.genTps = ts.tokenSpeed;
  if (typeof ts?.tokenCount === 'number' && Number.isInteger(ts.tokenCount) && ts.tokenCount >= 0) m.generatedTokens = ts.tokenCount;
  return Object.keys(m).length ? m : null;
}

export interface JanThreadDir { dir: string; threadFile: string; messagesFile: string }

const exists = (p: string): Promise<boolean> => fs.promises.lstat(p).then(() => true, () => false);
/** Whether `p` is a folder itself (lstat: a link to one is not). */
const isFolder = (p: string): Promise<boolean> => fs.promises.lstat(p).then((st) => st.isDirectory(), () => false);

/**
 * Whether an entry of a listing is a folder: a folder, or on Windows a reparse point that is one (libuv lists
 * OneDrive's and other cloud placeholders as links; lstat says what they are); a link is not.
 */
async function entryIsFolder(dir: string, d: fs.Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  return d.isSymbolicLink() && process.platform === 'win32' && isFolder(path.join(dir, d.name));
}

/**
 * The thread folders of a Jan data folder (thread.json at its top, in threads/<id>/ or in <id>/; none: not
 * Jan), and the links where thread folders are, `threads` itself too (never followed: they could lead anywhere).
 */
async function janThreadDirs(folder: string): Promise<{ threads: JanThreadDir[]; links: string[] }> {
  const asThread = (dir: string): JanThreadDir => ({ dir, threadFile: path.join(dir, 'thread.json'), messagesFile: path.join(dir, 'messages.jsonl') });
  const subThreads = async (dir: string) => {
    const threads: JanThreadDir[] = [];
    const links: string[] = [];
    for (const d of await fs.promises.readdir(dir, { withFileTypes: true })) {
      if (await entryIsFolder(dir, d)) {
        if (await exists(path.join(dir, d.name, 'thread.json'))) threads.push(asThread(path.join(dir, d.name)));
      } else if (d.isSymbolicLink()) links.push(path.join(dir, d.name));
    }
    return { threads: threads.sort((a, b) => a.dir.localeCompare(b.dir)), links: links.sort() };
  };
  if (await exists(path.join(folder, 'thread.json'))) return { threads: [asThread(folder)], links: [] };
  if (await isFolder(path.join(folder, 'threads'))) return subThreads(path.join(folder, 'threads'));
  return subThreads(folder);
}

/** Whether `folder` is a Jan data folder (or one of its threads): the one test detection and the import use. */
export async function isJanFolder(folder: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(folder)).isDirectory() && (await janThreadDirs(folder)).threads.length > 0;
  } catch {
    return false;
  }
}

/**
 * A Jan folder's threads and assistant.json files, and the links where thread or assistant folders are (not
 * followed: `threads` and `assistants` too); `single`: the folder is one thread (thread.json at its top).
 */
export async function findJanThreads(folder: string): Promise<{ threads: JanThreadDir[]; links: string[]; assistantFiles: string[]; single: boolean }> {
  const st = await fs.promises.stat(folder).catch(() => null);
  if (!st?.isDirectory()) fail(`${folder} is not a folder`);
  const assistantsDir = path.join(folder, 'assistants');
  const assistantFiles: string[] = [];
  const assistantLinks: string[] = [];
  const assistantsAt = await fs.promises.lstat(assistantsDir).catch(() => null);
  if (assistantsAt?.isSymbolicLink()) assistantLinks.push(assistantsDir);
  else if (assistantsAt?.isDirectory()) {
    try {
      for (const d of await fs.promises.readdir(assistantsDir, { withFileTypes: true })) {
        const file = path.join(assistantsDir, d.name, 'assistant.json');
        if (await entryIsFolder(assistantsDir, d)) {
          if (await exists(file)) assistantFiles.push(file);
        } else if (d.isSymbolicLink()) assistantLinks.push(path.join(assistantsDir, d.name));
      }
    } catch (e) {
      fail(`cannot read ${assistantsDir}: ${(e as Error).message}`, { folder }, e);
    }
  }
  let found: Awaited<ReturnType<typeof janThreadDirs>>;
  try {
    found = await janThreadDirs(folder);
  } catch (e) {
    fail(`cannot read ${folder}: ${(e as Error).message}`, { folder }, e);
  }
  const { threads, links } = found;
  if (threads.length === 0) {
    const link = links.find((l) => l === path.join(folder, 'threads')) ?? links[0];
    const linked = link ? `; ${link} is a link, which Hearth does not follow: import the folder it leads to` : '';
    fail(`no Jan threads found in ${folder} (expected thread.json, threads/<id>/thread.json or <id>/thread.json)${linked}`);
  }
  return { threads, links: [...links, ...assistantLinks.sort()], assistantFiles: assistantFiles.sort(), single: threads.length === 1 && threads[0].dir === folder };
}

/** A thread too large to import: its messages.jsonl has more bytes, or more messages, than an import reads of one conversation. */
export interface JanTooLarge {
  tooLarge: { bytes: number } | { messages: number };
}

/**
 * A file of a Jan folder, read without holding the thread (a stalled read waits in libuv's pool): its bytes,
 * `{ over }` (its size) when it has more than `maxBytes` (not read: its stat says so, or counted as read),
 * null when there is none. A regular file as opened, a link not followed (in a folder it could lead
 * anywhere; a FIFO's read would never end); anything else is import_failed, naming the file.
 */
async function readJanFile(file: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | { over: number } | null> {
  // (a cancel is thrown as it is: the import stops, it is no note about the file)
  const failed = (e: unknown): never => {
    if (signal?.aborted) throw e;
    return fail(`cannot read ${file}: ${(e as Error).message}`, { file }, e);
  };
  let opened: Awaited<ReturnType<typeof openRegularFile>>;
  try {
    opened = await openRegularFile(file, { follow: false, signal });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return failed(e);
  }
  if (!opened) fail(notRegularFile(file), { file });
  const { fd, st } = opened;
  try {
    if (st.size > maxBytes) return { over: st.size };
    return (await readFdBounded(fd, st.size, maxBytes, signal)) ?? { over: maxBytes + 1 };
  } catch (e) {
    return failed(e);
  } finally {
    await closeFd(fd);
  }
}

/** A thread.json or assistant.json: its text (at most JAN_META_BYTES; a larger one is not Jan's). */
async function readJanMeta(file: string, signal?: AbortSignal): Promise<string> {
  const read = await readJanFile(file, JAN_META_BYTES, signal);
  if (read === null) fail(`cannot read ${file}: it is gone`, { file });
  if (!Buffer.isBuffer(read)) fail(`${file} is too large to import (${read.over} bytes, more than ${JAN_META_BYTES})`, { file });
  return read.toString('utf8');
}

/**
 * The lines of a thread's messages.jsonl, or what makes it too large: more than LIMITS.conversationBytes
 * (not read), or more than `maxMessages` messages (counted before any is parsed).
 */
async function janMessageLines(file: string, maxMessages: number, signal?: AbortSignal): Promise<string[] | JanTooLarge> {
  const bytes = await readJanFile(file, LIMITS.conversationBytes, signal);
  if (bytes === null) return [];
  if (!Buffer.isBuffer(bytes)) return { tooLarge: { bytes: bytes.over } };
  // the lines with something on them, counted on the bytes (before they are decoded and split)
  let messages = 0;
  let content = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a) {
      if (content) messages++;
      content = false;
    } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) content = true;
  }
  if (content) messages++;
  if (messages > maxMessages) return { tooLarge: { messages } };
  const text = bytes.toString('utf8');
  // each line is parsed whole: nested past LIMITS.importDepth it is refused before JSON.parse builds it
  if (!jsonNestsWithin(text, LIMITS.importDepth)) fail(`${file} nests arrays and objects deeper than ${LIMITS.importDepth} levels (refused: no Jan message is built so)`, { file });
  return text.split(/\r?\n/);
}

/** A Jan thread read (`signal` stops its reads: a lease waited for, a large file) and prepared for the store. */
export async function prepareJanThread(
  t: JanThreadDir, now: number, assistantIds: Map<string, string>, opts: { maxMessages?: number; signal?: AbortSignal } = {},
): Promise<PreparedThread | JanTooLarge> {
  const { maxMessages = LIMITS.conversationNodes, signal } = opts;
  const raw = parseJson(await readJanMeta(t.threadFile, signal), t.threadFile);
  const tr = janThreadSchema.safeParse(raw);
  if (!tr.success) fail(`${t.threadFile} is not a Jan thread (${describeZod(tr.error, 'thread.json')})`);
  const jt = tr.data;
  const createdAt = toMillis(jt.created, now);
  const first = jt.assistants?.[0];
  const model = modelId(jt.model) ?? modelId(first?.model);

  const lines = await janMessageLines(t.messagesFile, maxMessages, signal);
  if (!Array.isArray(lines)) return lines;
  const parsed: { m: z.infer<typeof janMessageSchema>; line: number }[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${t.messagesFile}:${i + 1}`;
    const r = janMessageSchema.safeParse(parseJson(line, where));
    if (!r.success) fail(`${where} is not a Jan message (${describeZod(r.error, 'message')})`);
    parsed.push({ m: r.data, line: i });
  });
  const withTime = parsed.map(({ m, line }) => ({ m, line, at: toMillis(m.created_at ?? m.created, createdAt) }));
  withTime.sort((a, b) => a.at - b.at || a.line - b.line);

  const threadId = validId(jt.id);
  const seen = new Set<string>();
  let parentId: string | null = null;
  const messages: Message[] = [];
  for (const { m, at } of withTime) {
    const { text, attachments } = janContent(m.content);
    const { content, reasoning } = m.role === 'assistant' ? splitThink(text) : { content: text, reasoning: '' };
    let id = validId(m.id);
    if (seen.has(id)) id = randomUUID();
    seen.add(id);
    const status = JAN_STATUS[m.status ?? 'ready'] ?? 'done';
    const msg: Message = {
      id, threadId, parentId, active: true, role: m.role as Role, content, reasoning,
      toolCalls: janToolCalls(m.metadata), toolCallId: m.tool_call_id ?? null, attachments, sources: null,
      status, finishReason: null, error: status === 'error' ? String(m.error_code ?? 'error') : null,
      model: m.role === 'assistant' ? model : null, metrics: janMetrics(m.metadata),
      createdAt: at, updatedAt: Math.max(at, toMillis(m.completed_at ?? m.updated, at)),
    };
    checkSizes(msg, `${t.messagesFile} message ${m.id}`);
    messages.push(msg);
    parentId = id;
  }
  const lastAt = messages.length ? messages[messages.length - 1].updatedAt : createdAt;
  const janAssistant = first?.id ? assistantIds.get(first.id) : undefined;
  const pinned = jt.isFavorite === true || jt.metadata?.isFavorite === true;
  const instructions = first?.instructions?.trim() ? first.instructions.slice(0, LIMITS.instructionsChars) : null;
  return {
    thread: {
      id: threadId, title: (jt.title?.trim() || 'Imported chat').slice(0, LIMITS.titleChars),
      assistantId: janAssistant ?? null, model, createdAt, updatedAt: Math.max(toMillis(jt.updated, createdAt), lastAt),
      pinned, archived: false, overrides: { instructions, sampling: {}, load: {} }, temporary: false,
    },
    messages,
    assistant: null,
  };
}

export async function prepareJanAssistant(file: string, now: number, signal?: AbortSignal): Promise<Assistant> {
  const r = janAssistantSchema.safeParse(parseJson(await readJanMeta(file, signal), file));
  if (!r.success) fail(`${file} is not a Jan assistant (${describeZod(r.error, 'assistant.json')})`);
  const a = r.data;
  const at = toMillis(a.created_at, now);
  return {
    id: validId(a.id), name: (a.name?.trim() || a.id).slice(0, LIMITS.nameChars), avatar: a.avatar?.slice(0, 1000) || null,
    description: (a.description ?? '').slice(0, 10_000), instructions: (a.instructions ?? '').slice(0, LIMITS.instructionsChars),
    sampling: janSampling(a.parameters), model: modelId(a.model), tools: null, createdAt: at, updatedAt: at,
  };
}

/**
 * Imports Jan's history: a Jan data folder (with threads/ and assistants/), a threads folder, or one thread folder.
 * Threads already imported (same id) are skipped, so importing twice does not duplicate anything.
 */
export async function importJanFolder(ctx: ImportContext, folder: string, defaultAssistantId: string | null): Promise<ImportResult> {
  const now = ctx.clock();
  const { threads, assistantFiles } = await findJanThreads(folder);
  const assistants: Assistant[] = [];
  for (const f of assistantFiles) assistants.push(await prepareJanAssistant(f, now));
  const assistantIds = new Map<string, string>();
  for (const a of assistants) assistantIds.set(a.id, a.id);
  const prepared: PreparedThread[] = [];
  for (const t of threads) {
    const p = await prepareJanThread(t, now, assistantIds);
    if ('tooLarge' in p) fail(`${t.dir} is too large to import (${janTooLargeWhy(p)})`);
    prepared.push(p);
  }
  let newAssistants = 0;
  const result = ctx.db.transaction(() => {
    for (const a of assistants) {
      if (!ctx.assistants.exists(a.id)) { ctx.assistants.insertRecord(a); newAssistants++; }
    }
    for (const p of prepared) if (!p.thread.assistantId) p.thread.assistantId = defaultAssistantId;
    return writePrepared(ctx, prepared, 'skip');
  })();
  return { ...result, assistants: result.assistants + newAssistants };
}

/** Why a thread is too large, in words. */
export function janTooLargeWhy(t: JanTooLarge): string {
  const why = t.tooLarge;
  return 'bytes' in why
    ? `its messages.jsonl has ${why.bytes} bytes, more than ${LIMITS.conversationBytes}`
    : `it has ${why.messages} messages, more than ${LIMITS.conversationNodes}`;
}
