/**
 * npm run bench:docs -- [--json] [--model PATH | --size fast|bench [--type f16]] [--threads 2] [--docs 1000]
 *   [--sample 1000] [--queries 50] [--chunks 10000,100000|none] [--keep]
 *
 * Documents (RAG), measured through the real parts, as issue #19 asks:
 *
 *   corpus: `--docs` generated documents (bench/docs-corpus.ts: seeded, every format the reader knows,
 *     about 10 chunks each at the default chunk settings).
 *   extraction: each file read in the reader thread (extractInWorker, a worker per file as the indexer
 *     does) and chunked (chunkBlocks), one after another: docs/s, chunks/s, MB/s, and by format.
 *   store: the chunks written (replaceChunks) in a fresh Store, and the database's growth per 1,000
 *     chunks without and with vectors.
 *   embedding: the chunks of the first documents, `--sample` chunks or a little more (0: all), embedded
 *     in batches of EMBED_BATCH as the indexer does (chunksWithoutVectors, DocModels.embed through the
 *     engine host, putVectors), against the same texts through engine.embed alone (no store), batch by
 *     batch in alternating order; chunks/s, tokens/s (the model's own tokenizer) and the ratio. The
 *     model: --model, or a generated embedding model (mean pooling) of --size (default `fast`, F16).
 *   question: the time to embed one question (retrieval's first step), apart from the search.
 *   query: retrieveSources over the corpus store (every chunk has a vector: the sampled ones the
 *     model's, the rest random of the model's width), with the question's vector given (its embedding
 *     excluded), for all documents and for a thread's 20; keyword and vector search timed apart. Then
 *     bench/docs-store.ts's synthetic stores of `--chunks` chunks (random vectors of the model's width)
 *     for the searches' latency at 10,000 and 100,000 chunks (goal p95 < 50 ms at 100,000).
 *
 * Prints one JSON object on stdout; without --json a short summary on stderr too.
 */
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { chunkBlocks, estimateTokens, type Chunk } from '../main/docs/chunk';
import { extractInWorker, defaultExtractWorkerFile } from '../main/docs/extract-run';
import { EMBED_BATCH } from '../main/docs/indexer';
import { DocModels } from '../main/docs/models';
import { CANDIDATES_PER_PICK, retrieveSources, type ThreadDoc } from '../main/docs/retrieve';
import { EngineClient } from '../main/engine/client';
import { silentLogger } from '../main/logging/logger';
import { DocumentSettings, type DocKind } from '../main/params/docs';
import { Store } from '../main/store';
import type { DocsStore } from '../main/store/docs';
import { ensureModel, log, median, medianInterval, scratch } from './common';
import { flag, intArg, intListArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';
import { CORPUS_FORMATS, Words, writeCorpus, type CorpusFormat } from './docs-corpus';
import { benchStore, dbBytes, latency, prng, unitVector, type BenchStoreResult, type Latency } from './docs-store';

useOptions('bench:docs', { ...MODEL_OPTIONS, json: 'flag', threads: 'value', docs: 'value', sample: 'value', queries: 'value', chunks: 'value', keep: 'flag' });
const JSON_OUT = flag('json');
const threads = threadsArg(2);
const nDocs = intArg('docs', 1000, 1);
const sampleArg = intArg('sample', 1000, 0); // 0: every chunk
const queries = intArg('queries', 50, 1);
const sizes = intListArg('chunks', [10_000, 100_000], 1);
/** the documents of a thread-sized scope */
const THREAD_DOCS = 20;
/** the p95 the issue asks of a turn's search at 100,000 chunks */
const GOAL_P95_MS = 50;
const settings = DocumentSettings.parse({});
const K = settings.topK * CANDIDATES_PER_PICK;

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const MB = 1024 * 1024;

interface Doc { id: number; hash: string; name: string; format: CorpusFormat; chunks: number }

interface FormatStats { docs: number; bytes: number; chunks: number; ms: number }

function rates(s: FormatStats) {
  const sec = s.ms / 1000;
  return { docs: s.docs, chunks: s.chunks, mb: round(s.bytes / MB, 2), ms: Math.round(s.ms),
    docsPerSecond: round(s.docs / sec), chunksPerSecond: round(s.chunks / sec), mbPerSecond: round(s.bytes / MB / sec, 2) };
}

/** Extraction and chunking of every file, one after another, each stored as the indexer stores it. */
async function extractAll(files: Awaited<ReturnType<typeof writeCorpus>>, store: Store): Promise<{ docs: Doc[]; result: object; chunks: Chunk[][] }> {
  const per = new Map<CorpusFormat, FormatStats>(CORPUS_FORMATS.map((f) => [f, { docs: 0, bytes: 0, chunks: 0, ms: 0 }]));
  const all: FormatStats = { docs: 0, bytes: 0, chunks: 0, ms: 0 };
  let extractMs = 0;
  let chunkMs = 0;
  let storeMs = 0;
  let estimated = 0;
  const docs: Doc[] = [];
  const chunksOf: Chunk[][] = [];
  for (const f of files) {
    const bytes = new Uint8Array(fs.readFileSync(f.file));
    const hash = crypto.createHash('sha256').update(bytes).digest('hex');
    const a = performance.now();
    const extracted = await extractInWorker(f.name, bytes); // the bytes move to the worker
    const b = performance.now();
    const chunks = chunkBlocks(extracted.blocks, { targetTokens: settings.chunkTokens, overlapTokens: settings.chunkOverlapTokens });
    const c = performance.now();
    const doc = store.docs.ensureDocument({ hash, kind: extracted.kind as DocKind, size: f.bytes });
    store.docs.replaceChunks(doc.id, chunks);
    store.docs.setState(doc.id, 'embedding', { kind: extracted.kind as DocKind, pages: extracted.pages, chars: extracted.chars, note: extracted.note });
    store.docs.linkThread(`bench-${docs.length % 50}`, doc.id, f.name);
    storeMs += performance.now() - c;
    extractMs += b - a;
    chunkMs += c - b;
    for (const s of [per.get(f.format)!, all]) {
      s.docs++;
      s.bytes += f.bytes;
      s.chunks += chunks.length;
      s.ms += c - a;
    }
    estimated += chunks.reduce((n, ch) => n + ch.tokens, 0);
    docs.push({ id: doc.id, hash, name: f.name, format: f.format, chunks: chunks.length });
    chunksOf.push(chunks);
  }
  return {
    docs, chunks: chunksOf,
    result: {
      ...rates(all), extractMs: Math.round(extractMs), chunkMs: Math.round(chunkMs), estimatedTokens: estimated,
      storeMs: Math.round(storeMs), storeChunksPerSecond: round(all.chunks / (storeMs / 1000)),
      byFormat: Object.fromEntries([...per].map(([k, s]) => [k, rates(s)])),
    },
  };
}

interface Batch { texts: string[]; tokens: number; pipelineMs: number; engineMs: number }

/**
 * Embeds the chunks of the first documents (whole documents, until `sample` chunks; 0: all) as the
 * indexer does, and the same texts through the engine alone, batch by batch, the order alternating.
 */
async function embedSample(store: Store, engine: EngineClient, models: DocModels, file: string, spaceId: number, docs: Doc[], sample: number, tokensOf: Map<string, number>) {
  const batches: Batch[] = [];
  let chunks = 0;
  let used = 0;
  for (const d of docs) {
    if (sample > 0 && chunks >= sample) break;
    used++;
    for (;;) {
      const engineFirst = batches.length % 2 === 0;
      const a = performance.now();
      const rows = store.docs.chunksWithoutVectors(spaceId, { docId: d.id, limit: EMBED_BATCH });
      const readMs = performance.now() - a;
      if (rows.length === 0) break;
      const texts = rows.map((r) => r.text);
      const alone = async () => {
        const t = performance.now();
        await engine.embed('docs:embed', texts);
        return performance.now() - t;
      };
      const engineBefore = engineFirst ? await alone() : 0;
      const b = performance.now();
      const vectors = await models.embed(file, texts, 'document');
      store.docs.putVectors(spaceId, rows.map((r, i) => ({ chunkId: r.id, docId: r.docId, vector: Float32Array.from(vectors[i]) })));
      const pipelineMs = readMs + performance.now() - b;
      const engineMs = engineFirst ? engineBefore : await alone();
      batches.push({ texts, tokens: texts.reduce((n, t) => n + tokensOf.get(t)!, 0), pipelineMs, engineMs });
      chunks += rows.length;
    }
  }
  const sum = (f: (b: Batch) => number) => batches.reduce((n, b) => n + f(b), 0);
  const tokens = sum((b) => b.tokens);
  const speed = (ms: number) => ({ ms: Math.round(ms), chunksPerSecond: round(chunks / (ms / 1000)), tokensPerSecond: Math.round(tokens / (ms / 1000)) });
  const pipeline = sum((b) => b.pipelineMs);
  const alone = sum((b) => b.engineMs);
  const ratios = batches.map((b) => b.engineMs / b.pipelineMs);
  return {
    sample: { docs: used, chunks, tokens, batches: batches.length, all: sample === 0 || chunks >= docs.reduce((n, d) => n + d.chunks, 0) },
    batch: EMBED_BATCH,
    indexer: speed(pipeline),
    engineAlone: speed(alone),
    /** the indexer's speed ÷ the engine's alone (1: no cost beyond the engine's) */
    ratio: round(alone / pipeline, 3),
    batchRatio: { median: round(median(ratios), 3), interval: medianInterval(ratios).map((x) => round(x, 3)) },
  };
}

interface QueryScope { docs: number; retrieveMs: Latency; textMs: Latency; vectorMs: Latency; restMs: Latency; sources: number }

/** retrieveSources over `docs` for each question (its vector given), its keyword and vector searches timed apart. */
async function measureRetrieve(store: DocsStore, spaceId: number, docs: ThreadDoc[], questions: { text: string; vector: Float32Array }[]): Promise<QueryScope> {
  const spent = { text: 0, vector: 0 };
  // the store as retrieveSources sees it, its two searches timed (every other call goes to the store itself)
  const timed = Object.assign(Object.create(store) as DocsStore, {
    searchText: (...a: Parameters<DocsStore['searchText']>) => {
      const t = performance.now();
      try { return store.searchText(...a); } finally { spent.text += performance.now() - t; }
    },
    searchVectors: (...a: Parameters<DocsStore['searchVectors']>) => {
      const t = performance.now();
      try { return store.searchVectors(...a); } finally { spent.vector += performance.now() - t; }
    },
  });
  const signal = new AbortController().signal;
  const total: number[] = [];
  const text: number[] = [];
  const vector: number[] = [];
  const rest: number[] = [];
  let sources = 0;
  // a context whose whole-document share is far below the documents' tokens: retrieval, not whole documents
  const contextTokens = 8192;
  for (const q of [questions[0], ...questions]) { // the first once more, unmeasured: statements and page cache warm
    spent.text = spent.vector = 0;
    const a = performance.now();
    const found = await retrieveSources({ store: timed, settings, vector: async () => ({ spaceId, vector: q.vector }), rerank: null }, docs, q.text, contextTokens, signal);
    const ms = performance.now() - a;
    total.push(ms); text.push(spent.text); vector.push(spent.vector); rest.push(ms - spent.text - spent.vector);
    sources += found.length;
  }
  for (const xs of [total, text, vector, rest]) xs.shift();
  return { docs: docs.length, retrieveMs: latency(total), textMs: latency(text), vectorMs: latency(vector), restMs: latency(rest), sources: round(sources / (total.length + 1), 1) };
}

function machine() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memoryGiB: round(os.totalmem() / 1024 ** 3, 1), platform: `${os.platform()} ${os.arch()}`, node: process.version };
}

