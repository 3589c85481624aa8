/**
 * The samplers added through main/params (DRY, XTC, Mirostat 1 and 2, top-nσ, dynamic temperature)
 * and nProbs: each changes a seeded generation, the chain is the one llama.cpp's common_sampler_init
 * builds (Mirostat replaces the rest of it), and nProbs gives each generated token its log-probability
 * and the n likeliest tokens'. Real host, real addon, generated models.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { gguf } from '../../main/gguf/types';
import { GgufWriter, GgufWriterTensorType } from '../../main/gguf/write';
import type { Sampling, TokenLogprobs } from '../../main/engine/protocol';
import { inAddon } from '../helpers/addon';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_SPM } from '../helpers/models';

let engine: EngineClient;
const M = 'spm';
/** tied embeddings: greedy decoding repeats the last prompt token (test/helpers/models.ts), repetition for DRY to break */
const TIED = 'bpe';

beforeAll(async () => {
  engine = makeEngine();
  await engine.load(M, TINY_SPM, { contextSize: 512, threads: 2 });
  await engine.load(TIED, TINY_BPE, { contextSize: 512, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

const sampled: Sampling = { temperature: 1, topK: 40, topP: 1, minP: 0, seed: 4321 };
const REPETITIVE = 'one two three one two three one two three one two three one two';

const tokensOf = async (sampling: Sampling, prompt = 'Once upon a time', model = M) =>
  (await engine.complete(model, { prompt, maxTokens: 24, ignoreEos: true, sampling })).tokens;

/** The sampler names in the chain a generation with these parameters runs (llama_sampler_name; "?x": x is off). */
const chainOf = (sampling: Sampling) =>
  inAddon<string[]>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     try { return addon.samplerChain(m, input.sampling); } finally { await m.dispose(); }`,
    { model: TINY_SPM, sampling },
  );

describe('new samplers have an effect', () => {
  test('DRY with a high multiplier changes a greedy reply to a repetitive prompt', async () => {
    const dryParams: Sampling = { temperature: 0, dryMultiplier: 5, dryBase: 2, dryAllowedLength: 1 };
    const greedy = await tokensOf({ temperature: 0 }, REPETITIVE, TIED);
    const dry = await tokensOf(dryParams, REPETITIVE, TIED);
    expect(dry).not.toEqual(greedy);
    // deterministic: the same parameters give the same reply
    expect(await tokensOf(dryParams, REPETITIVE, TIED)).toEqual(dry);
    // breaking the repetition: fewer repeated 3-grams than greedy
    const repeats = (t: number[]) => t.length - 2 - new Set(t.slice(2).map((_, i) => t.slice(i, i + 3).join(','))).size;
    expect(repeats(dry)).toBeLessThan(repeats(greedy));
  });

  test('XTC with probability 1 changes a seeded reply', async () => {
    const base = await tokensOf(sampled);
    expect(await tokensOf(sampled)).toEqual(base);
    expect(await tokensOf({ ...sampled, xtcProbability: 1, xtcThreshold: 0.01 })).not.toEqual(base);
  });

  test('Mirostat 1 and 2 differ from the default chain and from each other', async () => {
    const base = await tokensOf(sampled);
    const v1 = await tokensOf({ ...sampled, mirostat: 1, mirostatTau: 3, mirostatEta: 0.2 });
    const v2 = await tokensOf({ ...sampled, mirostat: 2, mirostatTau: 3, mirostatEta: 0.2 });
    expect(v1).not.toEqual(base);
    expect(v2).not.toEqual(base);
    expect(v2).not.toEqual(v1);
  });

  test('top-nσ and dynamic temperature change a seeded reply', async () => {
    const base = await tokensOf(sampled);
    expect(await tokensOf({ ...sampled, topNSigma: 0.5 })).not.toEqual(base);
    expect(await tokensOf({ ...sampled, temperature: 0.8, dynatempRange: 0.7, dynatempExponent: 2 })).not.toEqual(await tokensOf({ ...sampled, temperature: 0.8 }));
  });
});

describe('the sampler chain is what llama.cpp builds', () => {
  test('the default chain, in common_params_sampling\'s order, with the samplers off where their parameters say so', async () => {
    expect(await chainOf({})).toEqual(['?penalties', '?dry', '?top-n-sigma', 'top-k', '?typical', 'top-p', 'min-p', '?xtc', 'temp-ext', 'dist']);
    expect(await chainOf({ dryMultiplier: 0.8, xtcProbability: 0.5, topNSigma: 1, repeatPenalty: 1.1 })).toEqual([
      'penalties', 'dry', 'top-n-sigma', 'top-k', '?typical', 'top-p', 'min-p', 'xtc', 'temp-ext', 'dist',
    ]);
  });

  test('Mirostat replaces the rest of the chain: temperature, then Mirostat', async () => {
    expect(await chainOf({ mirostat: 1, dryMultiplier: 0.8, topK: 5 })).toEqual(['temp', 'mirostat']);
    expect(await chainOf({ mirostat: 2 })).toEqual(['temp', 'mirostat-v2']);
    // logit biases stay in front of it, as in llama.cpp
    expect(await chainOf({ mirostat: 2, logitBias: [{ token: 5, bias: 1 }] })).toEqual(['logit-bias', 'temp', 'mirostat-v2']);
  });
});

describe('nProbs', () => {
  test('each generated token has its log-probability and the n likeliest, all <= 0 and sorted', async () => {
    const probs: TokenLogprobs[] = [];
    const r = await engine.complete(M, { prompt: 'The weather today', maxTokens: 12, ignoreEos: true, sampling: { ...sampled, nProbs: 5 } }, {
      onPiece: (_t, p) => probs.push(...(p ?? [])),
    });
    // the streamed pieces carry them, each token once; the final result does not repeat them
    expect(r).not.toHaveProperty('probs');
    expect(probs).toHaveLength(r.tokens.length);
    probs.forEach((p, i) => {
      expect(p.id).toBe(r.tokens[i]);
      expect(p.top).toHaveLength(5);
      expect(p.logprob).toBeLessThanOrEqual(0);
      for (const t of p.top) expect(t.logprob).toBeLessThanOrEqual(0);
      for (let j = 1; j < p.top.length; j++) expect(p.top[j].logprob).toBeLessThanOrEqual(p.top[j - 1].logprob);
      // the sampled token is no likelier than the likeliest one
      expect(p.logprob).toBeLessThanOrEqual(p.top[0].logprob + 1e-6);
    });
    expect(probs.map((p) => p.text).join('')).toBe(r.text);
  });

  test('greedy picks the likeliest token; the pieces stream their tokens', async () => {
    const pieces: TokenLogprobs[] = [];
    const r = await engine.chat(M, { messages: [{ role: 'user', content: 'Hi there' }], maxTokens: 10, ignoreEos: true, sampling: { temperature: 0, nProbs: 3 } }, {
      onPiece: (_c, _r, probs) => pieces.push(...(probs ?? [])),
    });
    expect(r).not.toHaveProperty('probs');
    expect(pieces).toHaveLength(10);
    for (const p of pieces) expect(p.id).toBe(p.top[0].id);
    expect(pieces.map((p) => p.id)).toEqual(r.tokens);
  });

  test('without nProbs there are none', async () => {
    let streamed = 0;
    const r = await engine.complete(M, { prompt: 'Plain', maxTokens: 3, ignoreEos: true, sampling: sampled }, { onPiece: (_t, p) => (streamed += p?.length ?? 0) });
    expect(streamed).toBe(0);
    expect(r).not.toHaveProperty('probs');
  });

  test('out of bounds sampling parameters are refused before anything runs', async () => {
    expect((await errorOf(engine.complete(M, { prompt: 'x', sampling: { nProbs: 21 } }))).code).toBe('invalid_argument');
    expect((await errorOf(engine.complete(M, { prompt: 'x', sampling: { mirostat: 3 as 2 } }))).code).toBe('invalid_argument');
  });
});

describe('requests llama.cpp would abort on, and the greedy fast path', () => {
  const LLG = '%llguidance {}\nstart: "a"';

  test('an llguidance grammar is refused (this build has no LLAMA_LLGUIDANCE: common_sampler_init would abort the host) and the host stays up', async () => {
    const pid = engine.pid;
    const e = await errorOf(engine.complete(M, { prompt: 'hi', maxTokens: 2, grammar: LLG }));
    expect(e).toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('llguidance grammars are not supported in this build') });
    // the same host answers the next request
    expect(engine.pid).toBe(pid);
    expect((await engine.complete(M, { prompt: 'hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    // a GBNF grammar merely mentioning it further on is a grammar like any other
    expect((await engine.complete(M, { prompt: 'hi', maxTokens: 1, grammar: 'root ::= "%llguidance"' })).tokens.length).toBeGreaterThan(0);
  });

  test('the addon refuses it too, given straight to a context (without the check, the process aborts)', async () => {
    const r = inAddon<unknown>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       const c = await addon.createContext(m, { contextSize: 256, threads: 1 });
       try { return await c.generate(JSON.stringify({ id: 1, prompt: 'hi', maxTokens: 2, grammar: input.grammar })); }
       finally { await c.dispose(); await m.dispose(); }`,
      { model: TINY_SPM, grammar: LLG },
    );
    await expect(r).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('llguidance grammars are not supported in this build') });
  });

  test('greedy decoding never picks a token the model suppresses (tokenizer.ggml.suppress_tokens): not the greedy fast path', async () => {
    const greedy = await tokensOf({ temperature: 0 });
    // TINY_SPM again, suppressing the token greedy decoding starts with
    const dir = tempDir();
    const file = path.join(dir, 'suppress.gguf');
    try {
      const h = await readGgufHeader(TINY_SPM);
      const w = new GgufWriter();
      for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, v);
      w.set('tokenizer.ggml.suppress_tokens', gguf.arr('int32', [greedy[0]]));
      for (const t of h.tensors) w.addTensor({ name: t.name, shape: t.dims, type: t.typeName as GgufWriterTensorType, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
      await w.write(file);
      await engine.load('suppress', file, { contextSize: 512, threads: 2 });
      const suppressed = await tokensOf({ temperature: 0 }, 'Once upon a time', 'suppress');
      expect(suppressed[0]).not.toBe(greedy[0]);
      expect(suppressed).not.toContain(greedy[0]);
      await engine.unload('suppress');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dynamic temperature with temperature 0 samples (temperatures in [0, range]): not the greedy fast path', async () => {
    const greedy = await tokensOf({ temperature: 0 });
    const seeds = [1, 2, 3, 4];
    const dyn = await Promise.all(seeds.map((seed) => tokensOf({ temperature: 0, dynatempRange: 2, dynatempExponent: 1, seed })));
    expect(dyn.some((t) => t.join() !== greedy.join())).toBe(true);
    // and the chain runs it: temp-ext with its range
    expect(await chainOf({ temperature: 0, dynatempRange: 2 })).toContain('temp-ext');
  });
});

