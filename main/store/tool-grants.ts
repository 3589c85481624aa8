/**
 * The tools the user allowed for a whole thread ("Allow for this thread" on a tool call), by tool key
 * (main/params/tools.ts). A saved thread's grants are kept here and go with the thread; a temporary
 * chat's are kept by the call loop in memory.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError } from './errors';
import type { Clock } from './types';
import { check, checkId } from './validation';

const toolKey = z.string().min(1).max(300);

export class ToolGrants {
  private readonly stmts;

  constructor(db: Database.Database, private readonly clock: Clock) {
    this.stmts = {
      list: db.prepare('SELECT tool FROM tool_grants WHERE thread_id = ? ORDER BY granted_at, tool').pluck(),
      add: db.prepare('INSERT OR IGNORE INTO tool_grants (thread_id, tool, granted_at) VALUES (?, ?, ?)'),
      deletePrefix: db.prepare('DELETE FROM tool_grants WHERE substr(tool, 1, length(?)) = ?'),
      thread: db.prepare('SELECT 1 FROM threads WHERE id = ?'),
    };
  }

  list(threadId: string): string[] {
    checkId(threadId, 'thread id');
    return this.stmts.list.all(threadId) as string[];
  }

  /** Grants a tool for a thread; a thread not stored (deleted meanwhile) is not_found. */
  add(threadId: string, key: string): void {
    checkId(threadId, 'thread id');
    const tool = check(toolKey, key, 'tool key');
    if (!this.stmts.thread.get(threadId)) throw new StoreError('not_found', `thread ${threadId} not found`);
    this.stmts.add.run(threadId, tool, this.clock());
  }

  /** Drops every thread's grant of the tools whose keys start with `prefix` (a server deleted or renamed). */
  deletePrefix(prefix: string): number {
    return this.stmts.deletePrefix.run(prefix, prefix).changes;
  }
}
