/**
 * The documents' store (migration 8, store.docs): the migration of a real v7 file, chunks and their
 * full-text search, links to threads and knowledge folders, garbage collection, neighbours, and user
 * text that is FTS syntax. Real SQLite files in a temp folder, real sqlite-vec (vectors: docs-vectors.test.ts).
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { MAX_THREAD_DOCS } from '../../main/params/docs';
import { LATEST_VERSION, type NewChunk, type Store } from '../../main/store';
import { cleanupDirs, closeStores, expectCode, fakeClock, FIXTURES, openStore, tmpDir, hashOf } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const columns = (db: Database.Database, table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
const hasTable = (db: Database.Database, name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(name) !== undefined;
/** rows the FTS index itself holds for a word (a stale row of a deleted chunk would still be found here) */
const ftsRows = (s: Store, word: string) => s.db.prepare('SELECT rowid FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ?').pluck().all(`"${word}"`) as number[];
const ftsIntegrity = (s: Store) => s.db.prepare("INSERT INTO doc_chunks_fts(doc_chunks_fts, rank) VALUES ('integrity-check', 1)").run();

function addDoc(s: Store, name: string, texts: string[], headings: (string | null)[] = []) {
  const d = s.docs.ensureDocument({ hash: hashOf(name), kind: 'text', size: 100 });
  const chunks: NewChunk[] = texts.map((text, seq) => ({ seq, text, heading: headings[seq] ?? null, page: null, tokens: text.split(' ').length }));
  return s.docs.replaceChunks(d.id, chunks);
}

describe('migration 8', () => {
  test('on the v7 fixture: the documents tables and messages.sources are added, every earlier row is kept', () => {
    const file = path.join(tmpDir(), 'hearth.db');
    fs.copyFileSync(path.join(FIXTURES, 'store-v7.db'), file);
    const raw = new Database(file, { readonly: true });
    const counts = (db: Database.Database) => ['threads', 'messages', 'assistants', 'settings', 'tool_grants']
      .map((t) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get());
    const before = counts(raw);
    expect(hasTable(raw, 'documents')).toBe(false);
    expect(columns(raw, 'messages')).not.toContain('sources');
    raw.close();

    const s = openStore({ file });
    expect(s.migratedFrom).toBe(7);
    expect(s.schemaVersion).toBe(LATEST_VERSION);
    expect(counts(s.db)).toEqual(before);
    for (const t of ['documents', 'doc_chunks', 'doc_chunks_fts', 'doc_links', 'knowledge_folders', 'embedding_spaces']) expect(hasTable(s.db, t)).toBe(true);
    expect(columns(s.db, 'messages')).toContain('sources');
    expect(s.db.prepare('SELECT count(*) FROM messages WHERE sources IS NOT NULL').pluck().get()).toBe(0);
    expect(s.toolGrants.list('thread-rust')).toEqual(['mcp:fx:shout']);
    expect(s.assistants.get('coder').tools).toEqual({ builtins: [], servers: ['fx'] });
    expect(s.messages.list('thread-rust').map((m) => m.id)).toEqual(['m-rust-1', 'm-rust-2', 'm-rust-3', 'm-rust-4', 'm-rust-5']);
    expect(s.integrityCheck()).toEqual(['ok']);
    expect(s.db.pragma('foreign_key_check')).toEqual([]);

    // and the documents work on the migrated file
    const d = addDoc(s, 'a', ['carbonara needs guanciale']);
    s.docs.linkThread('thread-pasta', d.id, 'recipe.txt');
    expect(s.docs.searchText([d.id], 'guanciale', 5)).toHaveLength(1);
  });

  test('a link is a thread\'s or a folder file\'s, never both or neither (CHECK)', () => {
    const s = openStore();
    const d = s.docs.ensureDocument({ hash: hashOf('x'), kind: 'text', size: 1 });
    const f = s.docs.addFolder('default', path.join(tmpDir(), 'kb'));
    const ins = s.db.prepare('INSERT INTO doc_links (doc_id, thread_id, folder_id, rel_path, name, added_at) VALUES (?, ?, ?, ?, ?, 0)');
    expect(() => ins.run(d.id, null, null, null, 'n')).toThrow(/CHECK/);
    expect(() => ins.run(d.id, 't1', f.id, 'a.txt', 'n')).toThrow(/CHECK/);
    expect(() => ins.run(d.id, null, f.id, null, 'n')).toThrow(/CHECK/);
  });
});

