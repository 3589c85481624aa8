/**
 * Documents through the real parts: composeApp over a real store (sqlite-vec loaded), the real engine
 * host with the tiny chat model and a tiny embedding model (generated, random weights: its vectors
 * carry no meaning, so what these tests assert of the ranking is decided by the keywords; the fusion's
 * mechanics with fixed vectors are test/docs/fuse.test.ts), extraction in the real worker thread
 * (dist/docs-extract-worker.js). The engine's chat requests are recorded where main's requests reach
 * the engine client, to read the prompt a turn sent.
 */
import { longDoc, until } from '../helpers/docs';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import type { DocsStatusDTO, DocumentDTO, EventOf, MessageDTO } from '../../main/ipc/contract';
import type { EngineClient } from '../../main/engine/client';
import { asData, MAX_THREAD_DOCS, withoutDataMarks } from '../../main/params';
import type { ChatMessage } from '../../main/engine/protocol';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';
import { makeEngine, tempDir } from '../helpers/engine';
import { copyModel, TINY_BERT, TINY_EMBED, TINY_RERANK, TINY_SPM } from '../helpers/models';

jest.setTimeout(180_000);

let chat: ChatApp;
let embedPath: string;
/** the messages of every chat request the engine was sent, and whether their data marks were to be read */
const sent: ChatMessage[][] = [];
const dataMarks: (boolean | undefined)[] = [];

function recording(engine: EngineClient): EngineClient {
  const chatFn = engine.chat.bind(engine);
  engine.chat = ((id, req, opts) => {
    sent.push(req.messages);
    dataMarks.push(req.dataMarks);
    return chatFn(id, req, opts);
  }) as EngineClient['chat'];
  return engine;
}

const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');


/** Changes some documents settings (settings.update takes the documents settings whole). */
async function setDocs(patch: Record<string, unknown>): Promise<void> {
  const s = await call('settings.get');
  await call('settings.update', { documents: { ...s.documents, ...patch } });
}

async function storeDoc(name: string, content: string | Buffer) {
  return call<{ attachment: any; document: DocumentDTO }>('docs.store', { name, data: b64(content) });
}

async function sendAndWait(threadId: string, content: string, documents?: unknown[]): Promise<MessageDTO> {
  const done = nextDone(chat.app, threadId);
  await call('chat.send', { threadId, content, ...(documents ? { documents } : {}) });
  return done;
}

beforeAll(async () => {
  chat = chatApp({
    model: TINY_SPM,
    engine: recording(makeEngine()),
    prepare: (paths) => {
      embedPath = path.join(paths.models, 'embed.gguf');
      copyModel(TINY_EMBED, embedPath);
      copyModel(TINY_BERT, path.join(paths.models, 'embed-bert.gguf'));
      copyModel(TINY_RERANK, path.join(paths.models, 'rerank.gguf'));
    },
    chatDefaults: { maxTokens: 4, temperature: 0 },
  });
  await call('models.settings.update', { path: chat.modelPath, settings: { contextSize: 2048 } });
  await call('models.load', { path: chat.modelPath });
  await call('settings.update', { documents: { embeddingModel: embedPath, chunkTokens: 128, chunkOverlapTokens: 16, topK: 12 } });
});

afterAll(() => chat?.close());

