/**
 * The documents' vectors (store.docs over docs-vectors.ts): embedding spaces that never mix, vectors
 * that go with their chunks, KNN filtered to a set of documents (2,000 of them too), and a store
 * where sqlite-vec does not load. Real SQLite files, real sqlite-vec.
 */
import path from 'path';
import { vecSlots, worthCompacting } from '../../main/store/docs-compact';
import { unpackedPath } from '../../main/store/vector-ext';
import type { Store } from '../../main/store';
import { cleanupDirs, closeStores, expectCode, openStore, recordingLogger, tmpDir, hashOf } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const unit = (dims: number, axis: number, tilt = 0) => {
  const v = new Float32Array(dims);
  v[axis % dims] = 1;
  v[(axis + 1) % dims] = tilt;
  return v;
};

function addDoc(s: Store, name: string, n: number) {
  const d = s.docs.ensureDocument({ hash: hashOf(name), kind: 'text', size: 1 });
  s.docs.replaceChunks(d.id, Array.from({ length: n }, (_, seq) => ({ seq, text: `${name} part ${seq}`, tokens: 3 })));
  return { id: d.id, chunks: s.docs.chunks(d.id).map((c) => c.id) };
}

describe('embedding spaces', () => {
  test('a space per model: vectors of two models (different dims) never mix', () => {
    const s = openStore();
    const a = s.docs.ensureSpace('model-a@1', 'Model A', 4);
    const b = s.docs.ensureSpace('model-b@1', 'Model B', 8);
    expect(a).not.toBe(b);
    expect(s.docs.ensureSpace('model-a@1', 'Model A', 4)).toBe(a);
    expectCode(() => s.docs.ensureSpace('model-a@1', 'Model A', 8), 'invalid_input');
    expect(s.docs.spaces().map((sp) => [sp.modelKey, sp.dims])).toEqual([['model-a@1', 4], ['model-b@1', 8]]);

    const d = addDoc(s, 'doc', 4);
    // chunks 0 and 1 embedded by model A only, 2 and 3 by model B only
    expect(s.docs.putVectors(a, [0, 1].map((i) => ({ chunkId: d.chunks[i], docId: d.id, vector: unit(4, i) })))).toBe(2);
    expect(s.docs.putVectors(b, [2, 3].map((i) => ({ chunkId: d.chunks[i], docId: d.id, vector: unit(8, i) })))).toBe(2);
    expect(s.docs.searchVectors(a, [d.id], unit(4, 2), 10).map((h) => h.chunkId).sort()).toEqual([d.chunks[0], d.chunks[1]].sort());
    expect(s.docs.searchVectors(b, [d.id], unit(8, 0), 10).map((h) => h.chunkId).sort()).toEqual([d.chunks[2], d.chunks[3]].sort());
    expect(s.docs.chunksWithoutVectors(a, { limit: 10 }).map((c) => c.id)).toEqual([d.chunks[2], d.chunks[3]]);
    expect(s.docs.chunksWithoutVectors(b, { docId: d.id, limit: 1 }).map((c) => c.id)).toEqual([d.chunks[0]]);
    expect([s.docs.vectorCount(a), s.docs.vectorCount(b), s.docs.vectorCount(a, d.id), s.docs.vectorCount(a, 999)]).toEqual([2, 2, 2, 0]);

    // a vector of the other space's width is refused, everywhere
    expectCode(() => s.docs.putVectors(a, [{ chunkId: d.chunks[2], docId: d.id, vector: unit(8, 0) }]), 'invalid_input');
    expectCode(() => s.docs.searchVectors(b, [d.id], unit(4, 0), 3), 'invalid_input');
    expectCode(() => s.docs.putVectors(a, [{ chunkId: d.chunks[2], docId: d.id, vector: new Float32Array([1, NaN, 0, 0]) }]), 'invalid_input');
    expectCode(() => s.docs.putVectors(a, [{ chunkId: d.chunks[2], docId: d.id + 1, vector: unit(4, 0) }]), 'invalid_input');
    expectCode(() => s.docs.searchVectors(999, [d.id], unit(4, 0), 3), 'not_found');
    expect(s.docs.vectorCount(a)).toBe(2);

    // dropping a space drops its table, not the other's
    expect(s.docs.dropSpace(a)).toBe(true);
    expect(s.db.prepare("SELECT name FROM sqlite_master WHERE name = ?").get(`doc_vec_${a}`)).toBeUndefined();
    expect(s.docs.spaces().map((sp) => sp.id)).toEqual([b]);
    expect(s.docs.vectorCount(b)).toBe(2);
    // a new space never takes a dropped one's id
    expect(s.docs.ensureSpace('model-a@1', 'Model A', 8)).toBeGreaterThan(b);
  });

  test('nearest first, cosine distance; a vector put again replaces the chunk\'s previous one; chunks re-embedded after replace', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('m', null, 4);
    const d = addDoc(s, 'doc', 3);
    s.docs.putVectors(sp, d.chunks.map((chunkId, i) => ({ chunkId, docId: d.id, vector: unit(4, i) })));
    const hits = s.docs.searchVectors(sp, [d.id], unit(4, 1, 0.1), 3);
    expect(hits.map((h) => [h.chunkId, h.rank])).toEqual([[d.chunks[1], 1], [d.chunks[2], 2], [d.chunks[0], 3]]);
    expect(hits[0].distance).toBeCloseTo(1 - 1 / Math.sqrt(1.01), 5);
    expect(hits[2].distance).toBeCloseTo(1, 5);

    s.docs.putVectors(sp, [{ chunkId: d.chunks[0], docId: d.id, vector: unit(4, 3) }]);
    expect(s.docs.vectorCount(sp)).toBe(3);
    expect(s.docs.searchVectors(sp, [d.id], unit(4, 3), 3).map((h) => [h.chunkId, h.distance])).toEqual([[d.chunks[0], 0], [d.chunks[1], 1], [d.chunks[2], 1]]);

    // replacing the chunks takes their vectors in every space; a vector for a chunk gone meanwhile is skipped
    const other = s.docs.ensureSpace('m2', null, 2);
    s.docs.putVectors(other, [{ chunkId: d.chunks[0], docId: d.id, vector: new Float32Array([1, 0]) }]);
    s.docs.replaceChunks(d.id, [{ seq: 0, text: 'new', tokens: 1 }]);
    expect([s.docs.vectorCount(sp, d.id), s.docs.vectorCount(other, d.id)]).toEqual([0, 0]);
    expect(s.docs.searchVectors(sp, [d.id], unit(4, 1), 5)).toEqual([]);
    expect(s.docs.putVectors(sp, [{ chunkId: d.chunks[1], docId: d.id, vector: unit(4, 1) }])).toBe(0);
    const [fresh] = s.docs.chunksWithoutVectors(sp, { docId: d.id, limit: 10 });
    expect(fresh).toMatchObject({ docId: d.id, text: 'new' });
  });
});

