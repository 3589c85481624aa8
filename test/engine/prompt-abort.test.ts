/**
 * An abort during a long prompt lands within one micro-batch on any backend. llama.cpp's abort
 * callback is read only by the CPU and Metal backends, so the engine feeds a prompt to llama_decode
 * one micro-batch (ubatchSize tokens) per call and checks the abort between calls. Measured in tokens,
 * not time: the result says how many prompt tokens were decoded after the abort reached the request
 * (`promptTokensAfterAbort`), and the sequence's cached tokens show how far the prompt got.
 *
 * On Vulkan (Mesa's lavapipe here, visible only with GGML_VK_VISIBLE_DEVICES=0) the batch is the whole
 * context, so a decode of the whole batch, as before, could not be stopped once started. Also on the
 * CPU, where the same planning applies. A prompt of 127 micro-batches gives the test time to see its
 * progress between decodes.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const vulkanBuilt = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));
const CONTEXT = 4096;
const UBATCH = 32;
/** a prompt of nearly the whole context, as token ids (inside the 32,000-token vocabulary) */
const PROMPT = Array.from({ length: CONTEXT - 32 }, (_, i) => 1000 + ((i * 7919) % 30000));

const backends: { name: string; env: NodeJS.ProcessEnv; pin: 'cpu' | 'vulkan'; gpuLayers: number | 'max'; run: boolean }[] = [
  { name: 'CPU', env: { GGML_VK_VISIBLE_DEVICES: '' }, pin: 'cpu', gpuLayers: 0, run: true },
  { name: 'Vulkan (lavapipe)', env: { GGML_VK_VISIBLE_DEVICES: '0' }, pin: 'vulkan', gpuLayers: 'max', run: vulkanBuilt },
];

describe.each(backends)('$name', ({ env, pin, gpuLayers, run }) => {
  let engine: EngineClient;

  beforeAll(async () => {
    if (!run) return;
    engine = makeEngine(env);
    await engine.setBackend(pin);
    await engine.load('m', TINY_SPM, { gpuLayers, contextSize: CONTEXT, batchSize: CONTEXT, ubatchSize: UBATCH, threads: 2, flashAttention: 'off' });
    // the shapes the test decodes (a full micro-batch, a shorter one, one token), once: lavapipe compiles
    // each compute pipeline on first use, minutes on a busy machine with a cold shader cache
    await engine.complete('m', { prompt: PROMPT.slice(0, UBATCH + 8), maxTokens: 2, ignoreEos: true });
    await engine.clearSequence('m');
  }, 600_000);

  afterAll(async () => {
    await engine?.close();
  });

  (run ? test : test.skip)('an abort during a long prompt ends it within one micro-batch; the host lives on', async () => {
    const pid = engine.pid;
    const ac = new AbortController();
    const done = engine.complete('m', { prompt: PROMPT, maxTokens: 1, ignoreEos: true }, { signal: ac.signal });
    let settled = false;
    void done.finally(() => (settled = true)).catch(() => undefined);
    // the prompt's progress, as the worker publishes it after each decode: abort once it is underway
    let seen = 0;
    const decodesSeen = new Set<number>();
    while (!settled) {
      seen = ((await engine.contextInfo('m')).sequenceTokens as number[])[0];
      if (seen > 0) decodesSeen.add(seen);
      if (seen >= UBATCH) break;
    }
    // llama.cpp's memory accounting mid-decode: the copy the worker published, never read during a decode
    const mem = await engine.memory('m');
    const total = (k: 'model' | 'context' | 'compute') => mem.host[k] + mem.devices.reduce((n, d) => n + d[k], 0);
    ac.abort();
    const r = await done;
    const held = ((await engine.contextInfo('m')).sequenceTokens as number[])[0];
    console.log(
      `${pin}: prompt of ${PROMPT.length} tokens, ubatch ${UBATCH}: ${seen} decoded when aborted, ${r.promptTokensAfterAbort} after the abort, ${held} cached at the end`,
    );
    // the prompt was underway, in micro-batch steps, when the abort was sent
    expect(seen).toBeGreaterThanOrEqual(UBATCH);
    expect(seen).toBeLessThan(PROMPT.length);
    for (const n of decodesSeen) expect(n % UBATCH).toBe(0);
    expect(total('model')).toBeGreaterThan(0);
    expect(total('context')).toBeGreaterThan(0);
    expect(total('compute')).toBeGreaterThan(0);
    if (pin === 'vulkan') expect(mem.devices[0].model).toBeGreaterThan(0);
    expect(r.stopReason).toBe('aborted');
    expect(r.timings.generatedTokens).toBe(0);
    // at most the micro-batch in flight when the abort arrived was decoded after it
    expect(r.promptTokensAfterAbort).toBeGreaterThanOrEqual(0);
    expect(r.promptTokensAfterAbort).toBeLessThanOrEqual(UBATCH);
    expect(held).toBeLessThan(PROMPT.length);
    expect(held % UBATCH).toBe(0);
    // the same host answers, and the cached part of the prompt is reused by the next request
    expect(engine.pid).toBe(pid);
    const next = await engine.complete('m', { prompt: PROMPT.slice(0, held + 8), maxTokens: 2, ignoreEos: true });
    expect(next.timings.generatedTokens).toBe(2);
    expect(next.timings.cachedTokens).toBe(held);
  });
});
