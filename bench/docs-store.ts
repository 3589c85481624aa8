/**
 * Documents store benchmark: stores N synthetic chunks (documents of 50 chunks, ~150 words each from a
 * Zipf-distributed vocabulary, random unit vectors) in a fresh database, then measures a turn's
 * retrieval — the keyword search in its thread while the vector search runs, then fuseRanks, as retrieve.ts does;
 * and the same one after the other on one thread — over every document (an assistant's whole
 * knowledge) and over 20 documents (a thread's attachments), p50/p95, and the database file's growth
 * per 1,000 chunks (text, FTS index and vectors). The vector index (built in a worker thread from a space's
 * first search): how long until it is ready, the longest the main thread's event loop was held meanwhile, and how
 * well the two-stage search agrees with the exact KNN on these random vectors. Prints JSON.
 *
 *   npm run bench:docs-store -- [--chunks 10000,100000] [--dims 384] [--queries 50] [--keep] [--dir DIR]
 *
 * benchStore() is the core, for a larger documents bench to call.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { fuseRanks } from '../main/docs/fuse';
import { Store } from '../main/store';
import { arg, flag, intArg, intListArg, useOptions } from './options';

export interface BenchStoreOptions {
  chunks: number;
  dims: number;
  /** queries measured per scope */
  queries: number;
  /** the folder the database is made in (it must not hold hearth.db yet) */
  dir: string;
  chunksPerDoc?: number;
  wordsPerChunk?: number;
  /** the k of each search (and of the fused list) */
  k?: number;
  seed?: number;
}

export interface Latency { p50: number; p95: number; max: number }
export interface ScopeResult {
  docs: number;
  /** the keyword search on the main connection */
  textMs: Latency;
  vectorMs: Latency;
  fuseMs: Latency;
  /** a turn's search as retrieval runs it: the keyword search in its thread while the vector search runs here, fused */
  totalMs: Latency;
  /** the same on one thread, one after the other (text + vector + fuse) */
  sequentialMs: Latency;
  textHits: number;
}
/** The two-stage vector search against the exact KNN (searchVectorsExact) over the same queries. */
export interface Agreement {
  /** the share of the exact k nearest it returns too */
  recall: number;
  /** the share of queries whose nearest it returns first */
  top1: number;
  /** the largest difference of a distance it reports from the exact one (the same chunk) */
  maxDistanceError: number;
}

export interface BenchStoreResult {
  chunks: number;
  docs: number;
  dims: number;
  vectors: boolean;
  insertMs: number;
  chunksPerSecond: number;
  dbBytes: number;
  bytesPer1000Chunks: number;
  /** the first vector search's time (it starts the index's build and answers from the exact KNN) */
  firstVectorSearchMs: number;
  /** from the first vector search until the space's in-memory index is ready (built in a worker thread) */
  vectorIndexMs: number;
  /** the longest the main thread's event loop was held (a 1 ms timer's longest wait) while the index was built */
  vectorIndexBlockMs: number;
  all: ScopeResult;
  thread: ScopeResult;
  agreement: { all: Agreement; thread: Agreement };
}

/** A seeded PRNG in [0, 1) (mulberry32). */
export function prng(seed: number): () => number { // mulberry32
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYL = ['ka', 'lo', 'mi', 'ren', 'tor', 'va', 'sel', 'dun', 'pha', 'qui', 'bre', 'stal', 'om', 'ix', 'ne', 'gra', 'zu', 'pel',
  'cor', 'tin', 'vex', 'rho', 'sam', 'lu', 'dra', 'fen', 'gor', 'hil', 'jas', 'mon'];

/** `n` distinct made-up words of 1-3 syllables. */
export function vocabulary(rand: () => number, n: number): string[] {
  const words = new Set<string>();
  while (words.size < n) {
    const parts = 1 + Math.floor(rand() * 3);
    let w = '';
    for (let i = 0; i < parts; i++) w += SYL[Math.floor(rand() * SYL.length)];
    words.add(w);
  }
  return [...words];
}

/** A Zipf(1) sampler over `n` ranks (a few words very common, most rare, as in prose). */
export function zipf(rand: () => number, n: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1);
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
}