async function main(): Promise<void> {
  const workerFile = defaultExtractWorkerFile();
  if (!fs.existsSync(workerFile)) throw new Error(`${workerFile} is missing: node scripts/build-ts.js`);
  const modelFile = await ensureModel(threads, { size: 'fast', type: 'f16', pooling: 'mean' });
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-docs-'));
  const releaseBase = flag('keep') ? undefined : scratch(base);
  const loadBefore = os.loadavg();
  const started = new Date().toISOString();
  let engine: EngineClient | null = null;
  let store: Store | null = null;
  try {
    log(`writing ${nDocs} documents under ${base}`);
    let t = performance.now();
    const files = await writeCorpus({ docs: nDocs, dir: path.join(base, 'corpus') });
    const corpusMs = performance.now() - t;
    const dbFile = path.join(base, 'hearth.db');
    store = Store.open(dbFile, { checkpointIntervalMs: 0 });
    store.checkpoint();
    const empty = dbBytes(dbFile);

    log('extracting and chunking (a reader thread per file, one after another)');
    const { docs, result: extraction, chunks } = await extractAll(files, store);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const withText = dbBytes(dbFile);
    const nChunks = docs.reduce((n, d) => n + d.chunks, 0);
    log(`  ${nChunks} chunks from ${docs.length} documents`);

    engine = new EngineClient({ heartbeatTimeoutMs: 10 * 60_000 });
    const models = new DocModels({
      engine, loadSettings: () => ({ threads, gpuLayers: 0 }), guardrail: () => ({ mode: 'off', marginMiB: 0 }), logger: silentLogger,
    });
    const space = await models.check('embed', modelFile);
    const spaceId = store.docs.ensureSpace(space.key, space.name, space.dims);
    t = performance.now();
    await models.embed(modelFile, ['warm up'], 'query');
    const loadMs = performance.now() - t;
    const info = await engine.contextInfo('docs:embed');

    log('counting every chunk\'s tokens with the model\'s tokenizer');
    const tokensOf = new Map<string, number>();
    let modelTokens = 0;
    for (const cs of chunks) {
      for (const c of cs) {
        const n = (await engine.tokenize('docs:embed', c.text, { addSpecial: true, parseSpecial: false })).length;
        tokensOf.set(c.text, n);
        modelTokens += n;
      }
    }
    const estimatedTokens = chunks.flat().reduce((n, c) => n + estimateTokens(c.text), 0);

    log(`embedding ${sampleArg ? `a sample of about ${sampleArg} chunks` : 'every chunk'} (${space.dims} dimensions, ${threads} threads)`);
    const embedding = await embedSample(store, engine, models, modelFile, spaceId, docs, sampleArg, tokensOf);
    log(`  indexer ${embedding.indexer.chunksPerSecond} chunks/s, engine alone ${embedding.engineAlone.chunksPerSecond} chunks/s`);

    log(`embedding ${queries} questions one at a time`);
    const w = new Words(0xa5c);
    const questions: { text: string; vector: Float32Array }[] = [];
    const questionMs: number[] = [];
    for (let i = 0; i < queries; i++) {
      const text = w.question();
      const a = performance.now();
      const [v] = await models.embed(modelFile, [text], 'query');
      questionMs.push(performance.now() - a);
      questions.push({ text, vector: Float32Array.from(v) });
    }

    // every other chunk gets a random vector of the model's width, so the vector search scans the whole corpus
    const rand = prng(7);
    let randomVectors = 0;
    for (;;) {
      const rows = store.docs.chunksWithoutVectors(spaceId, { limit: 1000 });
      if (rows.length === 0) break;
      store.docs.putVectors(spaceId, rows.map((r) => ({ chunkId: r.id, docId: r.docId, vector: unitVector(rand, space.dims) })));
      randomVectors += rows.length;
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const withVectors = dbBytes(dbFile);
    const per1000 = (bytes: number) => Math.round((bytes / nChunks) * 1000);

    log('retrieving from the corpus');
    // (the vector index, built in a worker from the first search: measured once ready, as a running app searches)
    await store.docs.warmVectors(spaceId);
    const threadDocs: ThreadDoc[] = docs.map((d) => ({ id: d.id, hash: d.hash, name: d.name, tokens: store!.docs.document(d.id)!.tokens }));
    const step = Math.max(1, Math.floor(docs.length / THREAD_DOCS));
    const corpusQuery = {
      chunks: nChunks, vectors: { model: embedding.sample.chunks, random: randomVectors }, k: K,
      all: await measureRetrieve(store.docs, spaceId, threadDocs, questions),
      thread: await measureRetrieve(store.docs, spaceId, threadDocs.filter((_, i) => i % step === 0).slice(0, THREAD_DOCS), questions),
    };
    store.close();
    store = null;
    await models.close();

    const synthetic: BenchStoreResult[] = [];
    for (const n of sizes) {
      log(`a synthetic store of ${n} chunks (random vectors of ${space.dims} dimensions)`);
      const dir = path.join(base, `synthetic-${n}`);
      fs.mkdirSync(dir);
      synthetic.push(await benchStore({ chunks: n, dims: space.dims, queries, dir, k: K }));
    }
    const largest = synthetic.find((s) => s.chunks === 100_000);

    const result = {
      date: started,
      machine: { ...machine(), loadAverage: { before: loadBefore.map((x) => round(x, 2)), after: os.loadavg().map((x) => round(x, 2)) } },
      model: { file: path.basename(modelFile), name: space.name, dims: space.dims, contextSize: info.contextSize, batchSize: info.ubatchSize, threads, loadMs: Math.round(loadMs) },
      corpus: {
        docs: docs.length, chunks: nChunks, mb: round(files.reduce((n, f) => n + f.bytes, 0) / MB, 2), writeMs: Math.round(corpusMs),
        tokens: { model: modelTokens, estimated: estimatedTokens, perChunk: round(modelTokens / nChunks, 1) },
        chunkSettings: { targetTokens: settings.chunkTokens, overlapTokens: settings.chunkOverlapTokens },
      },
      extraction,
      embedding,
      questionEmbedMs: latency(questionMs),
      database: {
        bytesPer1000Chunks: { text: per1000(withText - empty), vectors: per1000(withVectors - withText), withVectors: per1000(withVectors - empty) },
        bytes: withVectors,
      },
      query: { corpus: corpusQuery, synthetic },
      goal: {
        p95Ms: GOAL_P95_MS, chunks: 100_000,
        measured: largest ? largest.all.totalMs.p95 : null,
        pass: largest ? largest.all.totalMs.p95 < GOAL_P95_MS : null,
      },
    };
    console.log(JSON.stringify(result, null, JSON_OUT ? undefined : 2));
    if (!JSON_OUT) {
      const e = extraction as ReturnType<typeof rates>;
      log(`\n${docs.length} documents, ${nChunks} chunks (${result.corpus.tokens.perChunk} model tokens each)`);
      log(`extraction + chunking: ${e.docsPerSecond} docs/s, ${e.chunksPerSecond} chunks/s, ${e.mbPerSecond} MB/s`);
      log(`embedding (${embedding.sample.chunks} chunks): indexer ${embedding.indexer.tokensPerSecond} tok/s, engine alone ${embedding.engineAlone.tokensPerSecond} tok/s, ratio ${embedding.ratio}`);
      log(`question embedding p50 ${result.questionEmbedMs.p50} ms; retrieval over the corpus p50/p95 ${corpusQuery.all.retrieveMs.p50}/${corpusQuery.all.retrieveMs.p95} ms`);
      for (const s of synthetic) log(`${s.chunks} chunks: search p50/p95 ${s.all.totalMs.p50}/${s.all.totalMs.p95} ms (thread ${s.thread.totalMs.p50}/${s.thread.totalMs.p95})`);
      log(`database per 1,000 chunks: ${result.database.bytesPer1000Chunks.text} bytes text, ${result.database.bytesPer1000Chunks.withVectors} with vectors`);
    }
  } finally {
    store?.close();
    await engine?.close();
    if (flag('keep')) log(`kept ${base}`);
    else releaseBase?.({ remove: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
