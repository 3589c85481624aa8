/**
 * The bounds of the importers, through the real parts (a real store, the real Services and DataService,
 * files written here): crafted Hearth JSON refused at what gives it away, quickly and without building
 * it; Hearth JSON with its keys in another order still imported; Jan threads and LM Studio files past
 * one conversation's limits skipped with a note; the preview's notes short and few.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import type { ImportPreviewDTO } from '../../main/ipc/contract';
import { IMPORT_OTHER_REASONS, IMPORT_REASON_CHARS, IMPORT_SKIP_REASONS } from '../../main/ipc/contract';
import { DataService } from '../../main/data/service';
import { exportFile } from '../../main/data/export-file';
import { importWouldSkip, OWN_ELEMENT_VALUES, OWN_MAX_DEPTH, readHearthDocuments, readHearthThreads } from '../../main/data/formats/hearth';
import { SKIP_MAX_DEPTH } from '../../main/data/formats/json-guard';
import { detectFormat, openImport } from '../../main/data/formats/detect';
import { LMSTUDIO_LIMITS, lmstudioReader } from '../../main/data/formats/lmstudio';
import type { ImportedThread, SkipNote } from '../../main/data/imported';
import { dataPaths } from '../../main/paths';
import { Services } from '../../main/services';
import type { Store } from '../../main/store';
import { LIMITS } from '../../main/store';
import { isStoreError } from '../../main/store/errors';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';
import { janFolder } from './folder-helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

function setup(store: Store = openStore()) {
  const dir = tmpDir();
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const data = new DataService({ store, services, dataDir: dir, logger });
  services.register(data.importExportChannels());
  const preview = (p: string, from = 'auto') => services.handle('data.import.preview', { source: { path: p }, from }) as Promise<ImportPreviewDTO>;
  const failure = async (p: string, from = 'auto') => {
    try {
      await preview(p, from);
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error(`the preview of ${p} did not fail`);
  };
  const importAll = async (p: string) => {
    const pv = await preview(p);
    await services.handle('data.import.start', { jobId: pv.jobId });
    return { preview: pv, end: await data.imports.finished! };
  };
  return { store, preview, failure, importAll };
}

/** Writes `head`, `body` `times` times, then `tail`, in pieces (the file is never one string here). */
function writeRepeated(file: string, head: string, body: string, times: number, tail: string): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, head);
  const piece = body.repeat(Math.max(1, Math.floor((1 << 20) / body.length)));
  const per = piece.length / body.length;
  for (let left = times; left > 0; left -= per) fs.writeSync(fd, left >= per ? piece : body.repeat(left));
  fs.writeSync(fd, tail);
  fs.closeSync(fd);
}

