/**
 * Seeded hostile bodies for every API route, sent to the real server: each valid request is mutated
 * (a field replaced by another type, removed, nested deep, a huge or non-finite number, prototype
 * keys) and every answer must be an answer — never a 500 (a bug), never a hang — and the server keeps
 * serving. Bounded in count and time; generations are capped by a client-side deadline (a client
 * that leaves frees its slot).
 */
import { rng, type Rng } from '../helpers/fuzz-inputs';
import { apiApp, type ApiApp } from '../helpers/api-server';

const REQUESTS = 400;
const BUDGET_MS = 40_000;
const SEED = 16;

let api: ApiApp;
beforeAll(async () => {
  api = await apiApp({ parallel: 2, queueLimit: 64 });
}, 60_000);
afterAll(() => api?.close());

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const HOSTILE: ((r: Rng) => unknown)[] = [
  () => null,
  () => [],
  () => ({}),
  () => '',
  () => 'x'.repeat(10_000),
  () => -1,
  () => 0,
  () => 1e308,
  () => -1e308,
  () => 2 ** 53 + 1,
  () => 0.5,
  () => true,
  () => ({ __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } }),
  () => [{ type: 'image_url', image_url: { url: 'data:,' } }],
  () => [{ role: 'user', content: [{ type: 'text' }] }],
  () => [{ role: 'tool', content: 'x' }],
  (r) => deepArray(Math.floor(r() * 20_000) + 1),
  () => ({ type: 'json_schema', json_schema: { schema: { type: 'object', properties: { a: { $ref: '#/nope' } } } } }),
  () => ({ type: 'json_schema', json_schema: { schema: { type: 'string', pattern: '(((' } } }),
  () => '%llguidance {}',
  () => 'root ::= ',
  () => ({ '1': 1e9 }),
  () => ['\u0000', '\ud800'],
];

/** A placeholder the body's text replaces with `n` nested arrays (JSON.stringify itself would overflow the stack). */
function deepArray(n: number): unknown {
  return `__DEEP_${n}__`;
}
const serialize = (body: unknown) => JSON.stringify(body).replace(/"__DEEP_(\d+)__"/g, (_m, n) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));

const VALID: { path: string; body: (model: string) => Record<string, unknown> }[] = [
  { path: '/v1/chat/completions', body: (model) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }) },
  { path: '/v1/chat/completions', body: (model) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true, response_format: { type: 'json_object' } }) },
  { path: '/v1/completions', body: (model) => ({ model, prompt: 'Once', max_tokens: 3 }) },
  { path: '/v1/embeddings', body: (model) => ({ model, input: 'hello' }) },
  { path: '/v1/responses', body: (model) => ({ model, input: 'hi', max_output_tokens: 3 }) },
  { path: '/v1/messages', body: (model) => ({ model, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }) },
  { path: '/v1/messages/count_tokens', body: (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] }) },
  { path: '/api/chat', body: (model) => ({ model, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 3 }, stream: false }) },
  { path: '/api/generate', body: (model) => ({ model, prompt: 'hi', options: { num_predict: 3 } }) },
  { path: '/api/embed', body: (model) => ({ model, input: 'hi' }) },
  { path: '/api/show', body: (model) => ({ model }) },
  { path: '/tokenize', body: (model) => ({ model, content: 'hello' }) },
  { path: '/detokenize', body: (model) => ({ model, tokens: [1, 2, 3] }) },
  { path: '/v1/rerank', body: (model) => ({ model, query: 'q', documents: ['a', 'b'] }) },
];

function mutate(r: Rng, body: Record<string, unknown>): unknown {
  const roll = r();
  if (roll < 0.05) return pick(r, [null, [], 'x', 1, deepArray(100_000)]);
  const out: Record<string, unknown> = { ...body };
  const keys = [...Object.keys(out), 'temperature', 'top_k', 'seed', 'stop', 'logit_bias', 'tools', 'tool_choice', 'n_probs', 'top_logprobs', 'grammar', 'json_schema', 'options', 'format', 'system', 'input', 'dry_sequence_breakers', 'max_tokens', 'n_predict'];
  for (let i = 1 + Math.floor(r() * 3); i > 0; i--) {
    const k = pick(r, keys);
    if (r() < 0.2) delete out[k];
    else out[k] = pick(r, HOSTILE)(r);
  }
  return out;
}

test('hostile bodies on every route get answers below 500 and the server keeps serving', async () => {
  const r = rng(SEED);
  const deadline = Date.now() + BUDGET_MS;
  const statuses: Record<string, number> = {};
  const fails: string[] = [];
  let sent = 0;
  let timedOut = 0;
  const next = async (): Promise<void> => {
    while (sent < REQUESTS && Date.now() < deadline) {
      sent++;
      const route = pick(r, VALID);
      const body = mutate(r, route.body(api.modelName));
      const text = r() < 0.03 ? '{"model": ' : serialize(body);
      try {
        const res = await fetch(api.url + route.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text, signal: AbortSignal.timeout(3000) });
        await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500 && res.status !== 503 && res.status !== 507) fails.push(`${route.path} ${res.status} ${text.slice(0, 300)}`);
      } catch (e) {
        if ((e as Error).name === 'TimeoutError') timedOut++;
        else fails.push(`${route.path}: ${(e as Error).message} ${text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, next));
  // eslint-disable-next-line no-console
  console.log(JSON.stringify({ sent, timedOut, statuses }));
  expect(fails).toEqual([]);
  expect(sent).toBeGreaterThan(50);
  const health = await fetch(`${api.url}/health`);
  expect(health.status).toBe(200);
  const ok = await fetch(`${api.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: api.modelName, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 2 }) });
  expect(ok.status).toBe(200);
}, 90_000);
