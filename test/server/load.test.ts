/**
 * The API server under load and across requests, on the real engine: 50 streaming clients at once
 * (each finishes or gets 429 with Retry-After; none hangs, none is lost), a client that disconnects
 * frees its slot at once, and a follow-up request that extends a conversation reuses the slot that
 * holds it (cached tokens in usage), also with two conversations interleaved on two slots.
 */
import OpenAI from 'openai';
import { apiApp, type ApiApp } from '../helpers/api-server';

let api: ApiApp;
let client: OpenAI;

beforeAll(async () => {
  api = await apiApp({ parallel: 2, queueLimit: 8 });
  client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
}, 60_000);
afterAll(() => api?.close());

const until = async (ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('50 concurrent streaming clients: each finishes or is refused with 429 and Retry-After', async () => {
  const one = async (i: number): Promise<'done' | 429> => {
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: api.modelName, messages: [{ role: 'user', content: `client ${i}` }], max_tokens: 8, ignore_eos: true, stream: true }),
    });
    if (res.status === 429) {
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()).error.type).toBe('rate_limit_error');
      return 429;
    }
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('"finish_reason":"length"');
    return 'done';
  };
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => one(i)));
  const done = results.filter((r) => r === 'done').length;
  const refused = results.filter((r) => r === 429).length;
  expect(done + refused).toBe(50);
  // two slots running and eight waiting are served; the rest are refused at once
  expect(done).toBeGreaterThanOrEqual(10);
  expect(refused).toBeGreaterThan(0);
  await until(() => api.status().models.every((m) => m.busy === 0 && m.queued === 0));
}, 120_000);

test('a client that disconnects mid-stream frees its slot at once, and its generation stops', async () => {
  const ac = new AbortController();
  const res = await fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: api.modelName, messages: [{ role: 'user', content: 'go on for ever' }], max_tokens: 100_000, ignore_eos: true, stream: true }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  // past the role chunk (sent before the first token): the first generated text
  let seen = '';
  while (!seen.includes('"delta":{"content"')) seen += new TextDecoder().decode((await reader.read()).value);
  expect(api.status().models[0]?.busy).toBe(1);
  ac.abort();
  await until(() => api.status().models[0]?.busy === 0, 5_000);
  const entry = api.status().requests.find((r) => r.status === 499);
  expect(entry).toBeDefined();
  // stopped within a few tokens of the abort: far from filling the context (4096) or max_tokens
  await until(() => entry!.tokens !== null);
  expect(entry!.tokens).toBeGreaterThan(0);
  expect(entry!.tokens).toBeLessThan(1000);
  // the slot serves the next request at once (ignore_eos: a random seed may draw the end of text)
  const next = await client.chat.completions.create({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  expect(next.choices[0].finish_reason).toBe('length');
}, 60_000);

test('a follow-up request reuses the cached conversation (cached_tokens ≥ the first prompt), also interleaved with another', async () => {
  const first = (topic: string) => [{ role: 'system' as const, content: `You talk about ${topic}.` }, { role: 'user' as const, content: `Tell me about ${topic} in some detail please` }];
  const a1 = await client.chat.completions.create({ model: api.modelName, messages: first('owls'), max_tokens: 6, temperature: 0 });
  const b1 = await client.chat.completions.create({ model: api.modelName, messages: first('the sea'), max_tokens: 6, temperature: 0 });
  const follow = (m: ReturnType<typeof first>, reply: OpenAI.ChatCompletion) => [...m, { role: 'assistant' as const, content: reply.choices[0].message.content ?? '' }, { role: 'user' as const, content: 'and then?' }];
  const a2 = await client.chat.completions.create({ model: api.modelName, messages: follow(first('owls'), a1), max_tokens: 4, temperature: 0 });
  const b2 = await client.chat.completions.create({ model: api.modelName, messages: follow(first('the sea'), b1), max_tokens: 4, temperature: 0 });
  expect(a2.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(a1.usage!.prompt_tokens);
  expect(b2.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(b1.usage!.prompt_tokens);
  // a new conversation shares little
  const other = await client.chat.completions.create({ model: api.modelName, messages: [{ role: 'user', content: 'something else entirely' }], max_tokens: 2 });
  expect(other.usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(a1.usage!.prompt_tokens);
}, 60_000);