describe('documents and chunks', () => {
  test('ensureDocument stores a content once, queued; setState keeps what it is not given', () => {
    const s = openStore();
    const d = s.docs.ensureDocument({ hash: hashOf('one'), kind: 'pdf', size: 1234 });
    expect(d).toMatchObject({ kind: 'pdf', size: 1234, state: 'queued', chunkCount: 0, tokens: 0, indexedAt: null, error: null });
    expect(s.docs.ensureDocument({ hash: hashOf('one'), kind: 'text', size: 1 })).toEqual(d);
    expect(s.docs.documentByHash(hashOf('one'))).toEqual(d);
    expect(s.docs.documentByHash(hashOf('two'))).toBeNull();

    s.docs.setState(d.id, 'extracting', { pages: 3, chars: 900, note: 'text of 3 pages' });
    const failed = s.docs.setState(d.id, 'failed', { error: 'bad xref' });
    expect(failed).toMatchObject({ state: 'failed', error: 'bad xref', pages: 3, chars: 900, note: 'text of 3 pages', indexedAt: null });
    const ready = s.docs.setState(d.id, 'ready', { note: null });
    expect(ready).toMatchObject({ state: 'ready', error: null, pages: 3, note: null });
    expect(ready.indexedAt).toEqual(expect.any(Number));

    expectCode(() => s.docs.ensureDocument({ hash: 'not-a-hash', kind: 'text', size: 1 }), 'invalid_input');
    expectCode(() => s.docs.setState(d.id, 'done' as never), 'invalid_input');
    expectCode(() => s.docs.setState(999, 'ready'), 'not_found');
    // a state a newer version wrote reads as failed, saying which
    s.db.prepare("UPDATE documents SET state = 'ocr' WHERE id = ?").run(d.id);
    expect(s.docs.document(d.id)).toMatchObject({ state: 'failed', error: 'unknown state ocr' });
  });

  test('chunks are searchable by text and heading (accents ignored), only within the given documents', () => {
    const s = openStore();
    const a = addDoc(s, 'a', ['The café serves espresso', 'Opening hours are nine to five'], [null, 'Practical matters']);
    const b = addDoc(s, 'b', ['Espresso machines need descaling']);
    expect(a).toMatchObject({ chunkCount: 2, tokens: 4 + 6 });
    const [a0, a1] = s.docs.chunks(a.id);
    const [b0] = s.docs.chunks(b.id);

    expect(s.docs.searchText([a.id], 'cafe', 5).map((h) => h.chunkId)).toEqual([a0.id]);
    expect(s.docs.searchText([a.id], 'practical', 5).map((h) => h.chunkId)).toEqual([a1.id]);
    expect(s.docs.searchText([a.id, b.id], 'espresso', 5).map((h) => h.chunkId).sort()).toEqual([a0.id, b0.id].sort());
    expect(s.docs.searchText([b.id], 'espresso', 5).map((h) => h.chunkId)).toEqual([b0.id]);
    expect(s.docs.searchText([], 'espresso', 5)).toEqual([]);
    // any word matches; more matching words rank higher; ranks count from 1
    const hits = s.docs.searchText([a.id, b.id], 'espresso descaling', 5);
    expect(hits.map((h) => h.chunkId)).toEqual([b0.id, a0.id]);
    expect(hits.map((h) => h.rank)).toEqual([1, 2]);
    expect(hits[0].score).toBeLessThan(hits[1].score);
    expect(s.docs.searchText([a.id, b.id], 'espresso', 1)).toHaveLength(1);
  });

  test('replacing chunks removes the old ones from the index; chunk() carries its document', () => {
    const s = openStore();
    const d = addDoc(s, 'a', ['alpha bravo', 'charlie delta']);
    const old = s.docs.chunks(d.id);
    expect(ftsRows(s, 'bravo')).toEqual([old[0].id]);
    const after = s.docs.replaceChunks(d.id, [{ seq: 0, text: 'echo foxtrot', tokens: 2 }]);
    expect(after).toMatchObject({ chunkCount: 1, tokens: 2 });
    expect(ftsRows(s, 'bravo')).toEqual([]);
    expect(ftsRows(s, 'delta')).toEqual([]);
    expect(s.docs.searchText([d.id], 'alpha charlie', 5)).toEqual([]);
    const [c] = s.docs.chunks(d.id);
    expect(old.map((o) => o.id)).not.toContain(c.id);
    expect(s.docs.searchText([d.id], 'foxtrot', 5).map((h) => h.chunkId)).toEqual([c.id]);
    expect(s.docs.chunk(c.id)).toMatchObject({ text: 'echo foxtrot', seq: 0, page: null, heading: null, doc: { id: d.id, chunkCount: 1 } });
    expect(s.docs.chunk(old[0].id)).toBeNull();
    ftsIntegrity(s);

    expectCode(() => s.docs.replaceChunks(d.id, [{ seq: 0, text: 'a', tokens: 1 }, { seq: 0, text: 'b', tokens: 1 }]), 'invalid_input');
    expectCode(() => s.docs.replaceChunks(12345, []), 'not_found');
    expect(s.docs.chunks(d.id)).toHaveLength(1); // the failed replace changed nothing
  });

  test('neighbours: the chunk with up to n before and after it, in order, within its document', () => {
    const s = openStore();
    const d = addDoc(s, 'a', Array.from({ length: 10 }, (_, i) => `part ${i}`));
    addDoc(s, 'b', ['other 0', 'other 1']);
    const cs = s.docs.chunks(d.id);
    expect(s.docs.neighbours(cs[0].id, 2).map((c) => c.seq)).toEqual([0, 1, 2]);
    expect(s.docs.neighbours(cs[5].id, 2).map((c) => c.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(s.docs.neighbours(cs[9].id, 3).map((c) => c.seq)).toEqual([6, 7, 8, 9]);
    expect(s.docs.neighbours(cs[4].id, 0).map((c) => c.text)).toEqual(['part 4']);
    expect(new Set(s.docs.neighbours(cs[9].id, 50).map((c) => c.docId))).toEqual(new Set([d.id]));
    expect(s.docs.neighbours(999_999, 2)).toEqual([]);
  });

  test('user text that is FTS syntax never throws and is searched as words', () => {
    const s = openStore();
    const d = addDoc(s, 'a', ['apples and pears', 'NEAR the column: text']);
    const hostile = ['"', '""', '"unbalanced', 'NEAR(apples pears', 'NEAR(a b, 2)', 'apple*', '*', '(', ')', '((apples', 'apples)',
      'AND', 'OR apples', 'NOT pears', 'apples AND', 'text: apples', '{text heading}: x', '^apples', '-pears', '+', "'", '',
      '   ', '\u0000apples', 'a"b"c', 'apples"pears', '🍎', 'x'.repeat(5000), Array.from({ length: 500 }, (_, i) => `w${i}`).join(' ')];
    for (const q of hostile) expect(() => s.docs.searchText([d.id], q, 10)).not.toThrow();
    const [c0, c1] = s.docs.chunks(d.id);
    // "NEAR(apples" is one phrase (near apples: in neither chunk), "pears" another
    expect(s.docs.searchText([d.id], 'NEAR(apples pears', 10).map((h) => h.chunkId)).toEqual([c0.id]);
    expect(s.docs.searchText([d.id], '(apples', 10).map((h) => h.chunkId)).toEqual([c0.id]);
    expect(s.docs.searchText([d.id], '"', 10)).toEqual([]);
    expect(s.docs.searchText([d.id], '', 10)).toEqual([]);
    expect(s.docs.searchText([d.id], 'column:', 10).map((h) => h.chunkId)).toEqual([c1.id]);
  });
});

describe('links and garbage', () => {
  test('a document linked to two threads survives the deletion of one; then goes with its chunks, index rows and vectors', () => {
    const s = openStore();
    const d = addDoc(s, 'shared', ['zebra stripes']);
    const t1 = s.threads.create({ title: 'one' });
    const t2 = s.threads.create({ title: 'two' });
    s.docs.linkThread(t1.id, d.id, 'zebra.txt');
    s.docs.linkThread(t2.id, d.id, 'zebra copy.txt');
    const space = s.docs.ensureSpace('model-a', 'A', 2);
    const [c] = s.docs.chunks(d.id);
    s.docs.putVectors(space, [{ chunkId: c.id, docId: d.id, vector: new Float32Array([1, 0]) }]);

    s.threads.delete(t1.id);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([]);
    expect(s.docs.threadDocs(t2.id).map((l) => [l.name, l.doc.id])).toEqual([['zebra copy.txt', d.id]]);
    expect(s.db.prepare('SELECT count(*) FROM doc_links WHERE thread_id = ?').pluck().get(t1.id)).toBe(0);

    s.threads.delete(t2.id);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('shared')]);
    expect(s.docs.document(d.id)).toBeNull();
    expect(s.docs.chunk(c.id)).toBeNull();
    expect(ftsRows(s, 'zebra')).toEqual([]);
    expect(s.docs.vectorCount(space)).toBe(0);
    ftsIntegrity(s);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([]);
  });

  test('a temporary chat\'s links are kept while it is open (keepThreads), collected after', () => {
    const s = openStore();
    const d = addDoc(s, 'temp', ['ephemeral words']);
    const tmp = s.temporary.threads.create({ title: 'temporary' });
    s.docs.linkThread(tmp.id, d.id, 'notes.md');
    expect(s.docs.collectGarbage(new Set([tmp.id])).map((g) => g.hash)).toEqual([]);
    expect(s.docs.threadDocs(tmp.id)).toHaveLength(1);
    expect(s.docs.liveDocIds({ threadId: tmp.id })).toEqual([d.id]);
    // its links dropped here (Hearth crashed with it open, or another process's): nothing tells it was a
    // temporary chat's, so not discarded (its file is set aside, as any unnamed file is)
    expect(s.docs.collectGarbage(new Set())).toEqual([{ hash: hashOf('temp'), discard: false }]);
    expect(s.docs.threadDocs(tmp.id)).toEqual([]);
  });

  test('what is discarded: a saved chat\'s documents are not; those named in `discard` are (whatever their age with `now`), unless a thread this process does not know linked them', () => {
    const clock = fakeClock();
    const s = openStore({ clock });
    const saved = s.threads.create({ title: 'saved' });
    const old = addDoc(s, 'old', ['old words']);
    s.docs.linkThread(saved.id, old.id, 'old.md');
    s.docs.dropThread(saved.id);
    s.threads.delete(saved.id);
    expect(s.docs.collectGarbage(new Set())).toEqual([{ hash: hashOf('old'), discard: false }]);
    // stored just now: the grace keeps it, discarded or not, unless `now` (Hearth closing, every chat erased)
    const young = addDoc(s, 'young', ['young words']);
    const soon = { storedBefore: -1 };
    expect(s.docs.collectGarbage(new Set(), soon)).toEqual([]);
    expect(s.docs.collectGarbage(new Set(), { ...soon, discard: [hashOf('young')] })).toEqual([]);
    expect([...s.docs.unlinkedHashes([hashOf('young'), hashOf('nothing')])]).toEqual([hashOf('young')]);
    expect(s.docs.collectGarbage(new Set(), { ...soon, discard: [hashOf('young')], now: true })).toEqual([{ hash: hashOf('young'), discard: true }]);
    expect(s.docs.document(young.id)).toBeNull();
    // one a live link holds is never collected, named in `discard` or not
    const t = s.threads.create({ title: 'holds it' });
    const held = addDoc(s, 'held', ['held words']);
    s.docs.linkThread(t.id, held.id, 'held.md');
    expect(s.docs.collectGarbage(new Set(), { discard: [hashOf('held')] })).toEqual([]);
    expect([...s.docs.unlinkedHashes([hashOf('held')])]).toEqual([]);
    // a document another process's temporary chat links too (a thread this one does not know): set aside, not deleted
    const tmp = s.temporary.threads.create({ title: 'temporary' });
    const mine = addDoc(s, 'mine', ['mine words']);
    s.docs.linkThread(tmp.id, mine.id, 'mine.md');
    expect([...s.docs.threadsHashes([tmp.id])]).toEqual([hashOf('mine')]);
    s.db.prepare('INSERT INTO doc_links (doc_id, thread_id, name, added_at) VALUES (?, ?, ?, ?)').run(mine.id, 'another-process-chat', 'mine.md', clock.peek());
    s.docs.dropThread(tmp.id);
    expect(s.docs.collectGarbage(new Set(), { discard: [hashOf('mine')], now: true })).toEqual([{ hash: hashOf('mine'), discard: false }]);
  });

  test('unlink marks the link removed (listed on request), a relink restores it; dropThread deletes the links', () => {
    const s = openStore();
    const t = s.threads.create({ title: 't' });
    const a = addDoc(s, 'a', ['first']);
    const b = addDoc(s, 'b', ['second']);
    s.docs.linkThread(t.id, a.id, 'a.txt');
    s.docs.linkThread(t.id, b.id, 'b.txt');
    expect(s.docs.unlinkThread(t.id, a.id)).toBe(true);
    expect(s.docs.unlinkThread(t.id, a.id)).toBe(false);
    expect(s.docs.threadDocs(t.id).map((l) => l.name)).toEqual(['b.txt']);
    const all = s.docs.threadDocs(t.id, { includeRemoved: true });
    expect(all.map((l) => [l.name, l.removedAt === null])).toEqual([['a.txt', false], ['b.txt', true]]);
    expect(s.docs.liveDocIds({ threadId: t.id })).toEqual([b.id]);

    const back = s.docs.linkThread(t.id, a.id, 'a renamed.txt');
    expect(back).toMatchObject({ name: 'a renamed.txt', removedAt: null, threadId: t.id, folderId: null, doc: { id: a.id } });
    expect(s.docs.threadDocs(t.id).map((l) => l.name).sort()).toEqual(['a renamed.txt', 'b.txt']);

    // a removed link keeps no document
    s.docs.unlinkThread(t.id, b.id);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('b')]);
    expect(s.docs.threadDocs(t.id, { includeRemoved: true }).map((l) => l.name)).toEqual(['a renamed.txt']);

    expect(s.docs.dropThread(t.id)).toBe(1);
    expect(s.docs.threadDocs(t.id, { includeRemoved: true })).toEqual([]);
    expectCode(() => s.docs.linkThread(t.id, 424242, 'x'), 'not_found');
    expectCode(() => s.docs.linkThread('not an id!', a.id, 'x'), 'invalid_input');
  });

  test('the unsent grace runs from when the content was last stored: stored again (touchStored), it is not collected', () => {
    const clock = fakeClock();
    const s = openStore({ clock });
    const t = s.threads.create({});
    const d = addDoc(s, 'again', ['attached twice']);
    expect(d.storedAt).toBe(d.createdAt);
    s.docs.linkThread(t.id, d.id, 'again.txt');
    s.docs.unlinkThread(t.id, d.id); // removed from that chat …
    clock.advance(60 * 60_000);
    const same = s.docs.ensureDocument({ hash: hashOf('again'), kind: 'text', size: 100 }); // … stored again for a message not yet sent
    expect(same.id).toBe(d.id);
    s.docs.touchStored(same.id);
    const grace = 10 * 60_000;
    expect(s.docs.document(d.id)!.storedAt).toBeGreaterThan(d.createdAt + grace);
    expect(s.docs.collectGarbage(new Set(), { storedBefore: clock.peek() - grace }).map((g) => g.hash)).toEqual([]);
    expect(s.docs.collectGarbage(new Set(), { createdBefore: clock.peek() - grace }).map((g) => g.hash)).toEqual([]); // the former name
    clock.advance(grace + 1);
    expect(s.docs.collectGarbage(new Set(), { storedBefore: clock.peek() - grace }).map((g) => g.hash)).toEqual([hashOf('again')]);
    expectCode(() => s.docs.touchStored(d.id), 'not_found');
  });

  test('chunksForFallback: the first chunks in the given documents\' order, then seq, at most limit', () => {
    const s = openStore();
    const a = addDoc(s, 'a', ['a0', 'a1', 'a2']);
    const b = addDoc(s, 'b', ['b0', 'b1']);
    const c = addDoc(s, 'c', ['c0']);
    const texts = (ids: number[], n: number) => s.docs.chunksForFallback(ids, n).map((x) => x.text);
    expect(texts([b.id, a.id, c.id], 4)).toEqual(['b0', 'b1', 'a0', 'a1']);
    expect(texts([c.id, a.id], 10)).toEqual(['c0', 'a0', 'a1', 'a2']);
    expect(texts([a.id, b.id, a.id], 5)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
    expect(texts([424242], 3)).toEqual([]);
    expect(texts([], 3)).toEqual([]);
    expect(s.docs.chunksForFallback([b.id], 1)).toEqual([s.docs.chunks(b.id)[0]]);
    expectCode(() => s.docs.chunksForFallback([a.id], 0), 'invalid_input');
  });

  test(`a thread holds at most ${MAX_THREAD_DOCS} documents`, () => {
    const s = openStore();
    const t = s.threads.create({});
    const ids = s.db.transaction(() => Array.from({ length: MAX_THREAD_DOCS + 1 },
      (_, i) => s.docs.ensureDocument({ hash: hashOf(`doc ${i}`), kind: 'text', size: i }).id))();
    for (const id of ids.slice(0, MAX_THREAD_DOCS)) s.docs.linkThread(t.id, id, `${id}.txt`);
    expectCode(() => s.docs.linkThread(t.id, ids[MAX_THREAD_DOCS], 'one too many.txt'), 'too_large');
    s.docs.linkThread(t.id, ids[0], 'relinking a live one is fine.txt');
    s.docs.unlinkThread(t.id, ids[1]);
    s.docs.linkThread(t.id, ids[MAX_THREAD_DOCS], 'now there is room.txt');
  });
});

