/**
 * Speculative decoding end to end (EngineClient → host → addon → llama.cpp's common_speculative), on
 * generated models: a draft model with the target's vocabulary (the target itself: every draft token
 * is accepted; another seed's weights: drafts are partly rejected), llama.cpp's vocabulary check
 * refusing a draft of another vocabulary, draft-free n-gram drafting, and the estimate counting the
 * draft. Greedy output with a draft must be the output without one, token for token.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { Estimate } from '../../main/engine/protocol';
import { writeTestModel } from '../../scripts/make-test-model';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { gguf } from '../../main/gguf/types';
import { TINY_BPE, TINY_SPM, TINY_SWA, writeRetyped } from '../helpers/models';
import { writeScriptedText } from '../helpers/scripted-model';

let engine: EngineClient;
let dir: string;
/** the Llama 2 vocabulary like TINY_SPM, other weights: its drafts are often wrong */
let OTHER_DRAFT: string;
/**
 * TINY_SPM scripted to write CYCLE round and round (test/helpers/scripted-model.ts): a text that repeats
 * by design, where the random model's greedy text repeats by chance, so every n-gram draft must be right
 */
let LOOP: string;
const CYCLE = 'red green blue yellow';
let cycle: number[];

const greedy = { temperature: 0, seed: 3 };
const base = { contextSize: 1024, threads: 2, gpuLayers: 0 } as const;
const PROMPT = 'The quick brown fox jumps over the lazy dog. Then the fox runs home and sleeps.';

beforeAll(async () => {
  dir = tempDir('hearth-spec-');
  OTHER_DRAFT = path.join(dir, 'draft-spm-seed2.gguf');
  await writeTestModel({ out: OTHER_DRAFT, size: 'tiny', vocab: 'llama-spm', seed: 2, untied: true });
  LOOP = path.join(dir, 'loop-spm.gguf');
  cycle = (await writeScriptedText(TINY_SPM, LOOP, `${CYCLE} red`, 'loop')).slice(0, -1);
  engine = makeEngine();
  await engine.load('plain', TINY_SPM, base);
});

afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function greedyRun(model: string, maxTokens = 64, prompt = PROMPT) {
  return engine.complete(model, { prompt, maxTokens, ignoreEos: true, sampling: greedy });
}

