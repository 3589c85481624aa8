/**
 * llama.cpp's fitting runs alone. common_fit_params and common_get_device_memory_data swap the
 * process-wide llama.cpp logger for one whose data lives on the fitting thread's stack; a log line
 * from any other thread meanwhile could crash the host (native/src/llama_gate.h). Here fits and
 * estimates run while another model generates and a third loads and unloads, in one real host: every
 * call succeeds, and not one log line reached the logger from another thread while a fit ran (the
 * gate counts them: `stats().llamaGate.foreignLogs`).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { HOST_THREADPOOL_SIZE } from '../../main/engine/supervisor';
import { inAddon } from '../helpers/addon';
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
  // estimates waiting for their turn hold libuv threads: the host has more than libuv's default 4
  expect((await hostStats(engine)).threadpoolSize).toBe(Number(process.env.UV_THREADPOOL_SIZE ?? HOST_THREADPOOL_SIZE));
  expect(after.foreignLogs).toBe(0);
  expect(replies).toBeGreaterThanOrEqual(2);
});

test('a fit held back by a long decode: activities(), info(), tokenize() and abort() answer without waiting at the gate', async () => {
  // the test hook holds every decode until <dir>/release exists (as a long decode on a GPU would run);
  // a separate process writes it after 4 s, so a JS thread stuck at the gate would still come back
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-gate-'));
  try {
    const r = await inAddon<{
      answeredBeforeRelease: boolean;
      abort: string;
      estimated: boolean;
      genResult: string;
      jsWaited: number;
      fitting: boolean;
      gate: { fits: number; waited: number };
    }>(
      `
      const fs = require('fs'), path = require('path'), { spawn } = require('child_process');
      const until = async (f) => { for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 20)); };
      const model = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
      const ctx = await addon.createContext(model, { contextSize: 512 });
      const gen = ctx.generate(JSON.stringify({ prompt: 'hello there', maxTokens: 4, id: 7 }), () => {});
      await until(() => fs.existsSync(path.join(input.dir, 'held')));
      spawn('sh', ['-c', 'sleep 4; touch "$0"', path.join(input.dir, 'release')], { stdio: 'ignore' });
      const estimate = addon.estimateMemory(input.model, { contextSize: 512 });
      await new Promise((r) => setTimeout(r, 300)); // the fit now claims the gate, held back by the decode
      const waitedBefore = addon.llamaGate().waited;
      const fitting = addon.activities().some((a) => a.kind === 'fit'); // false: it claims, and runs (an activity) only once alone
      ctx.info();
      model.tokenize('hello'); // takes a use of the JS thread's kind: it passes a claim
      const abort = ctx.abort(7);
      const jsWaited = addon.llamaGate().waited - waitedBefore; // none of these calls waited at the gate
      const answeredBeforeRelease = !fs.existsSync(path.join(input.dir, 'release'));
      const genResult = await gen.then((g) => g.stopReason, (e) => e.code);
      const estimated = (await estimate).host.model > 0;
      const gate = addon.llamaGate();
      await ctx.dispose();
      await model.dispose();
      return { answeredBeforeRelease, abort, estimated, gate, genResult, jsWaited, fitting };`,
      { model: TINY_SPM, dir },
      60_000,
      { HEARTH_TEST_HOOKS: '1', HEARTH_TEST_FAIL: `hold:${dir}` },
    );
    expect(r).toMatchObject({ answeredBeforeRelease: true, abort: 'running', estimated: true, genResult: 'aborted', jsWaited: 0, fitting: false });
    expect(r.gate.fits).toBe(1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
