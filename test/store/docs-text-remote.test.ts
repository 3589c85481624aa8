/**
 * The keyword search in its own thread (docs-text-remote.ts, the bundled dist/docs-text-worker.js): the same hits as
 * the main connection's search on every filter path, what the main connection commits seen by the next search, and a
 * thread that cannot answer (its file missing, one that exits) leaving the search to the main connection, logged,
 * with the same hits. Real SQLite files, real FTS5.
 */
import fs from 'fs';
import path from 'path';
import type { Store } from '../../main/store';
import { SEARCH_TIMEOUT_MS, TextSearchWorker } from '../../main/store/docs-text-remote';
import { prng, vocabulary, zipf } from '../../bench/docs-store';
import { ensureWorker } from '../helpers/workers';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir, hashOf } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });


/** `docs` documents of 20 chunks of Zipf-drawn words (a few very common, most rare). */
function fill(s: Store, docs: number): { ids: number[]; vocab: string[]; word: () => number } {
  const rand = prng(7);
  const vocab = vocabulary(rand, 2000);
  const word = zipf(rand, vocab.length);
  const ids = s.db.transaction(() => Array.from({ length: docs }, (_, d) => {
    const doc = s.docs.ensureDocument({ hash: hashOf(`doc ${d}`), kind: 'text', size: 1 });
    s.docs.replaceChunks(doc.id, Array.from({ length: 20 }, (_, seq) => ({ seq, tokens: 40, text: Array.from({ length: 40 }, () => vocab[word()]).join(' ') })));
    return doc.id;
  }))();
  return { ids, vocab, word };
}

test('the thread finds what the main connection finds, on every filter path, and sees what it commits', async () => {
  const s = openStore();
  const { ids, vocab, word } = fill(s, 300);
  // all documents (filtered afterwards), a few far apart (rowid ranges), many scattered (the join)
  const scopes = [ids, ids.filter((_, i) => i % 50 === 0), ids.filter((_, i) => i % 2 === 0 && i < 260)];
  let compared = 0;
  for (let q = 0; q < 30; q++) {
    const query = Array.from({ length: 2 + (q % 4) }, () => vocab[word()]).join(' ');
    for (const scope of scopes) {
      const here = s.docs.searchText(scope, query, 12);
      expect(await s.docs.searchTextOffThread(scope, query, 12)).toEqual(here);
      compared += here.length;
    }
  }
  expect(compared).toBeGreaterThan(500);

  // committed here, found there at the next search
  const doc = s.docs.ensureDocument({ hash: hashOf('new'), kind: 'text', size: 1 });
  s.docs.replaceChunks(doc.id, [{ seq: 0, tokens: 2, text: 'quokka lantern' }]);
  const hits = await s.docs.searchTextOffThread([...ids, doc.id], 'quokka', 5);
  expect(hits).toEqual([{ chunkId: s.docs.chunks(doc.id)[0].id, rank: 1, score: expect.any(Number) }]);
  // nothing to search: no request
  expect(await s.docs.searchTextOffThread(ids, 'the of and', 5)).toEqual(s.docs.searchText(ids, 'the of and', 5));
  expect(await s.docs.searchTextOffThread([], 'quokka', 5)).toEqual([]);
  await expect(s.docs.searchTextOffThread(ids, 'quokka', 0)).rejects.toMatchObject({ code: 'invalid_input' });
});

test('a thread that cannot answer leaves the search to the main connection, with the same hits, and says why once', async () => {
  const dir = tmpDir();
  const exits = path.join(dir, 'exits.js');
  fs.writeFileSync(exits, 'process.exit(3)');
  for (const worker of [path.join(dir, 'missing.js'), exits]) {
    const logger = recordingLogger();
    const s = openStore({ textSearchWorker: worker, logger });
    const { ids } = fill(s, 20);
    const query = 'kalo mi';
    const here = s.docs.searchText(ids, query, 10);
    expect(here.length).toBeGreaterThan(0);
    expect(await s.docs.searchTextOffThread(ids, query, 10)).toEqual(here);
    expect(await s.docs.searchTextOffThread(ids, query, 10)).toEqual(here);
    const said = logger.warnings.filter((w) => /keyword search thread/.test(w.msg));
    expect(said).toHaveLength(1);
    expect(said[0].msg).toMatch(worker === exits ? /stopped \(exit code 3\)/ : /is missing/);
  }
});