describe('which chunks are embedded, kept beside vec0 (doc_embedded)', () => {
  test('counts per document, chunks left to embed (with headings) and the documents missing vectors, over thousands of vectors', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('m', 'M', 4);
    const other = s.docs.ensureSpace('other', null, 4);
    const docs = Array.from({ length: 30 }, (_, i) => {
      const d = s.docs.ensureDocument({ hash: hashOf(`doc ${i}`), kind: 'markdown', size: 1 });
      s.docs.replaceChunks(d.id, Array.from({ length: 100 }, (_, seq) => ({ seq, text: `doc ${i} part ${seq}`, heading: seq % 2 ? `Section ${seq}` : null, tokens: 3 })));
      s.docs.setState(d.id, 'ready');
      return { id: d.id, chunks: s.docs.chunks(d.id).map((c) => c.id) };
    });
    // document i has its first 100 - (i % 4) * 10 chunks embedded (all of them for i % 4 === 0)
    const embedded = (i: number) => 100 - (i % 4) * 10;
    docs.forEach((d, i) => s.docs.putVectors(sp, d.chunks.slice(0, embedded(i)).map((chunkId, j) => ({ chunkId, docId: d.id, vector: unit(4, j) }))));
    s.docs.putVectors(other, docs[1].chunks.map((chunkId, j) => ({ chunkId, docId: docs[1].id, vector: unit(4, j) })));
    // putting again replaces, it does not count twice
    s.docs.putVectors(sp, docs[0].chunks.slice(0, 5).map((chunkId, j) => ({ chunkId, docId: docs[0].id, vector: unit(4, j + 1) })));

    const total = docs.reduce((n, _, i) => n + embedded(i), 0);
    expect(s.docs.vectorCount(sp)).toBe(total);
    expect(s.db.prepare(`SELECT count(*) FROM doc_vec_${sp}`).pluck().get()).toBe(total);
    expect(docs.map((d) => s.docs.vectorCount(sp, d.id))).toEqual(docs.map((_, i) => embedded(i)));
    expect(s.docs.vectorCount(other)).toBe(100);
    expect(s.docs.vectorCount(other, docs[1].id)).toBe(100);
    expect(s.docs.reports.documentsMissingVectors(sp).map((d) => d.id)).toEqual(docs.filter((_, i) => i % 4 !== 0).map((d) => d.id));
    expect(s.docs.reports.documentsMissingVectors(other).map((d) => d.id)).toEqual(docs.filter((_, i) => i !== 1).map((d) => d.id));
    expect(s.docs.reports.totals(sp)).toEqual({ documents: 30, chunks: 3000, embedded: total });

    const left = s.docs.chunksWithoutVectors(sp, { docId: docs[3].id, limit: 100 });
    expect(left.map((c) => c.id)).toEqual(docs[3].chunks.slice(70));
    expect(left[0]).toEqual({ id: docs[3].chunks[70], docId: docs[3].id, text: 'doc 3 part 70', heading: null });
    expect(left[1]).toEqual({ id: docs[3].chunks[71], docId: docs[3].id, text: 'doc 3 part 71', heading: 'Section 71' });
    expect(s.docs.chunksWithoutVectors(sp, { limit: 3 }).map((c) => c.id)).toEqual(docs[1].chunks.slice(90, 93));

    // replaced chunks are no longer embedded; a dropped space takes its records
    s.docs.replaceChunks(docs[0].id, [{ seq: 0, text: 'new', tokens: 1 }]);
    expect(s.docs.vectorCount(sp, docs[0].id)).toBe(0);
    expect(s.docs.reports.documentsMissingVectors(sp).map((d) => d.id)[0]).toBe(docs[0].id);
    expect(s.docs.dropSpace(other)).toBe(true);
    expect(s.db.prepare('SELECT count(*) FROM doc_embedded WHERE space_id = ?').pluck().get(other)).toBe(0);
    expect(s.docs.vectorCount(sp)).toBe(total - 100);
  });

  test('a count does not scan the vectors: 1,000 per-document counts at 20,000 vectors take well under a second', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('m', 'M', 4);
    const ids = s.db.transaction(() => Array.from({ length: 20 }, (_, i) => {
      const d = s.docs.ensureDocument({ hash: hashOf(`big ${i}`), kind: 'text', size: 1 });
      s.docs.replaceChunks(d.id, Array.from({ length: 1000 }, (_, seq) => ({ seq, text: `w${seq}`, tokens: 1 })));
      s.docs.setState(d.id, 'ready');
      const chunks = s.docs.chunks(d.id).map((c) => c.id);
      s.docs.putVectors(sp, chunks.map((chunkId, j) => ({ chunkId, docId: d.id, vector: unit(4, j, (j % 10) / 10) })));
      return d.id;
    }))();
    expect(s.docs.vectorCount(sp)).toBe(20_000);
    const start = performance.now();
    for (let i = 0; i < 1000; i++) expect(s.docs.vectorCount(sp, ids[i % ids.length])).toBe(1000);
    expect(s.docs.reports.documentsMissingVectors(sp)).toEqual([]);
    // a scan of the vec0 table per count took about 20 ms here: 1,000 of them 20 s
    expect(performance.now() - start).toBeLessThan(1500);
  });
});

