/**
 * swaFull, off by default (llama.cpp's own default is on): a model with sliding-window attention keeps
 * only about its window in those layers' KV cache, and the estimate counts the same. Real engine on a
 * generated tiny Gemma 3 (TINY_SWA: a window of SWA_WINDOW tokens in layer 0, the whole context in
 * layer 1). Without a full cache a prefix far behind the window cannot be reused (those cells are
 * gone): the engine then reads the prompt again, as llama-server does, instead of decoding on a cache
 * that lacks them. A saved state (a thread's, evicted) holds only the window in those layers, full
 * cache or not (llama.cpp saves no masked cell): it restores, and a follow-up reuses it.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { makeEngine, tempDir } from '../helpers/engine';
import { SWA_WINDOW, TINY_SPM, TINY_SWA } from '../helpers/models';

jest.setTimeout(120_000);

let engine: EngineClient;
const greedy = { temperature: 0 };
const CTX = 2048;

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('win', TINY_SWA, { contextSize: CTX, threads: 2 });
  await engine.load('full', TINY_SWA, { contextSize: CTX, threads: 2, swaFull: true });
});

afterAll(async () => {
  await engine.close();
});

/** `n` ordinary tokens of the llama-spm vocab, from `start`, none repeated. */
const tokens = (n: number, start = 0) => Array.from({ length: n }, (_, i) => 1000 + ((start + i) * 7919) % 28000);

describe('swaFull', () => {
  test('is off unless asked for, and the context says what the model has', async () => {
    const win = await engine.contextInfo('win');
    const full = await engine.contextInfo('full');
    expect(win.swaFull).toBe(false);
    expect(full.swaFull).toBe(true);
    expect(win.slidingWindow).toBe(SWA_WINDOW);
    expect(win.contextSize).toBe(full.contextSize);
  });

  test('off, the KV cache is smaller, and the estimate counts what the load allocates', async () => {
    const win = (await engine.memory('win')).host.context;
    const full = (await engine.memory('full')).host.context;
    // two layers of the same size: the full one keeps the context, the sliding-window one about its window
    expect(win).toBeLessThan(full * 0.75);
    expect(win).toBeGreaterThan(full / 2);
    const estWin = await engine.estimate(TINY_SWA, { contextSize: CTX, threads: 2 });
    const estFull = await engine.estimate(TINY_SWA, { contextSize: CTX, threads: 2, swaFull: true });
    expect(estWin.host.context).toBe(win);
    expect(estFull.host.context).toBe(full);
  });

  test('changes nothing for a model without sliding-window layers', async () => {
    const a = await engine.estimate(TINY_SPM, { contextSize: CTX, threads: 2 });
    const b = await engine.estimate(TINY_SPM, { contextSize: CTX, threads: 2, swaFull: true });
    expect(a.host.context).toBe(b.host.context);
  });

  test('off, a follow-up reuses the conversation; a prefix behind the window is read again', async () => {
    const prompt = tokens(1000);
    for (const id of ['win', 'full']) {
      const first = await engine.complete(id, { prompt, maxTokens: 4, ignoreEos: true, sampling: greedy });
      expect(first.timings.generatedTokens).toBe(4);
      // the same conversation, one more token: all of it is cached either way
      const follow = await engine.complete(id, { prompt: [...prompt, 5], maxTokens: 1, sampling: greedy });
      expect(follow.timings.cachedTokens).toBe(prompt.length);
    }
    // a prompt that shares only the first 50 tokens: the window before token 50 is gone without a full cache
    const edited = [...prompt.slice(0, 50), ...tokens(100, 5000)];
    const win = await engine.complete('win', { prompt: edited, maxTokens: 4, ignoreEos: true, sampling: greedy });
    const full = await engine.complete('full', { prompt: edited, maxTokens: 4, ignoreEos: true, sampling: greedy });
    expect(win.timings.cachedTokens).toBe(0);
    expect(full.timings.cachedTokens).toBe(50);
    // and what is generated is the same (the window layer sees the same tokens either way)
    expect(win.tokens).toEqual(full.tokens);
  });

  test('a conversation longer than the window is saved and restored, and its follow-up reads only what is new', async () => {
    const dir = tempDir();
    const prompt = tokens(300, 7000);
    for (const id of ['win', 'full']) {
      const first = await engine.complete(id, { prompt, maxTokens: 4, ignoreEos: true, sampling: greedy });
      const conversation = [...prompt, ...first.tokens.slice(0, 3)]; // the last token sampled is not decoded yet
      const file = path.join(dir, `${id}.kv`);
      expect((await engine.saveSession(id, file)).tokens).toBe(conversation.length);
      await engine.clearSequence(id);
      expect((await engine.restoreSession(id, file)).tokens).toBe(conversation.length);
      const follow = await engine.complete(id, { prompt: [...conversation, first.tokens[3], 5], maxTokens: 4, ignoreEos: true, sampling: greedy });
      expect(follow.timings.cachedTokens).toBe(conversation.length);
      // the same reply as from a cache never saved
      await engine.clearSequence(id);
      const cold = await engine.complete(id, { prompt: [...conversation, first.tokens[3], 5], maxTokens: 4, ignoreEos: true, sampling: greedy });
      expect(cold.timings.cachedTokens).toBe(0);
      expect(follow.tokens).toEqual(cold.tokens);
      // restored with the full cache too, the window layer lacks what is behind its window: an edit there is read again
      await engine.restoreSession(id, file);
      const edited = await engine.complete(id, { prompt: [...prompt.slice(0, 50), 6], maxTokens: 1, sampling: greedy });
      expect(edited.timings.cachedTokens).toBe(0);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