/** A random direction of `dims` dimensions, length 1. */
export function unitVector(rand: () => number, dims: number): Float32Array {
  const v = new Float32Array(dims);
  let n = 0;
  for (let i = 0; i < dims; i++) { v[i] = rand() * 2 - 1; n += v[i] * v[i]; }
  n = Math.sqrt(n);
  for (let i = 0; i < dims; i++) v[i] /= n;
  return v;
}

/** p50, p95 and max of `xs`, rounded to microseconds. */
export function latency(xs: number[]): Latency {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { p50: r(at(0.5)), p95: r(at(0.95)), max: r(s[s.length - 1]) };
}

/** The longest wait between the ticks of an `everyMs` timer while `run` runs: how long the event loop was held. */
export async function longestHold(run: () => Promise<unknown>, everyMs = 5, settleMs = 0): Promise<number> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, everyMs);
  try {
    if (settleMs) await sleep(settleMs);
    await run();
    if (settleMs) await sleep(settleMs);
  } finally {
    clearInterval(timer);
  }
  return Math.max(gap, performance.now() - last);
}

/** A database's bytes on disk (its file and WAL). */
export function dbBytes(file: string): number {
  return ['', '-wal'].reduce((n, suffix) => n + (fs.existsSync(file + suffix) ? fs.statSync(file + suffix).size : 0), 0);
}

