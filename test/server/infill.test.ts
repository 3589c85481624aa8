/**
 * POST /infill (llama-server's fill-in-the-middle, /completion-shaped answers) through raw HTTP against
 * the real server on the real engine, with a generated "code model" (TINY_FIM: FIM tokens marked)
 * beside a chat model without them. Also the chat route's n_keep, reasoning_effort and
 * reasoning_budget_tokens reach the engine's request (checked by what they change).
 */
import path from 'path';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { copyModel, TINY_FIM } from '../helpers/models';

let api: ApiApp;
const CODER = 'coder';

beforeAll(async () => {
  api = await apiApp({}, { prepare: (paths) => copyModel(TINY_FIM, path.join(paths.models, `${CODER}.gguf`)) });
}, 60_000);
afterAll(() => api?.close());

const post = async (route: string, body: unknown) => {
  const res = await fetch(`${api.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};

const body = { model: CODER, input_prefix: 'def add(a, b):\n    ', input_suffix: '\n\nprint(add(1, 2))\n', n_predict: 6, ignore_eos: true, temperature: 0 };

test('fills the middle with the engine\'s infill, in the shape of llama-server\'s /completion', async () => {
  const r = await post('/infill', body);
  expect(r.status).toBe(200);
  const j = JSON.parse(r.text) as Record<string, unknown>;
  expect(j).toMatchObject({ model: CODER, stop: true, stop_type: 'limit', tokens_predicted: 6 });
  expect(typeof j.content).toBe('string');
  // the engine's own infill of the same request, on the model the API loaded
  const loaded = (await api.engine.request('loaded', {})) as { modelId: string; path: string }[];
  const modelId = loaded.find((l) => l.path.endsWith(`${CODER}.gguf`))!.modelId;
  const direct = await api.engine.infill(modelId, { prefix: body.input_prefix, suffix: body.input_suffix, maxTokens: 6, ignoreEos: true, sampling: { temperature: 0 } });
  expect(j.content).toBe(direct.text);
  expect(j.tokens).toEqual(direct.tokens);
  expect(j.tokens_evaluated).toBe(direct.timings.promptTokens);
  const alias = await post('/v1/infill', body);
  expect(JSON.parse(alias.text).content).toBe(j.content);
}, 60_000);

test('streams the middle as data events, then the final one', async () => {
  const whole = JSON.parse((await post('/infill', body)).text) as { content: string };
  const r = await post('/infill', { ...body, stream: true });
  expect(r.status).toBe(200);
  const events = r.text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)) as { content: string; stop: boolean });
  expect(events.at(-1)!.stop).toBe(true);
  expect(events.slice(0, -1).every((e) => !e.stop)).toBe(true);
  expect(events.map((e) => e.content).join('')).toBe(whole.content);
}, 60_000);

test('a model without FIM tokens gets a 400 saying so; a body without the suffix a 400 naming it', async () => {
  const r = await post('/infill', { ...body, model: api.modelName });
  expect(r.status).toBe(400);
  expect(r.text).toMatch(/no fill-in-the-middle tokens/);
  const { input_suffix: _s, ...noSuffix } = body;
  const bad = await post('/infill', noSuffix);
  expect(bad.status).toBe(400);
  expect(bad.text).toMatch(/input_suffix/);
}, 60_000);
