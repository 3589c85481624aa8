/**
 * Another connection holding the database's lock (a second `hearth serve`, a `hearth` command, the app
 * beside them), met without holding main's thread: SQLite's own busy wait (the connection's
 * busy_timeout) blocks the thread it runs on, so the writes that can wait are run with it off and
 * retried with timers instead (`whenUnlocked`; the streamed replies' writer has its own retries).
 */
import type Database from 'better-sqlite3';
import { retryFor } from '../retry';

/**
 * SQLITE_BUSY (and its extended codes): another connection holds the lock; worth waiting for. (SQLITE_LOCKED
 * is a conflict inside one connection, or a shared cache better-sqlite3 is built without: no wait ends it.)
 */
export function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** What is said of a write that gave up waiting for another process's lock (SQLite's own words: "database is locked"). */
export const BUSY_ADVICE = 'another Hearth (the app, `hearth serve` or a `hearth` command) kept the data busy for longer than Hearth waits: try again once it is done';

/** An error's message, with BUSY_ADVICE when it is SQLITE_BUSY. */
export function withBusyAdvice(e: unknown): string {
  const message = (e as Error)?.message ?? String(e);
  return isBusy(e) ? `${message}: ${BUSY_ADVICE}` : message;
}

/** Runs `write` with the connection's busy wait off: a held lock is SQLITE_BUSY at once. */
export function withoutBusyWait<T>(db: Database.Database, write: () => T): T {
  const saved = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    return write();
  } finally {
    db.pragma(`busy_timeout = ${saved}`);
  }
}

/** Another write of this connection began while one waited for the lock (waited out like the lock). */
class StayedInTransaction extends Error {
  constructor() {
    super('whenUnlocked: this connection stayed in another transaction');
  }
}

/** The first wait between two tries, doubled after each up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 10;
const RETRY_MAX_MS = 200;

/**
 * `body` in an IMMEDIATE transaction (the write lock taken at its BEGIN, so a body that reads before it writes
 * cannot fail its upgrade), the BEGIN tried again with timers while another connection holds the lock, for at
 * most `waitMs` in all (default: the connection's busy_timeout, what SQLite's own wait would have taken);
 * then its SQLITE_BUSY is thrown. Once the lock is had, the body and the COMMIT run with the connection's own
 * busy wait (without WAL a COMMIT waits for readers: giving the lock up there would let a steady reader
 * starve the write). A body that throws is rolled back. Refused inside a transaction (it would be a savepoint).
 * `signal` ends the wait.
 */
export async function whenUnlocked<T>(db: Database.Database, body: () => T, opts: { waitMs?: number; clock?: () => number; signal?: AbortSignal } = {}): Promise<T> {
  if (db.inTransaction) throw new Error('whenUnlocked: the connection is in a transaction already');
  await retryFor(() => {
    // (another write of this connection may have begun while this one waited)
    if (db.inTransaction) throw new StayedInTransaction();
    withoutBusyWait(db, () => db.exec('BEGIN IMMEDIATE'));
  }, {
    transient: (e) => isBusy(e) || e instanceof StayedInTransaction,
    waitMs: opts.waitMs ?? (db.pragma('busy_timeout', { simple: true }) as number),
    firstMs: RETRY_FIRST_MS, maxMs: RETRY_MAX_MS, signal: opts.signal, clock: opts.clock,
  });
  try {
    const result = body();
    // (its work after an await would run outside the transaction, committed piecemeal)
    if (typeof (result as { then?: unknown } | null)?.then === 'function') throw new TypeError('whenUnlocked: the body must not be async');
    db.exec('COMMIT');
    return result;
  } catch (e) {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } catch (rollback) {
      // the body's error is what the caller is told; the rollback's rides along (the next call waits, then says so)
      throw Object.assign(e as object, { rollbackError: rollback });
    }
    throw e;
  }
}
