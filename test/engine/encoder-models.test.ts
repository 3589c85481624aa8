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
import { TINY_SPM, writeTinyBert, writeTinyT5 } from '../helpers/models';

let engine: EngineClient;
let crashes = 0;

beforeAll(() => {
  engine = makeEngine();
  engine.onCrash = () => void crashes++;
});

afterAll(async () => {
  await engine?.close();
});

test('an encoder-decoder model is refused at load (not_supported), the host going on', async () => {
  const t5 = await writeTinyT5(path.join(tempDir('hearth-t5-'), 'tiny-t5.gguf'));
  for (const e of [await errorOf(engine.load('t5', t5, { contextSize: 256, threads: 2 })), await errorOf(engine.load('t5', t5, { contextSize: 256, threads: 2 }))]) {
    expect(e.code).toBe('not_supported');
    expect(e.message).toContain(`${t5} is an encoder-decoder model (such as T5)`);
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
  expect(e.message).toMatch(/keeps no cache \(an encoder-only embedding model\): use it for embeddings/);
  const chat = await errorOf(engine.chat('bert', { messages: [{ role: 'user', content: 'hello' }], maxTokens: 3 }));
  expect(chat.code).toBe('not_supported');
  await engine.unload('bert');
  await engine.load('bert-embed', bert, { contextSize: 256, threads: 2, embeddings: true });
  const embeddings = await engine.embed('bert-embed', ['hello world', 'good night']);
  expect(embeddings.map((v) => v.length)).toEqual([64, 64]);
  expect(embeddings[0]).not.toEqual(embeddings[1]);
  expect(crashes).toBe(0);
});
