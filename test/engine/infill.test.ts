/**
 * Fill-in-the-middle on the real engine: the prompt is built from the vocab's FIM tokens the way
 * llama-server's /infill builds it ([BOS] [FIM_PRE] prefix [FIM_SUF] suffix [FIM_MID], extra files
 * before), then generated as a completion. TINY_FIM is the Llama 3 vocab with three reserved tokens
 * marked as its FIM tokens (FIM_TOKENS); a model without them is refused.
 */
import { EngineClient } from '../../main/engine/client';
import { MAX_CHAT_CHARS } from '../../main/params';
import { errorOf, makeEngine } from '../helpers/engine';
import { FIM_TOKENS, TINY_FIM, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

let engine: EngineClient;
const greedy = { temperature: 0 };
const prefix = 'def add(a, b):\n    ';
const suffix = '\n\nprint(add(1, 2))\n';

beforeAll(async () => {
  engine = makeEngine();
  // the extra files get what the context leaves beside a batch and twice the reply (llama-server's rule)
  await engine.load('fim', TINY_FIM, { contextSize: 1024, batchSize: 256, ubatchSize: 256, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

const ids = async (text: string, special = false) => engine.tokenize('fim', text, { addSpecial: false, parseSpecial: special });

describe('infill', () => {
  test('the model reports its FIM tokens', async () => {
    const meta = await engine.info(TINY_FIM);
    expect(meta.specialTokens.fimPre).toEqual({ id: (await ids(FIM_TOKENS.pre, true))[0], text: FIM_TOKENS.pre });
    expect(meta.specialTokens.fimSuf?.text).toBe(FIM_TOKENS.suf);
    expect(meta.specialTokens.fimMid?.text).toBe(FIM_TOKENS.mid);
  });

  test('the prompt is [BOS] [FIM_PRE] prefix [FIM_SUF] suffix [FIM_MID]: the same tokens as a completion of that prompt', async () => {
    const r = await engine.infill('fim', { prefix, suffix, maxTokens: 8, ignoreEos: true, sampling: greedy });
    const [pre, suf, mid] = [(await ids(FIM_TOKENS.pre, true))[0], (await ids(FIM_TOKENS.suf, true))[0], (await ids(FIM_TOKENS.mid, true))[0]];
    const bos = (await engine.info(TINY_FIM)).specialTokens.bos!.id;
    const built = [bos, pre, ...(await ids(prefix)), suf, ...(await ids(suffix)), mid];
    expect(r.timings.promptTokens).toBe(built.length);
    expect(r.tokens).toHaveLength(8);
    await engine.clearSequence('fim');
    const same = await engine.complete('fim', { prompt: built, maxTokens: 8, ignoreEos: true, sampling: greedy });
    expect(same.tokens).toEqual(r.tokens);
    expect(r.text).toBe(same.text);
  });

  test('a start of the middle follows the prefix, and extra files come first', async () => {
    const plain = await engine.infill('fim', { prefix, suffix, maxTokens: 1, sampling: greedy });
    const started = await engine.infill('fim', { prefix, suffix, prompt: 'return', maxTokens: 1, sampling: greedy });
    expect(started.timings.promptTokens).toBe(plain.timings.promptTokens + (await ids('return')).length);
    const extra = await engine.infill('fim', { prefix, suffix, extra: [{ filename: 'util.py', text: 'def sub(a, b):\n    return a - b\n' }], maxTokens: 1, sampling: greedy });
    // without a FIM_SEP token a file is its text after a "--- snippet ---" separator
    const sep = await ids('\n\n--- snippet ---\n\n');
    expect(extra.timings.promptTokens).toBe(plain.timings.promptTokens + sep.length + (await ids('def sub(a, b):\n    return a - b\n')).length);
  });

  test('streams its text, and is deterministic with a seed', async () => {
    let streamed = '';
    const a = await engine.infill('fim', { prefix, suffix, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0.8, seed: 7 } }, { onPiece: (t) => (streamed += t) });
    const b = await engine.infill('fim', { prefix, suffix, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0.8, seed: 7 } });
    expect(streamed).toBe(a.text);
    expect(b.tokens).toEqual(a.tokens);
  });

  test('a model without FIM tokens is refused, saying so', async () => {
    await engine.load('spm', TINY_SPM, { contextSize: 256, threads: 2 });
    const err = await errorOf(engine.infill('spm', { prefix, suffix, maxTokens: 4 }));
    expect(err.code).toBe('not_supported');
    expect(err.message).toMatch(/no fill-in-the-middle tokens \(missing: prefix suffix middle\)/);
    await engine.unload('spm');
  });

  test('long files around the cursor and long extra files fit the context, with room for the reply, bounded or not', async () => {
    const words = (tag: string) => Array.from({ length: 2000 }, (_, i) => `${tag}${i}`).join(' ');
    const big = { prefix: words('p'), suffix: words('s'), extra: [{ filename: 'a.py', text: words('e') }], sampling: greedy, ignoreEos: true };
    const CTX = 1024;
    const BATCH = 256;
    // no bound (an editor's request without n_predict): the extra files leave a batch for the reply
    const open = await engine.infill('fim', { ...big });
    expect(open.timings.promptTokens).toBeLessThanOrEqual(CTX - BATCH);
    expect(open.timings.promptTokens).toBeGreaterThan(CTX - 3 * BATCH - 8);
    expect(open.timings.generatedTokens).toBeGreaterThanOrEqual(BATCH);
    expect(open.stopReason).toBe('length');
    for (const maxTokens of [0, 1, 16]) {
      const r = await engine.infill('fim', { ...big, maxTokens });
      // llama-server's rule: the extra files take at most the context less a batch and twice the reply
      expect(r.timings.promptTokens).toBeLessThanOrEqual(CTX - Math.max(1, maxTokens));
      expect(r.timings.promptTokens).toBeGreaterThan(CTX - BATCH - 2 * maxTokens - 8);
    }
  });

  test("all of a request's parts together stay within one chat request's bound", async () => {
    const half = 'x'.repeat(MAX_CHAT_CHARS / 2);
    const err = await errorOf(engine.infill('fim', { prefix: half, suffix: half, extra: [{ text: 'one more' }], maxTokens: 1 }));
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toMatch(/the infill request has 4000008 characters; one request may carry at most 4000000/);
  });
});
