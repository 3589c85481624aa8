/**
 * The documents' step of a Hearth JSON import, through the real parts (a real store, the real Services
 * and DataService, a bundle written here): after its chats the file is read again for the documents they
 * attach, with the bytes read as progress, and stops once every one is found; Cancel in that step stops
 * the read, keeps the documents found before and names the others; a cancel of the chats still reads the
 * written chats' documents; close() stops the read too.
 */
import { createHash, randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import { UNKEPT_DOCUMENT, UNREAD_DOCUMENT, type EventName, type ImportProgressDTO } from '../../main/ipc/contract';
import { adoptDocuments } from '../../main/data/import-documents';
import { DataService } from '../../main/data/service';
import { DocFiles } from '../../main/docs/files';
import { dataPaths } from '../../main/paths';
import { Services } from '../../main/services';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const MiB = 1024 * 1024;

/** A document of `bytes` random bytes as a bundle carries it. */
function carried(name: string, bytes: number) {
  const data = randomBytes(bytes);
  return { ref: createHash('sha256').update(data).digest('hex'), name, kind: 'text' as const, data: data.toString('base64') };
}

/**
 * A bundle of two chats, the first attaching A, the second B; the documents A, eight others no chat
 * attaches (1 MiB each), B, two more others. The offsets of A's and B's data in the file.
 */
function bundle() {
  const a = carried('a.txt', 64 * 1024);
  const b = carried('b.txt', 64 * 1024);
  const others = Array.from({ length: 10 }, (_, i) => carried(`other-${i}.txt`, MiB));
  const source = openStore();
  const threads = [a, b].map((d, i) => {
    const t = source.threads.create({ title: `Chat ${i + 1}` });
    source.messages.add({ threadId: t.id, role: 'user', content: `Read ${d.name}`, attachments: [{ type: 'document', ref: d.ref, name: d.name }] });
    source.messages.add({ threadId: t.id, role: 'assistant', content: 'Read.' });
    return source.exportThreadJson(t.id);
  });
  const file = path.join(tmpDir(), 'chats.json');
  const text = JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads, documents: [a, ...others.slice(0, 8), b, ...others.slice(8)] });
  fs.writeFileSync(file, text);
  return { file, a, b, size: Buffer.byteLength(text), aEnd: text.indexOf(a.data) + a.data.length, bAt: text.indexOf(b.data) };
}

function setup(opts: { yieldTurn?: () => Promise<void> } = {}) {
  const dir = tmpDir();
  const store = openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  // a clock that moves a second at each look: every step the import may report is reported
  let t = 0;
  const data = new DataService({ store, services, dataDir: dir, logger, now: () => (t += 1000), progressIntervalMs: 200, yieldTurn: opts.yieldTurn });
  services.register(data.importExportChannels());
  const progress: ImportProgressDTO[] = [];
  const listeners: ((p: ImportProgressDTO) => void)[] = [];
  services.subscribe((e: EventName, p) => {
    if (e !== 'data.importProgress') return;
    progress.push(p as ImportProgressDTO);
    for (const l of listeners) l(p as ImportProgressDTO);
  });
  const call = (channel: string, payload: unknown) => services.handle(channel, payload) as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const importFile = async (file: string) => {
    const preview = await call('data.import.preview', { source: { path: file }, from: 'auto' });
    await call('data.import.start', { jobId: preview.jobId });
    return { jobId: preview.jobId as string, end: await data.imports.finished! };
  };
  const kept = (ref: string) => fs.existsSync(path.join(dataPaths(dir).documents, ref));
  const reads = () => progress.flatMap((p) => (p.readingDocuments ? [p.readingDocuments] : []));
  return { store, data, progress, listeners, call, importFile, kept, reads };
}

