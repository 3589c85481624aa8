/**
 * Imports and exports of the Data page over a real store (SQLite in a temp folder) through the real
 * Services: Jan folders and Hearth JSON previewed, imported with progress, re-imported as a no-op,
 * cancelled between threads, a bad thread left out with a note (a bad thread folder alone refused); search finds what was imported at once;
 * Hearth JSON exported, imported into a fresh store and exported again; uploads in pieces; Markdown
 * exports (one file, a zip). Another app's conversations come through a reader made here in memory
 * (the real parsers are main/data/formats').
 */
import Database from 'better-sqlite3';
import fs from 'fs';
import path from 'path';
import yauzl from 'yauzl';
import type { EventName, ImportProgressDTO } from '../../main/ipc/contract';
import { DataService } from '../../main/data/service';
import type { ImportedThread, ImportReader } from '../../main/data/imported';
import { EMPTY_CONVERSATIONS, type ReaderFactory } from '../../main/data/import-sources';
import { CUT_NOTE, CUT_REASON } from '../../main/data/to-thread';
import { dataPaths } from '../../main/paths';
import { Services } from '../../main/services';
import type { Store } from '../../main/store';
import { LIMITS } from '../../main/store';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';
import { janFolder, SEC } from './folder-helpers';
import { longestStall } from '../helpers/stalls';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

type Turn = () => Promise<void>;

