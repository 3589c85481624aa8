/**
 * The tools the user allowed for a whole thread ("Allow for this thread" on a tool call), by tool key
 * (main/params/tools.ts). A saved thread's grants are kept here and go with the thread; a temporary
 * chat's are kept by the call loop in memory.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from './types';
import { check, checkId } from './validation';

const toolKey = z.string().min(1).max(300);

export class ToolGrants {
  private readonly stmts;

  constructor(db: Database.Database, private readonly clock: Clock) {
    this.stmts = {
      list: db.prepare('SELECT tool FROM tool_grants WHERE thread_id = ? ORDER BY granted_at, tool').pluck(),
      add: db.prepare('INSERT OR IGNORE INTO tool_grants (thread_id, tool, granted_at) VALUES (?, ?, ?)'),
    };
  }

  list(threadId: string): string[] {
    checkId(threadId, 'thread id');
    return this.stmts.list.all(threadId) as string[];
  }

  /** Grants a tool for a thread (the thread must exist: a foreign key). */
  add(threadId: string, key: string): void {
    checkId(threadId, 'thread id');
    this.stmts.add.run(threadId, check(toolKey, key, 'tool key'), this.clock());
  }
}
