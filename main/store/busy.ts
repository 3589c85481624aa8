/**
 * Another connection holding the database's lock (a second `hearth serve`, a `hearth` command, the app
 * beside them), met without holding main's thread: SQLite's own busy wait (the connection's
 * busy_timeout) blocks the thread it runs on, so the writes that can wait are run with it off and
 * retried with timers instead (`whenUnlocked`; the streamed replies' writer has its own retries).
 */
import type Database from 'better-sqlite3';

/** SQLITE_BUSY and SQLITE_LOCKED (and their extended codes): another connection holds a lock; worth retrying. */
export function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
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

/** The first wait between two tries, doubled after each up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 10;
const RETRY_MAX_MS = 200;

/**
 * `write` (a whole transaction: IMMEDIATE where it reads before it writes, so that it waits for the lock
 * rather than failing its upgrade), tried again with timers while another connection holds the lock, for
 * at most `waitMs` in all (default: the connection's busy_timeout, what SQLite's own wait would have
 * taken); then its SQLITE_BUSY is thrown. Any other error is thrown at once. Not inside a transaction.
 */
export async function whenUnlocked<T>(db: Database.Database, write: () => T, opts: { waitMs?: number; clock?: () => number } = {}): Promise<T> {
  const clock = opts.clock ?? Date.now;
  const waitMs = opts.waitMs ?? (db.pragma('busy_timeout', { simple: true }) as number);
  const started = clock();
  let pause = RETRY_FIRST_MS;
  for (;;) {
    try {
      return withoutBusyWait(db, write);
    } catch (e) {
      if (!isBusy(e) || clock() - started >= waitMs) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(1, waitMs - (clock() - started)))));
    pause = Math.min(pause * 2, RETRY_MAX_MS);
  }
}
