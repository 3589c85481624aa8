/**
 * The importers of other apps' chats (main/data/formats/): each format's fixture (test/fixtures/imports/,
 * anonymised and shaped like the real exports) read into the exact tree, detection of all six formats,
 * --from insisting, truncated JSON, zips (and zip bombs) and a 20k-conversation export streamed in bounded memory.
 */
import fs from 'fs';
import path from 'path';
import { Readable } from 'stream';
import v8 from 'v8';
import vm from 'vm';
import * as yazl from 'yazl';
import type { ImportedThread, ImportReader, SkipNote } from '../../main/data/imported';
import { readChatgptConversation } from '../../main/data/formats/chatgpt';
import { detectFormat, openImport } from '../../main/data/formats/detect';
import { isImportedRole } from '../../main/data/imported';
import { ownFormat } from '../../main/data/import-sources';
import { MAX_NODES } from '../../main/data/formats/tree';
import { readConversations, streamJsonArray, streamJsonValues } from '../../main/data/formats/stream';
import { SKIP_MAX_DEPTH } from '../../main/data/formats/json-guard';
import { byteCap, zipEntrySource } from '../../main/data/formats/zip';
import { isStoreError } from '../../main/store/errors';
import { LIMITS } from '../../main/store';
import { cleanupDirs, closeStores, openStore, tmpDir } from '../store/helpers';

const FIX = path.resolve(__dirname, '../fixtures/imports');

/** The heap still in use after a full collection: what is held, not garbage V8 has yet to collect. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const liveHeap = (): number => { gc(); return process.memoryUsage().heapUsed; };

afterEach(() => { closeStores(); cleanupDirs(); });

async function readAll(r: ImportReader, signal?: AbortSignal): Promise<(ImportedThread | { skipped: SkipNote })[]> {
  const out: (ImportedThread | { skipped: SkipNote })[] = [];
  for await (const t of r.conversations(signal)) out.push(t);
  return out;
}

async function threads(target: string): Promise<ImportedThread[]> {
  const all = await readAll(await openImport(target, 'auto'));
  for (const t of all) if (!('sourceId' in t)) throw new Error(`unexpected skip: ${t.skipped.reason}`);
  return all as ImportedThread[];
}

/** The tree in one line per message: key, parent, active, role, content, reasoning. */
const tree = (t: ImportedThread) => t.messages.map((m) => [m.key, m.parentKey, m.active, m.role, m.content, m.reasoning ?? null]);
const reasons = (t: { skipped: SkipNote[] }) => t.skipped.map((s) => s.reason);

async function expectImportError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  let err: unknown = null;
  try { await p; } catch (e) { err = e; }
  expect(isStoreError(err, 'import_failed')).toBe(true);
  expect((err as Error).message).toMatch(pattern);
}

function zipOf(dir: string, entries: Record<string, Buffer | string>, compress = true): Promise<string> {
  const file = path.join(dir, `export-${Object.keys(entries).length}-${Math.random().toString(36).slice(2)}.zip`);
  const z = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) z.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data), name, { compress });
  z.end();
  return new Promise((resolve, reject) => {
    z.outputStream.pipe(fs.createWriteStream(file)).on('close', () => resolve(file)).on('error', reject);
  });
}

/** Changes the first central-directory record of a zip (a lying or encrypted entry). */
function patchCentral(file: string, patch: (buf: Buffer, at: number) => void): void {
  const buf = fs.readFileSync(file);
  const at = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  expect(at).toBeGreaterThan(0);
  patch(buf, at);
  fs.writeFileSync(file, buf);
}

