/**
 * Another connection holding the write lock (as a `hearth` command or a second `hearth serve` would), met
 * without holding main's thread (main/store/busy.ts): a write waits with timers until the lock goes, or
 * fails with SQLITE_BUSY after the connection's busy timeout; real SQLite files, two connections.
 */
import Database from 'better-sqlite3';
import { BUSY_ADVICE, isBusy, whenUnlocked, withBusyAdvice, withoutBusyWait } from '../../main/store/busy';
import { closeStores, cleanupDirs, openStore } from './helpers';
import { longestStall } from '../helpers/stalls';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const insert = (db: Database.Database, key: string) => () => {
  db.prepare("INSERT INTO settings (key, value, updated_at) VALUES (?, '1', 0)").run(key);
  return key;
};

test('a write waits for the lock with timers, and is done once it goes; the busy timeout is the connection\'s again after', async () => {
  const s = openStore();
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE');
  setTimeout(() => other.exec('COMMIT'), 1500);
  const started = Date.now();
  const { result, stallMs } = await longestStall(() => whenUnlocked(s.db, insert(s.db, 'after the lock')));
  other.close();
  expect(result).toEqual({ status: 'fulfilled', value: 'after the lock' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(1490);
  // SQLite's own wait would have held this thread for its 5 s busy timeout (the commit's timer cannot fire meanwhile)
  expect(stallMs).toBeLessThan(2500);
  expect(s.db.prepare('SELECT count(*) FROM settings WHERE key = ?').pluck().get('after the lock')).toBe(1);
  expect(s.db.pragma('busy_timeout', { simple: true })).toBe(5000);
});

test('a lock held past the wait: SQLITE_BUSY after it, the thread free meanwhile; a cancel ends the wait; another error at once, not retried', async () => {
  const s = openStore();
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE');
  const started = Date.now();
  const { result, stallMs } = await longestStall(() => whenUnlocked(s.db, insert(s.db, 'never'), { waitMs: 1500 }));
  // a cancel ends the wait at once
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  const asked = Date.now();
  await expect(whenUnlocked(s.db, insert(s.db, 'cancelled'), { signal: stop.signal })).rejects.toMatchObject({ name: 'AbortError' });
  expect(Date.now() - asked).toBeLessThan(2000);
  other.exec('ROLLBACK');
  other.close();
  expect(result.status).toBe('rejected');
  expect(isBusy((result as PromiseRejectedResult).reason)).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1490);
  expect(stallMs).toBeLessThan(2500);
  let tries = 0;
  await expect(whenUnlocked(s.db, () => {
    tries++;
    throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
  })).rejects.toThrow('disk full');
  expect(tries).toBe(1);
  // not inside a transaction (it would be a savepoint, its lock already had)
  s.db.exec('BEGIN');
  await expect(whenUnlocked(s.db, insert(s.db, 'nested'))).rejects.toThrow(/in a transaction already/);
  s.db.exec('ROLLBACK');
  // an async body is refused, rolled back (its work after an await would be outside the transaction)
  await expect(whenUnlocked(s.db, async () => insert(s.db, 'async')())).rejects.toThrow(/must not be async/);
  expect([s.db.inTransaction, s.db.prepare('SELECT count(*) FROM settings WHERE key = ?').pluck().get('async')]).toEqual([false, 0]);
  // a body's error with a rollback that fails: the body's error is thrown, the rollback's with it
  let open: IterableIterator<unknown> | null = null;
  const err = await whenUnlocked(s.db, () => {
    open = s.db.prepare('SELECT 1 UNION ALL SELECT 2').iterate();
    open.next();
    throw new Error('the body failed');
  }).catch((e: Error & { rollbackError?: Error }) => e);
  expect(err).toMatchObject({ message: 'the body failed', rollbackError: expect.objectContaining({ message: expect.stringMatching(/busy executing a query/) }) });
  (open as IterableIterator<unknown> | null)?.return?.();
  s.db.exec('ROLLBACK');
  expect(withBusyAdvice(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(`database is locked: ${BUSY_ADVICE}`);
  expect(withBusyAdvice(Object.assign(new Error('database table is locked'), { code: 'SQLITE_LOCKED' }))).toBe('database table is locked');
  // the connection's own wait is back whatever the write did
  expect(() => withoutBusyWait(s.db, () => { throw new Error('inside'); })).toThrow('inside');
  expect(s.db.pragma('busy_timeout', { simple: true })).toBe(5000);
});
