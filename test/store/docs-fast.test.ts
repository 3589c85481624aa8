/**
 * The fast retrieval paths of store.docs: the two-stage vector search (sign bits in memory, exact rescoring;
 * docs-vectors.ts / docs-binary.ts) against the exact vec0 KNN, its index kept in step with writes here and
 * rebuilt after another connection's; the keyword search's document filter (docs-text.ts) against a
 * brute-force filter of all matches, and its stop words. Real SQLite files, real sqlite-vec.
 */
import path from 'path';
import type { Store } from '../../main/store';
import type { VectorHit } from '../../main/store/docs';
import { prng, unitVector } from '../../bench/docs-store';
import { toDocFtsQuery } from '../../main/store/docs';
import { cleanupDirs, closeStores, openStore, tmpDir, hashOf, near } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });



function addDocs(s: Store, docs: number, perDoc: number, text: (d: number, c: number) => string) {
  return s.db.transaction(() => Array.from({ length: docs }, (_, d) => {
    const doc = s.docs.ensureDocument({ hash: hashOf(`doc ${d}`), kind: 'text', size: 1 });
    s.docs.replaceChunks(doc.id, Array.from({ length: perDoc }, (_, seq) => ({ seq, text: text(d, seq), tokens: 5 })));
    return { id: doc.id, chunks: s.docs.chunks(doc.id).map((c) => c.id) };
  }))();
}

/** Most a rescored distance (int8 codes: docs-binary.ts) may differ from sqlite-vec's over the float vectors. */
const DISTANCE_ERROR = 1e-3;

/** The same neighbours in the same order, at the same distances (within DISTANCE_ERROR). */
function expectSameHits(fast: VectorHit[], exact: VectorHit[]) {
  expect(fast.map((h) => [h.chunkId, h.rank])).toEqual(exact.map((h) => [h.chunkId, h.rank]));
  fast.forEach((h, i) => expect(Math.abs(h.distance - exact[i].distance)).toBeLessThan(DISTANCE_ERROR));
}

