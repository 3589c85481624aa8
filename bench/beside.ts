/**
 * npm run bench:beside -- [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--reps 6] [--tokens 5] [--json]
 *
 * A chat model's generation alone in the engine host against the same generation while another model
 * is loaded beside it and has been used, as the documents' embedding model is after a search (it stays
 * loaded for minutes: main/docs/models.ts IDLE_MS). Each context decodes on its own worker thread, each
 * such thread leads an OpenMP team of its own, and libgomp waits less at every barrier once the teams
 * hold more threads than the machine has CPUs (main/engine/supervisor.ts hostOpenmpEnv). Each of
 * `--reps` cycles: tg128 `--tokens` times alone; the embedding model (a generated tiny one) loaded, one
 * text embedded, tg128 `--tokens` times beside it, the embedding model unloaded (the two in turn: alone
 * first in even cycles). A cycle's ratio
 * is its median beside over its median alone; prints one JSON object.
 * `GOMP_SPINCOUNT=300000 npm run bench:beside` runs the host as libgomp's defaults have it (a variable
 * the user sets leaves the host's OpenMP settings alone).
 */
import { EngineClient } from '../main/engine/client';
import { ensureModel, generatedModel, log, median, medianInterval, MIN_INTERVAL_VALUES } from './common';
import { flag, intArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';

useOptions('bench:beside', { ...MODEL_OPTIONS, json: 'flag', threads: 'value', reps: 'value', tokens: 'value' });
const json = flag('json');
const threads = threadsArg();
const reps = intArg('reps', 6, 1, 1000);
const perSide = intArg('tokens', 5, 1, 100);

async function main(): Promise<void> {
  const model = await ensureModel(threads, { size: 'fast' });
  const embedding = await generatedModel(threads, { size: 'tiny', type: 'f16', pooling: 'mean' });
  const engine = new EngineClient();
  try {
    await engine.load('chat', model, { threads, threadsBatch: threads, contextSize: 256, flashAttention: 'off', gpuLayers: 0 });
    const tg = async () => {
      await engine.clearSequence('chat');
      const r = await engine.complete('chat', { prompt: [1], maxTokens: 129, ignoreEos: true, sampling: { temperature: 0 } });
      return r.timings.genTps;
    };
    await tg(); // warm-up
    const alone: number[] = [];
    const beside: number[] = [];
    const ratios: number[] = [];
    for (let c = 0; c < reps; c++) {
      const a: number[] = [];
      const b: number[] = [];
      const measureAlone = async () => {
        for (let i = 0; i < perSide; i++) a.push(await tg());
      };
      // alone first in even cycles, beside first in odd ones, so a drift of the machine's speed evens out
      if (c % 2 === 0) await measureAlone();
      await engine.load('embedding', embedding, { threads, threadsBatch: threads, contextSize: 512, gpuLayers: 0, embeddings: true });
      await engine.embed('embedding', ['a text to embed']);
      for (let i = 0; i < perSide; i++) b.push(await tg());
      await engine.unload('embedding');
      if (c % 2 === 1) await measureAlone();
      alone.push(...a);
      beside.push(...b);
      ratios.push(median(b) / median(a));
      log(`cycle ${c + 1}: alone ${median(a).toFixed(1)} tok/s, beside ${median(b).toFixed(1)} tok/s`);
    }
    const out = {
      model: model.split('/').pop(),
      threads,
      reps,
      tokens_per_side: perSide,
      openmp_env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? null, GOMP_SPINCOUNT: process.env.GOMP_SPINCOUNT ?? null },
      tg_tps: { alone: median(alone), beside: median(beside) },
      ratio: median(ratios),
      ratio_interval: ratios.length >= MIN_INTERVAL_VALUES ? medianInterval(ratios) : null,
      cycle_ratios: ratios,
    };
    console.log(json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
  } finally {
    await engine.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