test('a long document is indexed (chunks, vectors), its best passages are the reply\'s sources, cited in the prompt, and the next turn reuses the prefix', async () => {
  const { attachment, document } = await storeDoc('notes.md', longDoc(12, 'zanzibar quokka', 7));
  expect(attachment).toMatchObject({ type: 'document', name: 'notes.md', mimeType: 'text/markdown' });
  expect(['queued', 'extracting', 'embedding', 'ready']).toContain(document.state);
  const t = await call('threads.create', {});
  const first = await sendAndWait(t.id, 'Where does the zanzibar quokka live?', [attachment]);
  expect(first.status).toBe('done');
  const docs = await call<DocumentDTO[]>('docs.list', { threadId: t.id });
  expect(docs).toHaveLength(1);
  expect(docs[0]).toMatchObject({ state: 'ready', embedded: true, removed: false, kind: 'markdown' });
  expect(docs[0].chunks).toBeGreaterThan(5);
  expect(docs[0].chunks).toBeLessThanOrEqual(48);
  // whole it would not fit half of a 2,048-token context: passages were retrieved
  expect(docs[0].tokens).toBeGreaterThan(1024);
  const sources = first.sources!;
  expect(sources.length).toBeGreaterThan(0);
  expect(sources[0]).toMatchObject({ n: 1, name: 'notes.md', mode: 'retrieved', heading: 'Section 8' });
  expect(sources[0].text).toContain('zanzibar quokka');
  // the keywords found it first; the vectors ranked it too (topK 12: 48 candidates a list, more than the document's chunks)
  expect(sources[0].score).toMatchObject({ keywordRank: 1 });
  expect(sources[0].score!.vectorRank).not.toBeNull();
  expect(typeof sources[0].score!.distance).toBe('number');
  // the prompt held the sources, numbered and labelled, before the question
  const prompt = sent[sent.length - 1];
  const user = prompt.filter((m) => m.role === 'user').pop()!;
  expect(typeof user.content).toBe('string');
  expect(withoutDataMarks(user.content as string)).toMatch(/\[1\] notes\.md, "Section 8"\n[^]*zanzibar quokka[^]*\n---\n\nWhere does the zanzibar quokka live\?$/);
  // the passage and its label are data: special-token text in them stays text (test/engine/data-text.test.ts)
  expect(user.content).toContain(`[1] ${asData('notes.md, "Section 8"')}\n${asData(sources[0].text.trim())}`);
  expect(dataMarks[dataMarks.length - 1]).toBe(true);
  // a passage opens with the chunks around it
  const passage = await call('docs.passage', { chunkId: sources[0].chunkId });
  expect(passage).toMatchObject({ name: 'notes.md', heading: 'Section 8', text: sources[0].text });
  expect(passage.before.length + passage.after.length).toBeGreaterThan(0);
  // the next turn: the first turn's prompt (with its sources) is the cached prefix
  const second = await sendAndWait(t.id, 'And the river?');
  expect(second.sources?.length).toBeGreaterThan(0);
  expect(second.metrics!.cachedTokens).toBeGreaterThanOrEqual(first.metrics!.promptTokens);
  const again = sent[sent.length - 1].filter((m) => m.role === 'user');
  expect(again[0].content).toBe(user.content);
});

test('a document that fits the context goes whole; one message may be a document alone', async () => {
  const text = '# Recipe\n\nMix the flour with water.\n\nBake for twenty minutes.\n';
  const { attachment } = await storeDoc('recipe.md', text);
  const t = await call('threads.create', {});
  const reply = await sendAndWait(t.id, '', [attachment]);
  expect(reply.status).toBe('done');
  expect(reply.sources).toHaveLength(1);
  expect(reply.sources![0]).toMatchObject({ n: 1, mode: 'whole', chunkId: null, name: 'recipe.md', score: null });
  expect(reply.sources![0].text).toContain('Mix the flour with water.');
  expect(reply.sources![0].text).toContain('Bake for twenty minutes.');
});

