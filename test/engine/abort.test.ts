/**
 * Stop always stops: an abort reaches a request wherever it is (waiting for the host to restart,
 * waiting for its model to load again, queued behind another request) and the generation then never
 * runs; the next request works.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { writeTestModel } from '../../scripts/make-test-model';
import { errorOf, hostStats, killHost, makeEngine } from '../helpers/engine';
import { TEST_MODELS_DIR, TINY_SPM } from '../helpers/models';

let engine: EngineClient;
/** called with every line the client logs (its own and llama.cpp's) */
let onLog: (line: string) => void = () => undefined;
const log = (m: string) => onLog(m);

beforeAll(async () => {
  engine = makeEngine({}, { debug: log, info: log, warn: log, error: log }, { maxRestarts: 100 });
  await engine.load('m', TINY_SPM, { contextSize: 512, threads: 1, parallel: 1 });
});

afterAll(async () => {
  await engine.close();
});

const LONG = { prompt: 'Tell me everything', maxTokens: 100000, ignoreEos: true, sampling: { seed: 1 } };

async function nextRequestWorks(): Promise<void> {
  const r = await engine.complete('m', { prompt: 'Again', maxTokens: 4, ignoreEos: true, sampling: { seed: 1 } });
  expect(r.tokens).toHaveLength(4);
}

test('a stop while the host restarts: rejected at once with aborted, nothing runs, the next request works', async () => {
  await killHost(engine);
  // the new host is starting now (the client starts one as soon as it noticed the death)
  const starting = engine.pid;
  expect(starting).toBeDefined();
  const ac = new AbortController();
  let pieces = 0;
  const p = engine.complete('m', LONG, { signal: ac.signal, onPiece: () => pieces++ });
  ac.abort();
  expect((await errorOf(p)).code).toBe('aborted');
  const s = await hostStats(engine);
  expect(engine.pid).toBe(starting);
  expect(s.generationsStarted).toBe(0);
  expect(s.loadsStarted).toBe(0); // the model was not even reloaded for it
  expect(pieces).toBe(0);
  await nextRequestWorks();
});

test('a stop while the model reloads after a restart: the reload is cancelled, the generation never runs', async () => {
  // the bench-size model (~270 MB) without mmap: its load takes long enough to be stopped midway
  const big = path.join(TEST_MODELS_DIR, 'bench.gguf');
  if (!fs.existsSync(big)) await writeTestModel({ out: big, size: 'bench', vocab: 'llama-spm', seed: 1 });
  await engine.load('big', big, { useMmap: false, contextSize: 512, threads: 1 });
  await killHost(engine);
  await engine.start();
  const ac = new AbortController();
  let pieces = 0;
  let reloading = false;
  // abort once llama.cpp's model loader, in the new host, is loading the model again for this request
  onLog = (line) => {
    if (/^reloading big /.test(line)) {
      reloading = true;
      setTimeout(() => ac.abort(), 1000); // in case llama.cpp's log is quiet
    } else if (reloading && /^llama: (llama_model_loader|print_info|load_tensors|load):/.test(line)) ac.abort();
  };
  const p = engine.complete('big', LONG, { signal: ac.signal, onPiece: () => pieces++ });
  const err = await errorOf(p);
  onLog = () => undefined;
  expect(reloading).toBe(true);
  expect(err.code).toBe('aborted');
  let s = await hostStats(engine);
  while (s.loading.length) s = (await new Promise((r) => setTimeout(r, 50)), await hostStats(engine));
  expect(s.loadsStarted).toBe(1);
  expect(s.loaded).toEqual([]); // cancelled midway, not loaded
  expect(s.models).toBe(0);
  expect(s.generationsStarted).toBe(0);
  expect(pieces).toBe(0);
  // the model is still the caller's: the next request loads it again and runs
  const r = await engine.complete('big', { prompt: 'Again', maxTokens: 2, ignoreEos: true }, {});
  expect(r.tokens).toHaveLength(2);
  await engine.unload('big');
  await nextRequestWorks();
});

test('a stop while queued behind another generation: it never runs; the running one stops within a token', async () => {
  const before = await hostStats(engine);
  const first = new AbortController();
  let started!: () => void;
  const firstPiece = new Promise<void>((r) => (started = r));
  const running = engine.complete('m', LONG, { signal: first.signal, onPiece: started });
  await firstPiece;
  const queued = new AbortController();
  let queuedPieces = 0;
  const waiting = engine.complete('m', LONG, { signal: queued.signal, onPiece: () => queuedPieces++ });
  await new Promise((r) => setTimeout(r, 100));
  queued.abort();
  expect((await errorOf(waiting)).code).toBe('aborted');
  expect(queuedPieces).toBe(0);
  first.abort();
  const r = await running;
  expect(r.stopReason).toBe('aborted');
  expect(r.tokensAfterAbort).toBeLessThanOrEqual(1);
  expect((await hostStats(engine)).generationsStarted - before.generationsStarted).toBe(2);
  await nextRequestWorks();
});

test('an abort before the call sends nothing', async () => {
  const before = await hostStats(engine);
  const ac = new AbortController();
  ac.abort();
  expect((await errorOf(engine.complete('m', LONG, { signal: ac.signal }))).code).toBe('aborted');
  expect((await errorOf(engine.load('other', TINY_SPM, {}, undefined, ac.signal))).code).toBe('aborted');
  const after = await hostStats(engine);
  expect(after.generationsStarted).toBe(before.generationsStarted);
  expect(after.loadsStarted).toBe(before.loadsStarted);
  expect(engine.isLoaded('other')).toBe(false);
});
