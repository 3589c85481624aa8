/**
 * The streamed-reply writer when storage fails (issue 12, item 16), on real SQLite: a second
 * connection holding the write lock (SQLITE_BUSY) loses no text; a permanent failure (SQLITE_FULL
 * from a tiny max_page_count, a trigger that RAISEs, a reply over its size limit) is reported once,
 * never thrown at the caller, and the reply ends as an error; an append after close does not throw.
 */
import Database from 'better-sqlite3';
import { LIMITS, type ReplyFailure } from '../../main/store';
import { cleanupDirs, closeStores, openStore, recordingLogger } from './helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A store whose own waits on a lock are short, so SQLITE_BUSY reaches the writer. */
function busyStore(retries = 8) {
  const logger = recordingLogger();
  const s = openStore({ logger, busyTimeoutMs: 5, writer: { flushIntervalMs: 0, busyRetries: retries, busyRetryMs: 10 } });
  const t = s.threads.create();
  s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
  return { s, t, logger };
}

test('SQLITE_BUSY: the text stays buffered, the write is retried, nothing is lost', async () => {
  const { s, t, logger } = busyStore();
  const failures: ReplyFailure[] = [];
  const w = s.messages.beginReply({ threadId: t.id }, { onFailure: (f) => failures.push(f) });
  w.append('before ');
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE'); // holds the write lock
  const pieces = ['one ', 'two ', 'three ', 'four '];
  for (const p of pieces) expect(() => w.append(p)).not.toThrow();
  expect(w.flush()).toBe(0); // still locked: nothing written, nothing dropped
  expect(w.pendingChars).toBe(pieces.join('').length);
  await sleep(60);
  other.exec('COMMIT');
  other.close();
  await until(() => w.pendingChars === 0);
  w.append('after');
  const done = await w.end({ status: 'done' });
  expect(done.content).toBe('before one two three four after');
  expect(done.status).toBe('done');
  expect(failures).toEqual([]);
  expect(logger.warnings.some((x) => x.msg.includes('database busy'))).toBe(true);
});

test("a locked database never holds main's thread for the connection's busy timeout: the writer waits with timers", async () => {
  // the default 5 s busy timeout: a blocking wait would hold this thread 5 s per write attempt
  const s = openStore({ writer: { flushIntervalMs: 0, busyRetries: 8, busyRetryMs: 10 } });
  const t = s.threads.create();
  s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
  const w = s.messages.beginReply({ threadId: t.id });
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE');
  const t0 = Date.now();
  w.append('while locked');
  expect(w.flush()).toBe(0);
  expect(Date.now() - t0).toBeLessThan(2500); // returned at once, not after 5 s of busy waiting
  expect(s.db.pragma('busy_timeout', { simple: true })).toBe(5000); // other statements keep theirs
  other.exec('COMMIT');
  other.close();
  await until(() => w.pendingChars === 0);
  expect((await w.end({ status: 'done' })).content).toBe('while locked');
});

test('SQLITE_BUSY at the final write: end() retries until the lock is released', async () => {
  const { s, t } = busyStore();
  const w = s.messages.beginReply({ threadId: t.id });
  w.append('all of it');
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE');
  expect(() => w.finish({ status: 'done' })).toThrow(/locked|busy/i); // the plain finish keeps its buffer
  const ending = w.end({ status: 'done' });
  await sleep(50);
  other.exec('COMMIT');
  other.close();
  const done = await ending;
  expect(done).toMatchObject({ content: 'all of it', status: 'done' });
});

test('SQLITE_BUSY past every retry is a permanent failure, reported once', async () => {
  const { s, t } = busyStore(2);
  const failures: ReplyFailure[] = [];
  const w = s.messages.beginReply({ threadId: t.id }, { onFailure: (f) => failures.push(f) });
  w.append('kept ');
  const other = new Database(s.path, { timeout: 0 });
  other.exec('BEGIN IMMEDIATE');
  w.append('lost');
  await until(() => failures.length > 0);
  expect(failures).toEqual([{ code: 'busy', message: expect.stringMatching(/^SQLITE_BUSY/) }]);
  expect(() => w.append('more')).not.toThrow();
  other.exec('COMMIT');
  other.close();
  const m = await w.end({ status: 'done' });
  expect(m.status).toBe('error');
  expect(m.error).toMatch(/^store_failed: SQLITE_BUSY/);
  expect(m.content).toBe('kept ');
  expect(failures).toHaveLength(1);
});

test('SQLITE_FULL (a database at its max_page_count): the failure is reported, the reply ends as an error', async () => {
  const logger = recordingLogger();
  const s = openStore({ logger, writer: { flushIntervalMs: 0 } });
  const t = s.threads.create();
  s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
  const failures: ReplyFailure[] = [];
  const w = s.messages.beginReply({ threadId: t.id }, { onFailure: (f) => failures.push(f) });
  w.append('stored ');
  const pages = s.db.pragma('page_count', { simple: true }) as number;
  s.db.pragma(`max_page_count = ${pages}`);
  expect(() => w.append('x'.repeat(200_000))).not.toThrow(); // needs new pages
  expect(failures).toHaveLength(1);
  expect(failures[0].code).toBe('write_failed');
  expect(failures[0].message).toMatch(/^SQLITE_FULL/);
  expect(w.failure).toEqual(failures[0]);
  expect(() => w.append('dropped')).not.toThrow();
  expect(w.flush()).toBe(0);
  const m = await w.end({ status: 'done' });
  expect(m.status).toBe('error');
  expect(m.error).toMatch(/^store_failed: SQLITE_FULL/);
  expect(m.content).toBe('stored ');
  expect(failures).toHaveLength(1);
});

test('a trigger that RAISEs: a permanent failure, never thrown at the caller', async () => {
  const s = openStore({ writer: { flushIntervalMs: 0 } });
  const t = s.threads.create();
  s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
  s.db.exec(`CREATE TEMP TRIGGER fail_long BEFORE UPDATE OF content ON main.messages WHEN length(NEW.content) > 10
    BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  const failures: ReplyFailure[] = [];
  const w = s.messages.beginReply({ threadId: t.id }, { onFailure: (f) => failures.push(f) });
  w.append('short ');
  expect(() => w.append('and then far too long')).not.toThrow();
  expect(failures).toEqual([{ code: 'write_failed', message: expect.stringContaining('simulated write failure') }]);
  const m = await w.end({ status: 'done' });
  expect(m).toMatchObject({ status: 'error', content: 'short ' });
  expect(m.error).toContain('simulated write failure');
});

test('a reply over its size limit and an append after close do not throw', async () => {
  const s = openStore({ writer: { flushIntervalMs: 0 } });
  const t = s.threads.create();
  s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
  const failures: ReplyFailure[] = [];
  const w = s.messages.beginReply({ threadId: t.id }, { onFailure: (f) => failures.push(f) });
  w.append('fits');
  expect(() => w.append('x'.repeat(LIMITS.contentBytes))).not.toThrow();
  expect(failures).toEqual([{ code: 'too_large', message: `the reply is over ${LIMITS.contentBytes} bytes` }]);
  const m = await w.end({ status: 'done' });
  expect(m).toMatchObject({ status: 'error', content: 'fits', error: `store_failed: the reply is over ${LIMITS.contentBytes} bytes` });

  const w2 = s.messages.beginReply({ threadId: t.id });
  w2.append('done');
  w2.finish({ status: 'done' });
  expect(() => w2.append('late')).not.toThrow();
  expect(() => w2.appendReasoning('late')).not.toThrow();
  expect(w2.failure?.code).toBe('closed');
  expect(s.messages.get(w2.messageId).content).toBe('done');
});
