/**
 * LoRA adapters and control vectors (main/params/adapters.ts, native/src/adapters.cpp): a tiny LoRA
 * and a control vector for the tiny test model (scripts/make-test-adapter.ts) change its greedy
 * output and log-probabilities with their scale; scale 0 is the model alone, to the bit. A request's
 * own scales apply without reloading, and do not mix with another request's set in a parallel
 * context; a prefix cached under one set is not reused under another. An adapter made for another
 * model (other width) is refused with a clear error, and the model stays usable. A file listed twice
 * is refused by the schema, the host and the addon alike. Real host, real addon, generated files.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { CompletionRequest, TokenLogprobs } from '../../main/engine/protocol';
import { LoadParams, RequestOptions, type AdapterEntry } from '../../main/params';
import { writeTestControlVector, writeTestLora, type TestLoraOptions } from '../../scripts/make-test-adapter';
import { inAddon } from '../helpers/addon';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { readGgufHeader } from '../../main/gguf/read';
import { TINY_SPM, writeSplitModel } from '../helpers/models';

let engine: EngineClient;
let dir: string;
let lora: string;
let wideLora: string;
let cvec: string;
let wideCvec: string;

const BASE = { contextSize: 512, threads: 2 } as const;
const PROMPT = 'Once upon a time';

beforeAll(async () => {
  dir = tempDir('hearth-adapters-');
  lora = await writeTestLora({ out: path.join(dir, 'tiny-lora.gguf') });
  wideLora = await writeTestLora({ out: path.join(dir, 'other-width-lora.gguf'), embeddingLength: 32 });
  cvec = await writeTestControlVector({ out: path.join(dir, 'tiny-cvec.gguf') });
  wideCvec = await writeTestControlVector({ out: path.join(dir, 'other-width-cvec.gguf'), embeddingLength: 32 });
  engine = makeEngine();
  await engine.load('plain', TINY_SPM, BASE);
  // loaded with the adapter at scale 0: on the model, applied only when a request asks
  await engine.load('lora', TINY_SPM, { ...BASE, loraAdapters: [{ path: lora, scale: 0 }] });
}, 120_000);

afterAll(async () => {
  await engine?.close();
});

type Reply = { tokens: number[]; logprobs: number[] };
async function run(model: string, extra: Partial<CompletionRequest> = {}): Promise<Reply> {
  const probs: TokenLogprobs[] = [];
  const r = await engine.complete(
    model,
    { prompt: PROMPT, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0, nProbs: 3 }, ...extra },
    { onPiece: (_t, p) => probs.push(...(p ?? [])) },
  );
  return { tokens: r.tokens, logprobs: probs.flatMap((t) => t.top.map((x) => x.logprob)) };
}
/**
 * The same reply: the same tokens, and log-probabilities equal but for float rounding (a prefix reused
 * from the cache, or a batch shared with another sequence, sums in another order). An adapter moves
 * them by far more.
 */
function expectSame(a: Reply, b: Reply): void {
  expect(a.tokens).toEqual(b.tokens);
  expect(a.logprobs).toHaveLength(b.logprobs.length);
  a.logprobs.forEach((x, i) => expect(Math.abs(x - b.logprobs[i])).toBeLessThan(1e-3));
}
/** how far apart two replies' log-probabilities are (10× what expectSame allows counts as moved) */
const moved = (a: Reply, b: Reply) => Math.max(...a.logprobs.map((x, i) => Math.abs(x - b.logprobs[i])));
const scaled = (scale: number, p = lora): { loraAdapters: AdapterEntry[] } => ({ loraAdapters: [{ path: p, scale }] });