describe('knowledge folders', () => {
  test('a folder file relinked to new content replaces its document; the old one is collected', () => {
    const s = openStore();
    const dir = path.join(tmpDir(), 'kb');
    const f = s.docs.addFolder('default', dir);
    expect(s.docs.addFolder('default', dir)).toEqual(f);
    expect(s.docs.folders('default')).toEqual([f]);
    expect(f).toMatchObject({ assistantId: 'default', path: dir, scannedAt: null });

    const v1 = addDoc(s, 'v1', ['version one']);
    const v2 = addDoc(s, 'v2', ['version two']);
    const other = addDoc(s, 'other', ['another file']);
    s.docs.linkFolderFile(f.id, 'notes/plan.md', v1.id, { size: 10, mtimeMs: 1000.7 });
    s.docs.linkFolderFile(f.id, 'a.txt', other.id, { size: 5, mtimeMs: 5 });
    const relinked = s.docs.linkFolderFile(f.id, 'notes/plan.md', v2.id, { size: 11, mtimeMs: 2000 });
    expect(relinked).toMatchObject({ folderId: f.id, threadId: null, relPath: 'notes/plan.md', name: 'plan.md', fileSize: 11, fileMtimeMs: 2000, doc: { id: v2.id } });
    expect(s.docs.folderFiles(f.id).map((l) => [l.relPath, l.docId])).toEqual([['a.txt', other.id], ['notes/plan.md', v2.id]]);
    expect(s.docs.liveDocIds({ assistantId: 'default' })).toEqual([v2.id, other.id].sort((x, y) => x - y));
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('v1')]);

    expect(s.docs.unlinkFolderFile(f.id, 'a.txt')).toBe(true);
    expect(s.docs.unlinkFolderFile(f.id, 'a.txt')).toBe(false);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('other')]);

    s.docs.markScanned(f.id);
    expect(s.docs.folders()[0].scannedAt).toEqual(expect.any(Number));
    expect(s.docs.removeFolder(f.id)).toBe(true);
    expect(s.docs.folderFiles(f.id)).toEqual([]);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('v2')]);

    expectCode(() => s.docs.addFolder('nobody', dir), 'not_found');
    expectCode(() => s.docs.addFolder('default', 'relative/path'), 'invalid_input');
    expectCode(() => s.docs.linkFolderFile(f.id, 'a.txt', v2.id, { size: 1, mtimeMs: 1 }), 'not_found');
    expectCode(() => s.docs.markScanned(f.id), 'not_found');
  });

  test('folderCounts: files, ready, and problems (failed or empty) in one query', () => {
    const s = openStore();
    const f = s.docs.addFolder('default', path.join(tmpDir(), 'kb'));
    const other = s.docs.addFolder('default', path.join(tmpDir(), 'kb2'));
    expect(s.docs.folderCounts(f.id)).toEqual({ files: 0, ready: 0, problems: 0 });
    const states = ['ready', 'ready', 'failed', 'empty', 'queued', 'embedding', 'cancelled'] as const;
    states.forEach((state, i) => {
      const d = addDoc(s, `file ${i}`, [`text ${i}`]);
      s.docs.setState(d.id, state);
      s.docs.linkFolderFile(f.id, `f${i}.txt`, d.id, { size: 1, mtimeMs: 1 });
    });
    // a state a newer version wrote counts as failed, as it reads
    const future = addDoc(s, 'future', ['from a newer version']);
    s.db.prepare("UPDATE documents SET state = 'archived' WHERE id = ?").run(future.id);
    s.docs.linkFolderFile(f.id, 'future.txt', future.id, { size: 1, mtimeMs: 1 });
    // the same document under two paths is two files; another folder's files are not counted
    s.docs.linkFolderFile(f.id, 'copy.txt', s.docs.folderFiles(f.id)[0].docId, { size: 1, mtimeMs: 1 });
    s.docs.linkFolderFile(other.id, 'x.txt', future.id, { size: 1, mtimeMs: 1 });
    const files = s.docs.folderFiles(f.id);
    expect(s.docs.folderCounts(f.id)).toEqual({
      files: files.length,
      ready: files.filter((x) => x.doc.state === 'ready').length,
      problems: files.filter((x) => x.doc.state === 'failed' || x.doc.state === 'empty').length,
    });
    expect(s.docs.folderCounts(f.id)).toEqual({ files: 9, ready: 3, problems: 3 });
    expect(s.docs.folderCounts(other.id)).toEqual({ files: 1, ready: 0, problems: 1 });
    expect(s.docs.folderCounts(424242)).toEqual({ files: 0, ready: 0, problems: 0 });
  });

  test('folder paths must stay under the folder; an assistant\'s deletion takes its folders and their links', () => {
    const s = openStore();
    const a = s.assistants.create({ name: 'Researcher' });
    const f = s.docs.addFolder(a.id, path.join(tmpDir(), 'papers'));
    const d = addDoc(s, 'paper', ['attention is all you need']);
    for (const bad of ['../escape.txt', '/abs.txt', 'a//b.txt', './a.txt', 'a/', '']) {
      expectCode(() => s.docs.linkFolderFile(f.id, bad, d.id, { size: 1, mtimeMs: 1 }), 'invalid_input');
    }
    s.docs.linkFolderFile(f.id, 'p.pdf', d.id, { size: 1, mtimeMs: 1 });
    s.assistants.delete(a.id);
    expect(s.docs.folders(a.id)).toEqual([]);
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([hashOf('paper')]);
  });
});