export async function benchStore(opts: BenchStoreOptions): Promise<BenchStoreResult> {
  const { chunks, dims, queries, dir } = opts;
  const perDoc = opts.chunksPerDoc ?? 50;
  const words = opts.wordsPerChunk ?? 150;
  const k = opts.k ?? 20;
  const rand = prng(opts.seed ?? 0x9e3779b9);
  const vocab = vocabulary(rand, 20_000);
  const word = zipf(rand, vocab.length);
  const file = path.join(dir, 'hearth.db');
  if (fs.existsSync(file)) throw new Error(`${file} exists; benchStore makes a fresh database`);

  const store = Store.open(file, { checkpointIntervalMs: 0 });
  try {
    const space = store.docs.ensureSpace('bench-model', 'bench', dims);
    store.checkpoint();
    const before = dbBytes(file);
    const docIds: number[] = [];
    const t0 = performance.now();
    for (let done = 0, d = 0; done < chunks; d++) {
      const n = Math.min(perDoc, chunks - done);
      const doc = store.docs.ensureDocument({ hash: d.toString(16).padStart(64, '0'), kind: 'text', size: n * words * 6 });
      store.docs.replaceChunks(doc.id, Array.from({ length: n }, (_, seq) => ({
        seq, tokens: words, heading: `Section ${seq >> 3}`,
        text: Array.from({ length: words }, () => vocab[word()]).join(' '),
      })));
      store.docs.putVectors(space, store.docs.chunks(doc.id).map((c) => ({ chunkId: c.id, docId: doc.id, vector: unitVector(rand, dims) })));
      store.docs.linkThread(`bench-${d % 100}`, doc.id, `doc ${d}.txt`);
      docIds.push(doc.id);
      done += n;
    }
    const insertMs = performance.now() - t0;
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const after = dbBytes(file);

    const measure = async (ids: number[]): Promise<ScopeResult> => {
      const text: number[] = [];
      const vector: number[] = [];
      const fuse: number[] = [];
      const total: number[] = [];
      const sequential: number[] = [];
      let textHits = 0;
      for (let q = 0; q < queries; q++) {
        // a question: a few common words and a rarer one or two
        const query = Array.from({ length: 3 + (q % 4) }, () => vocab[word()]).join(' ');
        const qv = unitVector(rand, dims);
        const oneThread = () => {
          const a = performance.now();
          const th = store.docs.searchText(ids, query, k);
          const b = performance.now();
          const vh = store.docs.searchVectors(space, ids, qv, k);
          const c = performance.now();
          fuseRanks([th, vh]).slice(0, k);
          const e = performance.now();
          text.push(b - a); vector.push(c - b); fuse.push(e - c); sequential.push(e - a);
          textHits += th.length;
        };
        // as retrieve.ts does: the words searched in their thread while the vectors are searched here
        const asRetrieval = async () => {
          const a = performance.now();
          const words = store.docs.searchTextOffThread(ids, query, k);
          const vh = store.docs.searchVectors(space, ids, qv, k);
          fuseRanks([await words, vh]).slice(0, k);
          total.push(performance.now() - a);
        };
        // each way first in turn (the second finds the pages the first read)
        if (q % 2 === 0) { oneThread(); await asRetrieval(); } else { await asRetrieval(); oneThread(); }
      }
      return { docs: ids.length, textMs: latency(text), vectorMs: latency(vector), fuseMs: latency(fuse), totalMs: latency(total),
        sequentialMs: latency(sequential), textHits: Math.round(textHits / queries) };
    };
    const agreement = (ids: number[]): Agreement => {
      let found = 0;
      let wanted = 0;
      let top1 = 0;
      let maxDistanceError = 0;
      for (let q = 0; q < queries; q++) {
        const qv = unitVector(rand, dims);
        const exact = store.docs.searchVectorsExact(space, ids, qv, k);
        const fast = new Map(store.docs.searchVectors(space, ids, qv, k).map((h) => [h.chunkId, h]));
        wanted += exact.length;
        for (const e of exact) {
          const f = fast.get(e.chunkId);
          if (!f) continue;
          found++;
          maxDistanceError = Math.max(maxDistanceError, Math.abs(f.distance - e.distance));
          if (e.rank === 1 && f.rank === 1) top1++;
        }
      }
      const r = (x: number) => Math.round(x * 10000) / 10000;
      return { recall: r(found / Math.max(1, wanted)), top1: r(top1 / queries), maxDistanceError: Number(maxDistanceError.toPrecision(3)) };
    };
    // warm the page cache and the statements once, as a running app has; the vector search's in-memory index is
    // built in a worker from the space's first search (which answers from the exact KNN): how long until it is
    // ready, and the longest the event loop was held meanwhile
    store.docs.searchText(docIds, vocab[0], k);
    // (and the keyword search's thread started, its connection open)
    await store.docs.searchTextOffThread(docIds, vocab[0], k);
    const w = performance.now();
    store.docs.searchVectors(space, docIds, unitVector(rand, dims), k);
    const firstVectorSearchMs = Math.round(performance.now() - w);
    let ready = false;
    const held = await longestHold(async () => { ready = await store.docs.warmVectors(space); }, 1);
    if (store.docs.vectorsAvailable && !ready) throw new Error('the vector index was not built (is dist/docs-index-worker.js built? node scripts/build-ts.js)');
    const vectorIndexMs = Math.round(performance.now() - w);
    const all = await measure(docIds);
    const threadIds = docIds.filter((_, i) => i % Math.max(1, Math.floor(docIds.length / 20)) === 0).slice(0, 20);
    const thread = await measure(threadIds);
    return {
      chunks, docs: docIds.length, dims, vectors: store.docs.vectorsAvailable,
      insertMs: Math.round(insertMs), chunksPerSecond: Math.round(chunks / (insertMs / 1000)),
      dbBytes: after, bytesPer1000Chunks: Math.round(((after - before) / chunks) * 1000),
      firstVectorSearchMs, vectorIndexMs, vectorIndexBlockMs: Math.round(held), all, thread,
      agreement: { all: agreement(docIds), thread: agreement(threadIds) },
    };
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  useOptions('bench:docs-store', { chunks: 'value', dims: 'value', queries: 'value', keep: 'flag', dir: 'value' });
  const sizes = intListArg('chunks', [10_000, 100_000], 1);
  const dims = intArg('dims', 384, 1, 8192);
  const queries = intArg('queries', 50, 1);
  const base = arg('dir') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-docs-bench-'));
  const results: BenchStoreResult[] = [];
  for (const n of sizes) {
    const dir = path.join(base, `chunks-${n}`);
    fs.mkdirSync(dir, { recursive: true });
    process.stderr.write(`storing ${n} chunks of ${dims} dimensions in ${dir}\n`);
    results.push(await benchStore({ chunks: n, dims, queries, dir }));
  }
  if (!flag('keep') && arg('dir') === undefined) fs.rmSync(base, { recursive: true, force: true });
  console.log(JSON.stringify(results, null, 2));
}

if (/docs-store\.(ts|js)$/.test(process.argv[1] ?? '')) void main();
