/**
 * POST /v1/rerank (llama-server's and Jina's shape) through raw HTTP against the real server on the
 * real engine, with a generated reranker (TINY_RERANK, rank pooling) in the library beside a chat model.
 * The reranker's weights are random: scores are checked for shape, order and agreement with the
 * engine, not meaning.
 */
import path from 'path';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { copyModel, TINY_RERANK } from '../helpers/models';

let api: ApiApp;
const RERANKER = 'reranker';

beforeAll(async () => {
  api = await apiApp({}, { prepare: (paths) => copyModel(TINY_RERANK, path.join(paths.models, `${RERANKER}.gguf`)) });
}, 60_000);
afterAll(() => api?.close());

const post = async (route: string, body: unknown) => {
  const res = await fetch(`${api.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

interface RerankResult {
  index: number;
  relevance_score: number;
  document?: { text: string };
}

const query = 'where do cats sleep';
const documents = ['cats sleep on the mat', 'the stock market fell today', 'a dog barked at the mailman'];

test('scores every document, best first, with usage; the aliases answer the same', async () => {
  const r = await post('/v1/rerank', { model: RERANKER, query, documents });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ model: RERANKER, object: 'list' });
  const results = r.body.results as RerankResult[];
  expect(results.map((x) => x.index).sort()).toEqual([0, 1, 2]);
  for (let i = 1; i < results.length; i++) expect(results[i - 1].relevance_score).toBeGreaterThanOrEqual(results[i].relevance_score);
  expect(results[0].document).toBeUndefined();
  const usage = r.body.usage as { prompt_tokens: number; total_tokens: number };
  expect(usage.prompt_tokens).toBeGreaterThan(documents.length * 3);
  expect(usage.total_tokens).toBe(usage.prompt_tokens);
  // the engine's own scores, in the documents' order (the API loaded the model as api:<path>)
  const loaded = (await api.engine.request('loaded', {})) as { modelId: string; path: string }[];
  const modelId = loaded.find((l) => l.path.endsWith(`${RERANKER}.gguf`))!.modelId;
  const direct = await api.engine.rerank(modelId, query, documents);
  for (const x of results) expect(x.relevance_score).toBeCloseTo(direct.scores[x.index], 5);
  for (const alias of ['/rerank', '/v1/reranking']) {
    const again = await post(alias, { model: RERANKER, query, documents });
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual(results);
  }
}, 60_000);

test('top_n keeps the best n; return_documents adds their text', async () => {
  const all = (await post('/v1/rerank', { model: RERANKER, query, documents })).body.results as RerankResult[];
  const r = await post('/v1/rerank', { model: RERANKER, query, documents, top_n: 2, return_documents: true });
  expect(r.status).toBe(200);
  const results = r.body.results as RerankResult[];
  expect(results.map((x) => x.index)).toEqual(all.slice(0, 2).map((x) => x.index));
  for (const x of results) expect(x.document).toEqual({ text: documents[x.index] });
}, 60_000);

test('a model that is not a reranker gets a 400 naming it, before it loads; a bad body a 400 naming the field', async () => {
  const r = await post('/v1/rerank', { model: api.modelName, query, documents });
  expect(r.status).toBe(400);
  expect((r.body.error as { message: string; param: string }).message).toMatch(/not a reranker/);
  expect((r.body.error as { param: string }).param).toBe('model');
  expect(api.engine.isLoaded(`api:${api.modelPath}`)).toBe(false);
  const empty = await post('/v1/rerank', { model: RERANKER, query, documents: [] });
  expect(empty.status).toBe(400);
  expect(JSON.stringify(empty.body)).toMatch(/documents/);
}, 60_000);
