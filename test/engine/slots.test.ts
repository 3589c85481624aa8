/**
 * Parallel generations (slots) on one context: one request's failure fails only that request, the
 * shared KV cache is accounted as shared, a context shift keeps the system prompt, and disposing a
 * context while a batch decodes never blocks the host. Real host, real addon, generated models.
 *
 * Sampling and decode failures are provoked with the host's test hook HEARTH_TEST_FAIL (honoured only
 * with HEARTH_TEST_HOOKS=1): llama.cpp's own failures (a grammar that cannot go on, a failed compute)
 * cannot be produced on demand with a random-weight model.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine } from '../helpers/engine';
import { TEST_MODELS_DIR, TINY_SPM } from '../helpers/models';
import { writeTestModel } from '../../scripts/make-test-model';

const greedy = { temperature: 0 };
const engines: EngineClient[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});
function engineWith(env: NodeJS.ProcessEnv = {}): EngineClient {
  const e = makeEngine(env);
  engines.push(e);
  return e;
}

describe('one request failing fails only that request', () => {
  for (const [kind, code] of [
    ['sample', 'sampling_failed'],
    ['decode', 'decode_failed'],
  ] as const) {
    test(`a ${kind} failure on one sequence: that request fails (${code}), the other in the batch goes on`, async () => {
      const engine = engineWith({ HEARTH_TEST_FAIL: `${kind}:1` });
      await engine.load('m', TINY_SPM, { contextSize: 1024, parallel: 2, threads: 2 });
      const req = { prompt: 'A story about the sea', maxTokens: 40, ignoreEos: true, sampling: greedy };
      const alone = await engine.complete('m', { ...req, seq: 0 });
      await engine.clearSequence('m', 0);
      const [ok, failed] = await Promise.all([engine.complete('m', { ...req, seq: 0 }), errorOf(engine.complete('m', { ...req, seq: 1 }))]);
      expect(failed.code).toBe(code);
      expect(ok.tokens).toHaveLength(40);
      expect(ok.tokens.slice(0, 20)).toEqual(alone.tokens.slice(0, 20));
      // the host and the context go on
      expect((await engine.complete('m', { ...req, maxTokens: 3, seq: 0 })).tokens).toHaveLength(3);
    });
  }
});

test("a failed batch on a model whose memory cannot drop a tail (recurrent, hybrid): that sequence is cleared and its request fails, the other goes on", async () => {
  // the hook fails every decode holding sequence 1 once its prompt is cached (the first token's), and has
  // its memory refuse the partial removal (llama_memory_seq_rm returns false), as a Mamba-style model's does
  const engine = engineWith({ HEARTH_TEST_FAIL: 'rollback:1' });
  await engine.load('m', TINY_SPM, { contextSize: 1024, parallel: 2, threads: 2 });
  const req = { prompt: 'A story about the sea', maxTokens: 40, ignoreEos: true, sampling: greedy };
  const [ok, failed] = await Promise.all([engine.complete('m', { ...req, seq: 0 }), errorOf(engine.complete('m', { ...req, seq: 1 }))]);
  expect(failed.code).toBe('decode_failed');
  expect(failed.message).toMatch(/cannot drop a failed batch, so the sequence was cleared/);
  expect(ok.tokens).toHaveLength(40);
  const held = (await engine.contextInfo('m')).sequenceTokens as number[];
  expect(held[1]).toBe(0); // its prompt was cached before the failure; nothing of it is taken as cached now
  expect(held[0]).toBeGreaterThan(40);
  expect((await engine.complete('m', { ...req, maxTokens: 3, seq: 0 })).tokens).toHaveLength(3);
});

describe('the shared KV cache', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = engineWith();
    // 256 cells shared by two sequences; each request alone would fit them
    await engine.load('par', TINY_SPM, { contextSize: 256, parallel: 2, threads: 2 });
  });

  test('with overflow "shift", two generations that together outgrow the cache shift and both finish', async () => {
    const req = { maxTokens: 200, ignoreEos: true, overflow: 'shift' as const, sampling: greedy };
    const [a, b] = await Promise.all([
      engine.complete('par', { ...req, prompt: 'First of two long stories:', seq: 0 }),
      engine.complete('par', { ...req, prompt: 'Second of two long stories:', seq: 1 }),
    ]);
    expect(a.tokens).toHaveLength(200);
    expect(b.tokens).toHaveLength(200);
    expect(a.shifted || b.shifted).toBe(true);
    const held = (await engine.contextInfo('par')).sequenceTokens as number[];
    expect(held[0] + held[1]).toBeLessThanOrEqual(256);
  });

  test('without a policy, the generation that finds the cache full ends (length, contextFull), not the batch', async () => {
    for (const seq of [0, 1]) await engine.clearSequence('par', seq);
    const req = { maxTokens: 200, ignoreEos: true, sampling: greedy };
    const [a, b] = await Promise.all([
      engine.complete('par', { ...req, prompt: 'First of two long stories:', seq: 0 }),
      engine.complete('par', { ...req, prompt: 'Second of two long stories:', seq: 1 }),
    ]);
    const full = [a, b].filter((r) => r.contextFull);
    expect(full.length).toBeGreaterThanOrEqual(1);
    for (const r of full) expect(r.stopReason).toBe('length');
    // the cells the full one held went to the other once it ended
    expect(Math.max(a.tokens.length, b.tokens.length)).toBe(200);
  });
});

describe('context shift', () => {
  test('keeps the system prompt, not only BOS', async () => {
    const engine = engineWith();
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const system = { role: 'system' as const, content: `You are a careful assistant. ${Array.from({ length: 30 }, (_, i) => `rule${i}`).join(' ')}` };
    const user = { role: 'user' as const, content: 'Tell me a long story.' };
    const withSystem = await engine.applyTemplate('m', { messages: [system, user] });
    const withoutSystem = await engine.applyTemplate('m', { messages: [user] });
    const systemTokens = withSystem.tokens - withoutSystem.tokens;
    expect(systemTokens).toBeGreaterThan(40);
    const r = await engine.chat('m', { messages: [system, user], maxTokens: 300, ignoreEos: true, overflow: 'shift', sampling: greedy });
    expect(r.shifted).toBe(true);
    expect(r.tokens).toHaveLength(300);
    // after the shifts the sequence still starts with the system prompt: the same conversation finds it cached
    const again = await engine.chat('m', { messages: [system, user], maxTokens: 1, overflow: 'shift', sampling: greedy });
    expect(again.timings.cachedTokens).toBeGreaterThanOrEqual(systemTokens);
  });
});

describe('dispose while a batch decodes', () => {
  test('unload returns without waiting for the decode, and the host answers meanwhile', async () => {
    // the bench-size model (~270 MB): a 900-token prompt is a decode of seconds on a CPU
    const file = path.join(TEST_MODELS_DIR, 'bench.gguf');
    if (!fs.existsSync(file)) await writeTestModel({ out: file, size: 'bench', vocab: 'llama-spm', seed: 1 });
    const engine = engineWith();
    await engine.load('big', file, { contextSize: 2048, parallel: 2, threads: 2 });
    const pid = engine.pid;
    const text = Array.from({ length: 400 }, (_, i) => `item${i}`).join(' ');
    const prompt = (await engine.tokenize('big', text)).slice(0, 900);
    const outcome = (p: Promise<{ stopReason: string }>) => p.then((r) => r.stopReason, (e: { code?: string }) => e.code ?? 'error');
    // one generation runs; the other's long prompt then decodes in the same batch as its next token
    let started!: () => void;
    const generating = new Promise<void>((r) => (started = r));
    const first = outcome(engine.complete('big', { prompt: 'Once', maxTokens: 100000, ignoreEos: true, sampling: greedy, seq: 0 }, { onPiece: () => started() }));
    await generating;
    const second = outcome(engine.complete('big', { prompt, maxTokens: 50, ignoreEos: true, sampling: greedy, seq: 1 }));
    await new Promise((r) => setTimeout(r, 500)); // the batch with the 900-token prompt is decoding
    const order: string[] = [];
    const unloaded = engine.unload('big').then(() => order.push('unload'));
    const version = engine.version().then(() => order.push('version'));
    await Promise.all([unloaded, version]);
    // the host's JS thread was free while the worker stopped: the later request was answered first
    expect(order).toEqual(['version', 'unload']);
    for (const how of await Promise.all([first, second])) expect(['aborted', 'disposed']).toContain(how);
    expect(engine.pid).toBe(pid);
    // and a model loads and generates afterwards
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    expect((await engine.complete('m', { prompt: 'After', maxTokens: 3, ignoreEos: true, sampling: greedy })).tokens).toHaveLength(3);
  });
});
