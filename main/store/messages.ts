/** Messages repository (SQLite): the conversation tree, edits as alternatives, and streamed replies. */
import type { SourceDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import { randomUUID } from 'crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { Sources } from '../ipc/docs';
import { StoreError } from './errors';
import { decodeJson, encodeJson } from './json';
import { withoutBusyWait } from './busy';
import { BufferedReplyWriter, DEFAULT_WRITER_OPTIONS, type ReplySink, type WriterOptions } from './stream-writer';
import type { SqliteThreads } from './threads';
import { activePath } from './tree';
import type {
  Attachment, BeginReply, Clock, FinishReply, Message, MessagePatch, MessagesApi, MessageView, MessageMetrics,
  MessageStatus, NewMessage, ReplyHooks, ReplyWriter, Role, ToolCall, FinishReason,
} from './types';
import { FINISH_REASONS } from './types';
import {
  attachmentSchema, beginReplySchema, check, checkId, contentSchema, messagePatchSchema, metricsSchema, newMessageSchema,
  toolCallSchema,
} from './validation';

interface MessageRow {
  seq: number;
  id: string;
  thread_id: string;
  parent_id: string | null;
  active: number;
  role: Role;
  content: string;
  reasoning: string;
  tool_calls: string | null;
  tool_call_id: string | null;
  attachments: string | null;
  sources: string | null;
  status: MessageStatus;
  finish_reason: string | null;
  error: string | null;
  model: string | null;
  metrics: string | null;
  created_at: number;
  updated_at: number;
}

const COLS = `seq, id, thread_id, parent_id, active, role, content, reasoning, tool_calls, tool_call_id, attachments, sources,
  status, finish_reason, error, model, metrics, created_at, updated_at`;

const toolCallsSchema = z.array(toolCallSchema.passthrough()).nullable();
const attachmentsSchema = z.array(attachmentSchema.passthrough());
const sourcesSchema = Sources.nullable();
const storedMetricsSchema = metricsSchema.passthrough().nullable();

/** A stored finish reason; a value this version does not know (written by a newer one) reads as null. */
function decodeFinishReason(raw: string | null): FinishReason | null {
  return raw !== null && (FINISH_REASONS as readonly string[]).includes(raw) ? (raw as FinishReason) : null;
}

/** Fast path for the common case (an object of non-negative numbers); anything else goes through zod. */
function decodeMetrics(raw: string | null): MessageMetrics | undefined {
  if (raw === null) return undefined;
  let v: unknown;
  try { v = JSON.parse(raw); } catch { return undefined; }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  for (const x of Object.values(v)) if (typeof x !== 'number' || !(x >= 0) || !Number.isFinite(x)) return undefined;
  return v as MessageMetrics;
}

export interface MessagesDeps {
  db: Database.Database;
  clock: Clock;
  logger: Logger;
  threads: SqliteThreads;
  writer?: Partial<WriterOptions>;
}

export class SqliteMessages implements MessagesApi {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly threads: SqliteThreads;
  private readonly writerOptions: WriterOptions;
  private readonly writers = new Set<BufferedReplyWriter>();
  private readonly stmts;

  constructor(deps: MessagesDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.threads = deps.threads;
    this.writerOptions = { ...DEFAULT_WRITER_OPTIONS, ...deps.writer };
    const db = this.db;
    this.stmts = {
      get: db.prepare(`SELECT ${COLS} FROM messages WHERE id = ?`),
      bySeq: db.prepare(`SELECT ${COLS} FROM messages WHERE seq = ?`),
      byThread: db.prepare(`SELECT ${COLS} FROM messages WHERE thread_id = ? ORDER BY created_at, seq`),
      insert: db.prepare(`INSERT INTO messages (id, thread_id, parent_id, active, role, content, reasoning, tool_calls,
          tool_call_id, attachments, sources, status, finish_reason, error, model, metrics, created_at, updated_at)
        VALUES (@id, @thread_id, @parent_id, @active, @role, @content, @reasoning, @tool_calls, @tool_call_id, @attachments, @sources,
          @status, @finish_reason, @error, @model, @metrics, @created_at, @updated_at)`),
      leaf: db.prepare(`
        WITH RECURSIVE path(id, depth) AS (
          SELECT id, 0 FROM messages WHERE parent_id IS NULL AND thread_id = ? AND active = 1
          UNION ALL
          SELECT m.id, p.depth + 1 FROM messages m JOIN path p ON m.parent_id = p.id WHERE m.active = 1
        ) SELECT id FROM path ORDER BY depth DESC LIMIT 1`),
      deactivateSiblings: db.prepare('UPDATE messages SET active = 0 WHERE parent_id IS ? AND thread_id = ? AND active = 1'),
      activate: db.prepare('UPDATE messages SET active = 1 WHERE id = ?'),
      siblings: db.prepare('SELECT id FROM messages WHERE parent_id IS ? AND thread_id = ? ORDER BY created_at, seq').pluck(),
      reopen: db.prepare(`UPDATE messages SET status = 'streaming', finish_reason = NULL, error = NULL, updated_at = ?
        WHERE id = ? AND status <> 'streaming'`),
      latestSibling: db.prepare('SELECT id FROM messages WHERE parent_id IS ? AND thread_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1'),
      delete: db.prepare('DELETE FROM messages WHERE id = ?'),
      append: db.prepare(`UPDATE messages SET content = content || ?, reasoning = reasoning || ?, updated_at = ?
        WHERE seq = ? AND status = 'streaming'`),
      finish: db.prepare(`UPDATE messages SET content = content || @content, reasoning = reasoning || @reasoning,
          status = @status, finish_reason = @finish_reason, error = @error, metrics = coalesce(@metrics, metrics),
          tool_calls = coalesce(@tool_calls, tool_calls),
          model = coalesce(@model, model), updated_at = @now
        WHERE seq = @seq AND status = 'streaming'`),
      setSources: db.prepare('UPDATE messages SET sources = ? WHERE id = ?'),
      recover: db.prepare(`UPDATE messages SET status = 'interrupted', updated_at = ? WHERE status = 'streaming'`),
    };
  }

  private toMessage(r: MessageRow): Message {
    const where = `message ${r.id}`;
    return {
      id: r.id, threadId: r.thread_id, parentId: r.parent_id, active: r.active === 1, role: r.role,
      content: r.content, reasoning: r.reasoning,
      toolCalls: decodeJson(r.tool_calls, toolCallsSchema, null, this.logger, { where: `${where} tool_calls` }) as ToolCall[] | null,
      toolCallId: r.tool_call_id,
      attachments: decodeJson(r.attachments, attachmentsSchema, [], this.logger, { where: `${where} attachments` }) as Attachment[],
      sources: decodeJson(r.sources, sourcesSchema, null, this.logger, { where: `${where} sources` }),
      status: r.status, finishReason: decodeFinishReason(r.finish_reason), error: r.error, model: r.model,
      metrics: decodeMetrics(r.metrics) ?? decodeJson(r.metrics, storedMetricsSchema, null, this.logger, { where: `${where} metrics` }) as MessageMetrics | null,
      createdAt: r.created_at, updatedAt: r.updated_at,
    };
  }

  private row(id: string): MessageRow {
    checkId(id, 'message id');
    const r = this.stmts.get.get(id) as MessageRow | undefined;
    if (!r) throw new StoreError('not_found', `message ${id} not found`);
    return r;
  }

  private requireThread(threadId: string): void {
    checkId(threadId, 'thread id');
    if (!this.threads.exists(threadId)) throw new StoreError('not_found', `thread ${threadId} not found`);
  }

  /** Resolves the parent for a new message: the current path's end, a new root, or a given message of the thread. */
  private resolveParent(threadId: string, parentId: string | null | undefined): string | null {
    if (parentId === undefined) {
      const leaf = this.stmts.leaf.get(threadId) as { id: string } | undefined;
      return leaf?.id ?? null;
    }
    if (parentId === null) return null;
    const p = this.row(parentId);
    if (p.thread_id !== threadId) throw new StoreError('invalid_input', `message ${parentId} belongs to another thread`);
    return parentId;
  }

  /** Inserts a message as the selected reply of its parent. Call inside a transaction. */
  private insertActive(m: Message): number {
    this.stmts.deactivateSiblings.run(m.parentId, m.threadId);
    return this.insertRecord(m);
  }

  /** Inserts a complete, already validated message record (import). */
  insertRecord(m: Message): number {
    return Number(this.stmts.insert.run({
      id: m.id, thread_id: m.threadId, parent_id: m.parentId, active: m.active ? 1 : 0, role: m.role,
      content: m.content, reasoning: m.reasoning, tool_calls: encodeJson(m.toolCalls), tool_call_id: m.toolCallId,
      attachments: m.attachments.length ? JSON.stringify(m.attachments) : null, sources: encodeJson(m.sources), status: m.status,
      finish_reason: m.finishReason, error: m.error, model: m.model, metrics: encodeJson(m.metrics),
      created_at: m.createdAt, updated_at: m.updatedAt,
    }).lastInsertRowid);
  }

  add(input: NewMessage): Message {
    const v = check(newMessageSchema, input, 'new message');
    this.requireThread(v.threadId);
    const id = randomUUID();
    this.db.transaction(() => {
      const parentId = this.resolveParent(v.threadId, v.parentId);
      const now = this.clock();
      this.insertActive({
        id, threadId: v.threadId, parentId, active: true, role: v.role, content: v.content ?? '',
        reasoning: v.reasoning ?? '', toolCalls: v.toolCalls ?? null, toolCallId: v.toolCallId ?? null,
        attachments: v.attachments ?? [], sources: null, status: v.status ?? 'done', finishReason: v.finishReason ?? null, error: v.error ?? null,
        model: v.model ?? null, metrics: v.metrics ?? null, createdAt: now, updatedAt: now,
      });
      this.threads.touch(v.threadId, now);
    })();
    return this.get(id);
  }

  get(id: string): Message {
    return this.toMessage(this.row(id));
  }

  listAll(threadId: string): Message[] {
    this.requireThread(threadId);
    return (this.stmts.byThread.all(threadId) as MessageRow[]).map((r) => this.toMessage(r));
  }

  list(threadId: string): MessageView[] {
    return activePath(this.listAll(threadId), true);
  }

  update(id: string, patch: MessagePatch): Message {
    const v = check(messagePatchSchema, patch, 'message patch');
    const current = this.row(id);
    if (current.status === 'streaming') throw new StoreError('invalid_input', `message ${id} is still streaming`);
    const sets: string[] = [];
    const params: Record<string, unknown> = { id, now: this.clock() };
    const set = (col: string, value: unknown) => { sets.push(`${col} = @${col}`); params[col] = value; };
    if (v.content !== undefined) set('content', v.content);
    if (v.reasoning !== undefined) set('reasoning', v.reasoning);
    if (v.toolCalls !== undefined) set('tool_calls', encodeJson(v.toolCalls));
    if (v.attachments !== undefined) set('attachments', v.attachments.length ? JSON.stringify(v.attachments) : null);
    if (v.status !== undefined) set('status', v.status);
    if (v.error !== undefined) set('error', v.error);
    if (v.metrics !== undefined) set('metrics', encodeJson(v.metrics));
    if (sets.length > 0) {
      this.db.transaction(() => {
        this.db.prepare(`UPDATE messages SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(params);
        this.threads.touch(current.thread_id, params.now as number);
      })();
    }
    return this.get(id);
  }

  edit(id: string, content: string, attachments?: Attachment[]): Message {
    const c = check(contentSchema, content, 'content');
    const original = this.get(id);
    if (original.status === 'streaming') throw new StoreError('invalid_input', `message ${id} is still streaming`);
    return this.add({
      threadId: original.threadId, role: original.role, content: c, parentId: original.parentId,
      attachments: attachments ?? original.attachments, toolCallId: original.toolCallId, model: original.model,
    });
  }

  selectAlternative(id: string): MessageView[] {
    const m = this.row(id);
    this.db.transaction(() => {
      this.stmts.deactivateSiblings.run(m.parent_id, m.thread_id);
      this.stmts.activate.run(id);
    })();
    return this.list(m.thread_id);
  }

  switchAlternative(id: string, direction: 'prev' | 'next'): MessageView[] {
    const m = this.row(id);
    if (direction !== 'prev' && direction !== 'next') throw new StoreError('invalid_input', 'direction must be prev or next');
    const ids = this.stmts.siblings.all(m.parent_id, m.thread_id) as string[];
    const target = ids[ids.indexOf(id) + (direction === 'next' ? 1 : -1)];
    return target ? this.selectAlternative(target) : this.list(m.thread_id);
  }

  delete(id: string): void {
    const m = this.row(id);
    for (const w of this.writers) if (w.messageId === id) w.abandon();
    this.db.transaction(() => {
      this.stmts.delete.run(id); // replies below it go by ON DELETE CASCADE
      if (m.active === 1) {
        const next = this.stmts.latestSibling.get(m.parent_id, m.thread_id) as { id: string } | undefined;
        if (next) this.stmts.activate.run(next.id);
      }
    })();
  }

  beginReply(input: BeginReply, hooks?: ReplyHooks): ReplyWriter {
    const v = check(beginReplySchema, input, 'reply');
    this.requireThread(v.threadId);
    const id = randomUUID();
    let seq = 0;
    this.db.transaction(() => {
      const parentId = this.resolveParent(v.threadId, v.parentId);
      const now = this.clock();
      seq = this.insertActive({
        id, threadId: v.threadId, parentId, active: true, role: v.role ?? 'assistant', content: '', reasoning: '',
        toolCalls: null, toolCallId: null, attachments: [], sources: null, status: 'streaming', finishReason: null, error: null,
        model: v.model ?? null, metrics: null, createdAt: now, updatedAt: now,
      });
      this.threads.touch(v.threadId, now);
    })();
    return this.openWriter(seq, id, v.threadId, hooks);
  }

  private openWriter(seq: number, id: string, threadId: string, hooks?: ReplyHooks): ReplyWriter {
    const sink: ReplySink = {
      append: (content, reasoning, now) => this.withoutBusyWait(() => this.stmts.append.run(content, reasoning, now, seq).changes > 0),
      finish: (content, reasoning, result: FinishReply, now) => {
        let changed = 0;
        // IMMEDIATE: the write lock is taken up front (a deferred transaction upgrading later gets
        // SQLITE_BUSY_SNAPSHOT, which no busy wait resolves)
        this.withoutBusyWait(() =>
          this.db.transaction(() => {
            changed = this.stmts.finish.run({
              seq, content, reasoning, now, status: result.status, finish_reason: result.finishReason ?? null, error: result.error ?? null,
              metrics: encodeJson(result.metrics), tool_calls: encodeJson(result.toolCalls), model: result.model ?? null,
            }).changes;
            if (changed) this.threads.touch(threadId, now);
          }).immediate(),
        );
        if (!changed) return null;
        return this.toMessage(this.stmts.bySeq.get(seq) as MessageRow);
      },
    };
    const writer = new BufferedReplyWriter({ messageId: id, threadId }, sink, this.writerOptions, this.clock,
      this.logger, hooks, (w) => this.writers.delete(w));
    this.writers.add(writer);
    return writer;
  }

  /**
   * Runs a streamed reply's write without SQLite's blocking busy wait: the writer retries a busy
   * database itself, with timers, so main's thread is never held for the connection's busy_timeout
   * on every retry.
   */
  private withoutBusyWait<T>(write: () => T): T {
    return withoutBusyWait(this.db, write);
  }

  setSources(id: string, sources: SourceDTO[] | null): void {
    const v = check(sourcesSchema, sources, 'sources');
    if (this.stmts.setSources.run(encodeJson(v), id).changes === 0) throw new StoreError('not_found', `message ${id} not found`);
  }

  continueReply(replyId: string, hooks?: ReplyHooks): ReplyWriter {
    const m = this.row(replyId);
    if (m.role !== 'assistant') throw new StoreError('invalid_input', `message ${replyId} is not an assistant reply`);
    if (m.status === 'streaming') throw new StoreError('invalid_input', `message ${replyId} is still streaming`);
    const writer = this.openWriter(m.seq, m.id, m.thread_id, hooks) as BufferedReplyWriter;
    writer.resumeAt(Buffer.byteLength(m.content, 'utf8') + Buffer.byteLength(m.reasoning, 'utf8'));
    this.stmts.reopen.run(this.clock(), replyId); // leaves the search index until finished again
    return writer;
  }

  regenerate(replyId: string, opts: { model?: string | null } = {}, hooks?: ReplyHooks): ReplyWriter {
    const reply = this.get(replyId);
    return this.beginReply({
      threadId: reply.threadId, parentId: reply.parentId, model: opts.model !== undefined ? opts.model : reply.model,
      role: reply.role === 'tool' ? 'tool' : 'assistant',
    }, hooks);
  }

  /** Replies left 'streaming' by a crash become 'interrupted', keeping every flushed piece. Returns the count. */
  recoverInterrupted(): number {
    return this.stmts.recover.run(this.clock()).changes;
  }

  /** Ends every open reply as interrupted (store closing). */
  abandonAll(): void {
    for (const w of [...this.writers]) w.abandon();
  }

  get openReplies(): number {
    return this.writers.size;
  }
}