describe('ChatGPT', () => {
  test('branches become alternatives, the current node\'s path is active, hidden and root nodes are re-parented', async () => {
    const [a, b, c] = await threads(path.join(FIX, 'chatgpt/conversations.json'));
    expect({ ...a, messages: undefined }).toEqual({
      sourceId: 'conv-a', title: 'Edits and regenerations', createdAt: 1700000000250, updatedAt: 1700000300750,
      model: 'gpt-4o', messages: undefined, skipped: [],
    });
    expect(tree(a)).toEqual([
      ['u1', null, true, 'user', 'What is 2+2?', null],
      ['a1', 'u1', false, 'assistant', '4', null], // regenerated
      ['a1b', 'u1', true, 'assistant', 'Four.', null],
      ['u2', 'a1b', false, 'user', 'And 3+3?', null], // edited
      ['a2', 'u2', false, 'assistant', '6!', null],
      ['u2e', 'a1b', true, 'user', 'And 3+3, exactly?', null],
      ['a3', 'u2e', true, 'assistant', 'Exactly 6.', 'Adding\n3+3=6'], // thoughts and the recap above it
    ]);
    expect(a.messages.map((m) => m.createdAt)).toEqual([1700000001500, 1700000002000, 1700000003000, 1700000004000, 1700000005000, 1700000006000, 1700000009000]);
    expect(a.messages.map((m) => m.model ?? null)).toEqual([null, 'gpt-4o', 'gpt-4o', null, 'gpt-4o', null, 'o3']);

    expect(b.sourceId).toBe('conv-b'); // no conversation_id: its id
    expect(tree(b)).toEqual([
      ['u', null, true, 'user', 'What is in this picture?', null],
      ['c', 'u', true, 'assistant', '```python\nprint(1)\n```', null],
      ['a', 'c', true, 'assistant', 'It printed 1.', null], // the execution_output between them left out
      ['w', 'a', true, 'tool', 'Sunny, 20°C', null],
      ['a2', 'w', true, 'assistant', 'It is sunny.', null],
    ]);
    expect(reasons(b)).toEqual(['images and files (not in the export)', 'unknown content type "execution_output"']);

    // without current_node the last child at each level is active
    expect(tree(c)).toEqual([
      ['u', null, true, 'user', 'Hello', null],
      ['a1', 'u', false, 'assistant', 'Hi', null],
      ['a2', 'u', true, 'assistant', 'Hello!', null],
    ]);
    expect(c.updatedAt).toBe(1700200000000);
  });

  test('ids such as "__proto__" or "constructor" are ids like any other (ChatGPT mapping, Open WebUI history, Claude sender)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'conversations.json');
    const node = (id: string, parent: string | null, role: string, text: string) =>
      `"${id}": {"id": "${id}", "parent": ${parent === null ? 'null' : `"${parent}"`}, "message": {"id": "${id}", "author": {"role": "${role}"}, "content": {"content_type": "text", "parts": ["${text}"]}}}`;
    // written as text: an object literal's "__proto__" would set its prototype, not make a key
    fs.writeFileSync(file, `[{"conversation_id": "p", "current_node": "constructor", "mapping": {${[
      node('__proto__', null, 'user', 'Q'), node('constructor', '__proto__', 'assistant', 'A'),
    ].join(', ')}}}]`);
    const [t] = await threads(file);
    expect(tree(t)).toEqual([
      ['__proto__', null, true, 'user', 'Q', null],
      ['constructor', '__proto__', true, 'assistant', 'A', null],
    ]);

    fs.writeFileSync(file, `[{"id": "w", "chat": {"history": {"currentId": "toString", "messages": {
      "__proto__": {"id": "__proto__", "role": "user", "content": "Q"},
      "toString": {"id": "toString", "parentId": "__proto__", "role": "assistant", "content": "A"}}}}}]`);
    expect(tree((await threads(file))[0])).toEqual([
      ['__proto__', null, true, 'user', 'Q', null],
      ['toString', '__proto__', true, 'assistant', 'A', null],
    ]);

    const claude = JSON.parse(fs.readFileSync(path.join(FIX, 'claude/conversations.json'), 'utf8'))[0];
    claude.chat_messages[0].sender = 'constructor';
    fs.writeFileSync(file, JSON.stringify([claude]));
    expect(reasons((await threads(file))[0])).toContain('messages from "constructor" (not a chat role)');
  });

  test('the export as downloaded: conversations.json inside the zip, beside the images', async () => {
    const dir = tmpDir();
    const zip = await zipOf(dir, {
      'file-abc.png': Buffer.alloc(64, 1),
      'conversations.json': fs.readFileSync(path.join(FIX, 'chatgpt/conversations.json')),
      'user.json': '{}',
    });
    expect(await detectFormat(zip)).toBe('chatgpt');
    const fromZip = await threads(zip);
    expect(fromZip).toEqual(await threads(path.join(FIX, 'chatgpt/conversations.json')));
    expect((await openImport(zip, 'chatgpt')).source).toBe(`${zip} › conversations.json`);
  });
});

describe('Claude', () => {
  test('thinking is the reasoning, extracted attachments are quoted, the rest are notes; parent_message_uuid makes a tree', async () => {
    const [one, two] = await threads(path.join(FIX, 'claude/conversations.json'));
    expect(one.sourceId).toBe('cl-1');
    expect([one.title, one.createdAt, one.updatedAt]).toEqual(['Reading a file', Date.parse('2024-05-01T10:00:00Z'), Date.parse('2024-05-01T10:05:00Z')]);
    expect(tree(one)).toEqual([
      ['m1', null, true, 'user', 'Read this\n\n> Attached file "notes.txt" (its text, as the export kept it):\n>\n> line one\n> line two', null],
      ['m2', 'm1', true, 'assistant', 'Two lines.', 'They want a summary.'],
      ['m3', 'm2', true, 'user', 'And this?', null],
      ['m4', 'm3', true, 'assistant', 'I cannot read it.', null],
    ]);
    expect(one.messages[0].createdAt).toBe(Date.parse('2024-05-01T10:00:01Z'));
    expect(reasons(one)).toEqual(['images and files (not in the export)', 'attachments (not in the export)', 'tool calls (not imported)', 'tool results (not imported)']);

    expect(two.title).toBe('Claude conversation'); // an unnamed chat
    expect(tree(two)).toEqual([
      ['h1', null, true, 'user', 'Name a colour', null],
      ['b1', 'h1', false, 'assistant', 'Red', null],
      ['b2', 'h1', true, 'assistant', 'Blue', null], // the last message ends the active branch
    ]);
  });
});

