/**
 * POST /infill (llama-server's fill-in-the-middle, /completion-shaped answers) through raw HTTP against
 * the real server on the real engine, with a generated "code model" (TINY_FIM: FIM tokens marked)
 * beside a chat model without them. Also what the generation routes' n_keep (a request that says
 * what a context shift keeps asks for one) and reasoning_budget_tokens change.
 */
import path from 'path';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { copyModel, TINY_FIM, TINY_THINK } from '../helpers/models';

let api: ApiApp;
const CODER = 'coder';
const THINKER = 'thinker';

beforeAll(async () => {
  api = await apiApp(
    {},
    {
      prepare: async (paths) => {
        await copyModel(TINY_FIM, path.join(paths.models, `${CODER}.gguf`));
        await copyModel(TINY_THINK, path.join(paths.models, `${THINKER}.gguf`));
      },
    },
  );
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

test('n_keep asks for a context shift keeping that many tokens: a reply longer than the context goes on; without it the context bounds the reply', async () => {
  const warm = await post('/v1/completions', { model: CODER, prompt: 'Hello', max_tokens: 1 });
  expect(warm.status).toBe(200);
  const loaded = (await api.engine.request('loaded', {})) as { modelId: string; path: string }[];
  const modelId = loaded.find((l) => l.path.endsWith(`${CODER}.gguf`))!.modelId;
  const { contextSize } = await api.engine.contextInfo(modelId);
  const long = { model: CODER, prompt: 'Hello', max_tokens: contextSize + 40, ignore_eos: true, temperature: 0 };
  const shifted = await post('/v1/completions', { ...long, n_keep: 1 });
  expect(shifted.status).toBe(200);
  expect(JSON.parse(shifted.text).usage.completion_tokens).toBe(contextSize + 40);
  const bounded = await post('/v1/completions', long);
  expect(bounded.status === 200 ? JSON.parse(bounded.text).usage.completion_tokens : 0).toBeLessThan(contextSize);
}, 120_000);

test('reasoning_budget_tokens ends the thinking after that many tokens, as the engine\'s reasoningBudget does', async () => {
  const chat = { model: THINKER, messages: [{ role: 'user', content: 'Why is the sky blue?' }], max_tokens: 30, ignore_eos: true, temperature: 0 };
  const free = JSON.parse((await post('/v1/chat/completions', chat)).text);
  expect(free.choices[0].message.content ?? '').toBe('');
  for (const key of ['reasoning_budget_tokens', 'thinking_budget_tokens']) {
    const r = await post('/v1/chat/completions', { ...chat, [key]: 4 });
    expect(r.status).toBe(200);
    const m = JSON.parse(r.text).choices[0].message;
    expect(m.reasoning_content.length).toBeGreaterThan(0);
    expect(m.content.length).toBeGreaterThan(0);
  }
}, 120_000);