test('chat.edit keeps a message\'s documents when it gives none, replaces them with those it gives, and [] drops them; the thread keeps every document it was given until removed', async () => {
  const alpha = await storeDoc('alpha.txt', 'Alpha is the first letter.\n');
  const beta = await storeDoc('beta.txt', 'Beta is the second letter.\n');
  const t = await call('threads.create', {});
  const first = await sendAndWait(t.id, 'letters?', [alpha.attachment]);
  const edit = async (messageId: string, content: string, documents?: unknown[]) => {
    const done = nextDone(chat.app, t.id);
    const r = await call<{ userMessage: MessageDTO }>('chat.edit', { threadId: t.id, messageId, content, ...(documents ? { documents } : {}) });
    const reply = await done;
    return { user: r.userMessage, names: r.userMessage.attachments.map((a) => a.name), sources: reply.sources?.map((s) => s.name) ?? null };
  };
  const kept = await edit(first.parentId!, 'which letters?');
  expect([kept.names, kept.sources]).toEqual([['alpha.txt'], ['alpha.txt']]);
  const replaced = await edit(kept.user.id, 'which letters now?', [beta.attachment]);
  expect(replaced.names).toEqual(['beta.txt']);
  // the turn is given the thread's documents: the one the edit brought, and the one given before (docs.remove takes a document out)
  expect(replaced.sources?.sort()).toEqual(['alpha.txt', 'beta.txt']);
  const dropped = await edit(replaced.user.id, 'no letters', []);
  expect(dropped.names).toEqual([]);
  expect((await call<DocumentDTO[]>('docs.list', { threadId: t.id })).map((d) => d.name).sort()).toEqual(['alpha.txt', 'beta.txt']);
  // a document the thread took out stays out when an edit keeps it (here sent whole with one it adds);
  // only an edit that brings it (the message did not have it) links it again
  const gamma = await storeDoc('gamma.txt', 'Gamma is the third letter.\n');
  const both = await edit(dropped.user.id, 'two letters', [alpha.attachment, beta.attachment]);
  await call('docs.remove', { threadId: t.id, ref: alpha.attachment.ref });
  const listed = async () => Object.fromEntries((await call<DocumentDTO[]>('docs.list', { threadId: t.id })).map((d) => [d.name, d.removed]));
  const added = await edit(both.user.id, 'three letters', [alpha.attachment, beta.attachment, gamma.attachment]);
  expect(await listed()).toEqual({ 'alpha.txt': true, 'beta.txt': false, 'gamma.txt': false });
  expect(added.sources?.sort()).toEqual(['beta.txt', 'gamma.txt']);
  const without = await edit(added.user.id, 'gamma only', [gamma.attachment]);
  await edit(without.user.id, 'alpha again', [alpha.attachment, gamma.attachment]);
  expect(await listed()).toEqual({ 'alpha.txt': false, 'beta.txt': false, 'gamma.txt': false });
});

test('a removed document is no longer given; a scanned-like file says it has no text; bad input is refused clearly', async () => {
  const { attachment } = await storeDoc('fruit.txt', 'Apples are red.\n\nBananas are yellow.\n');
  const t = await call('threads.create', {});
  const one = await sendAndWait(t.id, 'apples?', [attachment]);
  expect(one.sources?.length).toBe(1);
  await call('docs.remove', { threadId: t.id, ref: attachment.ref });
  const listed = await call<DocumentDTO[]>('docs.list', { threadId: t.id });
  expect(listed[0].removed).toBe(true);
  const two = await sendAndWait(t.id, 'apples again?');
  expect(two.sources).toBeNull();
  // a file with no text: empty, with a note; a file of no kind Hearth reads: failed, saying which kinds it reads
  const blank = await storeDoc('blank.txt', '\n\n   \n');
  const binary = await storeDoc('photo.bin', Buffer.from([0, 1, 2, 3, 0, 0, 255, 0x89]));
  const t2 = await call('threads.create', {});
  await sendAndWait(t2.id, 'what is in them?', [blank.attachment, binary.attachment]);
  const [blankDoc, binaryDoc] = await call<DocumentDTO[]>('docs.list', { threadId: t2.id });
  expect(blankDoc).toMatchObject({ name: 'blank.txt', state: 'empty' });
  expect(blankDoc.note).toMatch(/no text/);
  expect(binaryDoc).toMatchObject({ name: 'photo.bin', state: 'failed' });
  expect(binaryDoc.error).toMatch(/PDF/);
  // a document that is not stored
  await expect(call('chat.send', { threadId: t2.id, content: 'x', documents: [{ ...attachment, ref: 'f'.repeat(64) }] })).rejects.toMatchObject({ code: 'not_found' });
});