test('after the chats the file is read again for their documents, its bytes shown as they are read; the read stops once every one is found', async () => {
  const f = bundle();
  const { importFile, kept, reads, progress } = setup();
  const { end } = await importFile(f.file);
  expect(end).toMatchObject({ state: 'done', imported: 2, documents: { linked: 2, skipped: [] } });
  expect(end.readingDocuments).toBeUndefined();
  expect(kept(f.a.ref) && kept(f.b.ref)).toBe(true);
  // the step's progress: from 0, growing, of the file's size, while the import still runs
  const seen = reads();
  expect(seen[0]).toEqual({ bytes: 0, total: f.size });
  expect(seen.length).toBeGreaterThan(10);
  expect(seen.every((r, i) => r.total === f.size && (i === 0 || r.bytes >= seen[i - 1].bytes))).toBe(true);
  expect(progress.filter((p) => p.readingDocuments).every((p) => p.state === 'running' && p.done === 2)).toBe(true);
  // B found, the two documents after it are not read
  const last = seen[seen.length - 1].bytes;
  expect(last).toBeGreaterThan(f.bAt);
  expect(last).toBeLessThan(f.size);
});

test('Cancel while the documents are read stops the read: those found are kept, the others named; the chats stay', async () => {
  const f = bundle();
  const { store, call, importFile, kept, listeners, reads } = setup();
  let cancelled = false;
  listeners.push((p) => {
    // once A is read and before B is: cancel
    if (!cancelled && p.readingDocuments && p.readingDocuments.bytes > f.aEnd + MiB) {
      cancelled = true;
      void call('data.import.cancel', { jobId: p.jobId });
    }
  });
  const { end } = await importFile(f.file);
  expect(cancelled).toBe(true);
  // the chats were all written: the import is done, B named with why
  expect(end).toMatchObject({ state: 'done', imported: 2, error: null, documents: { linked: 1, kept: 1, skipped: [{ ref: f.b.ref, name: 'b.txt', reason: UNREAD_DOCUMENT, again: true }] } });
  expect(kept(f.a.ref)).toBe(true);
  expect(kept(f.b.ref)).toBe(false);
  expect(store.threads.list({ limit: 10 }).items.length).toBe(2);
  // the read stopped where it was cancelled, well before B
  const seen = reads();
  expect(seen[seen.length - 1].bytes).toBeLessThan(f.bAt);
});

test("a cancel of the chats still reads the written chats' documents (that step can be cancelled in its turn)", async () => {
  const f = bundle();
  let turns = 0;
  let jobId = '';
  let app: ReturnType<typeof setup> | null = null;
  // the import's turns: before the first chat, then after each; cancelled after the first chat
  app = setup({
    yieldTurn: async () => {
      if (++turns === 2) await app!.call('data.import.cancel', { jobId });
      await new Promise((r) => setImmediate(r));
    },
  });
  const preview = await app.call('data.import.preview', { source: { path: f.file }, from: 'auto' });
  jobId = preview.jobId;
  await app.call('data.import.start', { jobId });
  const end = await app.data.imports.finished!;
  expect(end).toMatchObject({ state: 'cancelled', imported: 1, documents: { linked: 1, skipped: [] } });
  expect(app.kept(f.a.ref)).toBe(true);
  expect(app.kept(f.b.ref)).toBe(false);
  expect(app.reads().length).toBeGreaterThan(0);
});

test('close() (the app quitting) stops the documents\' read too, and their keeping, and waits for it', async () => {
  const f = bundle();
  const { data, call, listeners, kept, reads } = setup();
  let closing: Promise<void> | null = null;
  listeners.push((p) => {
    if (!closing && p.readingDocuments && p.readingDocuments.bytes > f.aEnd + MiB) closing = data.close();
  });
  const preview = await call('data.import.preview', { source: { path: f.file }, from: 'auto' });
  await call('data.import.start', { jobId: preview.jobId });
  const end = await data.imports.finished!;
  await closing;
  expect(closing).not.toBeNull();
  // quitting does not wait for the documents found to be written (each one synced): named, for the next import
  expect(end).toMatchObject({
    state: 'done', imported: 2,
    documents: { linked: 0, kept: 0, skipped: [{ ref: f.a.ref, name: 'a.txt', reason: UNKEPT_DOCUMENT, again: true }, { ref: f.b.ref, name: 'b.txt', reason: UNREAD_DOCUMENT, again: true }] },
  });
  expect(kept(f.a.ref)).toBe(false);
  expect(reads()[reads().length - 1].bytes).toBeLessThan(f.bAt);
  expect(data.imports.finished).toBeNull();
});

