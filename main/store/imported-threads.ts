/**
 * Where imported threads came from (imported_threads: the format and the other app's id of each), so
 * that importing the same conversation again is skipped; deleting the thread forgets it (it cascades).
 * A conversation is written with its record in one transaction: the thread, its messages (parents
 * first) and the row. Search finds it at once (messages_fts and threads_fts fill on insert).
 */
import type Database from 'better-sqlite3';
import { whenUnlocked } from './busy';
import { writePrepared, type ImportContext, type PreparedThread } from './import';

export class ImportedThreads {
  private readonly stmts: { has: Database.Statement; record: Database.Statement };

  constructor(private readonly ctx: ImportContext) {
    this.stmts = {
      has: ctx.db.prepare('SELECT thread_id FROM imported_threads WHERE format = ? AND source_id = ?').pluck(),
      record: ctx.db.prepare('INSERT OR REPLACE INTO imported_threads (format, source_id, thread_id) VALUES (?, ?, ?)'),
    };
  }

  /**
   * Whether the conversation `sourceId` of `format` was imported already: recorded here, or (Hearth
   * JSON, Jan, which keep ids) a thread with `threadId` exists (an import before this record was kept).
   */
  has(format: string, sourceId: string, threadId?: string): boolean {
    if (this.stmts.has.get(format, sourceId) !== undefined) return true;
    return threadId !== undefined && this.ctx.threads.exists(threadId);
  }

  /**
   * Writes one prepared thread (new ids when any is taken) and remembers where it came from, in one
   * IMMEDIATE transaction (it reads the ids taken before it writes), unless it was imported already (`has`,
   * asked inside it: another process may have imported it while this one waited); null then. A lock another
   * process holds is waited for with timers, off main's thread (./busy.ts), until `signal` aborts.
   */
  write(format: string, sourceId: string, p: PreparedThread, opts: { keptId?: string; signal?: AbortSignal } = {}): Promise<{ threadId: string; messages: number } | null> {
    const { keptId, signal } = opts;
    return whenUnlocked(this.ctx.db, () => {
      if (this.has(format, sourceId, keptId)) return null;
      const r = writePrepared(this.ctx, [p], 'remap');
      const threadId = r.threadIds[0];
      this.stmts.record.run(format, sourceId, threadId);
      return { threadId, messages: r.messages };
    }, { signal });
  }
}