describe('two-stage vector search', () => {
  test('equals the exact KNN when the nearest are well separated; kept in step with writes', async () => {
    const rand = prng(7);
    const dims = 96;
    const s = openStore();
    const sp = s.docs.ensureSpace('m', null, dims);
    const docs = addDocs(s, 100, 20, (d, c) => `doc ${d} chunk ${c}`);
    const all = docs.flatMap((d) => d.chunks.map((chunkId) => ({ chunkId, docId: d.id })));
    const q = unitVector(rand, dims);
    // 2,000 random vectors, 6 of them near-duplicates of the query (at growing distances)
    const close = [17, 345, 808, 1203, 1555, 1999];
    s.docs.putVectors(sp, all.map((c, i) => ({ ...c, vector: close.includes(i) ? near(rand, q, 0.05 * (1 + close.indexOf(i))) : unitVector(rand, dims) })));
    const ids = docs.map((d) => d.id);

    const exact = s.docs.searchVectorsExact(sp, ids, q, 6);
    expect(exact.map((h) => h.chunkId)).toEqual(close.map((i) => all[i].chunkId));
    // the index, built in its worker (until then searches are the exact KNN)
    expect(await s.docs.warmVectors(sp)).toBe(true);
    expect(s.docs.vectorIndexState(sp)).toBe('ready');
    const fast = s.docs.searchVectors(sp, ids, q, 6);
    expect(fast.map((h) => h.chunkId)).toEqual(exact.map((h) => h.chunkId));
    expectSameHits(fast, exact);
    expect(fast.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    // a document filter: only the chosen documents' near-duplicates, then the exact order of the rest
    const some = [docs[0].id, docs[40].id, docs[99].id];
    expectSameHits(s.docs.searchVectors(sp, some, q, 10), s.docs.searchVectorsExact(sp, some, q, 10));

    // a vector put now (in memory too): the nearest of all
    s.docs.putVectors(sp, [{ ...all[500], vector: near(rand, q, 0.01) }]);
    expect(s.docs.searchVectors(sp, ids, q, 1).map((h) => h.chunkId)).toEqual([all[500].chunkId]);
    // its document re-chunked: its vectors gone (the chunks have none yet)
    s.docs.replaceChunks(all[500].docId, [{ seq: 0, text: 'new', tokens: 1 }]);
    expect(s.docs.searchVectors(sp, ids, q, 6).map((h) => h.chunkId)).toEqual(exact.map((h) => h.chunkId));
    expect(s.docs.searchVectors(sp, [all[500].docId], q, 6)).toEqual([]);
    // all of it on the index, never rebuilt (a write here changes it in step)
    expect(s.docs.vectorIndexState(sp)).toBe('ready');
  });

  test('another connection\'s writes are seen (the index is built again)', async () => {
    const rand = prng(11);
    const file = path.join(tmpDir(), 'hearth.db');
    const s = openStore({ file });
    const sp = s.docs.ensureSpace('m', null, 32);
    const docs = addDocs(s, 10, 10, (d, c) => `d${d} c${c}`);
    const ids = docs.map((d) => d.id);
    s.docs.putVectors(sp, docs.flatMap((d) => d.chunks.map((chunkId) => ({ chunkId, docId: d.id, vector: unitVector(rand, 32) }))));
    const q = unitVector(rand, 32);
    expect(await s.docs.warmVectors(sp)).toBe(true);
    expectSameHits(s.docs.searchVectors(sp, ids, q, 5), s.docs.searchVectorsExact(sp, ids, q, 5));

    const other = openStore({ file });
    const [fresh] = addDocs(other, 1, 1, () => 'fresh').map((d) => ({ ...d, id: d.id }));
    // (addDocs names documents by index: this one is "doc 0" again, so it is docs[0] with one new chunk)
    other.docs.putVectors(sp, [{ chunkId: fresh.chunks[0], docId: fresh.id, vector: q }]);
    // stale: the exact KNN while the index is built again, then the new index
    expect(s.docs.searchVectors(sp, ids, q, 1).map((h) => [h.chunkId, h.distance])).toEqual([[fresh.chunks[0], expect.closeTo(0, 6)]]);
    expect(s.docs.vectorIndexState(sp)).not.toBe('ready');
    expect(await s.docs.warmVectors(sp)).toBe(true);
    const [hit] = s.docs.searchVectors(sp, ids, q, 1);
    expect(hit.chunkId).toBe(fresh.chunks[0]);
    expect(Math.abs(hit.distance)).toBeLessThan(DISTANCE_ERROR);
    other.docs.dropSpace(sp);
    expect(() => s.docs.searchVectors(sp, ids, q, 1)).toThrow();
  });
});

describe('keyword search', () => {
  /** Every match of an FTS5 expression, ranked over all chunks, then filtered to `docIds`. */
  function rankAll(s: Store, docIds: number[], q: string, k: number) {
    const wanted = new Set(docIds);
    const rows = s.db.prepare(`SELECT f.rowid AS chunk_id, bm25(doc_chunks_fts) AS score, c.doc_id FROM doc_chunks_fts f
      JOIN doc_chunks c ON c.id = f.rowid WHERE doc_chunks_fts MATCH ?`).all(q) as { chunk_id: number; score: number; doc_id: number }[];
    return rows.filter((r) => wanted.has(r.doc_id)).sort((a, b) => a.score - b.score || a.chunk_id - b.chunk_id).slice(0, k)
      .map((r, i) => ({ chunkId: r.chunk_id, rank: i + 1, score: r.score }));
  }

  /** What searchText must return: the words in half the chunks or more left out when k hits are found without them. */
  function bruteForce(s: Store, docIds: number[], query: string, k: number) {
    const total = (s.db.prepare('SELECT count(*) FROM doc_chunks').pluck().get() as number);
    const matching = (t: string) => s.db.prepare('SELECT count(*) FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ?').pluck().get(t) as number;
    const terms = toDocFtsQuery(query)!.split(' OR ');
    const rare = terms.filter((t) => matching(t) * 2 < total);
    if (rare.length > 0 && rare.length < terms.length) {
      const hits = rankAll(s, docIds, rare.join(' OR '), k);
      if (hits.length === k) return hits;
    }
    return rankAll(s, docIds, terms.join(' OR '), k);
  }

  test('the document filter gives exactly the brute-force hits, for few documents and for many', () => {
    const rand = prng(3);
    const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'lambda'];
    const s = openStore();
    // every document has "zeta", the first 1,800 three times: their chunks rank first for it
    const docs = addDocs(s, 2000, 3, (d) => Array.from({ length: 12 }, () => words[Math.floor(rand() * rand() * words.length)]).join(' ')
      + (d < 1800 ? ' zeta zeta zeta' : ' zeta'));
    const ids = docs.map((d) => d.id);
    const cases: [number[], string][] = [
      [[ids[5], ids[1000], ids[1999]], 'alpha lambda'], // 3 documents: rowid ranges
      [[ids[5], ids[6], ids[7]], 'kappa'], // adjacent documents: one range
      [ids.filter((_, i) => i % 25 === 0), 'sigma omega'], // 80 documents (4% of the chunks): more ranges than one query lists
      [ids, 'beta lambda'], // every document: the best of all, filtered afterwards
      [ids.filter((_, i) => i % 2 === 0), 'lambda'], // half
      [ids.filter((_, i) => i % 10 === 0), 'kappa lambda'], // a tenth: filtered afterwards
      [ids.slice(1800), 'zeta'], // a tenth whose chunks rank last: fewer than k left after filtering, so the filtered search
    ];
    for (const [set, query] of cases) {
      for (const k of [1, 7, 50]) {
        const expected = bruteForce(s, set, query, k);
        expect(expected.length).toBeGreaterThan(0);
        expect(s.docs.searchText(set, query, k)).toEqual(expected);
      }
    }
    // a set whose chunks are not all matched, and one whose chunks match nothing
    expect(s.docs.searchText([ids[3]], 'nothing-like-this', 5)).toEqual([]);

    // "alpha" (in most chunks) is left out: the hits are the best for "lambda", at nearly the full query's scores
    const total = s.db.prepare('SELECT count(*) FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ?').pluck();
    expect((total.get('"alpha"') as number) * 2).toBeGreaterThan(6000);
    const hits = s.docs.searchText(ids, 'alpha lambda', 10);
    expect(hits).toEqual(rankAll(s, ids, '"lambda"', 10));
    const full = new Map(rankAll(s, ids, '"alpha" OR "lambda"', 6000).map((h) => [h.chunkId, h.score]));
    for (const h of hits) expect(Math.abs(h.score - full.get(h.chunkId)!)).toBeLessThan(1e-4);
    // with fewer than k hits without it, the full query
    expect(s.docs.searchText([ids[0], ids[1]], 'alpha lambda', 6)).toEqual(rankAll(s, [ids[0], ids[1]], '"alpha" OR "lambda"', 6));
  });

  test('very common English words are left out of the question unless nothing else is left', () => {
    expect(toDocFtsQuery('What is the warranty of the pump?')).toBe('"warranty" OR "pump?"');
    expect(toDocFtsQuery('what is it')).toBe('"what" OR "is" OR "it"');
    expect(toDocFtsQuery('"the end" of it')).toBe('"the end"');
    const s = openStore();
    const [a, b] = addDocs(s, 2, 1, (d) => (d === 0 ? 'the pump and the warranty' : 'the of and to in is'));
    expect(s.docs.searchText([a.id, b.id], 'what is the warranty', 5).map((h) => h.chunkId)).toEqual([a.chunks[0]]);
    expect(s.docs.searchText([a.id, b.id], 'the of', 5).map((h) => h.chunkId).sort()).toEqual([a.chunks[0], b.chunks[0]].sort());
  });
});
