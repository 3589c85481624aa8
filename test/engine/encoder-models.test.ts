/**
 * Models with an encoder, which write no replies here:
 * - an encoder-decoder model (T5's architecture) is refused at load with not_supported: llama.cpp decodes
 *   for such a model only after llama_encode of the prompt, which Hearth does not run, and a plain decode
 *   asserts (llama-graph.cpp "llama_encode must be called first"): the engine host ended at every message;
 * - an encoder-only embedder (BERT's architecture) keeps no cache, and llama_decode runs its encoder,
 *   writing no logits: a reply was tokens read from a buffer nothing wrote. Now not_supported, and its
 *   embeddings still work.
 * Real host, real addon, tiny models with random weights (test/helpers/models.ts writeTinyT5, writeTinyBert).
 */
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM, writeRetyped, writeTinyBert, writeTinyT5 } from '../helpers/models';

let engine: EngineClient;
let crashes = 0;

beforeAll(() => {
  engine = makeEngine();
  engine.onCrash = () => void crashes++;
});

afterAll(async () => {
  await engine?.close();
});

test('an encoder-decoder model is refused (not_supported) by the load, the estimate and the fit, as a model or a draft, the host going on', async () => {
  const dir = tempDir('hearth-t5-');
  const t5 = await writeTinyT5(path.join(dir, 'tiny-t5.gguf'));
  // without its first layer's position bias a T5 crashes llama.cpp at a context's creation (the estimate and the fit make one)
  const noBias = await writeTinyT5(path.join(dir, 'tiny-t5-no-bias.gguf'), { positionBias: false });
  const base = { contextSize: 256, threads: 2 };
  for (const file of [t5, noBias]) {
    for (const e of [await errorOf(engine.load('t5', file, base)), await errorOf(engine.estimate(file, base)), await errorOf(engine.fit(file, base))]) {
      expect(e.code).toBe('not_supported');
      expect(e.message).toContain(`the model ${file} has an encoder (an encoder-decoder model such as T5`);
    }
  }
  // a load of its metadata alone too (a context could be made on it)
  expect((await errorOf(engine.load('t5-meta', noBias, { ...base, noAlloc: true }))).code).toBe('not_supported');
  const asDraft = { ...base, draftModel: t5 };
  for (const e of [await errorOf(engine.load('t5-draft', TINY_SPM, asDraft)), await errorOf(engine.estimate(TINY_SPM, asDraft))]) {
    expect(e.code).toBe('not_supported');
    expect(e.message).toContain(`the draft model ${t5}`);
  }
  expect(crashes).toBe(0);
  // the same host answers with another model
  await engine.load('plain', TINY_SPM, { contextSize: 256, threads: 2 });
  expect((await engine.complete('plain', { prompt: 'Hello', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  expect(crashes).toBe(0);
});

test('an encoder-only embedder writes no reply (not_supported), and gives its embeddings', async () => {
  const bert = await writeTinyBert(path.join(tempDir('hearth-bert-'), 'tiny-bert.gguf'));
  await engine.load('bert', bert, { contextSize: 256, threads: 2 });
  const e = await errorOf(engine.complete('bert', { prompt: 'hello', maxTokens: 3, ignoreEos: true }));
  expect(e.code).toBe('not_supported');
  expect(e.message).toMatch(/keeps no cache \(an encoder-only embedding model, or a diffusion model\)/);
  const chat = await errorOf(engine.chat('bert', { messages: [{ role: 'user', content: 'hello' }], maxTokens: 3 }));
  expect(chat.code).toBe('not_supported');
  await engine.unload('bert');
  await engine.load('bert-embed', bert, { contextSize: 256, threads: 2, embeddings: true });
  const embeddings = await engine.embed('bert-embed', ['hello world', 'good night']);
  expect(embeddings.map((v) => v.length)).toEqual([64, 64]);
  expect(embeddings[0]).not.toEqual(embeddings[1]);
  expect(crashes).toBe(0);
});

test("an embedder whose token types are not F32 (llama.cpp adds them to the activations as F32 only: it aborted at the first batch) is refused by the load and the estimate", async () => {
  const dir = tempDir('hearth-bert-');
  const bert = await writeTinyBert(path.join(dir, 'tiny-bert.gguf'));
  const half = await writeRetyped(bert, path.join(dir, 'f16-token-types.gguf'), { 'token_types.weight': 'F16' });
  const params = { contextSize: 256, threads: 2, embeddings: true };
  for (const e of [await errorOf(engine.load('half-types', half, params)), await errorOf(engine.estimate(half, params))]) {
    expect(e.code).toBe('load_failed');
    expect(e.message).toContain('its tensor token_types.weight is of type f16, but llama.cpp computes with it only as f32');
  }
  expect(crashes).toBe(0);
});