describe('LoRA adapters', () => {
  test('scale 0 is the model alone, to the bit; scales 1 and 2 change the greedy reply and its probabilities', async () => {
    const alone = await run('plain');
    expect(alone.tokens).toHaveLength(12);
    expect(alone.logprobs.length).toBeGreaterThan(0);
    // loaded at scale 0, no request scale: identical, to the bit (both evaluate the prompt afresh)
    expect(await run('lora')).toEqual(alone);
    expectSame(await run('lora', scaled(0)), alone);
    const one = await run('lora', scaled(1));
    const two = await run('lora', scaled(2));
    expect(one.tokens).not.toEqual(alone.tokens);
    expect(two.tokens).not.toEqual(one.tokens);
    expect(moved(one, alone)).toBeGreaterThan(0.01);
    expect(moved(two, one)).toBeGreaterThan(0.01);
    // deterministic, and back at 0 after 2: the prefix cached under scale 2 is not reused under scale 0
    expectSame(await run('lora', scaled(1)), one);
    expectSame(await run('lora', scaled(0)), alone);
  });

  test('an adapter applied at load is the same as the request asking for its scale', async () => {
    await engine.load('lora1', TINY_SPM, { ...BASE, loraAdapters: [{ path: lora, scale: 1 }] });
    try {
      expectSame(await run('lora1'), await run('lora', scaled(1)));
      // a request can turn it off again
      expectSame(await run('lora1', scaled(0)), await run('plain'));
    } finally {
      await engine.unload('lora1');
    }
  });

  test('requests with different adapter sets on parallel slots do not mix: each gets what it gets alone', async () => {
    await engine.load('par', TINY_SPM, { ...BASE, parallel: 2, loraAdapters: [{ path: lora, scale: 0 }] });
    try {
      const aloneOne = await run('par', { ...scaled(1), seq: 0 });
      const aloneZero = await run('par', { ...scaled(0), seq: 1 });
      const [one, zero, oneAgain] = await Promise.all([
        run('par', { ...scaled(1), seq: 0 }),
        run('par', { ...scaled(0), seq: 1 }),
        run('par', { ...scaled(1), prompt: `${PROMPT} again`, seq: 1 }),
      ]);
      expectSame(one, aloneOne);
      expectSame(zero, aloneZero);
      expectSame(zero, await run('plain'));
      expect(one.tokens).not.toEqual(zero.tokens);
      expect(oneAgain.tokens).toHaveLength(12);
    } finally {
      await engine.unload('par');
    }
  });

  test("the adapter's memory is in the estimate, where the load puts it, and the loaded breakdown shows the same", async () => {
    const without = await engine.estimate(TINY_SPM, BASE);
    const withIt = await engine.estimate(TINY_SPM, { ...BASE, loraAdapters: [{ path: lora, scale: 0 }] });
    const added = withIt.host.model - without.host.model;
    // its tensors (F32, whole multiples of any alignment here): the file less its header, all in system RAM here
    const header = fs.statSync(lora).size - added;
    expect(header).toBeGreaterThan(0);
    expect(header).toBeLessThan(8192);
    for (const d of [...without.devices, ...withIt.devices]) expect(d.model).toBe(0);
    // the rest of the estimate is the model's own, unchanged
    expect({ ...withIt.host, free: 0, model: 0 }).toEqual({ ...without.host, free: 0, model: 0 });
    // the model loaded with it (beforeAll, at scale 0: loaded all the same) holds what the estimate said more than the one without
    expect((await engine.memory('lora')).host.model - (await engine.memory('plain')).host.model).toBe(added);
    // each adapter counts; the estimate refuses a file the load would refuse, as the load says it
    const two = { ...BASE, loraAdapters: [{ path: lora, scale: 0 }, { path: path.join(dir, 'copy.gguf'), scale: 0 }] };
    const missing = await errorOf(engine.estimate(TINY_SPM, two));
    expect(missing.code).toBe('invalid_argument');
    expect(missing.message).toMatch(/LoRA adapter .*copy\.gguf: ENOENT/);
    fs.copyFileSync(lora, path.join(dir, 'copy.gguf'));
    expect((await engine.estimate(TINY_SPM, two)).host.model - without.host.model).toBe(2 * added);
    const wrong = await errorOf(engine.estimate(TINY_SPM, { ...BASE, loraAdapters: [{ path: TINY_SPM, scale: 0 }] }));
    expect(wrong.message).toMatch(/tiny-spm\.gguf is not a LoRA adapter/);
  });

  test('an adapter with more tensors than the model could take is refused by the estimate, the fit and the load, naming it', async () => {
    const crowded = await writeTestLora({ out: path.join(dir, 'crowded-lora.gguf'), extraTensors: 200 });
    const params = { ...BASE, loraAdapters: [{ path: crowded, scale: 1 }] };
    const errors = [await errorOf(engine.estimate(TINY_SPM, params)), await errorOf(engine.fit(TINY_SPM, params)), await errorOf(engine.load('crowded', TINY_SPM, params))];
    for (const e of errors) {
      expect(e.code).toBe('invalid_argument');
      expect(e.message).toMatch(/crowded-lora\.gguf has 2\d\d tensors; a LoRA adapter for this model has at most \d\d \(a pair for each of the model's tensors\)/);
    }
    // the tiny adapter itself passes: its estimate answers
    expect((await engine.estimate(TINY_SPM, { ...BASE, loraAdapters: [{ path: lora, scale: 1 }] })).host.model).toBeGreaterThan(0);
  });

  test("a split model's adapters are bounded by all its tensors, not by those of its first file", async () => {
    const tensors = (await readGgufHeader(TINY_SPM)).tensors.length;
    const parts = await writeSplitModel(TINY_SPM, dir, 'split', 3);
    const first = (await readGgufHeader(parts[0])).tensors.length;
    expect(first).toBeLessThan(tensors);
    // more than a pair for each tensor of the first file, fewer than one for each of the model's
    // (the extras in pairs: for tensors the first file does not hold, left to llama.cpp)
    const paired = (await readGgufHeader(lora)).tensors.length;
    const extra = 2 * first + 1 - paired + ((2 * first + 1 - paired) % 2);
    const wide = await writeTestLora({ out: path.join(dir, 'wide-lora.gguf'), extraTensors: extra });
    expect(paired + extra).toBeGreaterThan(2 * first);
    expect(paired + extra).toBeLessThanOrEqual(2 * tensors);
    const without = await engine.estimate(parts[0], BASE);
    const withIt = await engine.estimate(parts[0], { ...BASE, loraAdapters: [{ path: wide, scale: 1 }] });
    expect(withIt.host.model).toBeGreaterThan(without.host.model);
  });

  test("a LoRA whose pairs do not fit the model's tensors is refused by the estimate, the fit and the load, naming it and the tensor", async () => {
    const cases: [string, Omit<TestLoraOptions, 'out'>, RegExp][] = [
      // the model's width (the width check passes), another FFN: ffn_down's pair is [96, 4] and [4, 64]
      ['ffn-lora.gguf', { feedForwardLength: 96 }, /ffn-lora\.gguf is not an adapter of this model: its blk\.0\.ffn_down\.weight pair is \[96, 4\] and \[4, 64\], the model's blk\.0\.ffn_down\.weight is \[128, 64\]/],
      ['absent-lora.gguf', { extraTensors: 2 }, /absent-lora\.gguf is not an adapter of this model: it changes blk\.0\.extra0\.weight, which the model does not have/],
      ['half-lora.gguf', { extraTensors: 1 }, /half-lora\.gguf is not a LoRA adapter llama\.cpp reads: blk\.0\.extra0\.weight has a lora_a without its lora_b/],
      // what llama.cpp's load lets through and its first decode asserts on (the process ends): a pair
      // deeper than its tensor, and token_embd's halves of two ranks
      [
        'deep-lora.gguf',
        { rawTensors: [{ name: 'blk.0.attn_q.weight.lora_a', shape: [64, 4, 2] }, { name: 'blk.0.attn_q.weight.lora_b', shape: [4, 64] }] },
        /deep-lora\.gguf is not an adapter of this model: its blk\.0\.attn_q\.weight pair is \[64, 4, 2\] and \[4, 64\], the model's blk\.0\.attn_q\.weight is \[64, 64\]/,
      ],
      [
        'ranks-lora.gguf',
        { rawTensors: [{ name: 'token_embd.weight.lora_a', shape: [4, 32000] }, { name: 'token_embd.weight.lora_b', shape: [8, 64] }] },
        /ranks-lora\.gguf is not an adapter of this model: its token_embd\.weight pair is \[4, 32000\] and \[8, 64\]/,
      ],
    ];
    for (const [name, options, why] of cases) {
      const file = await writeTestLora({ ...options, out: path.join(dir, name) });
      const params = { ...BASE, loraAdapters: [{ path: file, scale: 1 }] };
      for (const e of [await errorOf(engine.estimate(TINY_SPM, params)), await errorOf(engine.fit(TINY_SPM, params)), await errorOf(engine.load('misfit', TINY_SPM, params))]) {
        expect(e.code).toBe('invalid_argument');
        expect(e.message).toMatch(why);
      }
    }
    // llama.cpp itself refuses the first (the addon, without the host's check): the same verdict
    const r = await inAddon<{ code: string; message: string }>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       let error = null;
       try { await addon.createContext(m, { contextSize: 256, threads: 2, loraAdapters: [{ path: input.lora, scale: 1 }] }); }
       catch (e) { error = { code: e.code, message: e.message }; }
       await m.dispose();
       return error;`,
      { model: TINY_SPM, lora: path.join(dir, 'ffn-lora.gguf') },
    );
    expect(r.message).toMatch(/tensor 'blk\.\d+\.ffn_down\.weight' has incorrect shape/);
    // and those llama.cpp's load lets through are refused by the addon too, before any decode
    for (const [file, tensor] of [['deep-lora.gguf', 'blk.0.attn_q.weight'], ['ranks-lora.gguf', 'token_embd.weight']]) {
      const refused = await inAddon<{ code: string; message: string } | null>(
        `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
         let error = null;
         try {
           const ctx = await addon.createContext(m, { contextSize: 256, threads: 2, loraAdapters: [{ path: input.lora, scale: 1 }] });
           await ctx.generate(JSON.stringify({ prompt: 'hello', maxTokens: 2, ignoreEos: true, sampling: { temperature: 0 } }));
         } catch (e) { error = { code: e.code, message: e.message }; }
         await m.dispose();
         return error;`,
        { model: TINY_SPM, lora: path.join(dir, file) },
      );
      expect(refused).toEqual({ code: 'invalid_argument', message: expect.stringContaining(`its pair for ${tensor} is of another rank or depth than that tensor`) });
    }
    expect((await run('plain')).tokens).toHaveLength(12);
  });

  test('a request naming an adapter the model was not loaded with is refused; the model goes on', async () => {
    const e = await errorOf(run('lora', scaled(1, path.join(dir, 'elsewhere.gguf'))));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/elsewhere\.gguf is not one of the adapters this model was loaded with/);
    expectSame(await run('lora', scaled(0)), await run('plain'));
  });

  test('an activated LoRA (aLoRA: it applies after its invocation tokens) is refused, not applied to every token', async () => {
    const alora = await writeTestLora({ out: path.join(dir, 'alora.gguf'), aloraInvocationTokens: [1, 2, 3] });
    const e = await errorOf(engine.load('alora', TINY_SPM, { ...BASE, loraAdapters: [{ path: alora, scale: 1 }] }));
    expect(e.code).toBe('not_supported');
    expect(e.message).toMatch(/alora\.gguf is an activated LoRA \(aLoRA: it applies after its invocation tokens\), which Hearth does not apply/);
    expect((await run('plain')).tokens).toHaveLength(12);
  });

  test('an adapter for another width is refused with a clear error, and the model stays usable', async () => {
    // the engine host reads its header first
    const e = await errorOf(engine.load('wide', TINY_SPM, { ...BASE, loraAdapters: [{ path: wideLora, scale: 1 }] }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/other-width-lora\.gguf is for a model 32 wide; this model is 64 wide/);
    const notAdapter = await errorOf(engine.load('wide', TINY_SPM, { ...BASE, loraAdapters: [{ path: TINY_SPM, scale: 1 }] }));
    expect(notAdapter.message).toMatch(/tiny-spm\.gguf is not a LoRA adapter/);
    expect((await run('plain')).tokens).toHaveLength(12);
    // and llama.cpp's own check, in the addon: the context is refused, its model goes on
    const r = await inAddon<{ error: { code: string; message: string }; tokens: number }>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       let error = null;
       try { await addon.createContext(m, { contextSize: 256, threads: 2, loraAdapters: [{ path: input.wide, scale: 1 }] }); }
       catch (e) { error = { code: e.code, message: e.message }; }
       const ctx = await addon.createContext(m, { contextSize: 256, threads: 2 });
       const out = await ctx.generate(JSON.stringify({ prompt: 'hello', maxTokens: 4, ignoreEos: true, sampling: { temperature: 0 } }));
       await ctx.dispose(); await m.dispose();
       return { error, tokens: out.tokens.length };`,
      { model: TINY_SPM, wide: wideLora },
    );
    expect(r.error.code).toBe('invalid_argument');
    expect(r.error.message).toMatch(/the LoRA adapter .*other-width-lora\.gguf does not fit .*: tensor 'blk\.\d+\.\w+\.weight' has incorrect shape/);
    expect(r.tokens).toBe(4);
  });
});

describe('each file once', () => {
  const e = (p: string, scale = 1): AdapterEntry => ({ path: p, scale });

  test('the schema refuses a path listed twice, naming the field, the index and the path; distinct paths pass', () => {
    const twice = LoadParams.safeParse({ loraAdapters: [e('/x/a.gguf'), e('/x/b.gguf'), e('/x/a.gguf', 0.5)] });
    expect(twice.success).toBe(false);
    expect(!twice.success && twice.error.issues.map((i) => ({ path: i.path, message: i.message, params: i.code === 'custom' ? i.params : undefined }))).toEqual([
      { path: ['loraAdapters', 2], message: '/x/a.gguf is already listed at 0: give one scale per adapter', params: { listedAt: 0 } },
    ]);
    const vectors = LoadParams.safeParse({ controlVectors: [e('/x/v.gguf'), e('/x/v.gguf', -1)] });
    expect(!vectors.success && vectors.error.issues.map((i) => i.path)).toEqual([['controlVectors', 1]]);
    // paths as given, as the engine matches them; a LoRA and a control vector are separate lists
    expect(LoadParams.safeParse({ loraAdapters: [e('/x/a.gguf'), e('/x/A.gguf'), e('/y/a.gguf')], controlVectors: [e('/x/a.gguf')] }).success).toBe(true);
    // a request's own scales: one per adapter too
    expect(RequestOptions.safeParse({ loraAdapters: [e('/x/a.gguf', 0), e('/x/a.gguf', 1)] }).success).toBe(false);
    expect(RequestOptions.safeParse({ loraAdapters: [e('/x/a.gguf', 0), e('/x/b.gguf', 1)] }).success).toBe(true);
  });

  test('the engine refuses a load or a request naming a file twice; the model goes on', async () => {
    const load = await errorOf(engine.load('twice', TINY_SPM, { ...BASE, loraAdapters: [e(lora), e(lora, 0.5)] }));
    expect(load.code).toBe('invalid_argument');
    expect(load.message).toContain(`loraAdapters.1 ${lora} is already listed at 0: give one scale per adapter`);
    const request = await errorOf(run('lora', { loraAdapters: [e(lora, 0), e(lora, 1)] }));
    expect(request.code).toBe('invalid_argument');
    expect(request.message).toContain(`loraAdapters.1 ${lora} is already listed at 0`);
    // and the addon's own parser (native/src/adapters.cpp), which the host's schema stands before
    const addon = await inAddon<{ code: string; message: string } | null>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       try { await addon.createContext(m, { contextSize: 256, threads: 2, controlVectors: input.list }); return null; }
       catch (e) { return { code: e.code, message: e.message }; } finally { await m.dispose(); }`,
      { model: TINY_SPM, list: [e(cvec), e(cvec, 0.5)] },
    );
    expect(addon).toEqual({ code: 'invalid_argument', message: `controlVectors.1 ${cvec} is already listed at 0: give one scale per adapter` });
    expectSame(await run('lora', scaled(0)), await run('plain'));
  });
});

describe('control vectors', () => {
  test('strength changes the reply; strength 0 and a layer range past the vector are the model alone', async () => {
    const alone = await run('plain');
    const load = async (id: string, params: object) => engine.load(id, TINY_SPM, { ...BASE, ...params });
    try {
      await load('cv1', { controlVectors: [{ path: cvec, scale: 1 }] });
      await load('cv0', { controlVectors: [{ path: cvec, scale: 0 }] });
      // the tiny model has 2 layers: the vector steers layer 1 only
      await load('cvPast', { controlVectors: [{ path: cvec, scale: 1 }], controlVectorLayerStart: 2 });
      const one = await run('cv1');
      expect(one.tokens).not.toEqual(alone.tokens);
      expect(moved(one, alone)).toBeGreaterThan(0.01);
      expectSame(await run('cv0'), alone);
      expectSame(await run('cvPast'), alone);
    } finally {
      for (const id of ['cv1', 'cv0', 'cvPast']) await engine.unload(id);
    }
  });

  test("a control vector's memory is in the estimate and in the loaded breakdown, only at a strength other than 0", async () => {
    // the model's bytes over the host and every device (on a GPU machine the vectors go where the layers go)
    const modelBytes = (m: { host: { model: number }; devices: { model: number }[] }) => m.host.model + m.devices.reduce((n, d) => n + d.model, 0);
    const without = await engine.estimate(TINY_SPM, BASE);
    const added = async (scale: number) =>
      modelBytes(await engine.estimate(TINY_SPM, { ...BASE, controlVectors: [{ path: cvec, scale }] })) - modelBytes(without);
    // the tiny model's 2 layers: one F32 vector 64 wide, for its second layer (llama_adapter_cvec::init keeps
    // none for the first), on the CPU here; the loaded context reckons its vectors the same way (llama.cpp's
    // own breakdown leaves them out, and the context keeps them where the addon cannot read their buffers)
    expect(await added(1)).toBe(64 * 4);
    // two files are combined into one vector per layer
    fs.copyFileSync(cvec, path.join(dir, 'cvec-copy.gguf'));
    const both = await engine.estimate(TINY_SPM, { ...BASE, controlVectors: [{ path: cvec, scale: 1 }, { path: path.join(dir, 'cvec-copy.gguf'), scale: -0.5 }] });
    expect(modelBytes(both) - modelBytes(without)).toBe(64 * 4);
    // at strength 0 llama.cpp allocates nothing
    expect(await added(0)).toBe(0);
    const plain = modelBytes(await engine.memory('plain'));
    try {
      await engine.load('cvMem1', TINY_SPM, { ...BASE, controlVectors: [{ path: cvec, scale: 1 }] });
      await engine.load('cvMem0', TINY_SPM, { ...BASE, controlVectors: [{ path: cvec, scale: 0 }] });
      expect(modelBytes(await engine.memory('cvMem1')) - plain).toBe(64 * 4);
      expect(modelBytes(await engine.memory('cvMem0')) - plain).toBe(0);
    } finally {
      for (const id of ['cvMem1', 'cvMem0']) await engine.unload(id);
    }
  });

  test("a control vector for layers the model lacks is refused before llama.cpp reads it (its loader sizes by layer in 32-bit ints)", async () => {
    const dir = tempDir();
    // 64 wide × layer 2^26 wraps to 0 in llama.cpp's int arithmetic: it wrote before its buffer
    for (const layers of [[1, 67108864], [2000]]) {
      const file = await writeTestControlVector({ out: path.join(dir, `layers-${layers.join('-')}.gguf`), layers });
      const params = { ...BASE, controlVectors: [{ path: file, scale: 1 }] };
      // the estimate and the fit refuse it as the load does
      for (const e of [await errorOf(engine.estimate(TINY_SPM, params)), await errorOf(engine.fit(TINY_SPM, params)), await errorOf(engine.load('cvLayers', TINY_SPM, params))]) {
        expect(e.code).toBe('invalid_argument');
        expect(e.message).toContain(`its tensor direction.${layers[layers.length - 1]} is for layer ${layers[layers.length - 1]}; the model's layers are 1 to 2`);
      }
    }
    expect((await run('plain')).tokens).toHaveLength(12);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a control vector file without vectors, and a layer range that ends before it starts, are refused by the estimate, the fit and the load alike', async () => {
    const empty = await writeTestControlVector({ out: path.join(dir, 'empty-cvec.gguf'), layers: [] });
    const cases: [object, RegExp][] = [
      [{ controlVectors: [{ path: empty, scale: 1 }] }, /the control vector .*empty-cvec\.gguf does not fit .*: it holds no vectors/],
      [{ controlVectors: [{ path: cvec, scale: 1 }], controlVectorLayerStart: 2, controlVectorLayerEnd: 1 }, /controlVectorLayerStart \(2\) is after controlVectorLayerEnd \(1\)/],
    ];
    for (const [extra, message] of cases) {
      const params = { ...BASE, ...extra };
      for (const e of [await errorOf(engine.estimate(TINY_SPM, params)), await errorOf(engine.fit(TINY_SPM, params)), await errorOf(engine.load('cvBad', TINY_SPM, params))]) {
        expect(e.code).toBe('invalid_argument');
        expect(e.message).toMatch(message);
      }
    }
    // at strength 0 neither is read: the estimate answers, as the load would load
    const idle = await engine.estimate(TINY_SPM, { ...BASE, controlVectors: [{ path: empty, scale: 0 }] });
    expect(idle.host.model).toBe((await engine.estimate(TINY_SPM, BASE)).host.model);
    expect((await run('plain')).tokens).toHaveLength(12);
  });

  test('a control vector for another width is refused with a clear error', async () => {
    const e = await errorOf(engine.load('cvWide', TINY_SPM, { ...BASE, controlVectors: [{ path: wideCvec, scale: 1 }] }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/other-width-cvec\.gguf is for a model 32 wide; this model is 64 wide/);
    const r = await inAddon<{ code: string; message: string }>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       try { await addon.createContext(m, { contextSize: 256, threads: 2, controlVectors: [{ path: input.wide, scale: 1 }] }); return null; }
       catch (e) { return { code: e.code, message: e.message }; } finally { await m.dispose(); }`,
      { model: TINY_SPM, wide: wideCvec },
    );
    expect(r.code).toBe('invalid_argument');
    expect(r.message).toMatch(/control vector .*other-width-cvec\.gguf does not fit .*: its vectors are 32 wide, the model's layers 64/);
    expect((await run('plain')).tokens).toHaveLength(12);
  });
});