test('after its documents\' read was cancelled, importing the file again adds nothing (a chat imported before is left as it is); with the chat deleted, it imports again with its documents', async () => {
  const f = bundle();
  const { call, importFile, kept, listeners, store } = setup();
  let cancelled = false;
  listeners.push((p) => {
    if (!cancelled && p.readingDocuments && p.readingDocuments.bytes > f.aEnd + MiB) {
      cancelled = true;
      void call('data.import.cancel', { jobId: p.jobId });
    }
  });
  expect((await importFile(f.file)).end).toMatchObject({ imported: 2, documents: { linked: 1, skipped: [{ ref: f.b.ref }] } });
  listeners.length = 0;
  const again = (await importFile(f.file)).end;
  expect(again).toMatchObject({ state: 'done', imported: 0, duplicates: 2 });
  expect(again.documents).toBeUndefined();
  expect(kept(f.b.ref)).toBe(false);
  const second = store.threads.list({ limit: 10 }).items.find((t) => t.title === 'Chat 2')!;
  store.threads.delete(second.id);
  expect((await importFile(f.file)).end).toMatchObject({ state: 'done', imported: 1, duplicates: 1, documents: { linked: 1, skipped: [] } });
  expect(kept(f.b.ref)).toBe(true);
});

test('a read of the documents that fails (the file cut short since its chats were read) keeps those found and names the others with why', async () => {
  const f = bundle();
  const { importFile, kept, listeners } = setup();
  listeners.push((p) => {
    // as the documents' step begins, before it opens the file
    if (p.readingDocuments?.bytes === 0) fs.truncateSync(f.file, f.aEnd + MiB);
  });
  const { end } = await importFile(f.file);
  expect(end).toMatchObject({
    state: 'done', imported: 2, error: null,
    documents: { linked: 1, skipped: [{ ref: f.b.ref, name: 'b.txt', reason: expect.stringMatching(/^the file could not be read again for it \(.*ends early/) }] },
  });
  expect(kept(f.a.ref)).toBe(true);
  expect(kept(f.b.ref)).toBe(false);
});

test('Cancel once every chat is written (the chats\' read still going through the documents) is no cancel of the chats: the import is done', async () => {
  const f = bundle();
  let turns = 0;
  let jobId = '';
  const app = setup({
    yieldTurn: async () => {
      if (++turns === 3) await app.call('data.import.cancel', { jobId });
      await new Promise((r) => setImmediate(r));
    },
  });
  jobId = (await app.call('data.import.preview', { source: { path: f.file }, from: 'auto' })).jobId;
  await app.call('data.import.start', { jobId });
  const end = await app.data.imports.finished!;
  expect(end).toMatchObject({ state: 'done', done: 2, imported: 2, documents: { linked: 2, skipped: [] } });
});

test("a file naming a chat here by its id, with other attachments, gets no document into that chat", async () => {
  const f = bundle();
  const { importFile, kept, store } = setup();
  expect((await importFile(f.file)).end).toMatchObject({ imported: 2, documents: { linked: 2 } });
  // the same chats' ids, the first's message now attaching C, which the file carries
  const c = carried('c.txt', 1024);
  const text = fs.readFileSync(f.file, 'utf8');
  const crafted = JSON.parse(text.replaceAll(f.a.ref, c.ref));
  crafted.documents = [c];
  const file = path.join(tmpDir(), 'crafted.json');
  fs.writeFileSync(file, JSON.stringify(crafted));
  const { end } = await importFile(file);
  expect(end).toMatchObject({ state: 'done', imported: 0, duplicates: 2 });
  expect(end.documents).toBeUndefined();
  expect(kept(c.ref)).toBe(false);
  const [first] = store.threads.list({ limit: 10 }).items.filter((t) => t.title === 'Chat 1');
  expect(store.docs.threadDocs(first.id).map((d) => d.name)).toEqual(['a.txt']);
});

test("SQLite's own failure while the documents are kept ends that step: those kept before are reported, the rest named with the error; the chats stay", async () => {
  const f = bundle();
  const { importFile, store } = setup();
  // a real SQLite error at B's row (a trigger on this connection, as a full disk would fail the insert)
  store.db.exec(`CREATE TEMP TRIGGER refuse_b BEFORE INSERT ON documents WHEN NEW.hash = '${f.b.ref}'
    BEGIN SELECT RAISE(ABORT, 'database or disk is full (this test''s trigger)'); END`);
  const { end } = await importFile(f.file);
  expect(end).toMatchObject({
    state: 'done', imported: 2,
    documents: { linked: 1, kept: 1, skipped: [{ ref: f.b.ref, name: 'b.txt', reason: expect.stringMatching(/^Hearth could not keep it: database or disk is full/), again: true }] },
  });
  expect(store.docs.documentByHash(f.a.ref)).toMatchObject({ state: 'queued' });
  expect(store.docs.documentByHash(f.b.ref)).toBeNull();
  const titles = store.threads.list({ limit: 10 }).items.map((t) => [t.title, store.docs.threadDocs(t.id).map((d) => d.name)]);
  expect(titles.sort()).toEqual([['Chat 1', ['a.txt']], ['Chat 2', []]]);
});

describe('adoptDocuments alone (a real store and folder)', () => {
  /** Two chats in a real store, the first attaching A (and B when `shared`), the second B. */
  function twoChats(shared = false) {
    const dir = tmpDir();
    const store = openStore({ file: path.join(dir, 'hearth.db') });
    const doc = (name: string) => {
      const bytes = randomBytes(1024);
      return { ref: createHash('sha256').update(bytes).digest('hex'), name, bytes, holdsRef: true };
    };
    const a = doc('a.txt');
    const b = doc('b.txt');
    const t1 = store.threads.create({ title: 'One' }).id;
    const t2 = store.threads.create({ title: 'Two' }).id;
    const threads = [
      { threadId: t1, documents: [{ ref: a.ref, name: a.name }, ...(shared ? [{ ref: b.ref, name: b.name }] : [])], removed: new Set<string>() },
      { threadId: t2, documents: [{ ref: b.ref, name: b.name }], removed: new Set<string>() },
    ];
    return { store, files: new DocFiles(path.join(dir, 'documents')), a, b, threads, logger: recordingLogger() };
  }

  test('a document attached to two chats is kept once and linked twice', async () => {
    const { store, files, a, b, threads, logger } = twoChats(true);
    expect(await adoptDocuments({ store, files, logger }, [a, b], threads)).toEqual({ linked: 3, kept: 2, skipped: [] });
  });

  test('a cancel while the documents found are kept stops between documents: those kept stay, the rest are named (the file again brings them)', async () => {
    const { store, files, a, b, threads, logger } = twoChats();
    const cancel = new AbortController();
    // the real put, and the cancel right after the first document's file is written
    const put = files.put.bind(files);
    files.put = async (bytes) => {
      const hash = await put(bytes);
      cancel.abort();
      return hash;
    };
    const r = await adoptDocuments({ store, files, logger }, [a, b], threads, null, cancel.signal);
    expect(r).toEqual({ linked: 1, kept: 1, skipped: [{ ref: b.ref, name: 'b.txt', reason: UNKEPT_DOCUMENT, again: true }] });
    expect(store.docs.documentByHash(a.ref)).not.toBeNull();
    expect(store.docs.documentByHash(b.ref)).toBeNull();
  });
});
