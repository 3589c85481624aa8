/**
 * Imports: Hearth's own JSON export (lossless) given whole, and what every importer writes through
 * (Jan's thread folders: import-jan.ts; a Hearth file in the import job is streamed by
 * main/data/formats/hearth.ts). Everything is read and checked first, then written in one transaction:
 * a bad file imports nothing.
 */
import { randomUUID } from 'crypto';
import fs from 'fs';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Assistant, Assistants } from './assistants';
import { StoreError } from './errors';
import { bundleExportSchema, threadExportSchema, type ExportedDocument, type ThreadExport } from './export';
import type { SqliteMessages } from './messages';
import type { SqliteThreads } from './threads';
import type { Clock, Message, MessageStatus, Thread } from './types';
import { LIMITS, utf8Bytes } from './validation';
import { notRegularFile, openRegularFileSync, readFdSync } from '../regular-file';

export interface ImportContext {
  db: Database.Database;
  threads: SqliteThreads;
  messages: SqliteMessages;
  assistants: Assistants;
  clock: Clock;
}

export interface ImportResult {
  /** Ids of the imported threads, in the store. */
  threadIds: string[];
  messages: number;
  assistants: number;
  /** Threads not imported because they were imported before (same id, Jan import only). */
  skipped: number;
  /** True when ids collided with existing data and new ids were given. */
  remapped: boolean;
}

export function fail(message: string, details?: Record<string, unknown>, cause?: unknown): never {
  throw new StoreError('import_failed', message, details, cause === undefined ? undefined : { cause });
}

export function describeZod(e: z.ZodError, where: string): string {
  const i = e.issues[0];
  return `${where}: ${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`;
}

/** A file's text, refused (import_failed) when it is not a file or has more than `maxBytes`. */
export function readFileChecked(file: string, maxBytes: number = LIMITS.conversationBytes): string {
  return readFileBytesChecked(file, maxBytes).toString('utf8');
}

/**
 * A regular file's bytes, at most `maxBytes` of them (else import_failed, naming it). Regular as opened
 * (../regular-file.ts): a FIFO swapped in after a check would block this thread.
 */