test('a reranker reorders the fused passages by its scores; one that is not a reranker is said so and the fused order kept', async () => {
  const { attachment } = await storeDoc('rerank.md', longDoc(12, 'okapi', 4));
  const t = await call('threads.create', {});
  await setDocs({ rerankModel: path.join(chat.paths.models, 'rerank.gguf') });
  try {
    const reply = await sendAndWait(t.id, 'okapi river stone', [attachment]);
    const scores = reply.sources!.map((x) => x.score!.rerank);
    expect(scores.length).toBeGreaterThan(1);
    expect(scores.every((x) => typeof x === 'number')).toBe(true);
    expect([...scores].sort((x, y) => y! - x!)).toEqual(scores);
    // an embedding model named as the reranker: the turn goes on in the fused order
    await setDocs({ rerankModel: embedPath });
    const again = await sendAndWait(t.id, 'okapi river stone');
    expect(again.status).toBe('done');
    expect(again.sources!.every((x) => x.score!.rerank === null)).toBe(true);
    const fused = again.sources!.map((x) => x.score!.fused);
    expect([...fused].sort((x, y) => y - x)).toEqual(fused);
  } finally {
    await setDocs({ rerankModel: null });
  }
});

test('a new embedding model embeds every document again into its own space; the old vectors go', async () => {
  const status0 = await call<DocsStatusDTO>('docs.status');
  expect(status0.embedded).toBe(status0.chunks);
  const spaces0 = chat.app.store.docs.spaces();
  expect(spaces0).toHaveLength(1);
  await setDocs({ embeddingModel: path.join(chat.paths.models, 'embed-bert.gguf') });
  const status = await until(() => call<DocsStatusDTO>('docs.status'), (s) => s.queued === 0 && s.embedded === s.chunks && s.chunks > 0 && chat.app.store.docs.spaces().length === 1 && chat.app.store.docs.spaces()[0].id !== spaces0[0].id, 're-embedding');
  expect(status.vectorsOff).toBeNull();
  await setDocs({ embeddingModel: embedPath });
  await until(() => call<DocsStatusDTO>('docs.status'), (s) => s.queued === 0 && s.embedded === s.chunks, 're-embedding back');
});