/** A store's thread exported whole as a one-thread Hearth file's object, with one tool call. */
function oneThreadExport(): Record<string, unknown> {
  const s = openStore();
  const t = s.threads.create({ title: 'Tools' });
  s.messages.add({ threadId: t.id, role: 'user', content: 'What is the weather?' });
  s.messages.add({ threadId: t.id, role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Lisbon' } }] });
  return s.exportThreadJson(t.id) as unknown as Record<string, unknown>;
}

/** `value` with every object's keys sorted (as a JSON tool re-saving the file would write it). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
}

async function expectImportError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  let err: unknown = null;
  try { await p; } catch (e) { err = e; }
  expect(isStoreError(err, 'import_failed')).toBe(true);
  expect((err as Error).message).toMatch(pattern);
}

const threadCount = (s: Store) => s.db.prepare('SELECT count(*) FROM threads').pluck().get() as number;
const MiB = 1024 * 1024;

describe('Hearth JSON, streamed', () => {
  test('48 MiB of `[],` in a member Hearth JSON has not is refused at its key, at once and in bounded memory', async () => {
    const { store, failure } = setup();
    const file = path.join(tmpDir(), 'crafted.json');
    writeRepeated(file, '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[],"x":[', '[],', 16 * MiB, '[]]}');
    expect(fs.statSync(file).size).toBeGreaterThan(48 * MiB);
    const rss = process.resourceUsage().maxRSS; // KiB, the process's peak so far
    const started = Date.now();
    const err = await failure(file);
    // JSON.parse of the whole file blocked 7.7 s and took 1.16 GB before its members were checked
    expect(Date.now() - started).toBeLessThan(3000);
    expect((process.resourceUsage().maxRSS - rss) * 1024).toBeLessThan(200 * MiB);
    expect(err.code).toBe('import_failed');
    expect(err.message).toMatch(/crafted\.json has a member "x", which is not one of format, version, exportedAt, threads, documents/);
    expect(threadCount(store)).toBe(0);
  }, 60_000);

  test('junk in members it has is refused at the first element that is not theirs; nesting past OWN_MAX_DEPTH levels before it is built', async () => {
    const { failure } = setup();
    const dir = tmpDir();
    const file = path.join(dir, 'junk.json');
    writeRepeated(file, '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[],"documentsMissing":[', '[],', 4 * MiB, '[]]}');
    expect((await failure(file)).message).toMatch(/junk\.json: documentsMissing\.0: Expected string, received array/);
    writeRepeated(file, '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[', '[],', 4 * MiB, '[]]}');
    expect((await failure(file)).message).toMatch(/junk\.json: threads\.0: Expected object, received array/);
    // a one-thread file's messages: each checked as it comes
    writeRepeated(file, '{"format":"hearth.thread","version":3,"exportedAt":0,"messages":[', '[],', 4 * MiB, '[]]}');
    expect((await failure(file)).message).toMatch(/junk\.json: messages\.0: Expected object, received array/);

    // a tool call's arguments 200,000 deep (a bare RangeError from JSON.stringify before): past what any
    // JSON writer makes, the file is refused
    const doc = oneThreadExport();
    const text = JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads: [doc, doc] });
    fs.writeFileSync(file, text.replace('{"city":"Lisbon"}', `${'['.repeat(200_000)}${']'.repeat(200_000)}`));
    const deep = await failure(file);
    expect(deep).toMatchObject({ code: 'import_failed' });
    expect(deep.message).toMatch(new RegExp(`junk\\.json nests arrays and objects deeper than ${SKIP_MAX_DEPTH} levels`));
    // arguments nested 1,000 deep, which the store keeps (JSON.stringify writes them): that thread is passed
    // over with a note, the other imports
    fs.writeFileSync(file, text.replace('{"city":"Lisbon"}', `${'['.repeat(1000)}${']'.repeat(1000)}`));
    expect(await setup().preview(file)).toMatchObject({
      threads: 1, skipped: [{ reason: `conversations nested deeper than ${OWN_MAX_DEPTH} levels (too deeply nested to import)`, count: 1 }],
    });
    // arguments nested 100 deep are read
    fs.writeFileSync(file, text.replace('{"city":"Lisbon"}', `${'['.repeat(100)}${']'.repeat(100)}`));
    expect((await setup().preview(file)).threads).toBe(1);
  }, 60_000);

  test('a chat whose tool call nests deeper than an import reads (the store keeps it): the export says so and still carries it; its import passes that chat over with the note, the others import', async () => {
    const source = openStore();
    const deepChat = source.threads.create({ title: 'Deep arguments' });
    let nested: unknown = 1;
    for (let i = 0; i < 1000; i++) nested = [nested];
    source.messages.add({ threadId: deepChat.id, role: 'user', content: 'Call it' });
    source.messages.add({ threadId: deepChat.id, role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: { deep: nested } }] });
    const plain = source.threads.create({ title: 'Plain' });
    source.messages.add({ threadId: plain.id, role: 'user', content: 'Hello' });
    const reason = `conversations nested deeper than ${OWN_MAX_DEPTH} levels (too deeply nested to import)`;
    const out = await exportFile(source, { threadIds: [deepChat.id, plain.id], format: 'json' }, 0);
    expect(out.leftOutOnImport).toEqual({ count: 1, chats: [{ threadId: deepChat.id, title: 'Deep arguments', reason }] });
    expect(JSON.parse(out.data).threads).toHaveLength(2);
    // a chat within the bounds: nothing said
    expect((await exportFile(source, { threadIds: [plain.id], format: 'json' }, 0)).leftOutOnImport).toBeUndefined();
    const file = path.join(tmpDir(), 'export.json');
    fs.writeFileSync(file, out.data);
    const { store, importAll } = setup();
    const { preview, end } = await importAll(file);
    expect(preview).toMatchObject({ threads: 1, skipped: [{ reason, count: 1 }] });
    expect(end).toMatchObject({ state: 'done', imported: 1 });
    expect(store.threads.list({ limit: 10 }).items.map((t) => t.title)).toEqual(['Plain']);

    // at the bound, the export's measure and the import agree, level for level
    const agree: [number, boolean, boolean][] = [];
    for (let k = 248; k <= 256; k++) {
      let v: unknown = 1;
      for (let i = 0; i < k; i++) v = [v];
      const t = source.threads.create({ title: `Nested ${k}` });
      source.messages.add({ threadId: t.id, role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: v }] });
      const json = JSON.stringify(source.exportThreadJson(t.id));
      fs.writeFileSync(file, `{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[${json}]}`);
      const read: unknown[] = [];
      for await (const item of readHearthThreads(file)) read.push(item);
      agree.push([k, importWouldSkip(json) !== null, 'skipped' in (read[0] as object)]);
    }
    expect(agree.filter(([, a, b]) => a !== b)).toEqual([]);
    expect(agree.some(([, a]) => a) && agree.some(([, a]) => !a)).toBe(true);
  });

  test('one thread element holding 48 MiB of `[],` is passed over by its count of values with a note, at once and in bounded memory; the thread after it imports', async () => {
    const { store, importAll } = setup();
    const file = path.join(tmpDir(), 'values.json');
    const next = JSON.stringify(oneThreadExport());
    writeRepeated(file, '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[{"messages":[', '[],', 16 * MiB, `[]]},${next}]}`);
    const rss = process.resourceUsage().maxRSS;
    const started = Date.now();
    const { preview, end } = await importAll(file);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((process.resourceUsage().maxRSS - rss) * 1024).toBeLessThan(800 * MiB);
    expect(preview).toMatchObject({ format: 'hearth', threads: 1, messages: 2, skipped: [{ reason: `conversations of more than ${OWN_ELEMENT_VALUES} values (too large to import)`, count: 1 }] });
    expect(end).toMatchObject({ state: 'done', imported: 1 });
    expect(store.threads.list({ limit: 10 }).items.map((t) => t.title)).toEqual(['Tools']);
  }, 60_000);

  test("Hearth's own export of a chat larger than another app's conversation (36 MiB: nine messages of 4 MiB) imports back whole", async () => {
    const source = openStore();
    const t = source.threads.create({ title: 'Long' });
    const text = 'All work and no play. '.repeat(Math.floor((LIMITS.contentBytes - 64) / 22));
    for (let i = 0; i < 9; i++) source.messages.add({ threadId: t.id, role: i % 2 ? 'assistant' : 'user', content: `${i} ${text}` });
    const file = path.join(tmpDir(), 'long.json');
    fs.writeFileSync(file, JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads: [source.exportThreadJson(t.id)] }));
    expect(fs.statSync(file).size).toBeGreaterThan(LIMITS.conversationBytes);
    const { store, importAll } = setup();
    const { end } = await importAll(file);
    expect(end).toMatchObject({ state: 'done', imported: 1 });
    const [imported] = store.threads.list({ limit: 10 }).items;
    const messages = store.messages.list(imported.id);
    expect(messages.map((m) => m.content.length)).toEqual(source.messages.list(t.id).map((m) => m.content.length));
  }, 120_000);

  test('the documents read again after the threads are only those the imported threads attach (of each ref the first copy holding its content, else the first): the others are checked and let go', async () => {
    const doc = (n: number) => ({ ref: String(n).repeat(64), name: `d${n}.txt`, kind: 'text', data: Buffer.from(`document ${n}`).toString('base64') });
    // as the read answers a document: decoded, with whether its bytes are its ref's content (hashed once, there)
    const decoded = (d: { ref: string; name: string; data: string }, holdsRef: boolean) => ({ ref: d.ref, name: d.name, bytes: Buffer.from(d.data, 'base64'), holdsRef });
    const file = path.join(tmpDir(), 'docs.json');
    fs.writeFileSync(file, JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads: [oneThreadExport()], documents: [doc(1), doc(2), doc(3), { ...doc(2), name: 'again.txt' }] }));
    expect(await readHearthDocuments(file, new Set([String(2).repeat(64), 'f'.repeat(64)]))).toEqual({ documents: [decoded(doc(2), false)], whole: true });
    expect(await readHearthDocuments(file, new Set())).toEqual({ documents: [], whole: true });
    // a copy whose bytes are not its ref's content gives way to a later one that holds it
    const real = { ref: createHash('sha256').update('alpha').digest('hex'), name: 'a.txt', kind: 'text', data: Buffer.from('alpha').toString('base64') };
    const tampered = { ...real, name: 'tampered.txt', data: Buffer.from('omega').toString('base64') };
    fs.writeFileSync(file, JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads: [], documents: [tampered, real, { ...real, name: 'third.txt' }] }));
    expect(await readHearthDocuments(file, new Set([real.ref]))).toEqual({ documents: [decoded(real, true)], whole: true });
    // a document that is not valid ends the read even when it is not wanted: what was found before stays, with why
    fs.writeFileSync(file, JSON.stringify({ format: 'hearth.threads', version: 3, exportedAt: 0, threads: [], documents: [doc(2), { ...doc(1), data: '%%' }, doc(3)] }));
    expect(await readHearthDocuments(file, new Set([String(2).repeat(64), String(3).repeat(64)])))
      .toEqual({ documents: [decoded(doc(2), false)], whole: false, stopped: expect.stringMatching(/documents\.1\.data: not base64/) });
  });

  test("a one-thread file's messages are held to one thread's count of values together, though the guard counts each message alone", async () => {
    const doc = oneThreadExport() as { messages: Record<string, unknown>[] };
    const [user] = doc.messages;
    // each message under the guard's count; three of them past it together (a tool call's arguments are JSON kept as parsed)
    // (four calls a message, each call's arguments within LIMITS.jsonFieldBytes)
    const per = Math.floor(OWN_ELEMENT_VALUES / 2.5 / 4);
    const args = `[${'[],'.repeat(per - 1)}[]]`;
    const file = path.join(tmpDir(), 'many.json');
    const calls = [0, 1, 2, 3].map((c) => ({ id: `c${c}`, name: 'f', arguments: '@ARGS@' }));
    const messages = [0, 1, 2].map((i) => JSON.stringify({ ...user, id: `m${i}`, parentId: i ? `m${i - 1}` : null, toolCalls: calls }).replaceAll('"@ARGS@"', args));
    fs.writeFileSync(file, `${JSON.stringify({ ...doc, messages: [] }).replace('"messages":[]', `"messages":[${messages.join(',')}]`)}`);
    await expectImportError((async () => { for await (const t of readHearthThreads(file)) void t; })(),
      new RegExp(`many\\.json holds one conversation of more than ${OWN_ELEMENT_VALUES} values`));
    // two of them are within it
    fs.writeFileSync(file, `${JSON.stringify({ ...doc, messages: [] }).replace('"messages":[]', `"messages":[${messages.slice(0, 2).join(',')}]`)}`);
    let read = 0;
    for await (const t of readHearthThreads(file)) read += 'thread' in t ? t.thread.messages.length : 0;
    expect(read).toBe(2);
  }, 120_000);

  test('a FIFO (or anything but a regular file) is refused: its size says nothing', async () => {
    if (process.platform === 'win32') return;
    const fifo = path.join(tmpDir(), 'pipe.json');
    require('child_process').execFileSync('mkfifo', [fifo]);
    await expectImportError((async () => { for await (const t of readHearthThreads(fifo)) void t; })(), /pipe\.json is not a regular file/);
  });

  test('a bundle\'s thread over the element cap is passed over with a note before it is built (the others read); a one-thread file over the conversation cap is refused at once', async () => {
    const doc = oneThreadExport();
    const file = path.join(tmpDir(), 'big.json');
    const big = { ...doc, thread: { ...(doc.thread as object), title: 'x'.repeat(400) } };
    const after = { ...doc, thread: { ...(doc.thread as object), title: 'After' } };
    const bundle = { format: 'hearth.threads', version: 3, exportedAt: 0, threads: [doc, big, after] };
    fs.writeFileSync(file, JSON.stringify(bundle));
    const small = Buffer.byteLength(JSON.stringify(doc));
    const read = async (max: number) => {
      const all: unknown[] = [];
      for await (const t of readHearthThreads(file, { maxElementBytes: max })) all.push('thread' in t ? [t.thread, t.where] : t);
      return all;
    };
    expect(await read(small + 100)).toEqual([
      [doc, `${file} thread 1`], { skipped: { reason: `conversations larger than ${small + 100} bytes (too large to import)` } }, [after, `${file} thread 3`],
    ]);
    expect(await read(small + 500)).toEqual([[doc, `${file} thread 1`], [big, `${file} thread 2`], [after, `${file} thread 3`]]);

    // a one-thread file is one conversation: its size is its size
    fs.writeFileSync(file, JSON.stringify(doc));
    await expectImportError((async () => { for await (const t of readHearthThreads(file, { maxElementBytes: small - 1 })) void t; })(),
      new RegExp(`big\\.json is one thread of ${small} bytes, more than an import reads of one conversation \\(${small - 1}\\)`));
    const [one] = await (async () => { const out = []; for await (const t of readHearthThreads(file, { maxElementBytes: small })) out.push(t); return out; })();
    expect(one).toEqual({ thread: doc, where: file });
  });

  test('its keys in another order (re-saved sorted): still Hearth JSON on "auto", imported with its tool calls', async () => {
    const source = openStore();
    const t = source.threads.create({ title: 'Sorted' });
    source.messages.add({ threadId: t.id, role: 'user', content: 'Forecast?' });
    source.messages.add({ threadId: t.id, role: 'assistant', content: 'Sunny.', toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Porto' } }] });
    const bundle = { format: 'hearth.threads', version: 3, exportedAt: 0, threads: [source.exportThreadJson(t.id)] };
    const file = path.join(tmpDir(), 'sorted.json');
    const text = JSON.stringify(sortedKeys(bundle), null, 2);
    expect(text.trimStart().startsWith('{\n  "exportedAt"')).toBe(true);
    fs.writeFileSync(file, text);
    const { store, importAll } = setup();
    const { preview, end } = await importAll(file);
    expect(preview).toMatchObject({ format: 'hearth', threads: 1, messages: 2 });
    expect(end).toMatchObject({ state: 'done', imported: 1, messages: 2 });
    expect(store.messages.list(t.id).map((m) => [m.content, m.toolCalls])).toEqual([['Forecast?', null], ['Sunny.', [{ id: 'c1', name: 'weather', arguments: { city: 'Porto' } }]]]);

    // re-saved with more than one conversation's bytes (LIMITS.conversationBytes) of documents before its
    // format: "auto" measures each document, not the member that holds them all, and still finds the format
    const blob = 'A'.repeat(12 * 1024 * 1024);
    const docs = [0, 1, 2].map((i) => ({ data: blob, kind: null, name: `d${i}.txt`, ref: String(i).repeat(64) }));
    const large = path.join(tmpDir(), 'sorted-docs.json');
    fs.writeFileSync(large, JSON.stringify(sortedKeys({ ...bundle, documents: docs })));
    expect(fs.statSync(large).size).toBeGreaterThan(LIMITS.conversationBytes);
    expect(await detectFormat(large)).toBe('hearth');

    // its threads before its format, one of them past the values a thread may hold: Hearth JSON on "auto",
    // the thread left out with a note and the other imported
    const early = path.join(tmpDir(), 'threads-first.json');
    const thread = JSON.stringify(source.exportThreadJson(t.id));
    writeRepeated(early, '{"threads":[{"messages":[', '[],', 5_000_000, `[]]},${thread}],"format":"hearth.threads","version":3,"exportedAt":0}`);
    expect(await detectFormat(early)).toBe('hearth');
    const again = setup();
    const both = await again.importAll(early);
    expect(both.preview).toMatchObject({ format: 'hearth', threads: 1, skipped: [{ reason: `conversations of more than ${OWN_ELEMENT_VALUES} values (too large to import)`, count: 1 }] });
    expect(both.end).toMatchObject({ state: 'done', imported: 1 });
  }, 60_000);
});

describe('ChatGPT', () => {
  test('a conversation larger than one conversation may be (LIMITS.conversationBytes) is passed over with a note; the ones around it import', async () => {
    const conv = (i: number, text: string) => ({
      title: `c${i}`, create_time: 1700000000 + i, update_time: 1700000000 + i, conversation_id: `id-${i}`, current_node: 'a',
      mapping: {
        r: { id: 'r', message: null, parent: null, children: ['u'] },
        u: { id: 'u', parent: 'r', children: ['a'], message: { id: 'u', author: { role: 'user' }, content: { content_type: 'text', parts: [text] }, create_time: 1700000000 + i } },
        a: { id: 'a', parent: 'u', children: [], message: { id: 'a', author: { role: 'assistant' }, content: { content_type: 'text', parts: [`a${i}`] }, create_time: 1700000001 + i } },
      },
    });
    const file = path.join(tmpDir(), 'conversations.json');
    const [head, tail] = JSON.stringify(conv(1, '@BIG@')).split('@BIG@');
    writeRepeated(file, `[${JSON.stringify(conv(0, 'q0'))},${head}`, 'All work and no play. ', Math.ceil(LIMITS.conversationBytes / 22) + 1, `${tail},${JSON.stringify(conv(2, 'q2'))}]`);
    const { store, importAll } = setup();
    const { preview, end } = await importAll(file);
    expect(preview).toMatchObject({ format: 'chatgpt', threads: 2, messages: 4, skipped: [{ reason: `conversations larger than ${LIMITS.conversationBytes} bytes (too large to import)`, count: 1 }] });
    expect(end).toMatchObject({ state: 'done', imported: 2 });
    expect(store.threads.list({ limit: 10 }).items.map((t) => t.title).sort()).toEqual(['c0', 'c2']);
  }, 60_000);
});

describe('Jan', () => {
  test('a thread of more messages, or a messages.jsonl of more bytes, than one conversation may have is skipped with a note; the store\'s importJan refuses it', async () => {
    const root = janFolder(3);
    const threads = path.join(root, 'threads');
    const [, many, huge] = fs.readdirSync(threads).sort();
    writeRepeated(path.join(threads, many, 'messages.jsonl'), '', '{"id":"a","role":"user","content":""}\n', LIMITS.conversationNodes + 1, '');
    // over the bytes: never read (its size says it)
    fs.truncateSync(path.join(threads, huge, 'messages.jsonl'), LIMITS.conversationBytes + 1);
    const { store, importAll } = setup();
    const { preview, end } = await importAll(root);
    expect(preview).toMatchObject({ format: 'jan', threads: 1, messages: 2 });
    expect(preview.skipped).toEqual([
      { reason: `conversations larger than ${LIMITS.conversationBytes} bytes (too large to import)`, count: 1 },
      { reason: `conversations of more than ${LIMITS.conversationNodes} messages (too large to import)`, count: 1 },
    ]);
    expect(end).toMatchObject({ state: 'done', imported: 1, messages: 2 });
    expect(threadCount(store)).toBe(1);

    const other = openStore();
    await expect(other.importJan(root)).rejects.toMatchObject({ code: 'import_failed', message: expect.stringMatching(/is too large to import \(/) });
    expect(threadCount(other)).toBe(0);
  }, 60_000);

  test('a message line nested past LIMITS.importDepth is refused before it is parsed, quickly and in bounded memory', async () => {
    const root = janFolder(1);
    const [one] = fs.readdirSync(path.join(root, 'threads'));
    const file = path.join(root, 'threads', one, 'messages.jsonl');
    // one line of 15 MiB of `[` and as many `]`: JSON.parse of it built every level (1.7 GB, 7.5 s)
    writeRepeated(file, '', '[', 15 * MiB, ']'.repeat(15 * MiB));
    const rss = process.resourceUsage().maxRSS;
    const started = Date.now();
    const { preview, failure } = setup();
    // in a folder of threads it is left out with a note; its thread folder alone is refused
    expect((await preview(root)).skipped).toEqual([{ reason: expect.stringMatching(new RegExp(`^a Jan thread that could not be imported \\(.*messages\\.jsonl nests arrays and objects deeper than ${LIMITS.importDepth} levels`)), count: 1 }]);
    const err = await failure(path.join(root, 'threads', one));
    expect(err).toMatchObject({ code: 'import_failed', message: expect.stringMatching(new RegExp(`messages\\.jsonl nests arrays and objects deeper than ${LIMITS.importDepth} levels`)) });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((process.resourceUsage().maxRSS - rss) * 1024).toBeLessThan(400 * MiB);
  }, 60_000);
});

describe('LM Studio', () => {
  const conversation = (extra: Record<string, unknown> = {}) => ({
    name: 'Hi', createdAt: 1700000000000, messages: [{ versions: [{ type: 'singleStep', role: 'user', content: [{ type: 'text', text: 'Hello' }] }], currentlySelected: 0 }], ...extra,
  });

  test('a file over one conversation\'s bytes is a note in a folder and an error alone; nesting past 64 levels too; members it does not read are passed over', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, '1.conversation.json'), JSON.stringify(conversation()));
    const big = path.join(dir, '2.conversation.json');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, LIMITS.conversationBytes + 1);
    fs.writeFileSync(path.join(dir, '3.conversation.json'), `{"name":"deep","messages":[${'['.repeat(100_000)}`);
    const read: (ImportedThread | { skipped: SkipNote })[] = [];
    for await (const c of (await openImport(dir, 'lmstudio')).conversations()) read.push(c);
    expect(read.map((c) => ('sourceId' in c ? c.sourceId : c.skipped.reason))).toEqual([
      '1.conversation.json',
      `conversations larger than ${LIMITS.conversationBytes} bytes (too large to import)`,
      expect.stringMatching(/^an LM Studio conversation that could not be read \(3\.conversation\.json nests arrays and objects deeper than 64 levels/),
    ]);
    // one file alone, over the cap (given lower here): the error
    const one = path.join(dir, '1.conversation.json');
    const size = fs.statSync(one).size;
    await expectImportError((async () => { for await (const c of lmstudioReader(one, { ...LMSTUDIO_LIMITS, maxFileBytes: size - 1 }).conversations()) void c; })(),
      new RegExp(`1\\.conversation\\.json is not a readable LM Studio conversation: .*1\\.conversation\\.json is larger than ${size - 1} bytes`));
    expect(LMSTUDIO_LIMITS.maxFileBytes).toBe(LIMITS.conversationBytes);

    // 16 MiB of `[],` beside the conversation: never built (JSON.parse of it took several hundred MB)
    const junk = path.join(dir, '4.conversation.json');
    const text = JSON.stringify(conversation());
    writeRepeated(junk, `${text.slice(0, -1)},"x":[`, '[],', Math.floor((16 * MiB) / 3), '[]]}');
    const rss = process.resourceUsage().maxRSS;
    const [c] = await (async () => { const out = []; for await (const t of (await openImport(junk, 'lmstudio')).conversations()) out.push(t); return out; })();
    expect((process.resourceUsage().maxRSS - rss) * 1024).toBeLessThan(100 * MiB);
    expect((c as ImportedThread).messages.map((m) => m.content)).toEqual(['Hello']);
  }, 60_000);
});

describe('the preview\'s notes', () => {
  test('a value quoted from the file is cut; at most IMPORT_SKIP_REASONS reasons are listed, the rest in one row; the counts add up', async () => {
    const N = 300;
    const file = path.join(tmpDir(), 'conversations.json');
    const conv = (i: number) => ({
      title: `c${i}`, conversation_id: `id-${i}`, current_node: 'u',
      mapping: {
        u: { id: 'u', parent: null, children: ['t'], message: { id: 'u', author: { role: 'user' }, content: { content_type: 'text', parts: ['Hi'] } } },
        t: { id: 't', parent: 'u', children: [], message: { id: 't', author: { role: 'assistant' }, content: { content_type: `${i}-${'k'.repeat(2000)}` } } },
      },
    });
    fs.writeFileSync(file, JSON.stringify(Array.from({ length: N }, (_, i) => conv(i))));
    const { preview } = setup();
    const p = await preview(file);
    expect(p).toMatchObject({ format: 'chatgpt', threads: N });
    expect(p.skipped).toHaveLength(IMPORT_SKIP_REASONS + 1);
    expect(p.skipped.reduce((a, s) => a + s.count, 0)).toBe(N);
    expect(p.skipped.find((s) => s.reason === IMPORT_OTHER_REASONS)).toEqual({ reason: IMPORT_OTHER_REASONS, count: N - IMPORT_SKIP_REASONS });
    const quoted = p.skipped.find((s) => s.reason !== IMPORT_OTHER_REASONS)!.reason;
    expect(quoted).toMatch(/^unknown content type "\d+-k+…"$/);
    expect(quoted.length).toBeLessThan(110);
    expect(p.skipped.every((s) => s.reason.length <= IMPORT_REASON_CHARS + 1)).toBe(true);
  });
});
