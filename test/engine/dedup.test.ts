/**
 * One model, one copy: concurrent loads of a model share one load (in the client and in the host),
 * a replaced copy is disposed, and an unload racing a load leaves nothing loaded and gives the
 * memory back. Counted by the host itself (`stats`: native loads started, models and contexts alive,
 * its RSS).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { writeTestModel } from '../../scripts/make-test-model';
import { hostStats, killHost, makeEngine } from '../helpers/engine';
import { TEST_MODELS_DIR, TINY_SPM } from '../helpers/models';

let engine: EngineClient;
const PARAMS = { contextSize: 512, threads: 1 };

beforeAll(async () => {
  engine = makeEngine({}, undefined, { maxRestarts: 100 });
  await engine.start();
});

afterAll(async () => {
  await engine.close();
});

test('10 concurrent loads of one model: one load, one copy', async () => {
  const before = await hostStats(engine);
  const loaded = await Promise.all(Array.from({ length: 10 }, () => engine.load('dup', TINY_SPM, PARAMS)));
  const after = await hostStats(engine);
  expect(loaded.map((l) => l.modelId)).toEqual(Array(10).fill('dup'));
  expect(after.loadsStarted - before.loadsStarted).toBe(1);
  expect(after.models - before.models).toBe(1);
  expect(after.contexts - before.contexts).toBe(1);
  expect(after.loaded).toEqual(['dup']);
});

test('the host joins concurrent loads sent to it directly, and disposes a copy it replaces', async () => {
  const before = await hostStats(engine);
  const raw = (params: object) => engine.request('load', { modelId: 'raw', path: TINY_SPM, params });
  await Promise.all(Array.from({ length: 10 }, () => raw(PARAMS)));
  let s = await hostStats(engine);
  expect(s.loadsStarted - before.loadsStarted).toBe(1);
  expect(s.models - before.models).toBe(1);
  // other parameters replace the copy: still one model under the id
  await raw({ ...PARAMS, contextSize: 256 });
  s = await hostStats(engine);
  expect(s.loadsStarted - before.loadsStarted).toBe(2);
  expect(s.models - before.models).toBe(1);
  expect(s.contexts - before.contexts).toBe(1);
  await engine.request('unload', { modelId: 'raw' });
  s = await hostStats(engine);
  expect(s.models).toBe(before.models);
  expect(s.contexts).toBe(before.contexts);
});

test('10 concurrent requests after a host restart load the model again once', async () => {
  await killHost(engine);
  const counts = await Promise.all(Array.from({ length: 10 }, (_, i) => engine.tokenize('dup', `hello ${i}`)));
  expect(counts.every((t) => t.length > 0)).toBe(true);
  const s = await hostStats(engine);
  expect(s.loadsStarted).toBe(1);
  expect(s.models).toBe(1);
  expect(s.loaded).toEqual(['dup']);
  await engine.unload('dup');
});

test('load + unload race: nothing loaded, memory back', async () => {
  // the bench-size model (~270 MB) without mmap: a load takes a while and its weights are in the host's RSS
  const big = path.join(TEST_MODELS_DIR, 'bench.gguf');
  if (!fs.existsSync(big)) await writeTestModel({ out: big, size: 'bench', vocab: 'llama-spm', seed: 1 });
  const size = fs.statSync(big).size;
  const params = { useMmap: false, contextSize: 512, threads: 1 };
  const base = await hostStats(engine);
  const outcomes: string[] = [];
  const settle = (p: Promise<unknown>) => p.then(() => 'loaded', (e: { code?: string }) => e.code ?? 'error');
  // unload sent right behind the load
  let load = engine.load('race', big, params);
  await engine.unload('race');
  outcomes.push(await settle(load));
  // unload at the first progress report, midway through the load
  let unloading: Promise<void> | undefined;
  load = engine.load('race', big, params, () => (unloading ??= engine.unload('race')));
  outcomes.push(await settle(load));
  await unloading;
  // unload once loaded: a plain unload
  await engine.load('race', big, params);
  const peak = await hostStats(engine);
  await engine.unload('race');
  // the native memory is back when the unload answers: dispose() frees it, no collection is needed (the
  // host forces none)
  const after = await hostStats(engine);
  console.log(
    `load+unload race: outcomes ${outcomes.join(', ')}; host RSS ${mib(base.rssBytes)} MiB before, ${mib(peak.rssBytes)} MiB loaded, ${mib(after.rssBytes)} MiB after (model ${mib(size)} MiB)`,
  );
  // a load overtaken by an unload is cancelled (or, if it got through first, undone): never a kept copy
  for (const o of outcomes) expect(['aborted', 'loaded']).toContain(o);
  expect(after.loaded).toEqual([]);
  expect(after.loading).toEqual([]);
  expect(after.models).toBe(base.models);
  expect(after.contexts).toBe(base.contexts);
  expect(engine.isLoaded('race')).toBe(false);
  // the weights were in memory once loaded, and are not any more
  expect(peak.rssBytes - base.rssBytes).toBeGreaterThan(size / 2);
  expect(after.rssBytes - base.rssBytes).toBeLessThan(size / 4);
});

const mib = (b: number) => Math.round(b / 1048576);