function setup(opts: { readers?: ReaderFactory; yieldTurn?: Turn; store?: Store; now?: () => number } = {}) {
  const dir = tmpDir();
  const store = opts.store ?? openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const progress: ImportProgressDTO[] = [];
  services.subscribe((e: EventName, p) => {
    if (e === 'data.importProgress') progress.push(p as ImportProgressDTO);
  });
  const data = new DataService({ store, services, dataDir: dir, logger, readers: opts.readers, now: opts.now, progressIntervalMs: 200, yieldTurn: opts.yieldTurn });
  services.register(data.importExportChannels());
  const call = (channel: string, payload: unknown) => services.handle(channel, payload) as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const fail = async (channel: string, payload: unknown) => {
    try {
      await services.handle(channel, payload);
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error(`${channel} did not fail`);
  };
  /** previews and imports `source`, waiting for the end; the preview and the last progress */
  const importAll = async (source: unknown, from = 'auto') => {
    const preview = await call('data.import.preview', { source, from });
    const started = await call('data.import.start', { jobId: preview.jobId });
    const end = await data.imports.finished!;
    return { preview, started, end };
  };
  return { dir, store, services, data, progress, call, fail, importAll };
}

const threadCount = (s: Store) => s.db.prepare('SELECT count(*) FROM threads').pluck().get() as number;
const messageCount = (s: Store) => s.db.prepare('SELECT count(*) FROM messages').pluck().get() as number;

describe('Jan folders', () => {
  test('previewed (counts, time span), imported with progress, found by search at once; a second import adds nothing', async () => {
    const { store, progress, call, importAll } = setup();
    const root = janFolder(3);
    const { preview, started, end } = await importAll({ path: root });
    expect(preview).toMatchObject({ format: 'jan', name: path.basename(root), threads: 3, messages: 6, duplicates: 0, firstAt: SEC * 1000, lastAt: (SEC + 200) * 1000, skipped: [] });
    expect(started).toMatchObject({ state: 'running', done: 0, total: 3 });
    expect(end).toEqual({ jobId: preview.jobId, state: 'done', done: 3, total: 3, imported: 3, messages: 6, duplicates: 0, error: null });
    expect(progress[0].state).toBe('running');
    expect(progress[progress.length - 1]).toEqual(end);
    expect(threadCount(store)).toBe(3);
    const t = store.threads.get(`jan_${SEC + 1}`);
    expect(t).toMatchObject({ title: 'Jan chat 1', assistantId: 'jan', model: 'llama3.2-3b' });
    expect(store.messages.list(t.id).map((m) => [m.role, m.content, m.reasoning])).toEqual([['user', 'Question 1 about goroutines', ''], ['assistant', 'Answer 1: light threads', 'basics']]);
    expect(store.assistants.get('jan').instructions).toBe('You are Jan.');
    // search: the FTS triggers fill on insert
    expect(store.search({ query: 'goroutines' }).hits.length).toBe(3);
    expect(store.search({ query: 'Question 2' }).hits.map((h) => h.threadId)).toContain(`jan_${SEC + 2}`);

    // again: every conversation is a duplicate, nothing is written
    const again = await importAll({ path: root });
    expect(again.preview).toMatchObject({ threads: 0, messages: 0, duplicates: 3, firstAt: null, lastAt: null });
    expect(again.end).toMatchObject({ state: 'done', done: 3, total: 3, imported: 0, duplicates: 3, messages: 0 });
    expect(threadCount(store)).toBe(3);
    expect(messageCount(store)).toBe(6);
    // a job is gone once it ended
    expect((await setupFail(call, 'data.import.start', { jobId: again.preview.jobId })).code).toBe('not_found');
  });

  test('a second preview while one reads stops the first (superseded); the second answers', async () => {
    const { call, fail } = setup();
    const first = fail('data.import.preview', { source: { path: janFolder(3) }, from: 'jan' });
    const second = call('data.import.preview', { source: { path: janFolder(2) }, from: 'jan' });
    expect(await first).toMatchObject({ code: 'superseded' });
    expect(await second).toMatchObject({ format: 'jan', threads: 2 });
  });

  test('a bad thread among several: left out with a note naming the line, the others imported; a bad thread folder alone: a clear error and nothing written, not even its assistant', async () => {
    const { store, fail, data, importAll } = setup();
    const root = janFolder(3, { bad: true });
    const bad = path.join(root, 'threads', `jan_${SEC + 2}`);
    const alone = await fail('data.import.preview', { source: { path: bad }, from: 'jan' });
    expect(alone.code).toBe('import_failed');
    expect(alone.message).toMatch(/messages\.jsonl:3 is not a Jan message/);
    expect(threadCount(store)).toBe(0);
    expect(store.assistants.exists('jan')).toBe(false);
    expect(data.imports.finished).toBeNull();
    const { preview, end } = await importAll({ path: root });
    expect(preview).toMatchObject({ format: 'jan', threads: 2, messages: 4, skipped: [{ reason: expect.stringMatching(/^a Jan thread that could not be imported \(.*messages\.jsonl:3 is not a Jan message/), count: 1 }] });
    expect(end).toMatchObject({ state: 'done', imported: 2, messages: 4 });
    expect(store.threads.get(`jan_${SEC}`).assistantId).toBe('jan');
    expect(() => store.threads.get(`jan_${SEC + 2}`)).toThrow();
    const missing = await fail('data.import.preview', { source: { path: path.join(tmpDir(), 'nothing-here') }, from: 'jan' });
    expect(missing).toMatchObject({ code: 'import_failed' });
    // a Jan folder given as another format: refused, naming what it is
    const other = await fail('data.import.preview', { source: { path: janFolder(1) }, from: 'chatgpt' });
    expect(other.code).toBe('import_failed');
    expect(other.message).toMatch(/Jan/);
  });

  test('progress goes out at most every 200 ms of the clock, and at the end', async () => {
    let t = 0;
    const { progress, importAll } = setup({ now: () => t, yieldTurn: async () => { t += 70; await new Promise((r) => setImmediate(r)); } });
    const { end } = await importAll({ path: janFolder(10) });
    expect(end).toMatchObject({ state: 'done', imported: 10 });
    // the start, then one every third conversation (3 × 70 ms ≥ 200 ms), the end
    expect(progress.map((p) => p.done)).toEqual([0, 3, 6, 9, 10]);
    expect(progress.every((p, i) => i === progress.length - 1 || p.state === 'running')).toBe(true);
  });

  test('cancel stops between threads: those written stay; a second import while one runs is refused as busy', async () => {
    let turns = 0;
    let release: (() => void) | null = null;
    let onTurn: (n: number) => Promise<void> = async () => undefined;
    const { store, call, fail, data } = setup({ yieldTurn: async () => { turns++; await onTurn(turns); await new Promise((r) => setImmediate(r)); } });
    const a = await call('data.import.preview', { source: { path: janFolder(4) }, from: 'auto' });
    const b = await call('data.import.preview', { source: { path: janFolder(1, { prefix: 'other' }) }, from: 'auto' });
    // the first turn is before any write; the third follows the second thread
    const held = new Promise<void>((r) => { release = r; });
    onTurn = async (n) => { if (n === 3) await held; };
    await call('data.import.start', { jobId: a.jobId });
    while (turns < 3) await new Promise((r) => setImmediate(r));
    const busy = await fail('data.import.start', { jobId: b.jobId });
    expect(busy.code).toBe('busy');
    expect(busy.message).toMatch(/another import is running/);
    await call('data.import.cancel', { jobId: a.jobId });
    release!();
    const end = await data.imports.finished!;
    expect(end).toMatchObject({ state: 'cancelled', done: 2, imported: 2, total: 4, error: null });
    expect(threadCount(store)).toBe(2);
    // the other one may run now
    await call('data.import.start', { jobId: b.jobId });
    expect(await data.imports.finished!).toMatchObject({ state: 'done', imported: 1 });
  });
});

describe('another process holding the lock', () => {
  test('the import waits for it with timers (the app stays live), then writes: its assistants, and a thread when the lock is taken between two', async () => {
    const HOLD_MS = 1000;
    let turns = 0;
    let other: Database.Database | null = null;
    const locks: number[] = [];
    const lock = (path: string) => {
      other ??= new Database(path, { timeout: 0 });
      other.exec('BEGIN IMMEDIATE');
      locks.push(Date.now());
      const held = other;
      setTimeout(() => held.exec('COMMIT'), HOLD_MS);
    };
    let storePath = '';
    // the first turn is before anything is written (the assistants next); the second follows the first thread
    const { store, importAll } = setup({ yieldTurn: async () => {
      turns++;
      if (turns === 1 || turns === 2) lock(storePath);
      await new Promise((r) => setImmediate(r));
    } });
    storePath = store.path;
    try {
      const { result, stallMs } = await longestStall(() => importAll({ path: janFolder(3) }));
      expect(result.status === 'fulfilled' && result.value.end).toMatchObject({ state: 'done', imported: 3, messages: 6, error: null });
      expect(locks).toHaveLength(2);
      expect(Date.now() - locks[1]).toBeGreaterThanOrEqual(HOLD_MS - 10);
      // SQLite's own busy wait would have held this thread until its 5 s timeout: the commit's timer could not fire
      expect(stallMs).toBeLessThan(2500);
    } finally {
      (other as Database.Database | null)?.close();
    }
    expect(threadCount(store)).toBe(3);
    expect(store.assistants.exists('jan')).toBe(true);
  });

  test('a lock held past the wait: the import fails saying who held it; the chats written before stay', async () => {
    let turns = 0;
    let other: Database.Database | null = null;
    const store = openStore({ file: path.join(tmpDir(), 'hearth.db'), busyTimeoutMs: 300 });
    const { importAll } = setup({ store, yieldTurn: async () => {
      turns++;
      if (turns === 2) {
        other = new Database(store.path, { timeout: 0 });
        other.exec('BEGIN IMMEDIATE');
      }
      await new Promise((r) => setImmediate(r));
    } });
    try {
      const { end } = await importAll({ path: janFolder(3) });
      expect(end).toMatchObject({ state: 'failed', imported: 1 });
      expect(end.error).toMatch(/^database is locked: another Hearth \(the app, `hearth serve` or a `hearth` command\) kept the data busy for longer than Hearth waits: try again once it is done$/);
    } finally {
      (other as Database.Database | null)?.close();
    }
    expect(threadCount(store)).toBe(1);
  });
});

async function setupFail(call: (c: string, p: unknown) => Promise<unknown>, channel: string, payload: unknown) {
  try {
    await call(channel, payload);
  } catch (e) {
    return e as { code: string };
  }
  throw new Error('no error');
}

/** A store with two threads: alternatives, reasoning, a tool call and its result. */
function richStore(): Store {
  const s = openStore();
  const t = s.threads.create({ title: 'Plan / training', overrides: { instructions: 'Be brief.' } });
  const q = s.messages.add({ threadId: t.id, role: 'user', content: 'Plan my first half marathon' });
  s.messages.add({ threadId: t.id, role: 'assistant', content: 'Twelve weeks.', reasoning: 'Consider the base mileage.', toolCalls: [{ id: 'c1', name: 'calendar', arguments: { weeks: 12 } }], model: 'phi-4' });
  s.messages.add({ threadId: t.id, role: 'tool', content: 'booked', toolCallId: 'c1' });
  s.messages.add({ threadId: t.id, role: 'user', content: 'A full one instead', parentId: q.parentId });
  const u = s.threads.create({ title: 'Plan / training' });
  s.messages.add({ threadId: u.id, role: 'user', content: 'Sourdough starter?' });
  return s;
}

describe('Hearth JSON', () => {
  test('exported, imported into a fresh store, exported again: the same threads and messages; a second import adds nothing', async () => {
    const a = setup({ store: richStore(), now: () => 5_000 });
    const exported = await a.call('data.export', { threadIds: null, format: 'json' });
    expect(exported).toMatchObject({ fileName: 'hearth-chats-1970-01-01.json', mime: 'application/json', encoding: 'utf8', threads: 2 });
    const file = path.join(tmpDir(), 'export.json');
    fs.writeFileSync(file, exported.data);

    const b = setup({ now: () => 5_000 });
    const { preview, end } = await b.importAll({ path: file });
    expect(preview).toMatchObject({ format: 'hearth', threads: 2, messages: 5, duplicates: 0 });
    expect(end).toMatchObject({ state: 'done', imported: 2, messages: 5 });
    const again = await b.call('data.export', { threadIds: null, format: 'json' });
    // what differs: when each thread was exported, and its assistant, the importing store's own default (made when it opened)
    const strip = (text: string) => JSON.parse(text).threads.map((t: object) => ({ ...t, assistant: null, exportedAt: 0 }));
    expect(strip(again.data)).toEqual(strip(exported.data));
    expect(b.store.search({ query: 'sourdough' }).hits.length).toBe(1);

    // the same file again, into either store: nothing new (the ids are there), not remapped copies
    expect((await b.importAll({ path: file })).end).toMatchObject({ imported: 0, duplicates: 2 });
    expect((await a.importAll({ path: file })).preview).toMatchObject({ threads: 0, duplicates: 2 });
    expect(threadCount(b.store)).toBe(2);
    expect(threadCount(a.store)).toBe(2);
    // the store's own import (thread duplicate, saving a temporary chat) still remaps
    expect(a.store.importJsonFile(file).remapped).toBe(true);
    expect(threadCount(a.store)).toBe(4);
  });

  test('a bad Hearth file: a clear error, nothing written', async () => {
    const { store, fail } = setup();
    const file = path.join(tmpDir(), 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ format: 'hearth.threads', version: 2, exportedAt: 1, threads: [{ format: 'hearth.thread' }] }));
    const err = await fail('data.import.preview', { source: { path: file }, from: 'auto' });
    expect(err.code).toBe('import_failed');
    expect(err.message).toMatch(/not a valid Hearth export/);
    expect(threadCount(store)).toBe(0);
  });
});