export function readFileBytesChecked(file: string, maxBytes: number = LIMITS.conversationBytes): Buffer {
  let opened: ReturnType<typeof openRegularFileSync>;
  try {
    opened = openRegularFileSync(file);
  } catch (e) {
    fail(`cannot read ${file}: ${(e as Error).message}`, { file }, e);
  }
  if (!opened) fail(notRegularFile(file), { file });
  const { fd, st } = opened;
  try {
    if (st.size > maxBytes) fail(`${file} is too large to import (${st.size} bytes, more than ${maxBytes})`, { file });
    // read up to the bound whatever the stat said (a /proc or FUSE file says 0 bytes)
    const bytes = readFdSync(fd, maxBytes);
    if (!bytes) fail(`${file} is too large to import (more than ${maxBytes} bytes)`, { file });
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${where} is not valid JSON: ${(e as Error).message}`, { where }, e);
  }
}

/** Orders messages so that every parent comes before its replies; rejects unknown parents and cycles. */
export function parentsFirst<M extends { id: string; parentId: string | null }>(messages: M[], where: string): M[] {
  const byId = new Map<string, M>();
  for (const m of messages) {
    if (byId.has(m.id)) fail(`${where}: message id ${m.id} appears twice`);
    byId.set(m.id, m);
  }
  const out: M[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (m: M) => {
    const chain: M[] = [];
    let cur: M | undefined = m;
    while (cur && state.get(cur.id) !== 2) {
      if (state.get(cur.id) === 1) fail(`${where}: message ${cur.id} is its own ancestor`);
      state.set(cur.id, 1);
      chain.push(cur);
      if (cur.parentId === null) break;
      const p = byId.get(cur.parentId);
      if (!p) fail(`${where}: message ${cur.id} replies to ${cur.parentId}, which is not in the file`);
      cur = p;
    }
    for (let i = chain.length - 1; i >= 0; i--) { state.set(chain[i].id, 2); out.push(chain[i]); }
  };
  for (const m of messages) visit(m);
  return out;
}

/** Exactly one selected message among each set of siblings (the last selected, else the newest). */
export function normalizeActive(messages: Message[]): void {
  const groups = new Map<string, Message[]>();
  for (const m of messages) {
    const k = m.parentId ?? '';
    const g = groups.get(k);
    if (g) g.push(m); else groups.set(k, [m]);
  }
  for (const g of groups.values()) {
    let pick = -1;
    for (let i = 0; i < g.length; i++) if (g[i].active) pick = i;
    if (pick < 0) pick = g.length - 1;
    g.forEach((m, i) => { m.active = i === pick; });
  }
}

export function checkSizes(m: { content: string; reasoning: string }, where: string): void {
  if (utf8Bytes(m.content) > LIMITS.contentBytes || utf8Bytes(m.reasoning) > LIMITS.contentBytes) {
    fail(`${where}: message over ${LIMITS.contentBytes} bytes`);
  }
}

/* ------------------------------------------------------------------ Hearth JSON */

export interface PreparedThread {
  thread: Thread;
  messages: Message[];
  assistant: Assistant | null;
}

export function prepareHearth(doc: ThreadExport, where: string): PreparedThread {
  if (doc.thread.title.length > LIMITS.titleChars) fail(`${where}: title over ${LIMITS.titleChars} characters`);
  const messages: Message[] = doc.messages.map((m) => {
    checkSizes(m, `${where} message ${m.id}`);
    return {
      ...m, threadId: doc.thread.id, sources: m.sources ?? null,
      status: (m.status === 'streaming' ? 'interrupted' : m.status) as MessageStatus,
      finishReason: m.status === 'streaming' ? null : m.finishReason ?? null,
    };
  });
  const ordered = parentsFirst(messages, where);
  normalizeActive(ordered);
  return {
    thread: { ...doc.thread, overrides: { ...doc.thread.overrides }, temporary: false },
    messages: ordered,
    assistant: doc.assistant,
  };
}

/** Gives the thread and all its messages new ids (used when any id is already taken). */
function remapIds(p: PreparedThread): PreparedThread {
  const ids = new Map<string, string>(p.messages.map((m) => [m.id, randomUUID()]));
  const threadId = randomUUID();
  return {
    thread: { ...p.thread, id: threadId },
    messages: p.messages.map((m) => ({ ...m, id: ids.get(m.id)!, threadId, parentId: m.parentId ? ids.get(m.parentId)! : null })),
    assistant: p.assistant,
  };
}

function idsTaken(ctx: ImportContext, p: PreparedThread): boolean {
  if (ctx.threads.exists(p.thread.id)) return true;
  const q = ctx.db.prepare('SELECT 1 FROM messages WHERE id = ?');
  return p.messages.some((m) => q.get(m.id) !== undefined);
}

/** 'remap': any taken id gives the thread new ids. 'skip': a thread whose id exists is skipped (already imported). */
export function writePrepared(ctx: ImportContext, items: PreparedThread[], onConflict: 'remap' | 'skip'): ImportResult {
  const result: ImportResult = { threadIds: [], messages: 0, assistants: 0, skipped: 0, remapped: false };
  ctx.db.transaction(() => {
    for (let p of items) {
      if (onConflict === 'skip' && ctx.threads.exists(p.thread.id)) { result.skipped++; continue; }
      if (idsTaken(ctx, p)) {
        p = remapIds(p);
        result.remapped = true;
      }
      let assistantId = p.thread.assistantId;
      if (assistantId && !ctx.assistants.exists(assistantId)) {
        if (p.assistant && p.assistant.id === assistantId) {
          ctx.assistants.insertRecord(p.assistant);
          result.assistants++;
        } else {
          assistantId = null;
        }
      }
      try {
        ctx.threads.insertRecord({ ...p.thread, assistantId });
        for (const m of p.messages) ctx.messages.insertRecord(m);
      } catch (e) {
        fail(`import of thread "${p.thread.title}" failed: ${(e as Error).message}`, { threadId: p.thread.id }, e);
      }
      result.threadIds.push(p.thread.id);
      result.messages += p.messages.length;
    }
  })();
  return result;
}

/** Imports JSON exported by Hearth (one thread, or a bundle of threads): a string, parsed value, or file path. */
export function importHearthJson(ctx: ImportContext, input: string | unknown, opts: { fromFile?: boolean } = {}): ImportResult {
  const { docs, where } = readHearthDocs(input, opts);
  const prepared = docs.map((d, i) => prepareHearth(d, docs.length > 1 ? `${where} thread ${i + 1}` : where));
  return writePrepared(ctx, prepared, 'remap');
}

/**
 * Reads and checks Hearth JSON (one thread or a bundle): a string, parsed value, or file path. `documents`:
 * the attached documents a bundle carries ([] for one thread, or before version 3). Text is parsed whole,
 * so it may have LIMITS.conversationBytes (the import job streams a file of any size: main/data/formats/hearth.ts).
 */
export function readHearthDocs(input: string | unknown, opts: { fromFile?: boolean } = {}): { docs: ThreadExport[]; where: string; documents: ExportedDocument[] } {
  let value: unknown = input;
  let where = 'import';
  if (typeof input === 'string') {
    where = opts.fromFile ? input : 'import';
    const text = opts.fromFile ? readFileChecked(input) : input;
    if (!opts.fromFile && utf8Bytes(text) > LIMITS.conversationBytes) fail(`import is too large (more than ${LIMITS.conversationBytes} bytes)`);
    value = parseJson(text, where);
  }
  const format = (value as { format?: unknown } | null)?.format;
  let docs: ThreadExport[];
  let documents: ExportedDocument[] = [];
  if (format === 'hearth.threads') {
    const r = bundleExportSchema.safeParse(value);
    if (!r.success) fail(`not a valid Hearth export (${describeZod(r.error, where)})`);
    docs = r.data.threads;
    documents = r.data.documents ?? [];
  } else if (format === 'hearth.thread') {
    const r = threadExportSchema.safeParse(value);
    if (!r.success) fail(`not a valid Hearth export (${describeZod(r.error, where)})`);
    docs = [r.data];
  } else {
    fail(`${where} is not a Hearth export (no "format": "hearth.thread")`);
  }
  return { docs, where, documents };
}