test('the thread on its own: answers in order; a malformed request is an error for that request; closed, it rejects', async () => {
  const s = openStore();
  const { ids } = fill(s, 10);
  const logger = recordingLogger();
  const w = new TextSearchWorker(ensureWorker('text'), s.path, logger);
  const [a, b] = await Promise.all([w.search(['"kalo"'], ids, 3), w.search(['"mi"'], ids.slice(0, 2), 3)]);
  expect(a.map((r) => r.chunk_id)).toEqual(s.docs.searchText(ids, 'kalo', 3).map((h) => h.chunkId));
  expect(b.map((r) => r.chunk_id)).toEqual(s.docs.searchText(ids.slice(0, 2), 'mi', 3).map((h) => h.chunkId));
  await expect(w.search(['"unclosed'], ids, 3)).rejects.toThrow(/fts5|syntax|unterminated/i);
  // the thread goes on after an error
  expect((await w.search(['"kalo"'], ids, 3)).map((r) => r.chunk_id)).toEqual(a.map((r) => r.chunk_id));
  const pending = w.search(['"kalo"'], ids, 3);
  w.close();
  await expect(pending).rejects.toThrow('the store was closed');
  await expect(w.search(['"kalo"'], ids, 3)).rejects.toThrow('not running');
  expect(logger.warnings).toEqual([]);
});

test('a search stopped, or not answered in time, rejects; one the thread cannot open says so and ends it; the main connection then searches', async () => {
  const s = openStore();
  const { ids } = fill(s, 10);
  const logger = recordingLogger();
  const w = new TextSearchWorker(ensureWorker('text'), s.path, logger);
  // stopped before and while it runs
  const stopped = new AbortController();
  stopped.abort();
  await expect(w.search(['"kalo"'], ids, 3, stopped.signal)).rejects.toMatchObject({ name: 'AbortError' });
  const stop = new AbortController();
  const pending = w.search(['"kalo"'], ids, 3, stop.signal);
  stop.abort();
  await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  // the thread goes on
  expect((await w.search(['"kalo"'], ids, 3)).length).toBeGreaterThan(0);
  w.close();
  expect(logger.warnings).toEqual([]);

  // not answered in time (a thread that never answers): given up, and the thread ended
  const silent = path.join(tmpDir(), 'silent.js');
  fs.writeFileSync(silent, "require('worker_threads').parentPort.on('message', () => undefined)");
  const mute = new TextSearchWorker(silent, s.path, logger);
  await expect(mute.search(['"kalo"'], ids, 3, undefined, 100)).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/did not answer within 100 ms/) });
  await expect(mute.search(['"kalo"'], ids, 3)).rejects.toThrow('not running');
  expect(logger.warnings.map((x) => x.msg)).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);
  mute.close();

  // a file it cannot open: it says why, and is ended (the store's search falls back)
  const gone = new TextSearchWorker(ensureWorker('text'), path.join(tmpDir(), 'no-such.db'), logger);
  await expect(gone.search(['"kalo"'], ids, 3)).rejects.toThrow(/cannot search: .*(unable to open|no such file|directory does not exist)/i);
  await expect(gone.search(['"kalo"'], ids, 3)).rejects.toThrow('not running');
  gone.close();
  // through the store, a stopped search rejects rather than searching on main
  const st = new AbortController();
  st.abort();
  await expect(s.docs.searchTextOffThread(ids, 'kalo', 3, st.signal)).rejects.toMatchObject({ name: 'AbortError' });
});

test("a search that outran the thread's limit gives no keyword hits rather than running again on the main thread", async () => {
  const silent = path.join(tmpDir(), 'silent.js');
  fs.writeFileSync(silent, "require('worker_threads').parentPort.on('message', () => undefined)");
  const logger = recordingLogger();
  const s = openStore({ textSearchWorker: silent, logger });
  const { ids } = fill(s, 5);
  expect(s.docs.searchText(ids, 'kalo', 3).length).toBeGreaterThan(0);
  const t = performance.now();
  expect(await s.docs.searchTextOffThread(ids, 'kalo', 3)).toEqual([]);
  expect(performance.now() - t).toBeGreaterThanOrEqual(SEARCH_TIMEOUT_MS - 50);
  expect(logger.warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/did not answer within/)]);
}, SEARCH_TIMEOUT_MS + 30_000);