test('an assistant\'s knowledge folder: scanned, indexed, watched; a changed file is indexed again, a deleted one goes', async () => {
  const folder = tempDir('knowledge-');
  try {
    fs.writeFileSync(path.join(folder, 'a.md'), '# Alpha\n\nThe alpha file talks about the pelican harbor.\n');
    fs.mkdirSync(path.join(folder, 'sub'));
    fs.writeFileSync(path.join(folder, 'sub', 'b.txt'), 'The beta file talks about tomatoes.\n');
    fs.writeFileSync(path.join(folder, 'ignored.exe'), 'MZ');
    const a = await call('assistants.create', { name: 'Librarian' });
    const added = await call('docs.folders.add', { assistantId: a.id, path: folder });
    expect(added).toMatchObject({ assistantId: a.id, path: folder, files: 2 });
    await until(() => call<DocsStatusDTO>('docs.status'), (s) => s.queued === 0 && s.folders.some((f) => f.id === added.id && f.ready === 2), 'folder indexed');
    const t = await call('threads.create', { assistantId: a.id });
    const reply = await sendAndWait(t.id, 'pelican?');
    expect(reply.sources!.map((s) => s.name).sort()).toEqual(['a.md', 'sub/b.txt']);
    // a changed file: indexed again (new content, new document); a deleted one: gone
    fs.writeFileSync(path.join(folder, 'a.md'), '# Alpha\n\nNow about the walrus.\n');
    fs.rmSync(path.join(folder, 'sub', 'b.txt'));
    const rescanned = await call('docs.folders.rescan', { id: added.id });
    expect(rescanned.files).toBe(1);
    await until(() => call<DocsStatusDTO>('docs.status'), (s) => s.queued === 0, 'rescan indexed');
    const next = await sendAndWait(t.id, 'walrus?');
    expect(next.sources).toHaveLength(1);
    expect(next.sources![0].text).toContain('walrus');
    // watched: a new file is indexed without a rescan (a moment after it is written)
    fs.writeFileSync(path.join(folder, 'c.md'), '# Gamma\n\nThe gamma file talks about kiwis.\n');
    fs.writeFileSync(path.join(folder, '.hidden.md'), 'not read');
    await until(() => call<DocsStatusDTO>('docs.status'), (s) => s.queued === 0 && s.folders.some((f) => f.id === added.id && f.files === 2 && f.ready === 2), 'the watched change indexed', 20_000);
    // bad input: a relative path, a missing folder
    await expect(call('docs.folders.add', { assistantId: a.id, path: 'relative/dir' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(call('docs.folders.add', { assistantId: a.id, path: path.join(folder, 'nope') })).rejects.toMatchObject({ code: 'not_found' });
    await call('docs.folders.remove', { id: added.id });
    expect((await call<DocsStatusDTO>('docs.status')).folders.some((f) => f.id === added.id)).toBe(false);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('indexing can be cancelled and retried; progress is told', async () => {
  const progress: EventOf<'docs.progress'>[] = [];
  const off = chat.app.services.subscribe((e, p) => {
    if (e === 'docs.progress') progress.push(p as EventOf<'docs.progress'>);
  });
  try {
    const { attachment } = await storeDoc('big.md', longDoc(60, 'ocelot', 30));
    await until(async () => progress.filter((p) => p.ref === attachment.ref && p.phase === 'embedding').length, (n) => n > 0, 'embedding progress');
    await call('docs.cancel', { ref: attachment.ref });
    const t = await call('threads.create', {});
    await call('chat.send', { threadId: t.id, content: 'x', documents: [attachment] }).then(() => call('chat.stop', { threadId: t.id }));
    await until(async () => (await call<DocumentDTO[]>('docs.list', { threadId: t.id }))[0].state, (s) => s === 'cancelled', 'cancelled');
    await call('docs.retry', { ref: attachment.ref });
    const done = await until(async () => (await call<DocumentDTO[]>('docs.list', { threadId: t.id }))[0], (d) => d.state === 'ready', 'ready after retry');
    expect(done.embedded).toBe(true);
    const mine = progress.filter((p) => p.ref === attachment.ref && p.phase === 'embedding');
    expect(mine[mine.length - 1].done).toBe(mine[mine.length - 1].total);
  } finally {
    off();
  }
});

test('an edit counts against the thread\'s limit only the documents it adds, not those the thread holds already', async () => {
  const one = await storeDoc('one.txt', 'The first of many.\n');
  const two = await storeDoc('two.txt', 'The second of many.\n');
  const three = await storeDoc('three.txt', 'The third of many.\n');
  const t = await call('threads.create', {});
  try {
    const first = await sendAndWait(t.id, 'many?', [one.attachment]);
    // the thread filled to one short of MAX_THREAD_DOCS through the store: documents with no file, which
    // no turn waits for (never indexed; 'empty'): linking is what the limit counts
    const docs = chat.app.store.docs;
    for (let i = 0; docs.threadDocs(t.id).length < MAX_THREAD_DOCS - 1; i++) {
      const row = docs.ensureDocument({ hash: createHash('sha256').update(`filler ${i}`).digest('hex'), kind: 'text', size: 1 });
      docs.setState(row.id, 'empty');
      docs.linkThread(t.id, row.id, `filler-${i}.txt`);
    }
    // keeping one.txt and adding two.txt fills it exactly (counting one.txt again, it was refused)
    const done = nextDone(chat.app, t.id);
    const r = await call<{ userMessage: MessageDTO }>('chat.edit', { threadId: t.id, messageId: first.parentId!, content: 'more?', documents: [one.attachment, two.attachment] });
    expect(r.userMessage.attachments.map((a) => a.name)).toEqual(['one.txt', 'two.txt']);
    expect((await done).status).toBe('done');
    expect(docs.threadDocs(t.id)).toHaveLength(MAX_THREAD_DOCS);
    // one more than the limit is refused, and nothing is linked
    await expect(call('chat.edit', { threadId: t.id, messageId: r.userMessage.id, content: 'even more?', documents: [one.attachment, two.attachment, three.attachment] }))
      .rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`at most ${MAX_THREAD_DOCS}`) });
    expect(docs.threadDocs(t.id)).toHaveLength(MAX_THREAD_DOCS);
  } finally {
    await call('threads.delete', { id: t.id });
  }
});
