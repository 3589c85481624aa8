/**
 * llama.cpp's fitting runs alone. common_fit_params and common_get_device_memory_data swap the
 * process-wide llama.cpp logger for one whose data lives on the fitting thread's stack; a log line
 * from any other thread meanwhile could crash the host (native/src/llama_gate.h). Here fits and
 * estimates run while another model generates and a third loads and unloads, in one real host: every
 * call succeeds, and not one log line reached the logger from another thread while a fit ran (the
 * gate counts them: `stats().llamaGate.foreignLogs`).
 */
import { EngineClient } from '../../main/engine/client';
import { hostStats, makeEngine } from '../helpers/engine';
import { TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';

let engine: EngineClient;

beforeAll(async () => {
  engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
  await engine.start();
});

afterAll(async () => {
  await engine.close();
});

test('fits and estimates during generation, loads and unloads: all succeed, no other thread logs during a fit', async () => {
  await engine.load('gen', TINY_SPM, { contextSize: 1024, threads: 1 });
  const before = (await hostStats(engine)).llamaGate;
  let generating = true;
  const generation = (async () => {
    let replies = 0;
    while (generating || replies < 2) {
      const r = await engine.complete('gen', { prompt: `count ${replies}`, maxTokens: 64, ignoreEos: true });
      expect(r.timings.generatedTokens).toBe(64);
      replies++;
    }
    return replies;
  })();
  const churn = (async () => {
    for (let i = 0; i < 6; i++) {
      await engine.load('churn', i % 2 ? TINY_EMBED : TINY_BPE, { contextSize: 512, threads: 1 });
      await engine.tokenize('churn', 'hello');
      await engine.unload('churn');
    }
  })();
  const fits: Promise<unknown>[] = [];
  for (let i = 0; i < 12; i++) {
    fits.push(engine.estimate(TINY_BPE, { contextSize: 256 * (1 + (i % 4)) }));
    fits.push(engine.fit(TINY_SPM, { contextSize: 512 }, { marginMiB: 64 }));
  }
  const results = await Promise.allSettled(fits);
  await churn;
  generating = false;
  const replies = await generation;
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  const after = (await hostStats(engine)).llamaGate;
  console.log(JSON.stringify({ fitGate: { fits: after.fits - before.fits, waited: after.waited - before.waited, foreignLogs: after.foreignLogs, replies } }));
  expect(after.fits - before.fits).toBe(24);
  expect(after.foreignLogs).toBe(0);
  expect(replies).toBeGreaterThanOrEqual(2);
});