describe('speculative decoding with a draft model', () => {
  test('a draft with the same vocabulary loads; greedy output is identical to the output without it, and acceptance is counted', async () => {
    const plain = await greedyRun('plain');
    expect(plain.timings.draftTokens ?? 0).toBe(0);

    await engine.load('self', TINY_SPM, { ...base, draftModel: TINY_SPM, draftMax: 8 });
    const self = await greedyRun('self');
    expect(self.tokens).toEqual(plain.tokens);
    expect(self.text).toBe(plain.text);
    // the target drafting for itself: every drafted token is the one it picks
    expect(self.timings.draftTokens).toBeGreaterThan(0);
    expect(self.timings.acceptedTokens).toBe(self.timings.draftTokens);
    expect(self.timings.generatedTokens).toBe(64);

    await engine.load('other', TINY_SPM, { ...base, draftModel: OTHER_DRAFT, draftMax: 4 });
    const other = await greedyRun('other');
    expect(other.tokens).toEqual(plain.tokens);
    expect(other.timings.draftTokens).toBeGreaterThan(0);
    expect(other.timings.acceptedTokens).toBeLessThan(other.timings.draftTokens!);
    // a second turn reuses the cached prefix in both caches: still the same output
    const again = await greedyRun('other', 40, PROMPT + ' And then');
    const againPlain = await greedyRun('plain', 40, PROMPT + ' And then');
    expect(again.tokens).toEqual(againPlain.tokens);
    await engine.unload('other');
    await engine.unload('self');
  });

  test("a long prompt's catch-up in the draft is spread over the steps (a micro-batch each): the output is the same, and drafting starts once caught up", async () => {
    // ~440 tokens of prompt, micro-batches of 32: the draft reads it over ~14 steps, the run generating meanwhile
    const params = { ...base, ubatchSize: 32, batchSize: 64 };
    const prompt = Array(20).fill(PROMPT).join(' ');
    await engine.load('long-plain', TINY_SPM, params);
    await engine.load('long-draft', TINY_SPM, { ...params, draftModel: TINY_SPM, draftMax: 4 });
    const plainRun = await greedyRun('long-plain', 48, prompt);
    expect(plainRun.timings.promptTokens).toBeGreaterThan(400);
    const drafted = await greedyRun('long-draft', 48, prompt);
    expect(drafted.tokens).toEqual(plainRun.tokens);
    // drafts began after the catch-up's steps (the target drafting for itself: each accepted), and not from the first token
    expect(drafted.timings.draftTokens).toBeGreaterThan(0);
    expect(drafted.timings.acceptedTokens).toBe(drafted.timings.draftTokens);
    // a step that drafts gives 4 drafted tokens of its 5: drafting from the first token would draft ~4/5 of
    // 48 (37 before the catch-up was spread); the ~14 steps of catch-up leave ~4/5 of the last ~34 (~27)
    expect(drafted.timings.draftTokens!).toBeLessThan(((48 - 10) * 4) / 5);
    await engine.unload('long-plain');
    await engine.unload('long-draft');
  });

  test('a chat with a draft streams the same reply as without, and the stop reasons hold', async () => {
    await engine.load('chat-draft', TINY_SPM, { ...base, draftModel: OTHER_DRAFT, draftMax: 6 });
    const request = { messages: [{ role: 'user' as const, content: 'Say something long.' }], maxTokens: 33, ignoreEos: true, sampling: greedy };
    const pieces: string[] = [];
    const withDraft = await engine.chat('chat-draft', request, { onPiece: (c) => pieces.push(c) });
    const without = await engine.chat('plain', request);
    expect(withDraft.tokens).toEqual(without.tokens);
    expect(withDraft.content).toBe(without.content);
    expect(pieces.join('')).toBe(withDraft.content);
    expect(withDraft.stopReason).toBe('length');
    expect(withDraft.timings.generatedTokens).toBe(33);
    await engine.unload('chat-draft');
  });

  test('sampled generation with a draft: the seed decides, the length holds', async () => {
    await engine.load('sampled', TINY_SPM, { ...base, draftModel: TINY_SPM, draftMax: 5 });
    const sampling = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0, seed: 1234 };
    const a = await engine.complete('sampled', { prompt: PROMPT, maxTokens: 48, ignoreEos: true, sampling });
    const b = await engine.complete('sampled', { prompt: PROMPT, maxTokens: 48, ignoreEos: true, sampling });
    expect(a.tokens).toHaveLength(48);
    expect(b.tokens).toEqual(a.tokens);
    expect(a.timings.draftTokens).toBeGreaterThan(0);
    await engine.unload('sampled');
  });

  test('parallel sequences with a draft batch together and each gets its own greedy output', async () => {
    await engine.load('par', TINY_SPM, { ...base, parallel: 3, draftModel: OTHER_DRAFT, draftMax: 4 });
    const prompts = [PROMPT, 'Once upon a time there was', 'Numbers: 1 2 3 4 5 6 7'];
    const together = await Promise.all(prompts.map((p, i) => engine.complete('par', { prompt: p, maxTokens: 30 + i * 5, ignoreEos: true, sampling: greedy, seq: i })));
    for (let i = 0; i < prompts.length; i++) {
      const alone = await greedyRun('plain', 30 + i * 5, prompts[i]);
      expect(together[i].tokens).toEqual(alone.tokens);
      expect(together[i].timings.draftTokens).toBeGreaterThan(0);
    }
    await engine.unload('par');
  });

  test('a quiet family (as bench:engine --draft auto writes it): the target\'s first layer drafts for it and nearly every draft is accepted; with plain layers few are', async () => {
    // the principle of the pair bench/speculative.ts writes: layers that write little into the residual
    // stream (make-test-model's residualScale) leave each token's prediction to the embeddings and the
    // output matrix, which the draft (the target's own first layer: blockCount 1) shares. Untied here, so
    // the output alone does not make them agree (the bench's pair is tied, for a margin Q4_0 keeps)
    const acceptance = async (residualScale: number) => {
      const family = { size: 'tiny', vocab: 'llama-spm', seed: 1, untied: true, residualScale } as const;
      const target = path.join(dir, `family-${residualScale}.gguf`);
      const draft = path.join(dir, `family-${residualScale}-L1.gguf`);
      await writeTestModel({ ...family, out: target });
      await writeTestModel({ ...family, out: draft, blockCount: 1 });
      await engine.load('family', target, base);
      await engine.load('family-draft', target, { ...base, draftModel: draft, draftMax: 8 });
      const plain = await greedyRun('family');
      const drafted = await greedyRun('family-draft');
      expect(drafted.tokens).toEqual(plain.tokens);
      expect(drafted.timings.draftTokens).toBeGreaterThan(20);
      await engine.unload('family-draft');
      await engine.unload('family');
      return drafted.timings.acceptedTokens! / drafted.timings.draftTokens!;
    };
    expect(await acceptance(1e-3)).toBeGreaterThan(0.95);
    expect(await acceptance(1)).toBeLessThan(0.5);
  });

  test('a draft of another vocabulary is refused by llama.cpp\'s check, the error naming both files', async () => {
    const e = await errorOf(engine.load('bad', TINY_SPM, { ...base, draftModel: TINY_BPE }));
    expect(e.code).toBe('load_failed');
    expect(e.message).toContain(TINY_BPE);
    expect(e.message).toContain(path.basename(TINY_SPM));
    expect(e.message).toMatch(/vocabular/);
    // the engine goes on
    expect((await greedyRun('plain', 4)).tokens).toHaveLength(4);
  });

  test("a draft whose vocabulary is larger (llama.cpp's check allows 128 more): its tokens past the target's are cut from each draft, so no verifying batch fails; the output is the target's", async () => {
    // 100 more tokens than TINY_SPM, picked by the draft nearly always (their output rows are loud)
    const wide = path.join(dir, 'draft-spm-extra.gguf');
    await writeTestModel({ out: wide, size: 'tiny', vocab: 'llama-spm', seed: 1, untied: true, extraTokens: 100 });
    await engine.load('wide-draft', TINY_SPM, { ...base, draftModel: wide, draftMax: 4 });
    const drafted = await greedyRun('wide-draft', 32);
    expect(drafted.tokens).toEqual((await greedyRun('plain', 32)).tokens);
    expect(drafted.tokens.every((t) => t < 32000)).toBe(true);
    await engine.unload('wide-draft');
    // and the other way round: a target with the larger vocabulary whose prompt holds a token past the
    // draft's end: that sequence drafts nothing, the output is the target's alone
    await engine.load('wide-target', wide, { ...base, draftModel: TINY_SPM, draftMax: 4 });
    await engine.load('wide-plain', wide, base);
    const prompt = { prompt: [1, 450, 4996, 32000 + 5, 17354], maxTokens: 16, ignoreEos: true, sampling: greedy };
    const a = await engine.complete('wide-target', prompt);
    const b = await engine.complete('wide-plain', prompt);
    expect(a.tokens).toEqual(b.tokens);
    await engine.unload('wide-target');
    await engine.unload('wide-plain');
  });

  test('a draft whose hyperparameters llama.cpp asserts on is refused before llama.cpp reads it, as such a model is', async () => {
    // llama.cpp's load_hparams asserts on more than LLAMA_MAX_LAYERS layers: the whole host would end
    let crashes = 0;
    engine.onCrash = () => void crashes++;
    const deep = await writeRetyped(TINY_SPM, path.join(dir, 'deep-draft.gguf'), {}, { 'llama.block_count': gguf.u32(513) });
    for (const e of [await errorOf(engine.load('deep', TINY_SPM, { ...base, draftModel: deep })), await errorOf(engine.estimate(TINY_SPM, { ...base, draftModel: deep }))]) {
      expect(e.code).toBe('invalid_model');
      expect(e.message).toContain(`the draft model ${deep}: llama.block_count is 513`);
    }
    expect((await greedyRun('plain', 4)).tokens).toHaveLength(4);
    expect(crashes).toBe(0);
    engine.onCrash = undefined;
  });

  test('a draft file that does not exist is refused at load', async () => {
    const missing = path.join(dir, 'nope.gguf');
    const e = await errorOf(engine.load('missing', TINY_SPM, { ...base, draftModel: missing }));
    expect(e.code).toBe('load_failed');
    expect(e.message).toContain(missing);
  });

  test('"off" ignores a draft model; "draft" without one is refused', async () => {
    await engine.load('off', TINY_SPM, { ...base, draftModel: TINY_BPE, speculative: 'off' });
    const r = await greedyRun('off', 8);
    expect(r.timings.draftTokens ?? 0).toBe(0);
    await engine.unload('off');
    const e = await errorOf(engine.load('nodraft', TINY_SPM, { ...base, speculative: 'draft' }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toContain('speculative is "draft" but no draftModel is set: give a draft model (a smaller model with the same vocabulary), or set speculative to "auto"');
  });
});

describe('draft-free n-gram decoding', () => {
  test('on a text that repeats, an n-gram kind drafts from it and every draft is right; greedy output unchanged', async () => {
    const repetitive = Array(24).fill(CYCLE).join(' ');
    await engine.load('loop', LOOP, base);
    const plain = await greedyRun('loop', 120, repetitive);
    await engine.unload('loop');
    // the scripted model goes on with the cycle, from the token after the prompt's last
    expect(plain.tokens).toEqual(Array.from({ length: 120 }, (_, i) => cycle[i % cycle.length]));
    for (const kind of ['ngram-map-k', 'ngram-map-k4v', 'ngram-mod'] as const) {
      await engine.load(kind, LOOP, { ...base, speculative: kind });
      const r = await greedyRun(kind, 120, repetitive);
      expect(r.tokens).toEqual(plain.tokens);
      const { draftTokens = 0, acceptedTokens = 0, generatedTokens } = r.timings;
      // most tokens come from drafts, and every drafted token is taken (a draft never runs past maxTokens)
      expect(draftTokens).toBeGreaterThan(generatedTokens / 2);
      expect(acceptedTokens).toBe(draftTokens);
      await engine.unload(kind);
    }
  });

  test("on a random model's text an n-gram kind drafts too, some drafts are wrong, and those leave the output unchanged", async () => {
    const repetitive = Array(24).fill(CYCLE).join(' ');
    const plain = await greedyRun('plain', 120, repetitive);
    for (const kind of ['ngram-map-k', 'ngram-mod'] as const) {
      await engine.load(kind, TINY_SPM, { ...base, speculative: kind });
      const r = await greedyRun(kind, 120, repetitive);
      expect(r.tokens).toEqual(plain.tokens);
      expect(r.timings.draftTokens).toBeGreaterThan(0);
      expect(r.timings.acceptedTokens).toBeLessThan(r.timings.draftTokens!);
      await engine.unload(kind);
    }
  });
});

describe("the draft's bounds", () => {
  // a run takes (generated - accepted) steps; a step drafts at most the bound, so drafted <= bound * steps
  const steps = (t: { generatedTokens: number; acceptedTokens?: number }) => t.generatedTokens - (t.acceptedTokens ?? 0);

  test("draftMax bounds the draft model's drafts, by default llama.cpp's (3)", async () => {
    await engine.load('bound-default', TINY_SPM, { ...base, draftModel: TINY_SPM });
    const d = (await greedyRun('bound-default')).timings;
    await engine.unload('bound-default');
    await engine.load('bound-1', TINY_SPM, { ...base, draftModel: TINY_SPM, draftMax: 1 });
    const one = (await greedyRun('bound-1')).timings;
    await engine.unload('bound-1');
    // the target drafting for itself: every draft is accepted and as long as the bound allows (all but
    // the first step's, and the last ones that maxTokens cuts)
    expect(one.draftTokens).toBeLessThanOrEqual(steps(one));
    expect(d.draftTokens).toBeGreaterThan(2 * steps(d));
    expect(d.draftTokens).toBeLessThanOrEqual(3 * steps(d));
  });

  test("the n-gram kinds draft as far as their own lookup reaches (llama.cpp's limits), whatever draftMax says", async () => {
    const repetitive = Array(24).fill('red green blue yellow').join(' ');
    for (const kind of ['ngram-map-k', 'ngram-mod'] as const) {
      const runs = [];
      for (const draftMax of [1, 256]) {
        await engine.load(`${kind}-${draftMax}`, TINY_SPM, { ...base, speculative: kind, draftMax });
        const { draftTokens, acceptedTokens, generatedTokens } = (await greedyRun(`${kind}-${draftMax}`, 120, repetitive)).timings;
        runs.push({ kind, draftTokens, acceptedTokens, generatedTokens });
        await engine.unload(`${kind}-${draftMax}`);
      }
      // under a bound of 1 the same drafts: none was cut (a bound of draftMax cut them to 1 each)
      expect(runs[0].draftTokens).toBeGreaterThan(0);
      expect(runs[0]).toEqual(runs[1]);
    }
  });

  describe("the n-gram kinds' own limits are load settings (llama-server's --spec-ngram-* flags): each reaches the kinds it stands for", () => {
    const repetitive = Array(24).fill('red green blue yellow').join(' ');
    const run = async (kind: 'ngram-simple' | 'ngram-map-k' | 'ngram-map-k4v' | 'ngram-mod', limits: Record<string, number>, prompt = repetitive, model = TINY_SPM) => {
      await engine.load('limits', model, { ...base, speculative: kind, ...limits });
      try {
        const r = await greedyRun('limits', 120, prompt);
        const { draftTokens = 0, acceptedTokens = 0, generatedTokens = 0 } = r.timings;
        // each verifying step samples one token besides the draft tokens it accepts
        return { tokens: r.tokens, draftTokens, acceptedTokens, steps: generatedTokens - acceptedTokens };
      } finally {
        await engine.unload('limits');
      }
    };

    // the lookup and the maps: ngramSizeN and ngramSizeM (the simple lookup drafts nothing here at
    // llama.cpp's n-gram length of 12, and does with 2; it drafts only as many tokens as it looks up, or
    // more: llama.cpp's common_ngram_simple_draft)
    test.each([
      ['ngram-simple', 2, 2],
      ['ngram-map-k', 4, 1],
      ['ngram-map-k4v', 4, 1],
    ] as const)('%s: ngramSizeN and ngramSizeM', async (kind, n, m) => {
      const own = await run(kind, {});
      const shorter = await run(kind, { ngramSizeN: n });
      expect(shorter.draftTokens).toBeGreaterThan(0);
      expect(shorter.draftTokens).not.toBe(own.draftTokens);
      expect(shorter.tokens).toEqual(own.tokens); // drafts change the speed, never the text
      // drafts of m tokens at most: no more drafted than m a step, and other drafts than without the bound
      const bounded = await run(kind, { ngramSizeN: n, ngramSizeM: m });
      expect(bounded.draftTokens).toBeGreaterThan(0);
      expect(bounded.draftTokens).toBeLessThanOrEqual(m * bounded.steps);
      expect(bounded.draftTokens).not.toBe(shorter.draftTokens);
      // where it drafts at llama.cpp's length, a lookup longer than the whole text finds nothing to draft from
      if (own.draftTokens > 0) expect((await run(kind, { ngramSizeN: 1024 })).draftTokens).toBe(0);
      else expect(kind).toBe('ngram-simple');
    });

    // on the scripted loop every lookup finds the cycle's continuation and every draft is right, so a bound
    // on a draft's length binds at every step: each step drafts exactly that many (the first step, with
    // nothing to look up yet, and the last, cut by maxTokens, aside), the output the cycle's own (the simple
    // lookup copies at most what follows its match up to the text's end, a cycle less one token: 2 fits)
    test.each([
      ['ngram-simple', { ngramSizeN: 2, ngramSizeM: 2 }, 2],
      ['ngram-map-k', { ngramSizeM: 1 }, 1],
      ['ngram-map-k', { ngramSizeM: 3 }, 3],
      ['ngram-map-k4v', { ngramSizeM: 2 }, 2],
      ['ngram-mod', { ngramModMax: 1, ngramModMin: 0 }, 1],
      ['ngram-mod', { ngramModMax: 4, ngramModMin: 4 }, 4],
    ] as const)('%s on a text that repeats by design: %j drafts exactly %i tokens a step, each right', async (kind, limits, m) => {
      const r = await run(kind, limits, repetitive, LOOP);
      expect(r.tokens).toEqual(Array.from({ length: 120 }, (_, i) => cycle[i % cycle.length]));
      expect(r.acceptedTokens).toBe(r.draftTokens);
      // `steps` verifying steps: the first drafts nothing (nothing generated to look up yet), the last may be
      // cut by maxTokens, every other drafts exactly m
      expect(r.draftTokens).toBeLessThanOrEqual(m * (r.steps - 1));
      expect(r.draftTokens).toBeGreaterThanOrEqual(m * (r.steps - 2));
    });

    test('ngramMinHits: counted by the map with values only (llama.cpp\'s ngram-map-k drafts before it counts hits)', async () => {
      const k4v = (await run('ngram-map-k4v', {})).draftTokens;
      const k = (await run('ngram-map-k', {})).draftTokens;
      expect(k4v).toBeGreaterThan(0);
      expect(k).toBeGreaterThan(0);
      expect((await run('ngram-map-k4v', { ngramMinHits: 2 })).draftTokens).toBe(0);
      expect((await run('ngram-map-k', { ngramMinHits: 2 })).draftTokens).toBe(k);
    });

    test('the rolling hash: ngramModMatch, ngramModMax and ngramModMin', async () => {
      const own = await run('ngram-mod', {});
      expect(own.draftTokens).toBeGreaterThan(0);
      expect((await run('ngram-mod', { ngramModMatch: 16 })).draftTokens).not.toBe(own.draftTokens);
      expect((await run('ngram-mod', { ngramModMatch: 1024 })).draftTokens).toBe(0);
      const one = await run('ngram-mod', { ngramModMax: 1, ngramModMin: 0 });
      expect(one.draftTokens).toBeGreaterThan(0);
      expect(one.draftTokens).toBeLessThanOrEqual(one.steps);
      // where lookups run out partway (a text that repeats less), drafts shorter than ngramModMin go
      const fox = Array(3).fill(PROMPT).join(' ');
      const short = { ngramModMatch: 4, ngramModMax: 16 };
      const anyLength = await run('ngram-mod', { ...short, ngramModMin: 0 }, fox);
      const atLeast8 = await run('ngram-mod', { ...short, ngramModMin: 8 }, fox);
      expect(atLeast8.draftTokens).toBeLessThan(anyLength.draftTokens);
      expect(atLeast8.tokens).toEqual(anyLength.tokens);
    });
  });
});

describe('drafts and the shared cache', () => {
  const repetitive = Array(20).fill('red green blue yellow').join(' ');
  const untilEvans = { prompt: repetitive, maxTokens: 200, stop: ['Evans'], sampling: greedy };
  const sequences = async (id: string) => (await engine.contextInfo(id)).sequenceTokens as number[];

  test("a draft takes only free cells: an idle sequence's cached prompt stays while the reply fits", async () => {
    // sequence 1 idle with a long prompt cached; sequence 0 generates with ngram-mod (drafts of up to 64
    // tokens) until a stop string, its tokens fitting the cells left, its drafts near the end not
    await engine.load('room', TINY_SPM, { ...base, contextSize: 256, parallel: 2, speculative: 'ngram-mod' });
    await engine.load('roomy', TINY_SPM, { ...base, contextSize: 1024, parallel: 2, speculative: 'ngram-mod' });
    try {
      await engine.complete('room', { prompt: Array(2).fill(PROMPT).join(' '), maxTokens: 1, sampling: greedy, seq: 1 });
      const idle = (await sequences('room'))[1];
      const tight = await engine.complete('room', { ...untilEvans, seq: 0 });
      const roomy = await engine.complete('roomy', { ...untilEvans, seq: 0 });
      expect(tight.stopReason).toBe('stop');
      expect(tight.tokens).toEqual(roomy.tokens);
      // drafts were cut to the free cells (fewer drafted than with room), and the idle prompt stayed
      expect(tight.timings.draftTokens).toBeGreaterThan(0);
      expect(tight.timings.draftTokens).toBeLessThan(roomy.timings.draftTokens!);
      expect((await sequences('room'))[1]).toBe(idle);
    } finally {
      await engine.unload('room');
      await engine.unload('roomy');
    }
  });

});

describe('memory', () => {
  test('the estimate counts the draft model and its context', async () => {
    const est = async (params: object) => Estimate.parse(await engine.request('estimate', { path: TINY_SPM, params: { contextSize: 1024, ...params } }));
    const sum = (e: Estimate, k: 'model' | 'context') => e.host[k] + e.devices.reduce((s, d) => s + d[k], 0);
    const alone = await est({});
    const withDraft = await est({ draftModel: OTHER_DRAFT });
    const draftAlone = Estimate.parse(await engine.request('estimate', { path: OTHER_DRAFT, params: { contextSize: 1024 } }));
    expect(sum(withDraft, 'model')).toBe(sum(alone, 'model') + sum(draftAlone, 'model'));
    expect(sum(withDraft, 'context')).toBeGreaterThan(sum(alone, 'context'));
  });

  test('a sliding-window model drafts only with its full window cache (swaFull), and says so', async () => {
    const err = await errorOf(engine.load('swa-spec', TINY_SWA, { contextSize: 512, threads: 2, speculative: 'ngram-mod' }));
    expect(err.code).toBe('not_supported');
    expect(err.message).toMatch(/sliding-window model .* needs the full sliding-window cache: turn swaFull on/);
    const ok = await engine.load('swa-spec', TINY_SWA, { contextSize: 512, threads: 2, speculative: 'ngram-mod', swaFull: true });
    expect(ok.context.contextSize).toBe(512);
    await engine.unload('swa-spec');
  });
});
