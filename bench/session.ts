/**
 * npm run bench:session -- [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--tokens 4000] [--cache f16|f32]
 *
 * What a session save and a restore cost the engine host (Linux: /proc's VmRSS and VmHWM): a sequence of
 * --tokens tokens is saved, then restored in a fresh host, each time in a host that has done nothing
 * else since its load, so the peak it reaches during the save (or restore) over its resident size before
 * is what that save (or restore) held beyond the model and the cache. Prints one JSON object: the state
 * file's bytes, each side's peak over its resident size, and its wall time.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient } from '../main/engine/client';
import { CACHE_TYPES } from '../main/params';
import { ensureModel, log, scratch } from './common';
import { choiceArg, intArg, MODEL_OPTIONS, refuse, threadsArg, useOptions } from './options';

useOptions('bench:session', { ...MODEL_OPTIONS, threads: 'value', tokens: 'value', cache: 'value' });
const threads = threadsArg();
const tokens = intArg('tokens', 4000, 16, 1 << 20);
const cache = choiceArg('cache', 'f32', CACHE_TYPES);

const status = (pid: number, key: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
};

async function measured<T>(engine: EngineClient, work: () => Promise<T>): Promise<{ result: T; peakOverRssBytes: number; ms: number }> {
  const pid = engine.pid!;
  const before = status(pid, 'VmRSS');
  if (status(pid, 'VmHWM') > before) log('note: the host peaked before this step; the peak below is a bound from above');
  const t = performance.now();
  const result = await work();
  const ms = performance.now() - t;
  return { result, peakOverRssBytes: Math.max(0, status(pid, 'VmHWM') - before), ms: Math.round(ms) };
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') refuse('bench:session reads /proc (Linux only)');
  const model = await ensureModel(threads, { size: 'fast' });
  const load = { contextSize: Math.ceil((tokens + 64) / 256) * 256, threads, cacheTypeK: cache, cacheTypeV: cache };
  const file = path.join(os.tmpdir(), `hearth-bench-session-${process.pid}.kv`);
  const done = scratch(file);
  const prompt = Array.from({ length: tokens }, (_, i) => 100 + (i % 3000));
  let engine = new EngineClient({});
  try {
    await engine.load('m', model, load);
    await engine.complete('m', { prompt, maxTokens: 1, sampling: { temperature: 0 } });
    const save = await measured(engine, () => engine.saveSession('m', file));
    await engine.close();
    engine = new EngineClient({});
    await engine.load('m', model, load);
    const restore = await measured(engine, () => engine.restoreSession('m', file));
    if (restore.result.tokens !== save.result.tokens) throw new Error(`restored ${restore.result.tokens} tokens of ${save.result.tokens}`);
    console.log(
      JSON.stringify({
        model: path.basename(model),
        tokens: save.result.tokens,
        cache,
        fileBytes: fs.statSync(file).size,
        save: { peakOverRssBytes: save.peakOverRssBytes, ms: save.ms },
        restore: { peakOverRssBytes: restore.peakOverRssBytes, ms: restore.ms },
      }),
    );
  } finally {
    await engine.close();
    done({ remove: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
