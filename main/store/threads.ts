/** Threads repository (SQLite). */
import { randomUUID } from 'crypto';
import type Database from 'better-sqlite3';
import { StoreError } from './errors';
import { decodeJson } from './json';
import type { Logger } from '../logging';
import type { Clock, ListThreadsRequest, NewThread, Page, Thread, ThreadPatch, ThreadsApi, ThreadOverrides } from './types';
import {
  check, checkId, decodeCursor, encodeCursor, newThreadSchema, storedLoadSchema, pageSchema, remoteSentSchema, samplingSchema, threadPatchSchema, titleSchema,
} from './validation';

export const DEFAULT_THREAD_TITLE = 'New chat';
export const DEFAULT_PAGE_SIZE = 50;

interface ThreadRow {
  seq: number;
  id: string;
  title: string;
  assistant_id: string | null;
  model: string | null;
  pinned: number;
  archived: number;
  instructions: string | null;
  sampling: string;
  load: string;
  created_at: number;
  updated_at: number;
  remote_sent: string | null;
}

const COLS = 'seq, id, title, assistant_id, model, pinned, archived, instructions, sampling, load, created_at, updated_at, remote_sent';

export interface ThreadsDeps {
  db: Database.Database;
  clock: Clock;
  logger: Logger;
  /** Assistant given to new threads that do not name one. */
  defaultAssistantId: () => string | null;
}

export class SqliteThreads implements ThreadsApi {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly defaultAssistantId: () => string | null;
  private readonly stmts;

  constructor(deps: ThreadsDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.defaultAssistantId = deps.defaultAssistantId;
    const db = this.db;
    this.stmts = {
      get: db.prepare(`SELECT ${COLS} FROM threads WHERE id = ?`),
      list: db.prepare(`SELECT ${COLS} FROM threads WHERE archived = ? ORDER BY pinned DESC, updated_at DESC, seq DESC LIMIT ? OFFSET ?`),
      listAfter: db.prepare(`SELECT ${COLS} FROM threads WHERE archived = @archived AND (pinned, updated_at, seq) < (@pinned, @updatedAt, @seq)
        ORDER BY pinned DESC, updated_at DESC, seq DESC LIMIT @limit`),
      insert: db.prepare(`INSERT INTO threads (id, title, assistant_id, model, pinned, archived, instructions, sampling, load, created_at, updated_at, remote_sent)
        VALUES (@id, @title, @assistant_id, @model, @pinned, @archived, @instructions, @sampling, @load, @created_at, @updated_at, @remote_sent)`),
      assistantExists: db.prepare('SELECT 1 FROM assistants WHERE id = ?'),
      rename: db.prepare('UPDATE threads SET title = ? WHERE id = ?'),
      pinned: db.prepare('UPDATE threads SET pinned = ? WHERE id = ?'),
      archived: db.prepare('UPDATE threads SET archived = ? WHERE id = ?'),
      touch: db.prepare('UPDATE threads SET updated_at = max(updated_at, ?) WHERE id = ?'),
      delete: db.prepare('DELETE FROM threads WHERE id = ?'),
      exists: db.prepare('SELECT 1 FROM threads WHERE id = ?'),
    };
  }

  private toThread(r: ThreadRow): Thread {
    const where = `thread ${r.id}`;
    const overrides: ThreadOverrides = {
      instructions: r.instructions,
      sampling: decodeJson(r.sampling, samplingSchema, {}, this.logger, { where: `${where} sampling` }),
      load: decodeJson(r.load, storedLoadSchema, {}, this.logger, { where: `${where} load` }),
    };
    return {
      id: r.id, title: r.title, assistantId: r.assistant_id, model: r.model,
      createdAt: r.created_at, updatedAt: r.updated_at, pinned: r.pinned === 1, archived: r.archived === 1,
      overrides, temporary: false,
      remoteSent: r.remote_sent === null ? [] : decodeJson(r.remote_sent, remoteSentSchema, [], this.logger, { where: `${where} remote_sent` }),
    };
  }

  private checkAssistant(id: string | null | undefined): void {
    if (id && !this.stmts.assistantExists.get(id)) throw new StoreError('not_found', `assistant ${id} not found`);
  }

  create(input: NewThread = {}): Thread {
    const v = check(newThreadSchema, input, 'new thread');
    const assistantId = v.assistantId === undefined ? this.defaultAssistantId() : v.assistantId;
    this.checkAssistant(assistantId);
    const now = this.clock();
    return this.insertRecord({
      id: randomUUID(), title: v.title ?? DEFAULT_THREAD_TITLE, assistantId: assistantId ?? null, model: v.model ?? null,
      createdAt: now, updatedAt: now, pinned: v.pinned ?? false, archived: false, overrides: v.overrides ?? {}, temporary: false,
    });
  }

