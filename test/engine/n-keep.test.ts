/**
 * nKeep (llama-server's n_keep): with overflow "shift", the tokens a context shift keeps after the
 * BOS (which it keeps too, for a model that adds one, as llama-server does); -1
 * keeps the whole prompt; absent, a chat keeps its system prompt and a raw prompt its BOS (the
 * context-shift test in slots.test.ts). Real engine, tiny model, a 256-token context that a long reply
 * outgrows. What a shift kept is read back by a follow-up: the sequence's cache still starts with
 * those tokens, and no more of the prompt.
 */
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

let engine: EngineClient;
const greedy = { temperature: 0 };

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

/** 40 ordinary tokens (BOS first), none repeated */
const prompt = [1, ...Array.from({ length: 39 }, (_, i) => 3000 + i * 17)];

/** Generates past the context with `nKeep`, then asks how much of the prompt the sequence still holds. */
async function keptAfterShift(nKeep: number | undefined): Promise<number> {
  await engine.clearSequence('m');
  const r = await engine.complete('m', { prompt, maxTokens: 300, ignoreEos: true, overflow: 'shift', sampling: greedy, ...(nKeep !== undefined ? { nKeep } : {}) });
  expect(r.shifted).toBe(true);
  expect(r.tokens).toHaveLength(300);
  const follow = await engine.complete('m', { prompt: [...prompt, 7], maxTokens: 1, sampling: greedy });
  return follow.timings.cachedTokens;
}

describe('nKeep', () => {
  test('a shift keeps the BOS and exactly nKeep tokens after it', async () => {
    expect(await keptAfterShift(0)).toBe(1);
    expect(await keptAfterShift(10)).toBe(11);
    expect(await keptAfterShift(25)).toBe(26);
  });

  test('-1 keeps the whole prompt', async () => {
    expect(await keptAfterShift(-1)).toBe(prompt.length);
  });

  test('absent, a raw prompt keeps its BOS', async () => {
    expect(await keptAfterShift(undefined)).toBe(1);
  });

  test('below -1 is refused at the boundary', async () => {
    const err = await errorOf(engine.complete('m', { prompt, maxTokens: 1, overflow: 'shift', nKeep: -2 }));
    expect(err.code).toBe('invalid_argument');
  });
});
