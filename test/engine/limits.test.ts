/**
 * Settings llama.cpp asserts on (an abort of the whole host, and of every stream on every model) give
 * a clear error or a correct result, and the host lives on; and llama.cpp's semantics for
 * repeatLastN -1, maxTokens 0 and an aborted embedding. Real host, real addon, generated models.
 */
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine } from '../helpers/engine';
import { TINY_BERT, TINY_EMBED, TINY_RERANK, TINY_SPM } from '../helpers/models';

let engine: EngineClient;
let pid: number;
const greedy = { temperature: 0 };
const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('spm', TINY_SPM, { contextSize: 512, threads: 2 });
  pid = engine.pid!;
});

afterAll(async () => {
  await engine.close();
});

/** The host that answered before still answers: same process, and a generation works. */
async function expectHostAlive(): Promise<void> {
  const r = await engine.complete('spm', { prompt: 'Still here', maxTokens: 3, ignoreEos: true, sampling: greedy });
  expect(r.timings.generatedTokens).toBe(3);
  expect(engine.pid).toBe(pid);
}

/** `n` prompt tokens from a long text (token prompts make the lengths exact). */
async function promptOf(n: number, salt: string): Promise<number[]> {
  const text = Array.from({ length: n }, (_, i) => `${salt}${i}`).join(' ');
  const toks = await engine.tokenize('spm', text);
  expect(toks.length).toBeGreaterThanOrEqual(n);
  return toks.slice(0, n);
}

describe('batch limits', () => {
  test('parallel above the batch size or the context is refused with a clear error', async () => {
    const overBatch = await errorOf(engine.load('bad', TINY_SPM, { parallel: 8, batchSize: 4, ubatchSize: 4 }));
    expect(overBatch.code).toBe('invalid_argument');
    expect(overBatch.message).toMatch(/parallel must not exceed batchSize or contextSize/);
    const overContext = await errorOf(engine.load('bad', TINY_SPM, { parallel: 8, contextSize: 4 }));
    expect(overContext.code).toBe('invalid_argument');
    expect(overContext.message).toMatch(/parallel/);
    await expectHostAlive();
  });

  test('a context smaller than the requested batch: prompts are split at the batch llama.cpp uses', async () => {
    // llama.cpp caps the batch at the context (300) while the cache rounds up to 512 cells: a 400-token
    // prompt fits the cache but not one batch, and two requests share the batch
    await engine.load('small', TINY_SPM, { contextSize: 300, batchSize: 2048, parallel: 2, threads: 2 });
    expect((await engine.contextInfo('small')).batchSize).toBe(300);
    const [pa, pb] = [await promptOf(400, 'a'), await promptOf(60, 'b')];
    const [a, b] = await Promise.all([
      engine.complete('small', { prompt: pa, maxTokens: 12, ignoreEos: true, sampling: greedy, seq: 0 }),
      engine.complete('small', { prompt: pb, maxTokens: 12, ignoreEos: true, sampling: greedy, seq: 1 }),
    ]);
    expect(a.tokens).toHaveLength(12);
    expect(b.tokens).toHaveLength(12);
    // the same request alone gives the same text
    await engine.clearSequence('small', 1);
    const alone = await engine.complete('small', { prompt: pa, maxTokens: 12, ignoreEos: true, sampling: greedy, seq: 1 });
    expect(alone.tokens.slice(0, 8)).toEqual(a.tokens.slice(0, 8));
    await engine.unload('small');
    await expectHostAlive();
  });

  test('parallel equal to the batch size: generated tokens and prompt chunks share the batch budget', async () => {
    await engine.load('tight', TINY_SPM, { contextSize: 1024, batchSize: 4, ubatchSize: 4, parallel: 4, threads: 2 });
    const prompts = [await promptOf(3, 'x'), await promptOf(40, 'y'), await promptOf(9, 'z'), await promptOf(25, 'w')];
    const together = await Promise.all(
      prompts.map((prompt, seq) => engine.complete('tight', { prompt, maxTokens: 16, ignoreEos: true, sampling: greedy, seq })),
    );
    for (const r of together) expect(r.tokens).toHaveLength(16);
    for (let seq = 0; seq < 4; seq++) await engine.clearSequence('tight', seq);
    const alone = await engine.complete('tight', { prompt: prompts[1], maxTokens: 16, ignoreEos: true, sampling: greedy });
    expect(alone.tokens.slice(0, 8)).toEqual(together[1].tokens.slice(0, 8));
    await engine.unload('tight');
    await expectHostAlive();
  });
});

