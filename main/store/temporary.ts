/**
 * Temporary chats: the same thread and message operations as the store, kept in memory only. Nothing of a
 * temporary chat is ever written to disk by the store; it is gone when the app quits or the chat is deleted.
 * (The images its messages carry are files of the image store while the chat is open: the image sweep
 * deletes them after.)
 */
import type { SourceDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import { randomUUID } from 'crypto';
import { attachmentRefsOf } from './attachment-refs';
import { StoreError } from './errors';
import { BufferedReplyWriter, DEFAULT_WRITER_OPTIONS, type ReplySink } from './stream-writer';
import { DEFAULT_THREAD_TITLE, DEFAULT_PAGE_SIZE } from './threads';
import { activePath } from './tree';
import type {
  Attachment, BeginReply, Clock, ListThreadsRequest, Message, MessagePatch, MessagesApi, MessageView, NewMessage, NewThread,
  Page, ReplyHooks, ReplyWriter, Thread, ThreadPatch, ThreadsApi,
} from './types';
import {
  beginReplySchema, check, checkId, contentSchema, decodeCursor, encodeCursor, messagePatchSchema, newMessageSchema,
  newThreadSchema, pageSchema, threadPatchSchema, titleSchema,
} from './validation';

interface State {
  threads: Map<string, { thread: Thread; order: number }>;
  messages: Map<string, Message>;
  byThread: Map<string, Message[]>;
  order: number;
}

const clone = <T>(v: T): T => structuredClone(v);

class MemoryThreads implements ThreadsApi {
  constructor(private readonly s: State, private readonly clock: Clock, private readonly defaultAssistantId: () => string | null) {}

  private entry(id: string) {
    checkId(id, 'thread id');
    const e = this.s.threads.get(id);
    if (!e) throw new StoreError('not_found', `temporary thread ${id} not found`);
    return e;
  }

  create(input: NewThread = {}): Thread {
    const v = check(newThreadSchema, input, 'new thread');
    const now = this.clock();
    const thread: Thread = {
      id: randomUUID(), title: v.title ?? DEFAULT_THREAD_TITLE,
      assistantId: v.assistantId === undefined ? this.defaultAssistantId() : v.assistantId, model: v.model ?? null,
      createdAt: now, updatedAt: now, pinned: v.pinned ?? false, archived: false,
      overrides: { instructions: v.overrides?.instructions ?? null, sampling: clone(v.overrides?.sampling ?? {}), load: clone(v.overrides?.load ?? {}) },
      temporary: true,
    };
    this.s.threads.set(thread.id, { thread, order: this.s.order++ });
    this.s.byThread.set(thread.id, []);
    return clone(thread);
  }

  get(id: string): Thread {
    return clone(this.entry(id).thread);
  }

  exists(id: string): boolean {
    return this.s.threads.has(id);
  }

  list(req: ListThreadsRequest = {}): Page<Thread> {
    const v = check(pageSchema, req, 'thread list request');
    const limit = v.limit ?? DEFAULT_PAGE_SIZE;
    const offset = v.cursor ? 0 : v.offset ?? 0;
    const key = (e: { thread: Thread; order: number }): [number, number, number] => [Number(e.thread.pinned), e.thread.updatedAt, e.order];
    const before = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    let all = [...this.s.threads.values()].filter((e) => e.thread.archived === (v.archived ?? false))
      .sort((a, b) => before(key(b), key(a)));
    if (v.cursor) {
      const c = decodeCursor(v.cursor);
      all = all.filter((e) => before(key(e), [c.pinned, c.updatedAt, c.tiebreak]) < 0);
    }
    const page = all.slice(offset, offset + limit);
    const hasMore = all.length > offset + limit;
    const last = page[page.length - 1];
    return {
      items: page.map((e) => clone(e.thread)), offset, limit, hasMore,
      nextCursor: hasMore && last ? encodeCursor(last.thread.pinned, last.thread.updatedAt, last.order) : null,
    };
  }

  rename(id: string, title: string): Thread {
    const e = this.entry(id);
    e.thread.title = check(titleSchema, title, 'title');
    return clone(e.thread);
  }

  setPinned(id: string, pinned: boolean): Thread {
    const e = this.entry(id);
    e.thread.pinned = pinned;
    return clone(e.thread);
  }

  setArchived(id: string, archived: boolean): Thread {
    const e = this.entry(id);
    e.thread.archived = archived;
    return clone(e.thread);
  }

  update(id: string, patch: ThreadPatch): Thread {
    const e = this.entry(id);
    const v = check(threadPatchSchema, patch, 'thread patch');
    if (v.title !== undefined) e.thread.title = v.title;
    if (v.assistantId !== undefined) e.thread.assistantId = v.assistantId;
    if (v.model !== undefined) e.thread.model = v.model;
    if (v.remoteSent !== undefined) e.thread.remoteSent = [...v.remoteSent];
    if (v.overrides) {
      const o = e.thread.overrides;
      if (v.overrides.instructions !== undefined) o.instructions = v.overrides.instructions;
      if (v.overrides.sampling !== undefined) o.sampling = clone(v.overrides.sampling);
      if (v.overrides.load !== undefined) o.load = clone(v.overrides.load);
    }
    return clone(e.thread);
  }

  touch(id: string, at: number): void {
    const e = this.s.threads.get(id);
    if (e) e.thread.updatedAt = Math.max(e.thread.updatedAt, at);
  }

  delete(id: string): void {
    this.entry(id);
    for (const m of this.s.byThread.get(id) ?? []) this.s.messages.delete(m.id);
    this.s.byThread.delete(id);
    this.s.threads.delete(id);
  }
}

class MemoryMessages implements MessagesApi {
  private readonly writers = new Set<BufferedReplyWriter>();

  constructor(private readonly s: State, private readonly threads: MemoryThreads, private readonly clock: Clock,
    private readonly logger: Logger) {}

  private msg(id: string): Message {
    checkId(id, 'message id');
    const m = this.s.messages.get(id);
    if (!m) throw new StoreError('not_found', `temporary message ${id} not found`);
    return m;
  }

  private thread(threadId: string): Message[] {
    checkId(threadId, 'thread id');
    const list = this.s.byThread.get(threadId);
    if (!list) throw new StoreError('not_found', `temporary thread ${threadId} not found`);
    return list;
  }

  private resolveParent(threadId: string, parentId: string | null | undefined): string | null {
    if (parentId === undefined) {
      const path = activePath(this.thread(threadId));
      return path.length ? path[path.length - 1].id : null;
    }
    if (parentId === null) return null;
    const p = this.msg(parentId);
    if (p.threadId !== threadId) throw new StoreError('invalid_input', `message ${parentId} belongs to another thread`);
    return parentId;
  }

  private insertActive(m: Message): void {
    const list = this.thread(m.threadId);
    for (const x of list) if (x.parentId === m.parentId && x.active) x.active = false;
    list.push(m);
    this.s.messages.set(m.id, m);
    this.threads.touch(m.threadId, m.createdAt);
  }

  add(input: NewMessage): Message {
    const v = check(newMessageSchema, input, 'new message');
    this.thread(v.threadId);
    const parentId = this.resolveParent(v.threadId, v.parentId);
    const now = this.clock();
    const m: Message = {
      id: randomUUID(), threadId: v.threadId, parentId, active: true, role: v.role, content: v.content ?? '',
      reasoning: v.reasoning ?? '', toolCalls: clone(v.toolCalls ?? null), toolCallId: v.toolCallId ?? null,
      attachments: clone(v.attachments ?? []), sources: null, status: v.status ?? 'done', finishReason: v.finishReason ?? null,
      error: v.error ?? null, model: v.model ?? null, metrics: clone(v.metrics ?? null), createdAt: now, updatedAt: now,
    };
    this.insertActive(m);
    return clone(m);
  }

  get(id: string): Message {
    return clone(this.msg(id));
  }

  listAll(threadId: string): Message[] {
    return clone(this.thread(threadId));
  }

  list(threadId: string): MessageView[] {
    return clone(activePath(this.thread(threadId)));
  }

  update(id: string, patch: MessagePatch): Message {
    const v = check(messagePatchSchema, patch, 'message patch');
    const m = this.msg(id);
    if (m.status === 'streaming') throw new StoreError('invalid_input', `message ${id} is still streaming`);
    if (v.content !== undefined) m.content = v.content;
    if (v.reasoning !== undefined) m.reasoning = v.reasoning;
    if (v.toolCalls !== undefined) m.toolCalls = clone(v.toolCalls);
    if (v.attachments !== undefined) m.attachments = clone(v.attachments);
    if (v.status !== undefined) m.status = v.status;
    if (v.error !== undefined) m.error = v.error;
    if (v.metrics !== undefined) m.metrics = clone(v.metrics);
    m.updatedAt = this.clock();
    this.threads.touch(m.threadId, m.updatedAt);
    return clone(m);
  }

  edit(id: string, content: string, attachments?: Attachment[]): Message {
    const c = check(contentSchema, content, 'content');
    const o = this.msg(id);
    if (o.status === 'streaming') throw new StoreError('invalid_input', `message ${id} is still streaming`);
    return this.add({ threadId: o.threadId, role: o.role, content: c, parentId: o.parentId, attachments: attachments ?? o.attachments,
      toolCallId: o.toolCallId, model: o.model });
  }

  selectAlternative(id: string): MessageView[] {
    const m = this.msg(id);
    for (const x of this.thread(m.threadId)) if (x.parentId === m.parentId) x.active = x.id === id;
    return this.list(m.threadId);
  }

  switchAlternative(id: string, direction: 'prev' | 'next'): MessageView[] {
    const m = this.msg(id);
    if (direction !== 'prev' && direction !== 'next') throw new StoreError('invalid_input', 'direction must be prev or next');
    const ids = this.thread(m.threadId).filter((x) => x.parentId === m.parentId).map((x) => x.id);
    const target = ids[ids.indexOf(id) + (direction === 'next' ? 1 : -1)];
    return target ? this.selectAlternative(target) : this.list(m.threadId);
  }

  delete(id: string): void {
    const m = this.msg(id);
    for (const w of this.writers) if (w.messageId === id) w.abandon();
    const list = this.thread(m.threadId);
    const doomed = new Set([id]);
    for (const x of list) if (x.parentId && doomed.has(x.parentId)) doomed.add(x.id); // creation order: parents first
    const kept = list.filter((x) => !doomed.has(x.id));
    for (const d of doomed) this.s.messages.delete(d);
    this.s.byThread.set(m.threadId, kept);
    if (m.active) {
      const siblings = kept.filter((x) => x.parentId === m.parentId);
      if (siblings.length) siblings[siblings.length - 1].active = true;
    }
  }

  beginReply(input: BeginReply, hooks?: ReplyHooks): ReplyWriter {
    const v = check(beginReplySchema, input, 'reply');
    this.thread(v.threadId);
    const parentId = this.resolveParent(v.threadId, v.parentId);
    const now = this.clock();
    const m: Message = {
      id: randomUUID(), threadId: v.threadId, parentId, active: true, role: v.role ?? 'assistant', content: '',
      reasoning: '', toolCalls: null, toolCallId: null, attachments: [], sources: null, status: 'streaming', finishReason: null, error: null,
      model: v.model ?? null, metrics: null, createdAt: now, updatedAt: now,
    };
    this.insertActive(m);
    return this.openWriter(m, hooks);
  }

  private openWriter(m: Message, hooks?: ReplyHooks): ReplyWriter {
    const live = () => this.s.messages.get(m.id) === m && m.status === 'streaming';
    const sink: ReplySink = {
      append: (content, reasoning, at) => {
        if (!live()) return false;
        m.content += content;
        m.reasoning += reasoning;
        m.updatedAt = at;
        return true;
      },
      finish: (content, reasoning, result, at) => {
        if (!live()) return null;
        m.content += content;
        m.reasoning += reasoning;
        m.status = result.status;
        m.finishReason = result.finishReason ?? null;
        m.error = result.error ?? null;
        if (result.metrics) m.metrics = clone(result.metrics);
        if (result.toolCalls) m.toolCalls = clone(result.toolCalls);
        if (result.model) m.model = result.model;
        m.updatedAt = at;
        this.threads.touch(m.threadId, at);
        return clone(m);
      },
    };
    const w = new BufferedReplyWriter({ messageId: m.id, threadId: m.threadId }, sink, { ...DEFAULT_WRITER_OPTIONS, flushIntervalMs: 0, flushChars: 0 },
      this.clock, this.logger, hooks, (x) => this.writers.delete(x));
    this.writers.add(w);
    return w;
  }

  setSources(id: string, sources: SourceDTO[] | null): void {
    this.msg(id).sources = clone(sources);
  }

  continueReply(replyId: string, hooks?: ReplyHooks): ReplyWriter {
    const m = this.msg(replyId);
    if (m.role !== 'assistant') throw new StoreError('invalid_input', `message ${replyId} is not an assistant reply`);
    if (m.status === 'streaming') throw new StoreError('invalid_input', `message ${replyId} is still streaming`);
    m.status = 'streaming';
    m.finishReason = null;
    m.error = null;
    m.updatedAt = this.clock();
    const w = this.openWriter(m, hooks) as BufferedReplyWriter;
    w.resumeAt(Buffer.byteLength(m.content, 'utf8') + Buffer.byteLength(m.reasoning, 'utf8'));
    return w;
  }

  regenerate(replyId: string, opts: { model?: string | null } = {}, hooks?: ReplyHooks): ReplyWriter {
    const r = this.msg(replyId);
    return this.beginReply({ threadId: r.threadId, parentId: r.parentId, model: opts.model !== undefined ? opts.model : r.model,
      role: r.role === 'tool' ? 'tool' : 'assistant' }, hooks);
  }

  abandonAll(): void {
    for (const w of [...this.writers]) w.abandon();
  }
}

export class TemporaryChats {
  readonly threads: ThreadsApi;
  readonly messages: MessagesApi;
  private readonly state: State = { threads: new Map(), messages: new Map(), byThread: new Map(), order: 0 };
  private readonly memMessages: MemoryMessages;

  constructor(deps: { clock: Clock; logger: Logger; defaultAssistantId?: () => string | null }) {
    const threads = new MemoryThreads(this.state, deps.clock, deps.defaultAssistantId ?? (() => null));
    this.threads = threads;
    this.memMessages = new MemoryMessages(this.state, threads, deps.clock, deps.logger);
    this.messages = this.memMessages;
  }

  has(threadId: string): boolean {
    return this.state.threads.has(threadId);
  }

  /** The open temporary chats' ids. */
  ids(): Set<string> {
    return new Set(this.state.threads.keys());
  }

  /**
   * The refs the attachments of one temporary chat (every alternative) or of all of them make. The
   * images they name are on disk (the image store writes before it knows the chat): the image sweep
   * keeps them while a chat is open and deletes them once it is gone (main/chat/image-sweep.ts).
   */
  attachmentRefs(threadId?: string): Set<string> {
    if (threadId === undefined) return attachmentRefsOf(this.state.messages.values());
    return attachmentRefsOf(this.state.byThread.get(threadId) ?? []);
  }

  /** Forgets every temporary chat. */
  clear(): void {
    this.memMessages.abandonAll();
    this.state.threads.clear();
    this.state.messages.clear();
    this.state.byThread.clear();
  }
}