describe('the documents filter runs inside the KNN search', () => {
  test('only the given documents\' chunks come back, k of them when there are k', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('m', null, 4);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => addDoc(s, n, 5));
    // c's chunks are all nearer the query than a's and b's
    for (const [d, axis] of [[a, 1], [b, 2], [c, 0]] as const) {
      s.docs.putVectors(sp, d.chunks.map((chunkId, i) => ({ chunkId, docId: d.id, vector: unit(4, axis, i / 10) })));
    }
    const hits = s.docs.searchVectors(sp, [a.id, b.id], unit(4, 0), 6);
    expect(hits).toHaveLength(6);
    for (const h of hits) expect([...a.chunks, ...b.chunks]).toContain(h.chunkId);
    expect(s.docs.searchVectors(sp, [c.id], unit(4, 0), 3).map((h) => h.chunkId)).toEqual(c.chunks.slice(0, 3));
    expect(s.docs.searchVectors(sp, [], unit(4, 0), 3)).toEqual([]);
  });

  test('with 2,000 document ids (vectors and keywords)', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('m', null, 8);
    const docs = s.db.transaction(() => Array.from({ length: 2500 }, (_, i) => {
      const d = s.docs.ensureDocument({ hash: hashOf(`d${i}`), kind: 'text', size: 1 });
      s.docs.replaceChunks(d.id, [{ seq: 0, text: `common word${i}`, tokens: 2 }]);
      const [c] = s.docs.chunks(d.id);
      // the first 500 documents lie on the query's axis, the rest away from it
      s.docs.putVectors(sp, [{ chunkId: c.id, docId: d.id, vector: i < 500 ? unit(8, 0, i / 1000) : unit(8, 1 + (i % 7), 0.5) }]);
      return { id: d.id, chunk: c.id };
    }))();
    const chosen = docs.slice(500); // 2,000 ids, none of the nearest
    const chosenChunks = new Set(chosen.map((d) => d.chunk));
    const hits = s.docs.searchVectors(sp, chosen.map((d) => d.id), unit(8, 0), 50);
    expect(hits).toHaveLength(50);
    for (const h of hits) expect(chosenChunks.has(h.chunkId)).toBe(true);
    // unfiltered, the nearest are the first 500's
    expect(s.docs.searchVectors(sp, docs.map((d) => d.id), unit(8, 0), 50).every((h) => !chosenChunks.has(h.chunkId))).toBe(true);

    const text = s.docs.searchText(chosen.map((d) => d.id), 'common word3', 100);
    expect(text).toHaveLength(100);
    for (const h of text) expect(chosenChunks.has(h.chunkId)).toBe(true);
    expect(s.docs.searchText(chosen.map((d) => d.id), 'word2499', 5).map((h) => h.chunkId)).toEqual([docs[2499].chunk]);
    expect(s.docs.searchText(chosen.map((d) => d.id), 'word3', 5)).toEqual([]);
  });
});