describe('embedding limits', () => {
  const longText = Array.from({ length: 260 }, (_, i) => `w${i}`).join(' '); // ~700 tokens: more than a 512 micro-batch

  test('a BERT-style (non-causal) embedder takes a text longer than the requested micro-batch', async () => {
    await engine.load('bert', TINY_BERT, { embeddings: true, contextSize: 2048, batchSize: 2048, ubatchSize: 512, threads: 2 });
    const info = await engine.contextInfo('bert');
    expect(info.ubatchSize).toBe(info.batchSize); // a pooled sequence is one micro-batch
    const [v] = await engine.embed('bert', [longText]);
    expect(Math.sqrt(cos(v, v))).toBeCloseTo(1, 4);
    const [short] = await engine.embed('bert', ['a short text']);
    expect(cos(v, short)).toBeLessThan(0.999);
    await engine.unload('bert');
    await expectHostAlive();
  });

  test('a causal embedder pools the whole text, whatever micro-batch was asked for', async () => {
    const vectorWith = async (ubatchSize: number) => {
      await engine.load('emb', TINY_EMBED, { embeddings: true, contextSize: 2048, batchSize: 2048, ubatchSize, threads: 2 });
      const [v] = await engine.embed('emb', [longText]);
      await engine.unload('emb');
      return v;
    };
    // split across micro-batches, llama.cpp would pool only the last one
    expect(cos(await vectorWith(128), await vectorWith(2048))).toBeCloseTo(1, 5);
  });

  test('a non-causal model generates from a prompt longer than the requested micro-batch', async () => {
    await engine.load('bertgen', TINY_BERT, { contextSize: 2048, batchSize: 2048, ubatchSize: 256, threads: 2 });
    const r = await engine.complete('bertgen', { prompt: longText, maxTokens: 3, ignoreEos: true, sampling: greedy });
    expect(r.timings.promptTokens).toBeGreaterThan(256);
    expect(r.tokens).toHaveLength(3);
    await engine.unload('bertgen');
    await expectHostAlive();
  });

  test('a reranker (rank pooling) asked for embeddings is refused, not read out of bounds', async () => {
    await engine.load('rank', TINY_RERANK, { embeddings: true, contextSize: 512, threads: 2 });
    const err = await errorOf(engine.embed('rank', ['query', 'document']));
    expect(err.code).toBe('not_supported');
    expect(err.message).toMatch(/rerank/);
    await engine.unload('rank');
    await expectHostAlive();
  });
});

describe('llama.cpp semantics', () => {
  test('repeatLastN -1 penalizes over the whole context, as llama-server does', async () => {
    const run = async (repeatLastN: number) =>
      (await engine.complete('spm', { prompt: 'The end', maxTokens: 32, ignoreEos: true, sampling: { temperature: 0, repeatPenalty: 10, repeatLastN } })).tokens;
    const whole = await run(-1);
    expect(whole).toEqual(await run(512)); // the context size
    expect(whole).not.toEqual(await run(0)); // not "disabled", which llama.cpp makes of a negative window
    expect(whole).not.toEqual(await run(4));
  });

  test('maxTokens 0 generates nothing and leaves the cache as it was', async () => {
    await engine.complete('spm', { prompt: 'Something cached', maxTokens: 2, ignoreEos: true, sampling: greedy });
    const before = (await engine.contextInfo('spm')).sequenceTokens;
    const pieces: string[] = [];
    const r = await engine.complete('spm', { prompt: 'Nothing to say', maxTokens: 0, sampling: greedy }, { onPiece: (t) => pieces.push(t) });
    expect(r.tokens).toEqual([]);
    expect(r.text).toBe('');
    expect(r.timings.generatedTokens).toBe(0);
    expect(r.stopReason).toBe('length');
    expect(pieces).toEqual([]);
    expect((await engine.contextInfo('spm')).sequenceTokens).toEqual(before);
    const chat = await engine.chat('spm', { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 0 });
    expect(chat.tokens).toEqual([]);
  });

  test('an aborted embedding reports aborted', async () => {
    await engine.load('emb', TINY_EMBED, { embeddings: true, contextSize: 512, parallel: 4, threads: 2 });
    // a completion first: sequence 0 then remembers its tokens as cached
    await engine.complete('emb', { prompt: 'A cached prefix', maxTokens: 2, ignoreEos: true, sampling: greedy });
    expect(((await engine.contextInfo('emb')).sequenceTokens as number[])[0]).toBeGreaterThan(0);
    // few long texts: cheap to tokenize, one batch each, so the abort lands between batches
    const texts = Array.from({ length: 400 }, (_, i) => `text ${i}: ${'lorem ipsum dolor sit amet '.repeat(60)}`);
    const ac = new AbortController();
    const running = engine.embed('emb', texts, { signal: ac.signal });
    // abort once a batch has run (each clears the whole cache: no sequence claims a prefix), with many left;
    // a fixed delay could land before the first batch on a loaded machine
    let ended = false;
    const watch = (async () => {
      while (!ended) {
        if (((await engine.contextInfo('emb')).sequenceTokens as number[]).every((n) => n === 0)) return ac.abort();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const err = await errorOf(running).finally(() => (ended = true));
    await watch;
    expect(err.code).toBe('aborted');
    // the embedding cleared the whole KV cache: no sequence may still claim a cached prefix
    expect(((await engine.contextInfo('emb')).sequenceTokens as number[]).every((n) => n === 0)).toBe(true);
    // the context goes on
    const [v] = await engine.embed('emb', ['after the abort']);
    expect(Math.sqrt(cos(v, v))).toBeCloseTo(1, 4);
    await engine.unload('emb');
  });
});
