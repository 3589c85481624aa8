/**
 * OpenAI's API beyond chat (completions, embeddings, responses, json_schema) through OpenAI's official
 * client (`openai` from npm), and llama-server's tokenize/detokenize and the refusals by raw HTTP,
 * against the real server on the real engine: TINY_TOOLS (BPE, Qwen 2.5 template) as the chat model,
 * TINY_EMBED beside it in the library as the embedding model.
 */
import path from 'path';
import OpenAI from 'openai';
import { PIECES_AT_ONCE } from '../../main/server/openai-completions';
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

  test("with pieces, a long text's tokens are asked of the engine a bounded number at a time, not all at once", async () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(300);
    const engine = api.engine;
    const real = engine.detokenize.bind(engine);
    let inFlight = 0;
    let most = 0;
    const spy = jest.spyOn(engine, 'detokenize').mockImplementation(async (...a) => {
      most = Math.max(most, ++inFlight);
      try {
        return await real(...a);
      } finally {
        inFlight--;
      }
    });
    try {
      const pieces = await post('/v1/tokenize', { model: api.modelName, content: text, with_pieces: true });
      expect(pieces.status).toBe(200);
      expect(pieces.json.tokens.length).toBeGreaterThan(2_000);
      expect(pieces.json.tokens.map((p: { piece: string }) => p.piece).join('')).toBe(text);
      expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(PIECES_AT_ONCE);
    } finally {
      spy.mockRestore();
    }
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

/** The keys `schema` requires are there with the JSON types it names (a tiny validator of what json_schema constrains here). */
function validates(value: unknown, schema: { type: string; properties?: Record<string, { type: string }>; required?: string[] }): boolean {
  if (schema.type !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  const typeOk = (x: unknown, t: string) => (t === 'integer' ? Number.isInteger(x) : t === 'array' ? Array.isArray(x) : typeof x === t);
  return (schema.required ?? []).every((k) => k in v) && Object.entries(schema.properties ?? {}).every(([k, p]) => !(k in v) || typeOk(v[k], p.type));
}

const PERSON = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 0, maximum: 150 }, ok: { type: 'boolean' } },
  required: ['name', 'age', 'ok'],
  additionalProperties: false,
};

test('json_schema through chat completions (response_format): the reply parses and validates', async () => {
  const r = await client.chat.completions.create({
    model: api.modelName,
    messages: [{ role: 'user', content: 'Describe a person as JSON' }],
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON } },
    max_tokens: 200,
    seed: 5,
  });
  expect(r.choices[0].finish_reason).toBe('stop');
  expect(validates(JSON.parse(r.choices[0].message.content!), PERSON)).toBe(true);
  expect(validates({ name: 'x' }, PERSON)).toBe(false);
}, 60_000);

test('json_schema through chat completions: the content is bare JSON, streamed too (the ```json fence the grammar allows is parsed away)', async () => {
  const params = {
    model: api.modelName,
    messages: [{ role: 'user' as const, content: 'Describe a person as JSON' }],
    response_format: { type: 'json_schema' as const, json_schema: { name: 'person', schema: PERSON } },
    max_tokens: 200,
    seed: 5,
  };
  const r = await client.chat.completions.create(params);
  expect(validates(JSON.parse(r.choices[0].message.content!), PERSON)).toBe(true);
  let streamed = '';
  for await (const c of await client.chat.completions.create({ ...params, stream: true })) streamed += c.choices[0]?.delta?.content ?? '';
  expect(streamed).toBe(r.choices[0].message.content);
}, 60_000);

describe('responses', () => {
  test('non-stream: a message item with output_text, usage, incomplete at max_output_tokens; stream events join to the same text', async () => {
    const params = { model: api.modelName, instructions: 'Be brief.', input: 'Tell me about foxes', max_output_tokens: 10, temperature: 0.9, seed: 11 } as OpenAI.Responses.ResponseCreateParamsNonStreaming;
    const whole = await client.responses.create(params);
    expect(whole.object).toBe('response');
    expect(whole.id).toMatch(/^resp_/);
    expect(whole.status).toBe('incomplete');
    expect(whole.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(whole.output).toHaveLength(1);
    const msg = whole.output[0] as OpenAI.Responses.ResponseOutputMessage;
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.content[0].type).toBe('output_text');
    expect(whole.output_text).toBe((msg.content[0] as OpenAI.Responses.ResponseOutputText).text);
    expect(whole.usage!.output_tokens).toBe(10);
    expect(whole.usage!.input_tokens).toBeGreaterThan(5);
    expect(whole.usage!.input_tokens_details.cached_tokens).toEqual(expect.any(Number));

    const stream = await client.responses.create({ ...params, stream: true });
    const types: string[] = [];
    const seqs: number[] = [];
    let text = '';
    let done = '';
    let final: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.output_text.done') done = ev.text;
      if (ev.type === 'response.completed' || ev.type === 'response.incomplete') final = ev.response;
    }
    expect(text).toBe(whole.output_text);
    expect(done).toBe(text);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const order = [...new Set(types)];
    expect(order).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(final!.status).toBe('incomplete');
    expect(final!.usage!.output_tokens).toBe(10);
    expect((final!.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0]).toMatchObject({ type: 'output_text', text });
  }, 60_000);

  test('a reply that ends by itself completes (response.completed); text.format json_schema is followed', async () => {
    const stream = await client.responses.create({
      model: api.modelName,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'A person, please' }] }],
      text: { format: { type: 'json_schema', name: 'person', schema: PERSON } },
      max_output_tokens: 200,
      seed: 5, // llama-server's sampler names are extra fields
      stream: true,
    } as OpenAI.Responses.ResponseCreateParamsStreaming);
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const ev of stream) last = ev;
    expect(last!.type).toBe('response.completed');
    const resp = (last as OpenAI.Responses.ResponseCompletedEvent).response;
    expect(resp.status).toBe('completed');
    const text = ((resp.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText).text;
    expect(validates(JSON.parse(text), PERSON)).toBe(true);
  }, 60_000);

  test('function tools and a tool round trip in input items render through the template', async () => {
    const r = await client.responses.create({
      model: api.modelName,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny, 21 C' },
      ],
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false }],
      tool_choice: 'auto',
      max_output_tokens: 4,
      seed: 1,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    expect(r.status).toBe('incomplete');
    expect(r.tools).toHaveLength(1);
    // the tool turn and the call were rendered into the prompt: it is longer than the bare question's
    const bare = await client.responses.create({ model: api.modelName, input: 'Weather in Paris?', max_output_tokens: 4 });
    expect(r.usage!.input_tokens).toBeGreaterThan(bare.usage!.input_tokens + 20);
  }, 60_000);

  test('stateful and unsupported requests are refused with 400 naming the field', async () => {
    for (const [extra, field] of [
      [{ previous_response_id: 'resp_1' }, 'previous_response_id'],
      [{ store: true }, 'store'],
      [{ tools: [{ type: 'web_search' }] }, 'tools.0.type'],
      [{ input: [{ type: 'item_reference', id: 'x' }] }, 'input.0.type'],
      [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://x' }] }] }, 'input.0.content.0'],
      [{ input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input.0.call_id'],
    ] as const) {
      const r = await post('/v1/responses', { model: api.modelName, input: 'hi', ...extra });
      expect([field, r.status]).toEqual([field, 400]);
      expect(r.json.error.param).toBe(field);
    }
  }, 30_000);
});