describe('where sqlite-vec cannot load', () => {
  test('the store opens with vectors off and says why; vector operations are empty; keyword search works', () => {
    const logger = recordingLogger();
    const s = openStore({ logger, vectorExtension: path.join(tmpDir(), 'missing', 'vec0.so') });
    expect(s.docs.vectorsAvailable).toBe(false);
    expect(s.docs.vectorsReason).toMatch(/sqlite-vec could not be loaded: .*missing/);
    expect(logger.warnings.map((w) => w.msg)).toContain('store: vector search unavailable, documents use keyword search only');

    const sp = s.docs.ensureSpace('m', 'M', 4);
    const d = addDoc(s, 'doc', 2);
    expect(s.docs.chunksWithoutVectors(sp, { limit: 10 })).toEqual([]);
    expect(s.docs.putVectors(sp, [{ chunkId: d.chunks[0], docId: d.id, vector: unit(4, 0) }])).toBe(0);
    expect(s.docs.searchVectors(sp, [d.id], unit(4, 0), 3)).toEqual([]);
    expect(s.docs.vectorCount(sp)).toBe(0);
    expect(s.docs.searchText([d.id], 'part', 5)).toHaveLength(2);
    expect(s.docs.dropSpace(sp)).toBe(true);
  });

  test('a file with vectors opened without sqlite-vec keeps working; back with it, nothing stale is found and orphan tables go', () => {
    const file = path.join(tmpDir(), 'hearth.db');
    let s = openStore({ file });
    const keep = s.docs.ensureSpace('keep', null, 4);
    const gone = s.docs.ensureSpace('gone', null, 4);
    const d = addDoc(s, 'doc', 2);
    const t = s.threads.create({});
    s.docs.linkThread(t.id, d.id, 'doc.txt');
    for (const sp of [keep, gone]) s.docs.putVectors(sp, d.chunks.map((chunkId, i) => ({ chunkId, docId: d.id, vector: unit(4, i) })));
    s.close();

    s = openStore({ file, vectorExtension: path.join(tmpDir(), 'nope.so') });
    expect(s.integrityCheck()).toEqual(['ok']);
    s.docs.replaceChunks(d.id, [{ seq: 0, text: 'rewritten', tokens: 1 }]); // its old vectors cannot be deleted here
    expect(s.docs.dropSpace(gone)).toBe(true); // its table stays: dropping a vec0 table needs the module
    expect(s.docs.collectGarbage().map((g) => g.hash)).toEqual([]);
    s.close();

    s = openStore({ file });
    expect(s.db.prepare(`SELECT count(*) FROM doc_vec_${keep}`).pluck().get()).toBe(2); // the old chunks' vectors, left behind …
    expect(s.docs.vectorCount(keep)).toBe(0); // … are not counted …
    expect(s.docs.searchVectors(keep, [d.id], unit(4, 0), 5)).toEqual([]); // … are never returned
    expect(s.docs.chunksWithoutVectors(keep, { limit: 5 }).map((c) => c.text)).toEqual(['rewritten']);
    const tables = () => s.db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'doc_vec_[0-9]*' AND sql LIKE 'CREATE VIRTUAL%'").pluck().all();
    expect(tables()).toEqual([`doc_vec_${keep}`, `doc_vec_${gone}`]);
    s.docs.collectGarbage().map((g) => g.hash);
    expect(tables()).toEqual([`doc_vec_${keep}`]);
  });

  test('a path inside app.asar is read from app.asar.unpacked', () => {
    expect(unpackedPath('/opt/Hearth/resources/app.asar/node_modules/sqlite-vec-linux-x64/vec0.so'))
      .toBe('/opt/Hearth/resources/app.asar.unpacked/node_modules/sqlite-vec-linux-x64/vec0.so');
    expect(unpackedPath('C:\\Hearth\\resources\\app.asar\\node_modules\\sqlite-vec-windows-x64\\vec0.dll'))
      .toBe('C:\\Hearth\\resources\\app.asar.unpacked\\node_modules\\sqlite-vec-windows-x64\\vec0.dll');
    const unpacked = '/Applications/Hearth.app/Contents/Resources/app.asar.unpacked/node_modules/sqlite-vec-darwin-arm64/vec0.dylib';
    expect(unpackedPath(unpacked)).toBe(unpacked);
    expect(unpackedPath('/home/me/hearth/node_modules/sqlite-vec-linux-x64/vec0.so')).toBe('/home/me/hearth/node_modules/sqlite-vec-linux-x64/vec0.so');
  });
});

