/**
 * OpenAI's API beyond chat (completions, embeddings, responses, json_schema) through OpenAI's official
 * client (`openai` from npm), and llama-server's tokenize/detokenize and the refusals by raw HTTP,
 * against the real server on the real engine: TINY_TOOLS (BPE, Qwen 2.5 template) as the chat model,
 * TINY_EMBED beside it in the library as the embedding model.
 */
import path from 'path';
import OpenAI from 'openai';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { copyModel, TINY_EMBED, TINY_TOOLS } from '../helpers/models';

const EMBED = 'tiny-embed';

let api: ApiApp;
let client: OpenAI;

beforeAll(async () => {
  api = await apiApp({}, { model: TINY_TOOLS, modelAs: 'tiny-tools.gguf', prepare: (paths) => copyModel(TINY_EMBED, path.join(paths.models, `${EMBED}.gguf`)) });
  client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused-on-loopback', maxRetries: 0 });
}, 60_000);
afterAll(() => api?.close());

async function post(route: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('completions', () => {
  test('non-stream: 16 tokens by default, usage with cached tokens, and stream joins to the same text with the same seed', async () => {
    const params = { model: api.modelName, prompt: 'Once upon a time', seed: 7, temperature: 0.9 };
    const whole = await client.completions.create(params);
    expect(whole.object).toBe('text_completion');
    expect(whole.choices).toHaveLength(1);
    expect(whole.choices[0].finish_reason).toBe('length');
    expect(whole.usage!.completion_tokens).toBe(16);
    expect(whole.usage!.prompt_tokens).toBeGreaterThan(1);
    expect((whole.usage as any).prompt_tokens_details.cached_tokens).toEqual(expect.any(Number));
    expect(whole.choices[0].logprobs).toBeNull();

    const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole.choices[0].text);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(16);
    // the same prompt again: its prefix is in the slot's cache
    expect((usage as any).prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  }, 60_000);

  test('max_tokens, token-id prompts and logprobs', async () => {
    const r = await client.completions.create({ model: api.modelName, prompt: [1, 2, 3, 4], max_tokens: 5, logprobs: 3, seed: 1 });
    expect(r.usage!.completion_tokens).toBe(5);
    expect(r.usage!.prompt_tokens).toBe(4);
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens).toHaveLength(5);
    expect(lp.token_logprobs).toHaveLength(5);
    expect(lp.tokens!.join('')).toBe(r.choices[0].text);
    expect(lp.top_logprobs!.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 3)).toBe(true);
    expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true);
    expect(lp.text_offset![0]).toBe(0);
  }, 60_000);

  test('a stop string ends the text before it', async () => {
    // what the model says with this seed, then the same run told to stop at a piece of it
    const base = { model: api.modelName, prompt: 'The list:', max_tokens: 24, seed: 3, temperature: 1 };
    const free = (await client.completions.create(base)).choices[0].text;
    const stop = free.trim().slice(2, 4);
    expect(stop.length).toBe(2);
    const cut = await client.completions.create({ ...base, stop: [stop] });
    expect(cut.choices[0].finish_reason).toBe('stop');
    expect(cut.choices[0].text).toBe(free.slice(0, free.indexOf(stop)));
  }, 60_000);

  test('echo, suffix and two prompts are refused with 400 naming the field', async () => {
    for (const [extra, field] of [
      [{ echo: true }, 'echo'],
      [{ suffix: 'end' }, 'suffix'],
      [{ prompt: ['a', 'b'] }, 'prompt'],
    ] as const) {
      const r = await post('/v1/completions', { model: api.modelName, prompt: 'x', ...extra });
      expect(r.status).toBe(400);
      expect(r.json.error.param).toBe(field);
    }
  }, 30_000);
});

describe('embeddings', () => {
  test('float and base64 (the client decodes) agree; usage counts tokens; token-id inputs', async () => {
    const floats = await client.embeddings.create({ model: EMBED, input: ['hello world', 'a fox'], encoding_format: 'float' });
    expect(floats.object).toBe('list');
    expect(floats.model).toBe(EMBED);
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    const dim = floats.data[0].embedding.length;
    expect(dim).toBeGreaterThan(0);
    expect(floats.data[1].embedding).toHaveLength(dim);
    expect(floats.usage.prompt_tokens).toBeGreaterThanOrEqual(4);
    expect(floats.usage.total_tokens).toBe(floats.usage.prompt_tokens);
    // no encoding_format: the client asks for base64 and decodes it to floats
    const decoded = await client.embeddings.create({ model: EMBED, input: 'hello world' });
    expect(decoded.data).toHaveLength(1);
    decoded.data[0].embedding.forEach((x, i) => expect(x).toBeCloseTo(floats.data[0].embedding[i], 5));

    const tokens = await post('/tokenize', { model: EMBED, content: 'a fox', add_special: true });
    const byIds = await client.embeddings.create({ model: EMBED, input: [tokens.json.tokens], encoding_format: 'float' });
    expect(byIds.usage.prompt_tokens).toBe(tokens.json.tokens.length);
    expect(byIds.data[0].embedding).toHaveLength(dim);
  }, 60_000);

  test('a chat model, a wrong dimensions and an empty input are refused with 400', async () => {
    const chat = await post('/v1/embeddings', { model: api.modelName, input: 'hi' });
    expect(chat.status).toBe(400);
    expect(chat.json.error.param).toBe('model');
    expect(chat.json.error.message).toMatch(/not an embedding model/);
    const dims = await post('/v1/embeddings', { model: EMBED, input: 'hi', dimensions: 3 });
    expect(dims.status).toBe(400);
    expect(dims.json.error.param).toBe('dimensions');
    const empty = await post('/v1/embeddings', { model: EMBED, input: '' });
    expect(empty.status).toBe(400);
    expect(empty.json.error.param).toBe('input');
  }, 60_000);
});

describe('tokenize and detokenize', () => {
  test('round trip, and with pieces', async () => {
    const text = 'Hello, tokenizer world!';
    const t = await post('/tokenize', { model: api.modelName, content: text });
    expect(t.status).toBe(200);
    expect(t.json.tokens.length).toBeGreaterThan(2);
    expect(t.json.tokens.every(Number.isInteger)).toBe(true);
    const d = await post('/detokenize', { model: api.modelName, tokens: t.json.tokens });
    expect(d.json).toEqual({ content: text });
    const pieces = await post('/v1/tokenize', { model: api.modelName, content: text, with_pieces: true });
    expect(pieces.json.tokens.map((p: { id: number }) => p.id)).toEqual(t.json.tokens);
    expect(pieces.json.tokens.map((p: { piece: string }) => p.piece).join('')).toBe(text);
  }, 60_000);

  test('a token outside the vocabulary and a missing content are refused with 400 naming the field', async () => {
    const bad = await post('/detokenize', { model: api.modelName, tokens: [1, 99_999_999] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('tokens.1');
    const none = await post('/tokenize', { model: api.modelName });
    expect(none.status).toBe(400);
    expect(none.json.error.param).toBe('content');
  }, 30_000);
});
