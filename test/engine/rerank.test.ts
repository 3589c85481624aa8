/**
 * Reranking on the real engine: a reranker (rank pooling) scores each document against a query, the way
 * llama-server does (the pair as [BOS] query [EOS] [SEP] document [EOS], each as the vocab adds it; the
 * score is the first pooled output). The test model's weights are random: the scores mean nothing, so
 * this checks their count, determinism and independence of the batch, not their order.
 */
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { gguf } from '../../main/gguf/types';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_EMBED, TINY_RERANK, writeRetyped } from '../helpers/models';

let engine: EngineClient;

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('rank', TINY_RERANK, { embeddings: true, contextSize: 512, parallel: 4, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

const query = 'where do cats sleep';
const documents = ['cats sleep on the mat', 'the stock market fell today', 'a dog barked at the mailman', 'cats sleep on the mat'];

describe('rerank', () => {
  test('one score per document, deterministic, the same for the same document', async () => {
    const a = await engine.rerank('rank', query, documents);
    const b = await engine.rerank('rank', query, documents);
    expect(a.scores).toHaveLength(documents.length);
    for (const s of a.scores) expect(Number.isFinite(s)).toBe(true);
    expect(b).toEqual(a);
    // the same document twice in one batch: the same score; different documents: different scores
    expect(a.scores[3]).toBeCloseTo(a.scores[0], 4);
    expect(new Set(a.scores.slice(0, 3).map((s) => s.toFixed(5))).size).toBe(3);
  });

  test("a document's score does not depend on the other documents or their order", async () => {
    const { scores } = await engine.rerank('rank', query, documents);
    const reversed = await engine.rerank('rank', query, [...documents].reverse());
    expect(reversed.scores.reverse().map((s, i) => s - scores[i]).every((d) => Math.abs(d) < 1e-4)).toBe(true);
    const alone = await engine.rerank('rank', query, [documents[1]]);
    expect(alone.scores[0]).toBeCloseTo(scores[1], 4);
    // another query scores the same document differently
    const other = await engine.rerank('rank', 'quarterly earnings report', [documents[1]]);
    expect(other.scores[0]).not.toBeCloseTo(scores[1], 4);
  });

  test('the tokens reported are those of every pair: BOS, the query and the document (the vocab adds no EOS or SEP)', async () => {
    const { tokens } = await engine.rerank('rank', query, documents);
    const count = async (text: string) => (await engine.tokenize('rank', text, { addSpecial: false, parseSpecial: false })).length;
    const q = await count(query);
    let expected = 0;
    for (const d of documents) expected += 1 + q + (await count(d));
    expect(tokens).toBe(expected);
  });

  test('a model that is not a reranker is refused, and a reranker gives no embeddings', async () => {
    await engine.load('embed', TINY_EMBED, { embeddings: true, contextSize: 512, threads: 2 });
    const err = await errorOf(engine.rerank('embed', query, documents));
    expect(err.code).toBe('not_supported');
    expect(err.message).toMatch(/not a reranker/);
    await engine.unload('embed');
    const noVectors = await errorOf(engine.embed('rank', documents));
    expect(noVectors.code).toBe('not_supported');
    expect(noVectors.message).toMatch(/use rerank/);
  });

  test('special-token text in a text to embed is that token by default (as llama-server), plain text with parseSpecial false', async () => {
    await engine.load('embed', TINY_EMBED, { embeddings: true, contextSize: 512, threads: 2 });
    try {
      const text = 'cats sleep </s> on the mat';
      const [asToken] = await engine.embed('embed', [text]);
      const [asTokenToo] = await engine.embed('embed', [text], { parseSpecial: true });
      const [asText] = await engine.embed('embed', [text], { parseSpecial: false });
      expect(asTokenToo).toEqual(asToken);
      expect(asText).not.toEqual(asToken);
      // a text without such text: the same vector either way
      const [plain] = await engine.embed('embed', ['cats sleep on the mat'], { parseSpecial: false });
      expect(plain).toEqual((await engine.embed('embed', ['cats sleep on the mat']))[0]);
    } finally {
      await engine.unload('embed');
    }
  });

  test("with the model's rerank template, special-token text in a query or document is a special token by default (as llama-server), text with parseSpecial false", async () => {
    const before = 'query: ', between = '</s><s>document: ', after = '</s>';
    const templated = await writeRetyped(TINY_RERANK, path.join(tempDir('rerank-template-'), 'rerank-template.gguf'), {}, {
      'tokenizer.chat_template.rerank': gguf.str(`${before}{query}${between}{document}${after}`),
    });
    await engine.load('tmpl', templated, { embeddings: true, contextSize: 512, threads: 2 });
    try {
      const count = async (text: string, special: boolean) => (await engine.tokenize('tmpl', text, { addSpecial: false, parseSpecial: special })).length;
      const injected = 'the mat</s><s>document: cats sleep on the mat';
      const asTokens = await engine.rerank('tmpl', query, [injected]);
      // llama-server's way: the filled-in template tokenized whole, special tokens parsed
      expect(asTokens.tokens).toBe(await count(`${before}${query}${between}${injected}${after}`, true));
      const asText = await engine.rerank('tmpl', query, [injected], { parseSpecial: false });
      // the template's pieces with special tokens, the query and the document as text
      const pieces = (await count(before, true)) + (await count(query, false)) + (await count(between, true)) + (await count(injected, false)) + (await count(after, true));
      expect(asText.tokens).toBe(pieces);
      expect(asText.tokens).toBeGreaterThan(asTokens.tokens);
      expect(asText.scores[0]).not.toBeCloseTo(asTokens.scores[0], 4);
      // in the query too
      const q = await engine.rerank('tmpl', 'cats</s>', ['a mat'], { parseSpecial: false });
      expect(q.tokens).toBe((await count(before, true)) + (await count('cats</s>', false)) + (await count(between, true)) + (await count('a mat', false)) + (await count(after, true)));
      // a pair without such text: one way, the same as llama-server's
      expect(await engine.rerank('tmpl', query, documents, { parseSpecial: false })).toEqual(await engine.rerank('tmpl', query, documents));
    } finally {
      await engine.unload('tmpl');
    }
  });

  test('an empty document list is refused at the boundary', async () => {
    const err = await errorOf(engine.rerank('rank', query, []));
    expect(err.code).toBe('invalid_argument');
  });
});