describe('plain greedy picks the first largest logit, and no token from logits that are no numbers (addon.argmaxLogits, vectorized)', () => {
  /** The reference: the first index of the largest value; -1 (no token) when any is NaN or +Infinity, or every one -Infinity. */
  const reference = (xs: number[]) => {
    if (xs.some((x) => Number.isNaN(x) || x === Infinity) || xs.every((x) => x === -Infinity)) return -1;
    let best = 0;
    for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
    return best;
  };

  test('on random, tied, infinite and NaN logits of every length around the vector width', async () => {
    // a seeded generator, so a failure replays
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const cases: number[][] = [];
    for (const n of [1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 1000, 32000, 32001, 151936]) {
      cases.push(Array.from({ length: n }, () => rand() * 20 - 10));
      // the largest value in the last position, in the tail past the last whole block, and at 0
      const last = Array.from({ length: n }, () => rand());
      last[n - 1] = 5;
      cases.push(last);
      cases.push(Array.from({ length: n }, (_, i) => (i === 0 ? 2 : 1)));
      // ties: the first of equals wins, wherever the first falls in a block
      const tied = Array.from({ length: n }, () => Math.floor(rand() * 4));
      cases.push(tied);
      // NaNs scattered among the values, and one before the maximum
      cases.push(Array.from({ length: n }, (_, i) => (i % 7 === 3 ? NaN : rand())));
      // -Infinity everywhere but one NaN (all -Infinity: index 0), and all NaN (0)
      cases.push(Array.from({ length: n }, (_, i) => (i === n >> 1 ? NaN : -Infinity)));
      cases.push(Array.from({ length: n }, () => NaN));
      // +Infinity: no token
      const inf = Array.from({ length: n }, () => rand());
      inf[n >> 1] = Infinity;
      inf[n - 1] = Infinity;
      cases.push(inf);
      // one NaN or +Infinity alone, last (past the last whole block of 16 when n is no multiple of 16)
      cases.push(Array.from({ length: n }, (_, i) => (i === n - 1 ? NaN : rand())));
      cases.push(Array.from({ length: n }, (_, i) => (i === n - 1 ? Infinity : rand())));
      // all -Infinity: no token
      cases.push(Array.from({ length: n }, () => -Infinity));
    }
    const got = await inAddon<[number, boolean][]>(
      // NaN and the infinities do not survive JSON: they travel as strings
      `const num = (x) => (x === 'NaN' ? NaN : x === 'Inf' ? Infinity : x === '-Inf' ? -Infinity : x);
       return input.map((xs) => { const a = new Float32Array(xs.map(num)); return [addon.argmaxLogits(a), addon.finiteLogits(a)]; });`,
      cases.map((xs) => xs.map((x) => (Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : x))),
    );
    // compared in float32, as the addon reads them
    const want = cases.map((xs) => reference(Array.from(new Float32Array(xs))));
    expect(got.map(([argmax]) => argmax)).toEqual(want);
    // the check before a sampler chain refuses exactly what greedy gives no token for
    expect(got.map(([, finite]) => finite)).toEqual(want.map((w) => w !== -1));
    // the cases reach past index 0 (a pick that always said 0 would not pass), and refuse some
    expect(want.filter((w) => w > 16).length).toBeGreaterThan(20);
    expect(want.filter((w) => w === -1).length).toBeGreaterThan(20);
  });

  test('a view at an offset that is no multiple of the vector width, and signed zeros', async () => {
    const got = await inAddon<number[]>(
      `const buf = new Float32Array(1000 + 3);
       for (let i = 0; i < buf.length; i++) buf[i] = Math.sin(i);
       buf[3 + 517] = 9; // the view's 517th value
       buf[1] = 20; // before the view: never read
       const view = new Float32Array(buf.buffer, 3 * 4, 1000);
       return [addon.argmaxLogits(view), addon.argmaxLogits(new Float32Array([-0, 0])), addon.argmaxLogits(new Float32Array([0, -0]))];`,
    );
    // -0 and +0 are equal: the first
    expect(got).toEqual([517, 0, 0]);
  });

  test('anything but a Float32Array of 1 to 2^24 values is refused', async () => {
    const errors = await inAddon<string[]>(
      `const out = [];
       for (const bad of [[1, 2], new Float64Array(3), new Float32Array(0), new Float32Array((1 << 24) + 1), 'x', undefined]) {
         try { addon.argmaxLogits(bad); out.push('accepted'); } catch (e) { out.push(e.code); }
       }
       return out;`,
    );
    expect(errors).toEqual(Array(6).fill('invalid_argument'));
  });
});