  /** Inserts a complete, already validated thread record (import). */
  insertRecord(t: Thread): Thread {
    this.stmts.insert.run({
      id: t.id, title: t.title, assistant_id: t.assistantId, model: t.model, pinned: t.pinned ? 1 : 0,
      archived: t.archived ? 1 : 0, instructions: t.overrides.instructions ?? null,
      sampling: JSON.stringify(t.overrides.sampling ?? {}), load: JSON.stringify(t.overrides.load ?? {}),
      created_at: t.createdAt, updated_at: t.updatedAt,
      remote_sent: t.remoteSent?.length ? JSON.stringify(t.remoteSent) : null,
    });
    return this.get(t.id);
  }

  get(id: string): Thread {
    checkId(id, 'thread id');
    const row = this.stmts.get.get(id) as ThreadRow | undefined;
    if (!row) throw new StoreError('not_found', `thread ${id} not found`);
    return this.toThread(row);
  }

  exists(id: string): boolean {
    return this.stmts.exists.get(id) !== undefined;
  }

  list(req: ListThreadsRequest = {}): Page<Thread> {
    const v = check(pageSchema, req, 'thread list request');
    const limit = v.limit ?? DEFAULT_PAGE_SIZE;
    const offset = v.cursor ? 0 : v.offset ?? 0;
    let rows: ThreadRow[];
    if (v.cursor) {
      const c = decodeCursor(v.cursor);
      rows = this.stmts.listAfter.all({ archived: v.archived ? 1 : 0, pinned: c.pinned, updatedAt: c.updatedAt, seq: c.tiebreak, limit: limit + 1 }) as ThreadRow[];
    } else {
      rows = this.stmts.list.all(v.archived ? 1 : 0, limit + 1, offset) as ThreadRow[];
    }
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const hasMore = rows.length > limit;
    return {
      items: page.map((r) => this.toThread(r)), offset, limit, hasMore,
      nextCursor: hasMore && last ? encodeCursor(last.pinned === 1, last.updated_at, last.seq) : null,
    };
  }

  private mustChange(info: Database.RunResult, id: string): void {
    if (info.changes === 0) throw new StoreError('not_found', `thread ${id} not found`);
  }

  rename(id: string, title: string): Thread {
    checkId(id, 'thread id');
    const t = check(titleSchema, title, 'title');
    this.mustChange(this.stmts.rename.run(t, id), id);
    return this.get(id);
  }

  setPinned(id: string, pinned: boolean): Thread {
    checkId(id, 'thread id');
    this.mustChange(this.stmts.pinned.run(pinned ? 1 : 0, id), id);
    return this.get(id);
  }

  setArchived(id: string, archived: boolean): Thread {
    checkId(id, 'thread id');
    this.mustChange(this.stmts.archived.run(archived ? 1 : 0, id), id);
    return this.get(id);
  }

  update(id: string, patch: ThreadPatch): Thread {
    checkId(id, 'thread id');
    const v = check(threadPatchSchema, patch, 'thread patch');
    const current = this.get(id);
    if (v.assistantId !== undefined) this.checkAssistant(v.assistantId);
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    if (v.title !== undefined) { sets.push('title = @title'); params.title = v.title; }
    if (v.assistantId !== undefined) { sets.push('assistant_id = @assistant_id'); params.assistant_id = v.assistantId; }
    if (v.model !== undefined) { sets.push('model = @model'); params.model = v.model; }
    if (v.remoteSent !== undefined) { sets.push('remote_sent = @remote_sent'); params.remote_sent = v.remoteSent.length ? JSON.stringify(v.remoteSent) : null; }
    if (v.overrides) {
      if (v.overrides.instructions !== undefined) { sets.push('instructions = @instructions'); params.instructions = v.overrides.instructions; }
      if (v.overrides.sampling !== undefined) { sets.push('sampling = @sampling'); params.sampling = JSON.stringify(v.overrides.sampling); }
      if (v.overrides.load !== undefined) { sets.push('load = @load'); params.load = JSON.stringify(v.overrides.load); }
    }
    if (sets.length === 0) return current;
    this.db.prepare(`UPDATE threads SET ${sets.join(', ')} WHERE id = @id`).run(params);
    return this.get(id);
  }

  /** Marks activity in a thread (moves it up the list). */
  touch(id: string, at: number = this.clock()): void {
    this.stmts.touch.run(at, id);
  }

  delete(id: string): void {
    checkId(id, 'thread id');
    this.mustChange(this.stmts.delete.run(id), id);
  }
}