describe('LM Studio', () => {
  test('versions are alternatives; the next message follows the selected one; a folder is read recursively', async () => {
    const dir = tmpDir();
    fs.cpSync(path.join(FIX, 'lmstudio'), dir, { recursive: true });
    const mtime = new Date(1700000500000);
    for (const f of ['1700000000000.conversation.json', 'Work/1700000100000.conversation.json']) fs.utimesSync(path.join(dir, f), mtime, mtime);
    expect(await detectFormat(dir)).toBe('lmstudio');
    const [greet, cat] = await threads(dir);
    expect({ ...greet, messages: undefined }).toEqual({
      sourceId: '1700000000000.conversation.json', title: 'Greetings', createdAt: 1700000000000, updatedAt: 1700000500000,
      model: 'qwen3-4b', messages: undefined, skipped: [],
    });
    expect(tree(greet)).toEqual([
      ['system', null, true, 'system', 'Be brief.', null],
      ['0.0', 'system', true, 'user', 'Hi', null],
      ['1.0', '0.0', false, 'assistant', 'Hello!', null],
      ['1.1', '0.0', true, 'assistant', 'Hi there.', 'The user greets me.'], // currentlySelected: 1
      ['2.0', '1.1', true, 'user', 'Bye', null],
      ['3.0', '2.0', true, 'assistant', 'Goodbye.', null],
    ]);
    expect(greet.messages.map((m) => m.model ?? null)).toEqual([null, null, 'qwen3-4b', 'qwen3-4b', null, 'qwen3-4b']);
    expect(cat.sourceId).toBe('Work/1700000100000.conversation.json');
    expect(cat.title).toBe('LM Studio conversation');
    expect(tree(cat)).toEqual([
      ['0.0', null, true, 'user', 'What is this?', null],
      ['1.0', '0.0', true, 'assistant', 'A cat.', 'An image.'], // <think> in the text
    ]);
    expect(reasons(cat)).toEqual(['images and files (not in the export)']);

    // one file alone, and a broken file in a folder is a note, not the end of the import
    const one = await threads(path.join(dir, 'Work/1700000100000.conversation.json'));
    expect(one.map(tree)).toEqual([tree(cat)]);
    fs.writeFileSync(path.join(dir, 'Work/1700000200000.conversation.json'), '{"name": "half', 'utf8');
    const all = await readAll(await openImport(dir, 'lmstudio'));
    expect(all).toHaveLength(3);
    expect((all[2] as { skipped: SkipNote }).skipped.reason).toMatch(/^an LM Studio conversation that could not be read \(Work\/1700000200000\.conversation\.json ends early: /);
    // a file without messages is no conversation (not an empty one); an empty list of them is an empty one
    fs.writeFileSync(path.join(dir, 'Work/1700000200000.conversation.json'), JSON.stringify({ name: 'No messages', createdAt: 1700000200000, notes: { messages: [] } }));
    const none = await readAll(await openImport(dir, 'lmstudio'));
    expect((none[2] as { skipped: SkipNote }).skipped.reason).toBe('an LM Studio conversation that could not be read (messages: Required)');
    fs.writeFileSync(path.join(dir, 'Work/1700000200000.conversation.json'), JSON.stringify({ name: 'Empty', createdAt: 1700000200000, messages: [] }));
    expect(((await readAll(await openImport(dir, 'lmstudio')))[2] as ImportedThread).messages).toEqual([]);

    // one name in two folders: two conversations (their ids are their paths under the folder)
    fs.mkdirSync(path.join(dir, 'Home'));
    fs.cpSync(path.join(dir, 'Work/1700000100000.conversation.json'), path.join(dir, 'Home/1700000100000.conversation.json'));
    fs.rmSync(path.join(dir, 'Work/1700000200000.conversation.json'));
    const ids = (await readAll(await openImport(dir, 'lmstudio'))).map((t) => (t as ImportedThread).sourceId);
    expect(ids).toEqual(['1700000000000.conversation.json', 'Home/1700000100000.conversation.json', 'Work/1700000100000.conversation.json']);
  });
});

describe('Open WebUI', () => {
  test('the tree from parentId, active from history.currentId, reasoning out of its <details> block', async () => {
    const [t] = await threads(path.join(FIX, 'openwebui/chat-export.json'));
    expect({ ...t, messages: undefined }).toEqual({
      sourceId: 'ow-1', title: 'Jokes', createdAt: 1710000000000, updatedAt: 1710000010000, model: 'llama3:8b', messages: undefined, skipped: [],
    });
    expect(tree(t)).toEqual([
      ['u1', null, true, 'user', 'Tell me a joke', null],
      ['a1', 'u1', false, 'assistant', 'Why did the chicken...', null],
      ['a2', 'u1', true, 'assistant', 'Knock knock.', null],
      ['u2', 'a2', true, 'user', 'Who is there?', null],
      ['a3', 'u2', true, 'assistant', 'Lettuce.', 'It is a knock-knock joke.\nAnswer with a name.'],
    ]);
    expect(t.messages.map((m) => m.createdAt)).toEqual([1710000001000, 1710000002000, 1710000003000, 1710000004000, 1710000005000]);
    expect(t.messages[4].model).toBe('qwen3:4b');
  });
});

describe('detection', () => {
  test('all six formats, and --from insisting', async () => {
    const dir = tmpDir();
    const s = openStore();
    const th = s.threads.create({ title: 'Mine' });
    s.messages.add({ threadId: th.id, role: 'user', content: 'hello' });
    const hearthFile = path.join(dir, 'mine.json');
    fs.writeFileSync(hearthFile, JSON.stringify(s.exportThreadJson(th.id), null, 2));

    const cases: [string, string][] = [
      [path.join(FIX, 'chatgpt/conversations.json'), 'chatgpt'],
      [path.join(FIX, 'claude/conversations.json'), 'claude'],
      [path.join(FIX, 'openwebui/chat-export.json'), 'openwebui'],
      [path.join(FIX, 'lmstudio'), 'lmstudio'],
      [path.join(FIX, 'lmstudio/1700000000000.conversation.json'), 'lmstudio'],
      [path.join(FIX, 'jan'), 'jan'],
      [path.join(FIX, 'jan/threads/jan_1700000000'), 'jan'],
      [hearthFile, 'hearth'],
    ];
    for (const [p, f] of cases) expect([p, await detectFormat(p)]).toEqual([p, f]);
    // the import's routing takes the same folders for Jan (one test of a Jan folder, the store's)
    for (const [p, f] of cases) if (fs.statSync(p).isDirectory()) expect([p, await ownFormat(p, "auto")]).toEqual([p, f === 'jan' ? 'jan' : null]);
    const ownDir = tmpDir();
    fs.writeFileSync(path.join(ownDir, 'threads'), 'a file, not the threads folder');
    fs.cpSync(path.join(FIX, 'jan/threads/jan_1700000000'), path.join(ownDir, 'jan_1700000000'), { recursive: true });
    // a `threads` that is no folder is not where the threads are: the <id>/thread.json beside it are (both agree)
    expect([await detectFormat(ownDir).catch((e: Error) => e.message), await ownFormat(ownDir, 'auto')]).toEqual(['jan', 'jan']);
    fs.rmSync(path.join(ownDir, 'jan_1700000000'), { recursive: true });
    expect([await detectFormat(ownDir).catch((e: Error) => e.message), await ownFormat(ownDir, 'auto')]).toEqual([expect.stringMatching(/not a format Hearth imports/), null]);
    expect(['system', 'user', 'assistant', 'tool', 'developer', 'constructor'].filter(isImportedRole)).toEqual(['system', 'user', 'assistant', 'tool']);
    // what is detected as Hearth and Jan is what the store's importers take
    expect((await s.importJan(path.join(FIX, 'jan'))).messages).toBe(1);
    expect(openStore().importJsonFile(hearthFile).threadIds).toHaveLength(1);

    await expectImportError(openImport(path.join(FIX, 'claude/conversations.json'), 'chatgpt'),
      /conversations\.json looks like Claude data export, not ChatGPT data export/);
    await expectImportError(openImport(hearthFile, 'auto'), /Hearth JSON is not a streamed format/);
    await expectImportError(openImport(path.join(FIX, 'jan'), 'jan'), /Jan threads is not a streamed format/);

    const odd = path.join(dir, 'odd.json');
    fs.writeFileSync(odd, '[{"foo": 1}, {"bar": 2}]');
    await expectImportError(detectFormat(odd), /odd\.json is not a format Hearth imports \(JSON of an unknown shape\); it takes: Hearth JSON, Jan threads, LM Studio conversations, Open WebUI chats, ChatGPT data export, Claude data export/);
    fs.writeFileSync(odd, '[]');
    await expectImportError(detectFormat(odd), /holds no conversations/);
    await expectImportError(detectFormat(dir), /is not a format Hearth imports \(a folder with no Jan thread\.json and no LM Studio/);
    const otherZip = await zipOf(dir, { 'readme.txt': 'hi' });
    await expectImportError(detectFormat(otherZip), /a zip without conversations\.json/);
  });

  test('a first conversation past the bounds (nested too deeply, or larger than one conversation) is passed over: the format is told by the next, and the import reads the rest with a note', async () => {
    const dir = tmpDir();
    const deep = `${'['.repeat(80)}${']'.repeat(80)}`;
    for (const [fixture, format, mark] of [
      ['chatgpt/conversations.json', 'chatgpt', `{"mapping": ${deep}}`],
      ['claude/conversations.json', 'claude', `{"chat_messages": ${deep}}`],
      ['openwebui/chat-export.json', 'openwebui', `{"chat": {"history": ${deep}}}`],
    ] as const) {
      const text = fs.readFileSync(path.join(FIX, fixture), 'utf8');
      const file = path.join(dir, `${format}.json`);
      fs.writeFileSync(file, text.replace('[', `[${mark},`));
      expect([format, await detectFormat(file)]).toEqual([format, format]);
      const all = await readAll(await openImport(file, format));
      expect(all[0]).toEqual({ skipped: { reason: 'conversations nested deeper than 64 levels (too deeply nested to import)' } });
      expect(all.slice(1)).toEqual(await threads(path.join(FIX, fixture)));
    }
    // one larger than a conversation may be (32 MiB), first: the same
    const text = fs.readFileSync(path.join(FIX, 'chatgpt/conversations.json'), 'utf8');
    const file = path.join(dir, 'large.json');
    fs.writeFileSync(file, text.replace('[', `[{"mapping": {}, "title": "${'x'.repeat(LIMITS.conversationBytes)}"},`));
    expect(await detectFormat(file)).toBe('chatgpt');
    expect((await readAll(await openImport(file, 'auto')))[0]).toEqual({ skipped: { reason: `conversations larger than ${LIMITS.conversationBytes} bytes (too large to import)` } });
    // every conversation past them: nothing tells the format; nor does one after 17 past them (detection
    // reads no file of them to its end), while one after 16 still does
    fs.writeFileSync(file, `[{"mapping": ${deep}}, {"mapping": ${deep}}]`);
    await expectImportError(detectFormat(file), /large\.json is not a format Hearth imports \(JSON of an unknown shape\)/);
    const after = (n: number) => `[${Array(n).fill(`{"mapping": ${deep}}`).join(',')}, {"mapping": {}}]`;
    fs.writeFileSync(file, after(17));
    await expectImportError(detectFormat(file), /JSON of an unknown shape/);
    fs.writeFileSync(file, after(16));
    expect(await detectFormat(file)).toBe('chatgpt');
  }, 60_000);
});

describe('streaming and its errors', () => {
  test('a truncated export is an error naming the file, after the conversations before the cut', async () => {
    const dir = tmpDir();
    const text = fs.readFileSync(path.join(FIX, 'chatgpt/conversations.json'), 'utf8');
    const cut = path.join(dir, 'conversations.json');
    fs.writeFileSync(cut, text.slice(0, text.indexOf('"title": "No current node"')));
    const reader = await openImport(cut, 'chatgpt');
    const seen: string[] = [];
    await expectImportError((async () => { for await (const t of reader.conversations()) seen.push((t as ImportedThread).sourceId); })(),
      new RegExp(`${cut.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} ends early: the file is truncated`));
    expect(seen).toEqual(['conv-a', 'conv-b']);

    fs.writeFileSync(cut, '[{"mapping": {}} oops]');
    await expectImportError((async () => { for await (const v of streamJsonArray(fs.createReadStream(cut), cut)) void v; })(), /conversations\.json is not valid JSON/);
    fs.writeFileSync(cut, '{"mapping": {}}');
    await expectImportError((async () => { for await (const v of streamJsonArray(fs.createReadStream(cut), cut)) void v; })(), /conversations\.json is not a JSON array/);
    fs.writeFileSync(cut, '\uFEFF [1, 2]');
    const values: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(cut), cut)) values.push(v);
    expect(values).toEqual([{ value: 1 }, { value: 2 }]);
    await expectImportError((async () => { for await (const v of streamJsonArray(fs.createReadStream(cut), cut, { maxBytes: 4 })) void v; })(), /larger than an import takes \(4 bytes\)/);
  });

  test('a conversation that does not fit the shape is a note; the abort signal stops the reading', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'conversations.json');
    const good = JSON.parse(fs.readFileSync(path.join(FIX, 'chatgpt/conversations.json'), 'utf8'))[2];
    fs.writeFileSync(file, JSON.stringify([good, { ...good, mapping: 'no' }, good]));
    const all = await readAll(await openImport(file, 'chatgpt'));
    expect(all.map((t) => ('sourceId' in t ? t.sourceId : t.skipped.reason))).toEqual(['conv-c', 'a ChatGPT conversation that could not be read (mapping: Expected object, received string)', 'conv-c']);

    const ac = new AbortController();
    const reader = await openImport(file, 'chatgpt');
    const seen: unknown[] = [];
    await expectImportError((async () => { for await (const t of reader.conversations(ac.signal)) { seen.push(t); ac.abort(); } })(), /was cancelled/);
    expect(seen).toHaveLength(1);
  });

  test('zip bombs and other bad zips are refused with clear errors', async () => {
    const dir = tmpDir();
    const big = Buffer.concat([Buffer.from('['), Buffer.alloc(2 * 1024 * 1024, 0x20), Buffer.from(']')]);
    const limits = { maxBytes: 1024 * 1024, maxEntries: 10 };
    const read = (zip: string, l = limits) => (async () => { for await (const v of readConversations(zipEntrySource(zip, 'conversations.json', l), (v) => v)) void v; })();

    // declared larger than the cap
    const bomb = await zipOf(dir, { 'conversations.json': big });
    expect(fs.statSync(bomb).size).toBeLessThan(64 * 1024);
    await expectImportError(read(bomb), /conversations\.json inflates to 2097154 bytes, more than an import takes \(1048576; refused as a zip bomb\)/);
    await expectImportError(openImport(bomb, 'auto', limits), /refused as a zip bomb/);
    // declared small, inflating large: stopped while inflating
    patchCentral(bomb, (buf, at) => buf.writeUInt32LE(100, at + 24));
    await expectImportError(read(bomb), /conversations\.json inflates to more than its header says \(refused as a zip bomb: too many bytes in the stream/);
    // and the count of inflated bytes, whatever yauzl checks
    const capped = Readable.from([Buffer.alloc(600 * 1024), Buffer.alloc(600 * 1024)]).pipe(byteCap(1024 * 1024, 'x.zip › conversations.json'));
    await expectImportError((async () => { for await (const c of capped) void c; })(), /^x\.zip › conversations\.json inflates to more than 1048576 bytes \(refused as a zip bomb\)$/);
    // the same within the cap reads
    const fine = await zipOf(dir, { 'conversations.json': big });
    await read(fine, { maxBytes: 4 * 1024 * 1024, maxEntries: 10 });

    const encrypted = await zipOf(dir, { 'conversations.json': '[]' });
    patchCentral(encrypted, (buf, at) => buf.writeUInt16LE(buf.readUInt16LE(at + 8) | 1, at + 8));
    await expectImportError(read(encrypted), /is encrypted \(password-protected zips are not taken\)/);

    const many: Record<string, string> = {};
    for (let i = 0; i < 12; i++) many[`img-${i}.png`] = 'x';
    many['conversations.json'] = '[]';
    await expectImportError(read(await zipOf(dir, many)), /has more than 10 entries/);

    const notZip = path.join(dir, 'fake.zip');
    fs.writeFileSync(notZip, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(10)]));
    await expectImportError(detectFormat(notZip), /fake\.zip is not a readable zip/);
  });

  test('a conversation nested past the cap is passed over with a note; past what any JSON writer makes the file is refused, quickly and in bounded memory (a file, a zip, detection); so is one huge element', async () => {
    const dir = tmpDir();
    const deep = Buffer.alloc(3 * 1024 * 1024, '[');
    const file = path.join(dir, 'conversations.json');
    fs.writeFileSync(file, deep);
    // its first element passes the cap (64) and is passed over, its brackets matched: up to SKIP_MAX_DEPTH
    const DEEP = new RegExp(`conversations\\.json nests arrays and objects deeper than ${SKIP_MAX_DEPTH} levels`);

    // the heap, sampled as the parser reads: without the guard it grows ~140 bytes a level (hundreds of MB here)
    const base = process.memoryUsage().heapUsed;
    let peak = 0;
    async function* sampled() {
      for await (const c of fs.createReadStream(file, { highWaterMark: 64 * 1024 })) {
        peak = Math.max(peak, process.memoryUsage().heapUsed - base);
        yield c as Buffer;
      }
    }
    const started = Date.now();
    await expectImportError((async () => { for await (const v of streamJsonArray(Readable.from(sampled()), file)) void v; })(), DEEP);
    expect(peak).toBeLessThan(50 * 1024 * 1024);
    await expectImportError(detectFormat(file), DEEP);
    await expectImportError(openImport(file, 'auto'), DEEP);

    // 100 MB of `[` in a zip of ~100 KB (within a raised zip cap: the nesting is what stops it)
    const zip = await zipOf(dir, { 'conversations.json': Buffer.alloc(100 * 1024 * 1024, '[') });
    expect(fs.statSync(zip).size).toBeLessThan(200 * 1024);
    const zipLimits = { maxBytes: 200 * 1024 * 1024, maxEntries: 10 };
    await expectImportError(openImport(zip, 'auto', zipLimits), new RegExp(`› conversations\\.json nests arrays and objects deeper than ${SKIP_MAX_DEPTH} levels`));
    await expectImportError((async () => { for await (const v of readConversations(zipEntrySource(zip, 'conversations.json', zipLimits), (v) => v)) void v; })(), new RegExp(`deeper than ${SKIP_MAX_DEPTH} levels`));
    expect(Date.now() - started).toBeLessThan(10_000);

    // nesting at the cap reads; brackets inside strings (and escaped quotes) are not nesting
    const at = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const tricky = '[[[[\\"[[[[ \\'; // a backslash, a quote, a backslash at the end: all escaped in the file
    fs.writeFileSync(file, `[${at(63)}, ${JSON.stringify(tricky)}, {"a": "}}]]"}]`);
    const values: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file), file, { limits: { maxDepth: 64 } })) values.push('value' in v ? v.value : v);
    expect(values).toHaveLength(3);
    expect(values[1]).toBe(tricky);
    // one past the cap: that conversation is left out with a note, the others read; the refusal without skipTooLarge
    fs.writeFileSync(file, `[{"a": 1}, {"b": ${at(64)}}, {"c": [2]}]`);
    const past: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file), file)) past.push(v);
    expect(past).toEqual([{ value: { a: 1 } }, { skipped: { reason: 'conversations nested deeper than 64 levels (too deeply nested to import)' } }, { value: { c: [2] } }]);
    await expectImportError((async () => {
      for await (const v of streamJsonValues(fs.createReadStream(file), file, ['$.*'], '[')) void v;
    })(), /conversations\.json nests arrays and objects deeper than 64 levels/);

    // one element larger than the cap is passed over before the parser holds it, with a note in its place;
    // the others, before and after it, read; without skipTooLarge it refuses the file
    const big = 'x'.repeat(5000);
    fs.writeFileSync(file, `[{"a": 1}, "${big}", {"b": [2, "]"]}]`);
    const TOO_LARGE = { skipped: { reason: 'conversations larger than 4096 bytes (too large to import)' } };
    const seen: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file, { highWaterMark: 1024 }), file, { limits: { maxElementBytes: 4096 } })) seen.push(v);
    expect(seen).toEqual([{ value: { a: 1 } }, TOO_LARGE, { value: { b: [2, ']'] } }]);
    await expectImportError((async () => {
      for await (const v of streamJsonValues(fs.createReadStream(file, { highWaterMark: 1024 }), file, ['$.*'], '[', { limits: { maxElementBytes: 4096 } })) void v;
    })(), /conversations\.json holds one conversation larger than 4096 bytes/);

    // whitespace outside strings is not an element's bytes (the parser keeps none of it): a conversation
    // of 4,000 bytes indented to over 4,096 is read, and padding between elements or before the end is no
    // conversation (a note for it would count one that is not there); the same bytes in a string still count
    const nested = { m: Array.from({ length: 40 }, (_, i) => ({ i, s: 'w'.repeat(60) })) };
    const indented = JSON.stringify(nested, null, 8);
    expect(Buffer.byteLength(JSON.stringify(nested))).toBeLessThan(4096);
    expect(Buffer.byteLength(indented)).toBeGreaterThan(4096 + 1024);
    const pad = ' \n\t\r'.repeat(3000);
    fs.writeFileSync(file, `[${pad}${indented},${pad}{"a": 1}${pad}]`);
    const spaced: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file, { highWaterMark: 1024 }), file, { limits: { maxElementBytes: 4096 } })) spaced.push(v);
    expect(spaced).toEqual([{ value: nested }, { value: { a: 1 } }]);
    fs.writeFileSync(file, `[{"a": 1}, "${' '.repeat(pad.length)}"]`);
    const inString: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file, { highWaterMark: 1024 }), file, { limits: { maxElementBytes: 4096 } })) inString.push(v);
    expect(inString).toEqual([{ value: { a: 1 } }, TOO_LARGE]);
  }, 60_000);

  test('elements past the bounds are passed over wherever they start and end in the chunks: the others read as JSON.parse reads them', async () => {
    const file = path.join(tmpDir(), 'conversations.json');
    const big = (n: number) => ({ t: 'y'.repeat(n), q: '\\"],[{' });
    const many = Array.from({ length: 3000 }, (_, i) => i);
    // first, in a row, last, nested, a string alone, one of many values; small ones between
    const items: unknown[] = [big(5000), { a: 1 }, [big(3000), big(3000)], big(4500), 'z'.repeat(6000), { n: 1, s: '],"[' }, many, { c: [1, { d: '}' }] }, big(9000)];
    fs.writeFileSync(file, JSON.stringify(items, null, 1));
    const limits = { maxElementBytes: 4096, maxElementValues: 2000 };
    const small = (v: unknown) => Buffer.byteLength(JSON.stringify(v, null, 1)) <= 4000 && v !== many;
    const expected = items.map((v) => (small(v) ? { value: v } : { skipped: expect.objectContaining({ reason: expect.stringMatching(/too large to import/) }) }));
    for (const highWaterMark of [1, 7, 1000, 64 * 1024]) {
      const seen: unknown[] = [];
      for await (const v of streamJsonArray(fs.createReadStream(file, { highWaterMark }), file, { limits })) seen.push(v);
      expect([highWaterMark, seen]).toEqual([highWaterMark, expected]);
    }
    const seen: unknown[] = [];
    for await (const v of streamJsonArray(fs.createReadStream(file), file, { limits })) seen.push(v);
    expect(seen[6]).toEqual({ skipped: { reason: 'conversations of more than 2000 values (too large to import)' } });
    // a file that ends inside a skipped element is truncated, not a list that ended
    const read = async (text: string) => {
      fs.writeFileSync(file, text);
      const out: unknown[] = [];
      for await (const v of streamJsonArray(fs.createReadStream(file, { highWaterMark: 7 }), file, { limits })) out.push(v);
      return out;
    };
    await expectImportError(read(`[{"a": 1}, "${'x'.repeat(5000)}`), /ends early: the file is truncated/);
    // a skipped element's brackets are matched (a string's are not brackets); a mismatch is not JSON
    const pad = 'x'.repeat(5000);
    await expectImportError(read(`[{"a": "${pad}"], {"b": 1}]`), /conversations\.json is not valid JSON: \] closes what it did not open/);
    await expectImportError(read(`[["${pad}"}, 1]`), /is not valid JSON: \} closes what it did not open/);
    await expectImportError(read(`[{"a": [{"b": "${pad}"}]}}, 1]`), /is not valid JSON: an array closed with \}/);
    expect(await read(`[{"a": [{"b": "${pad}]}"}]}, 1]`)).toEqual([{ skipped: expect.anything() }, { value: 1 }]);
    // an error after a skip says so (its position is the new parser's)
    await expectImportError(read(`["${pad}", 1, x]`), /is not valid JSON after the conversation passed over \(element 1\): /);
  }, 60_000);

  test('a Hearth-shaped object: a second member of the same name after a skip counts its own elements', async () => {
    const file = path.join(tmpDir(), 'twice.json');
    const big = 'x'.repeat(5000);
    fs.writeFileSync(file, `{"threads": [{"n": "A"}, {"n": "${big}"}, {"n": "C"}], "other": [1], "threads": [{"n": "D"}, {"n": "E"}]}`);
    for (const highWaterMark of [7, 64 * 1024]) {
      const seen: unknown[] = [];
      const values = streamJsonValues(fs.createReadStream(file, { highWaterMark }), file, ['$.threads.*', '$.other.*'], '{', { elementDepth: 2, limits: { maxElementBytes: 4096 }, skipTooLarge: new Set(['threads']) });
      for await (const { path: p, value, tooLarge } of values) seen.push([p, tooLarge ? 'skipped' : value]);
      expect(seen).toEqual([
        [['threads', 0], { n: 'A' }], [['threads', 1], 'skipped'], [['threads', 2], { n: 'C' }], [['other', 0], 1], [['threads', 0], { n: 'D' }], [['threads', 1], { n: 'E' }],
      ]);
    }
  });

  test('a 20k-conversation export streams whole in bounded memory', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'conversations.json');
    const N = 20_000;
    const pad = 'x'.repeat(4000);
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, '[');
    for (let i = 0; i < N; i++) {
      const conv = {
        title: `c${i}`, create_time: 1700000000 + i, update_time: 1700000000 + i, conversation_id: `id-${i}`, current_node: 'a',
        mapping: {
          r: { id: 'r', message: null, parent: null, children: ['u'] },
          u: { id: 'u', parent: 'r', children: ['a'], message: { id: 'u', author: { role: 'user' }, content: { content_type: 'text', parts: [`q${i} ${pad}`] }, create_time: 1700000000 + i } },
          a: { id: 'a', parent: 'u', children: [], message: { id: 'a', author: { role: 'assistant' }, content: { content_type: 'text', parts: [`a${i}`] }, create_time: 1700000001 + i } },
        },
      };
      fs.writeSync(fd, (i ? ',' : '') + JSON.stringify(conv));
    }
    fs.writeSync(fd, ']');
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(80 * 1024 * 1024);

    const base = liveHeap();
    let peak = 0;
    let count = 0;
    let last = '';
    for await (const t of (await openImport(file, 'auto')).conversations()) {
      const th = t as ImportedThread;
      if (th.messages.length !== 2 || th.sourceId !== `id-${count}`) throw new Error(`conversation ${count} read wrong`);
      last = th.messages[1].content;
      if (++count % 500 === 0) peak = Math.max(peak, liveHeap() - base);
    }
    expect(count).toBe(N);
    expect(last).toBe(`a${N - 1}`);
    expect(peak).toBeLessThan(50 * 1024 * 1024); // the file is ~90 MB: reading it whole would pass this
  }, 60_000);
});

