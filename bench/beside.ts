/**
 * npm run bench:beside -- [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--reps 6] [--runs 5] [--busy] [--json]
 *
 * A chat model's generation alone in the engine host against the same generation while another model
 * is loaded beside it and has been used, as the documents' embedding model is after a search (it stays
 * loaded for minutes: main/docs/models.ts IDLE_MS). Each context decodes on its own worker thread, each
 * such thread leads an OpenMP team of its own, and libgomp waits less at every barrier once the live
 * teams hold more threads than the CPUs the host may use: 1 + (threads - 1) for each of the two models
 * here, so the bench says when `--threads` is too few on this machine to show it. A worker hands its
 * team back once out of work a while (native/src/openmp_team.h), so an idle model's team no longer counts.
 * `--reps` pairs, taken in turn (bench/common.ts inTurn): `--runs` tg128 alone; and the embedding model
 * (a generated tiny one) loaded, one text embedded, `--runs` tg128 beside it, the model unloaded. A
 * pair's ratio is its median beside over its median alone; prints one JSON object, with the OpenMP
 * variables the host ran with (OMP_WAIT_POLICY, GOMP_SPINCOUNT: the user's, passed on as given).
 * `--busy`: the embedding model embeds without pause while the chat generates beside it (documents
 * indexed during a chat), and the JSON adds the texts it embedded per second.
 */
import os from 'os';
import { EngineClient } from '../main/engine/client';
import { ensureModel, generatedModel, inTurn, log, median, medianInterval, MIN_INTERVAL_VALUES, orderMedians } from './common';
import { flag, intArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';

useOptions('bench:beside', { ...MODEL_OPTIONS, json: 'flag', busy: 'flag', threads: 'value', reps: 'value', runs: 'value' });
const json = flag('json');
const busy = flag('busy');
const threads = threadsArg();
const reps = intArg('reps', 6, 1, 1000);
const runs = intArg('runs', 5, 1, 100);

/** The OpenMP variables the host gets from this process's environment (the engine adds none). */
function openmpVariables(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => /^(OMP_|GOMP_)/.test(e[0]) && e[1] !== undefined));
}

async function main(): Promise<void> {
  const model = await ensureModel(threads, { size: 'fast' });
  const embedding = await generatedModel(threads, { size: 'tiny', type: 'f16', pooling: 'mean' });
  const engine = new EngineClient();
  try {
    await engine.load('chat', model, { threads, threadsBatch: threads, contextSize: 256, flashAttention: 'off', gpuLayers: 0 });
    const cpus = os.availableParallelism(); // libuv's count honours the affinity mask the host inherits, as libgomp's does
    const teamThreads = 1 + 2 * (threads - 1);
    if (teamThreads <= cpus) log(`note: two models' OpenMP teams of ${threads} threads hold ${teamThreads} threads, not more than the ${cpus} CPUs: libgomp does not throttle its waiting here even with --busy (raise --threads to see it)`);
    const tg = async () => {
      await engine.clearSequence('chat');
      const r = await engine.complete('chat', { prompt: [1], maxTokens: 129, ignoreEos: true, sampling: { temperature: 0 } });
      return r.timings.genTps;
    };
    await tg(); // warm-up
    const block = async () => {
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(await tg());
      return median(xs);
    };
    // with --busy: a passage of about 100 tokens, embedded again and again while the chat generates
    const passage = Array.from({ length: 20 }, (_, i) => `sentence ${i} of a document being indexed.`).join(' ');
    const embedRates: number[] = [];
    const beside = async () => {
      await engine.load('embedding', embedding, { threads, threadsBatch: threads, contextSize: 512, gpuLayers: 0, embeddings: true });
      await engine.embed('embedding', ['a text to embed']);
      let stop = false;
      let embedded = 0;
      const started = performance.now();
      const indexing = (async () => {
        while (busy && !stop) embedded += (await engine.embed('embedding', [passage])).length;
      })();
      const x = await block();
      stop = true;
      await indexing;
      if (busy) embedRates.push(embedded / ((performance.now() - started) / 1000));
      await engine.unload('embedding');
      return x;
    };
    const [alone, besides] = await inTurn(reps, block, beside, (i, a, b) => log(`pair ${i + 1}: alone ${a.toFixed(1)} tok/s, beside ${b.toFixed(1)} tok/s`));
    const ratios = besides.map((b, i) => b / alone[i]);
    const out = {
      model: model.split('/').pop(),
      threads,
      cpus,
      openmp_team_threads: teamThreads,
      // with the idle model's team handed back, libgomp throttles only while both models work (--busy)
      teams_outnumber_cpus_when_both_work: teamThreads > cpus,
      host_openmp_env: openmpVariables(),
      busy,
      ...(busy ? { embedded_per_s: median(embedRates) } : {}),
      reps,
      runs_per_side: runs,
      tg_tps: { alone: median(alone), beside: median(besides) },
      ratio: median(ratios),
      ratio_interval: ratios.length >= MIN_INTERVAL_VALUES ? medianInterval(ratios) : null,
      order_medians: orderMedians(ratios),
      pair_ratios: ratios,
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