describe('uploads', () => {
  test('in pieces at the bytes received so far; previewed and imported; the upload goes when the import ends', async () => {
    const src = await setup({ store: richStore() }).call('data.export', { threadIds: null, format: 'json' });
    const bytes = Buffer.from(src.data, 'utf8');
    const { dir, call, fail, importAll, store } = setup();
    const half = Math.floor(bytes.length / 2);
    const first = await call('data.import.upload', { name: '../../my export.json', offset: 0, chunk: bytes.subarray(0, half).toString('base64'), last: false });
    expect(first.bytes).toBe(half);
    const folder = path.join(dir, 'imports', first.uploadId);
    expect(fs.readdirSync(folder)).toEqual(['my export.json']);
    // a piece at another offset (lost or repeated) is refused and changes nothing
    const wrong = await fail('data.import.upload', { uploadId: first.uploadId, name: '../../my export.json', offset: half + 1, chunk: 'AAAA', last: true });
    expect(wrong).toMatchObject({ code: 'invalid_input' });
    expect(wrong.message).toMatch(new RegExp(`next piece goes at offset ${half}`));
    // not complete yet: no preview
    expect((await fail('data.import.preview', { source: { upload: first.uploadId } })).code).toBe('invalid_input');
    const last = await call('data.import.upload', { uploadId: first.uploadId, name: '../../my export.json', offset: half, chunk: bytes.subarray(half).toString('base64'), last: true });
    expect(last.bytes).toBe(bytes.length);
    expect(fs.readFileSync(path.join(folder, 'my export.json')).equals(bytes)).toBe(true);
    const { preview, end } = await importAll({ upload: first.uploadId });
    expect(preview).toMatchObject({ format: 'hearth', name: 'my export.json', threads: 2 });
    expect(end.imported).toBe(2);
    expect(threadCount(store)).toBe(2);
    expect(fs.existsSync(folder)).toBe(false);
    expect((await fail('data.import.preview', { source: { upload: first.uploadId } })).code).toBe('not_found');
  });

  test('an upload over the limit is refused and deleted; folders an earlier run left are deleted at start', async () => {
    const { dir, data } = setup();
    const { Uploads } = await import('../../main/data/uploads');
    const small = new Uploads(path.join(dir, 'imports'), recordingLogger(), Date.now, 10);
    const a = small.put({ name: 'x.json', offset: 0, chunk: Buffer.from('12345678').toString('base64'), last: false });
    expect(() => small.put({ uploadId: a.uploadId, name: 'x.json', offset: 8, chunk: Buffer.from('abc').toString('base64'), last: true }))
      .toThrow(expect.objectContaining({ code: 'too_large' }));
    expect(fs.existsSync(path.join(dir, 'imports', a.uploadId))).toBe(false);
    expect(() => small.put({ name: 'x.json', offset: 4, chunk: '', last: false })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => small.put({ name: 'x.json', offset: 0, chunk: 'not base64!', last: false })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    // a folder no run knows (a restart): gone at the next start
    const left = data.uploads.put({ name: 'y.json', offset: 0, chunk: '', last: true });
    expect(fs.existsSync(path.join(dir, 'imports', left.uploadId))).toBe(true);
    new Uploads(path.join(dir, 'imports'), recordingLogger()).sweep();
    expect(fs.readdirSync(path.join(dir, 'imports'))).toEqual([]);
  });

  test('at most MAX_UPLOADS are kept (a new one drops the least recently written); a piece that would leave the disk under its reserve drops the upload', async () => {
    const { dir } = setup();
    const { Uploads, MAX_UPLOADS } = await import('../../main/data/uploads');
    let t = 0;
    const ups = new Uploads(path.join(dir, 'imports'), recordingLogger(), () => ++t);
    const ids = Array.from({ length: MAX_UPLOADS + 2 }, (_, i) => ups.put({ name: `f${i}.json`, offset: 0, chunk: 'AAAA', last: false }).uploadId);
    const kept = fs.readdirSync(path.join(dir, 'imports')).sort();
    expect(kept).toEqual(ids.slice(-MAX_UPLOADS).sort());
    expect(() => ups.put({ uploadId: ids[0], name: 'f0.json', offset: 3, chunk: 'AAAA', last: true })).toThrow(expect.objectContaining({ code: 'not_found' }));
    // a reserve larger than any disk: the first piece is refused with disk_full, nothing stays
    const full = new Uploads(path.join(dir, 'imports2'), recordingLogger(), Date.now, 1024, Number.MAX_SAFE_INTEGER);
    expect(() => full.put({ name: 'x.json', offset: 0, chunk: 'AAAA', last: false })).toThrow(expect.objectContaining({ code: 'disk_full' }));
    expect(fs.readdirSync(path.join(dir, 'imports2'))).toEqual([]);
  });

  test('an upload untouched for a day is deleted', () => {
    let t = 0;
    const { dir, data } = setup({ now: () => t });
    const old = data.uploads.put({ name: 'old.json', offset: 0, chunk: '', last: true });
    t += 24 * 60 * 60 * 1000 + 1;
    data.uploads.put({ name: 'new.json', offset: 0, chunk: '', last: false });
    expect(fs.existsSync(path.join(dir, 'imports', old.uploadId))).toBe(false);
    expect(() => data.uploads.fileOf(old.uploadId)).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
});

function unzip(buf: Buffer): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out = new Map<string, string>();
      zip.on('entry', (e: yauzl.Entry) => {
        zip.openReadStream(e, (er, s) => {
          if (er || !s) return reject(er);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c)).on('end', () => { out.set(e.fileName, Buffer.concat(chunks).toString('utf8')); zip.readEntry(); });
        });
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

describe('Markdown export', () => {
  test('one thread: its .md; several: a zip of one .md each, with safe unique names; reasoning and tool calls collapsed', async () => {
    const { call, store, fail } = setup({ store: richStore() });
    const [first, second] = store.db.prepare('SELECT id FROM threads ORDER BY seq').pluck().all() as string[];
    store.messages.selectAlternative(store.messages.listAll(first).find((m) => m.content === 'Plan my first half marathon')!.id);
    const one = await call('data.export', { threadIds: [first], format: 'md' });
    expect(one).toMatchObject({ fileName: 'Plan - training.md', mime: 'text/markdown', encoding: 'utf8', threads: 1 });
    expect(one.data).toContain('<details><summary>Reasoning</summary>');
    expect(one.data).toContain('<details><summary>Tool call: calendar</summary>');
    expect(one.data).toContain('<details><summary>Tool result</summary>');
    const all = await call('data.export', { threadIds: null, format: 'md' });
    expect(all).toMatchObject({ mime: 'application/zip', encoding: 'base64', threads: 2 });
    expect(all.fileName).toMatch(/^hearth-chats-\d{4}-\d\d-\d\d\.zip$/);
    const files = await unzip(Buffer.from(all.data, 'base64'));
    expect([...files.keys()]).toEqual(['Plan - training.md', 'Plan - training (2).md']);
    const undated = (md: string) => md.replace(/Exported from Hearth on \S+/, 'Exported');
    expect(undated(files.get('Plan - training.md')!)).toBe(undated(one.data));
    expect(files.get('Plan - training (2).md')).toContain('Sourdough starter?');
    expect((await fail('data.export', { threadIds: ['no-such-thread'], format: 'md' })).code).toBe('not_found');
    // over the cap: refused, saying what to do
    const { exportFile } = await import('../../main/data/export-file');
    store.messages.add({ threadId: second, role: 'user', content: 'x'.repeat(1024 * 1024) });
    const cap = 1024 * 1024 + 300;
    for (const format of ['md', 'json'] as const) {
      await expect(exportFile(store, { threadIds: null, format }, 0, cap)).rejects.toThrow(expect.objectContaining({ code: 'too_large', message: 'the export of 2 threads is over 1 MB: export fewer threads at a time' }));
      expect((await exportFile(store, { threadIds: [first], format }, 0, cap)).threads).toBe(1);
    }
  });
});

describe('Markdown export names', () => {
  test('10,000 chats of one title: unique names (case-insensitively), the same as one by one, each found in about one try', async () => {
    const { markdownFiles } = await import('../../main/data/export-file');
    const store = openStore();
    const N = 10_000;
    const titles = ['New chat', 'New chat (3)', 'new chat', ...Array<string>(N - 3).fill('New chat')];
    const ids = store.db.transaction(() => titles.map((title) => store.threads.create({ title }).id))();
    const started = Date.now();
    const names = [...markdownFiles(store, ids)].map((f) => f.name);
    expect(Date.now() - started).toBeLessThan(6000); // each name tried every number before it: ~16 s here, 64 s for 20,000
    // "New chat (3)" is a title of its own: the numbers go past it
    expect(names.slice(0, 5)).toEqual(['New chat.md', 'New chat (3).md', 'new chat (2).md', 'New chat (4).md', 'New chat (5).md']);
    expect(names[N - 1]).toBe(`New chat (${N}).md`);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(N);
  }, 60_000);
});

/** Another app's conversations, as a parser would give them (the real ones are main/data/formats'). */
function memoryReaders(conversations: (ImportedThread | { skipped: { reason: string } })[]): ReaderFactory {
  return async (p) => {
    const reader: ImportReader = {
      format: 'chatgpt',
      source: p,
      async *conversations() {
        yield* conversations;
      },
    };
    return reader;
  };
}

describe("another app's conversations", () => {
  const T = Date.UTC(2024, 0, 1);
  const convo = (over: Partial<ImportedThread> = {}): ImportedThread => ({
    sourceId: 'conv-1', title: '  Trip\nplanning ', createdAt: T, updatedAt: T + 10, model: 'gpt-4o', skipped: [{ reason: 'attachments (not in the export)' }],
    messages: [
      { key: 'a', parentKey: null, role: 'user', content: 'Where to in Lisbon?', createdAt: T + 1, active: true },
      { key: 'b', parentKey: 'a', role: 'assistant', content: 'Alfama first.', createdAt: null, active: false },
      { key: 'c', parentKey: 'a', role: 'assistant', content: 'Belém first.', reasoning: 'pastries', createdAt: T + 3, active: true },
    ],
    ...over,
  });

  test('written with their tree, branch and times; a re-import is a no-op until the thread is deleted; a huge message is cut with a note', async () => {
    const huge = 'é'.repeat(LIMITS.contentBytes / 2 + 10);
    const readers = memoryReaders([
      convo(),
      convo({ sourceId: 'conv-2', title: '', messages: [{ key: 'x', parentKey: null, role: 'user', content: huge, createdAt: T, active: true }], skipped: [] }),
      convo({ sourceId: 'conv-3', messages: [{ key: 'x', parentKey: 'nobody', role: 'user', content: 'orphan', createdAt: T, active: true }] }),
      { skipped: { reason: 'attachments (not in the export)' } },
    ]);
    const { store, importAll } = setup({ readers });
    const { preview, end } = await importAll({ path: '/anywhere/conversations.json' });
    expect(preview).toMatchObject({ format: 'chatgpt', name: 'conversations.json', threads: 2, messages: 4, duplicates: 0, firstAt: T, lastAt: T });
    expect(preview.skipped).toEqual([
      { reason: 'attachments (not in the export)', count: 2 },
      { reason: 'a conversation with a broken message tree (message x of "Trip planning" answers nobody, which is not in the conversation)', count: 1 },
      { reason: CUT_REASON, count: 1 },
    ]);
    expect(end).toMatchObject({ state: 'done', imported: 2, messages: 4 });
    const [trip, big] = store.db.prepare('SELECT id FROM threads ORDER BY seq').pluck().all() as string[];
    expect(store.threads.get(trip)).toMatchObject({ title: 'Trip planning', model: 'gpt-4o', createdAt: T, updatedAt: T + 10 });
    const path1 = store.messages.list(trip);
    expect(path1.map((m) => [m.content, m.reasoning, m.model])).toEqual([['Where to in Lisbon?', '', null], ['Belém first.', 'pastries', 'gpt-4o']]);
    expect(path1[1].alternatives.count).toBe(2);
    const all = store.messages.listAll(trip);
    expect(all.find((m) => m.content === 'Alfama first.')!.createdAt).toBe(T); // no time: the conversation's
    const cut = store.messages.list(big)[0];
    expect(store.threads.get(big).title).toBe('Imported chat');
    expect(cut.content.endsWith(CUT_NOTE)).toBe(true);
    expect(Buffer.byteLength(cut.content)).toBeLessThanOrEqual(LIMITS.contentBytes);
    expect(store.search({ query: 'Belém' }).hits.map((h) => h.threadId)).toEqual([trip]);

    expect((await importAll({ path: '/anywhere/conversations.json' })).end).toMatchObject({ imported: 0, duplicates: 2 });
    store.threads.delete(trip);
    const third = await importAll({ path: '/anywhere/conversations.json' });
    expect(third.end).toMatchObject({ imported: 1, duplicates: 1 });
    expect(threadCount(store)).toBe(2);
  });

  test('conversations with no messages are skipped with a note, not written as empty threads', async () => {
    const { store, importAll } = setup({ readers: memoryReaders([convo({ sourceId: 'e1', messages: [] }), convo(), convo({ sourceId: 'e2', messages: [], skipped: [] })]) });
    const { preview, end } = await importAll({ path: '/anywhere/conversations.json' });
    expect(preview).toMatchObject({ threads: 1, messages: 3 });
    expect(preview.skipped).toEqual(expect.arrayContaining([{ reason: EMPTY_CONVERSATIONS, count: 2 }]));
    expect(end).toMatchObject({ state: 'done', imported: 1 });
    expect(threadCount(store)).toBe(1);

    // through the real ChatGPT reader: an export of empty mappings imports nothing
    const dir = tmpDir();
    const file = path.join(dir, 'conversations.json');
    fs.writeFileSync(file, JSON.stringify(Array.from({ length: 500 }, () => ({ mapping: {} }))));
    const real = setup();
    const preview2 = await real.call('data.import.preview', { source: { path: file }, from: 'auto' });
    expect(preview2).toMatchObject({ format: 'chatgpt', threads: 0, messages: 0 });
    expect(preview2.skipped).toEqual([{ reason: EMPTY_CONVERSATIONS, count: 500 }]);
  });
});