describe('scale', () => {
  test('a long chain of left-out nodes above many answers is walked once (not once per answer); a huge conversation is a note', () => {
    const N = 20_000;
    const msg = (id: string, role: string, text: string, type = 'text') => ({
      id, author: { role }, content: type === 'thoughts' ? { content_type: 'thoughts', thoughts: [{ summary: 'S', content: text }] } : { content_type: type, parts: [text] },
    });
    const mapping: Record<string, unknown> = {
      u: { id: 'u', parent: null, message: msg('u', 'user', 'Q') },
      t: { id: 't', parent: 'u', message: msg('t', 'assistant', 'thinking', 'thoughts') },
    };
    for (let i = 0; i < N; i++) mapping[`d${i}`] = { id: `d${i}`, parent: i ? `d${i - 1}` : 't', message: null };
    for (let i = 0; i < N; i++) mapping[`a${i}`] = { id: `a${i}`, parent: `d${N - 1}`, message: msg(`a${i}`, 'assistant', `A${i}`) };
    const started = Date.now();
    const t = readChatgptConversation({ title: 'Deep', conversation_id: 'deep', current_node: `a${N - 1}`, mapping }, 0) as ImportedThread;
    expect(Date.now() - started).toBeLessThan(10_000); // ~80 s when each answer walked the chain
    expect(t.messages).toHaveLength(N + 1);
    expect(t.messages[0]).toMatchObject({ key: 'u', parentKey: null, active: true });
    expect(t.messages.slice(1).every((m) => m.parentKey === 'u' && m.reasoning === 'S\nthinking')).toBe(true);
    expect(t.messages.filter((m) => m.active).map((m) => m.key)).toEqual(['u', `a${N - 1}`]);
    expect(t.skipped).toEqual([]);

    expect(MAX_NODES).toBe(100_000);
    expect(readChatgptConversation({ title: 'Deep', conversation_id: 'deep', mapping }, 0, 2 * N + 1)).toEqual({ skipped: { reason: `conversations of more than ${2 * N + 1} messages (too large to import)` } });
    expect('sourceId' in readChatgptConversation({ title: 'Deep', conversation_id: 'deep', mapping }, 0, 2 * N + 2)).toBe(true);
  }, 60_000);
});