describe('space given back', () => {
  test('a table whose deleted vectors leave more holes than vectors gets them back in short steps: fewer slots, the same search results; one with few holes is left', () => {
    const s = openStore();
    const sp = s.docs.ensureSpace('model-a@1', 'Model A', 8);
    const a = addDoc(s, 'kept', 4000);
    const b = addDoc(s, 'changed once', 2000);
    const c = addDoc(s, 'changed twice', 6000);
    // embedded in turn, so every vec0 chunk (1,024 slots) holds vectors of all three documents
    const next = { a: 0, b: 0, c: 0 };
    const rows = Array.from({ length: 12_000 }, (_, i) => {
      const which = i % 6 < 2 ? a : i % 6 === 2 ? b : c;
      const key = which === a ? 'a' : which === b ? 'b' : 'c';
      return { chunkId: which.chunks[next[key]++], docId: which.id, vector: unit(8, i % 8, (i % 13) / 13) };
    });
    expect(s.docs.putVectors(sp, rows)).toBe(12_000);
    const slots = () => vecSlots(s.db, `doc_vec_${sp}`);
    expect(slots()).toEqual({ slots: 12 * 1024, vectors: 12_000 });
    // a document indexed again: its vectors' slots stay held, too few holes to rewrite the table
    s.docs.replaceChunks(b.id, []);
    expect(slots()).toEqual({ slots: 12 * 1024, vectors: 10_000 });
    expect(s.docs.compactVectors(5)).toBe(false);
    s.docs.replaceChunks(c.id, []);
    expect(slots()).toEqual({ slots: 12 * 1024, vectors: 4000 });
    const q = unit(8, 2, 0.3);
    // every vector's distance to q, by chunk (the vectors themselves, as the file holds them)
    const distances = () => new Map(s.docs.searchVectorsExact(sp, [a.id], q, 4096).map((h) => [h.chunkId, h.distance]));
    const before = { fast: s.docs.searchVectors(sp, [a.id], q, 20), all: distances() };
    expect(before.fast).toHaveLength(20);
    expect(before.all.size).toBe(4000);

    // more holes than vectors: the sparse chunks' vectors moved, a few at a time, until those chunks are freed
    let steps = 0;
    let longest = 0;
    for (let more = true; more; steps++) {
      const t = performance.now();
      more = s.docs.compactVectors(5);
      longest = Math.max(longest, performance.now() - t);
    }
    expect(steps).toBeGreaterThan(3);
    // (generous: a step is about 5 ms; the whole move at once takes far longer)
    expect(longest).toBeLessThan(500);
    expect(slots().vectors).toBe(4000);
    expect(slots().slots).toBeLessThanOrEqual(6 * 1024);
    expect(worthCompacting(slots())).toBe(false);
    // the same vectors, found as near (among equal distances the order may differ: the slots moved)
    expect(distances()).toEqual(before.all);
    expect(s.docs.searchVectors(sp, [a.id], q, 20).map((h) => h.distance)).toEqual(before.fast.map((h) => h.distance));
    expect(s.docs.vectorCount(sp)).toBe(4000);
    // and new ones still go in
    const d = addDoc(s, 'new', 3);
    expect(s.docs.putVectors(sp, d.chunks.map((id, i) => ({ chunkId: id, docId: d.id, vector: unit(8, i) })))).toBe(3);
    expect(s.docs.searchVectors(sp, [d.id], unit(8, 1), 1).map((h) => h.chunkId)).toEqual([d.chunks[1]]);
    expect(s.docs.compactVectors(5)).toBe(false);
  });
});
