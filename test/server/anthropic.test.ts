/**
 * The Anthropic Messages API through Anthropic's official client (`@anthropic-ai/sdk` from npm)
 * against the real server on the real engine with a generated model (BPE vocab with Qwen 2.5's tool
 * template, so tool_use and tool_result turns render), and the request translation on its own.
 */
import Anthropic from '@anthropic-ai/sdk';
import { chatRequestOf, MessagesBody } from '../../main/server/anthropic-messages';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { TINY_TOOLS } from '../helpers/models';

let api: ApiApp;
let client: Anthropic;

beforeAll(async () => {
  api = await apiApp({}, { model: TINY_TOOLS });
  client = new Anthropic({ baseURL: api.url, apiKey: 'unused-on-loopback', maxRetries: 0 });
}, 60_000);
afterAll(() => api?.close());

/** Anthropic's sampling fields beside the SDK's typed ones */
const greedy = { temperature: 0 };

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A conversation that called a tool and got its result back. */
function toolConversation(result: string, city = 'Paris'): Anthropic.MessageParam[] {
  return [
    { role: 'user', content: 'What is the weather in Paris?' },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city } },
      ],
    },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: result }] }] },
  ];
}

test('the models list reads through the SDK, with Anthropic fields', async () => {
  const page = await client.models.list();
  expect(page.data.map((m) => m.id)).toEqual([api.modelName]);
  expect(page.data[0]).toMatchObject({ type: 'model', display_name: api.modelName });
  expect(Number.isNaN(Date.parse(page.data[0].created_at))).toBe(false);
  expect(page.hasNextPage()).toBe(false);
}, 60_000);

test('a message non-stream and streamed give the same text at temperature 0; max_tokens ends it; usage is reported', async () => {
  const params = { model: api.modelName, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Tell me a story about a fox' }], max_tokens: 12, ...greedy };
  const whole = await client.messages.create(params);
  expect(whole).toMatchObject({ type: 'message', role: 'assistant', model: api.modelName, stop_reason: 'max_tokens', stop_sequence: null });
  expect(whole.id).toMatch(/^msg_/);
  expect(whole.usage.output_tokens).toBe(12);
  expect(whole.usage.input_tokens + (whole.usage.cache_read_input_tokens ?? 0)).toBeGreaterThan(5);
  const text = whole.content.filter((b): b is Anthropic.TextBlock => b.type === 'text');
  expect(text).toHaveLength(1);

  const events: Anthropic.RawMessageStreamEvent[] = [];
  for await (const ev of await client.messages.create({ ...params, stream: true })) events.push(ev);
  // Anthropic's order: message_start, the text block's start, deltas, stop, message_delta, message_stop
  const types = events.map((e) => e.type);
  expect(types[0]).toBe('message_start');
  expect(types[1]).toBe('content_block_start');
  expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  expect(new Set(types.slice(2, -3))).toEqual(new Set(['content_block_delta']));
  const streamed = events.map((e) => (e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : '')).join('');
  expect(streamed).toBe(text[0].text);
  const delta = events.find((e): e is Anthropic.RawMessageDeltaEvent => e.type === 'message_delta')!;
  expect(delta.delta.stop_reason).toBe('max_tokens');
  expect(delta.usage.output_tokens).toBe(12);

  // the SDK's own accumulator reads the stream into the same message
  const final = await client.messages.stream(params).finalMessage();
  expect(final.content).toEqual(whole.content);
  expect(final.stop_reason).toBe('max_tokens');
  expect(final.usage.output_tokens).toBe(12);
}, 60_000);

test('stop_sequences cut the text and name the sequence that ended it', async () => {
  // sampled with a seed (an engine sampler Hearth takes under llama-server's name beside Anthropic's fields): greedy output of a random model repeats itself
  const sampled = { temperature: 0.9, seed: 42 };
  const params = { model: api.modelName, messages: [{ role: 'user' as const, content: 'Tell me a story about a fox' }], max_tokens: 32, ...sampled };
  const full = await client.messages.create(params);
  const text = (full.content.find((b) => b.type === 'text') as Anthropic.TextBlock).text;
  // a sequence from the middle of the text, at its first occurrence
  let stop = '';
  for (let i = Math.floor(text.length / 2); i < text.length - 3 && !stop; i++) {
    const s = text.slice(i, i + 3);
    if (s.trim().length === 3 && text.indexOf(s) === i) stop = s;
  }
  expect(stop).not.toBe('');
  const cut = await client.messages.create({ ...params, stop_sequences: ['never-in-this-text-§', stop] });
  expect(cut.stop_reason).toBe('stop_sequence');
  expect(cut.stop_sequence).toBe(stop);
  expect((cut.content[0] as Anthropic.TextBlock).text).toBe(text.slice(0, text.indexOf(stop)));

  const events: Anthropic.RawMessageStreamEvent[] = [];
  for await (const ev of await client.messages.create({ ...params, stop_sequences: ['never-in-this-text-§', stop], stream: true })) events.push(ev);
  const delta = events.find((e): e is Anthropic.RawMessageDeltaEvent => e.type === 'message_delta')!;
  expect(delta.delta).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop });
}, 60_000);

test('a tool round trip: tool_use and tool_result turns with tools are accepted and answered, every token of them counted', async () => {
  const messages = toolConversation('Sunny, 21 °C');
  const counted = await client.messages.countTokens({ model: api.modelName, messages, tools: [weather] });
  const reply = await client.messages.create({ model: api.modelName, messages, tools: [weather], tool_choice: { type: 'auto' }, max_tokens: 8, ...greedy });
  expect(reply.type).toBe('message');
  expect(['end_turn', 'max_tokens', 'tool_use']).toContain(reply.stop_reason);
  // the prompt the generation ran is the one count_tokens rendered
  expect(reply.usage.input_tokens + (reply.usage.cache_read_input_tokens ?? 0)).toBe(counted.input_tokens);
  for (const b of reply.content) if (b.type === 'tool_use') expect(b.name).toBe('get_weather');

  // the tool result's text and the call's input reach the template
  const longer = await client.messages.countTokens({ model: api.modelName, messages: toolConversation('Sunny, 21 °C, with a light breeze from the west all afternoon'), tools: [weather] });
  expect(longer.input_tokens).toBeGreaterThan(counted.input_tokens);
  const otherCall = await client.messages.countTokens({ model: api.modelName, messages: toolConversation('Sunny, 21 °C', 'Paris, Texas, United States of America'), tools: [weather] });
  expect(otherCall.input_tokens).toBeGreaterThan(counted.input_tokens);
  // and the tools themselves
  const noTools = await client.messages.countTokens({ model: api.modelName, messages });
  expect(noTools.input_tokens).toBeLessThan(counted.input_tokens);
}, 60_000);

test('output_config.format constrains the reply to its JSON schema', async () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  const m = await client.messages.create({ model: api.modelName, messages: [{ role: 'user', content: 'Answer in JSON' }], max_tokens: 64, output_config: { format: { type: 'json_schema', schema } }, ...{ seed: 1 } });
  expect(m.stop_reason).toBe('end_turn');
  const text = m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  expect(typeof JSON.parse(text).ok).toBe('boolean');
}, 60_000);

test('count_tokens grows with the text', async () => {
  const count = async (content: string) => (await client.messages.countTokens({ model: api.modelName, messages: [{ role: 'user', content }] })).input_tokens;
  const short = await count('Hello');
  const long = await count('Hello there, how are you doing on this fine and sunny morning?');
  expect(short).toBeGreaterThan(0);
  expect(long).toBeGreaterThan(short);
  const withSystem = (await client.messages.countTokens({ model: api.modelName, system: [{ type: 'text', text: 'You are a helpful assistant.' }], messages: [{ role: 'user', content: 'Hello' }] })).input_tokens;
  expect(withSystem).toBeGreaterThan(short);
}, 60_000);

test('an image block is refused with a 400 naming the block, in Anthropic error shape', async () => {
  const err = await client.messages
    .create({
      model: api.modelName,
      max_tokens: 4,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
    })
    .then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.BadRequestError);
  const e = err as InstanceType<typeof Anthropic.BadRequestError>;
  expect(e.status).toBe(400);
  expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  expect(e.message).toContain('messages.0.content.1 is an image block');
});

test('max_tokens is required, and tool_choice must name one of the tools', async () => {
  const missing = await fetch(`${api.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'any' },
    body: JSON.stringify({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(missing.status).toBe(400);
  const body = (await missing.json()) as { type: string; error: { type: string; message: string } };
  expect(body.type).toBe('error');
  expect(body.error.message).toContain('max_tokens');

  const wrong = await client.messages
    .create({ model: api.modelName, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }], tools: [weather], tool_choice: { type: 'tool', name: 'get_time' } })
    .then(() => null, (e: unknown) => e);
  expect(wrong).toBeInstanceOf(Anthropic.BadRequestError);
  expect((wrong as Error).message).toContain('get_time');
});

describe('the translation to the engine', () => {
  const parse = (b: unknown) => chatRequestOf(MessagesBody.parse(b));

  test('tool_use becomes an assistant tool call with its id; tool_result a tool message; thinking the reasoning', () => {
    const r = parse({
      model: 'm',
      max_tokens: 10,
      system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Use tools.' }],
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should call it.', signature: 'sig' },
            { type: 'text', text: 'Looking.' },
            { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Oslo' } },
            { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_a', content: 'Cold' },
            { type: 'tool_result', tool_use_id: 'toolu_b', content: [{ type: 'text', text: 'no data' }], is_error: true },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
      tools: [weather, { name: 'get_time', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
      stop_sequences: ['END'],
      temperature: 0.2,
      top_k: 5,
      top_p: 0.9,
      min_p: 0.1,
      metadata: { user_id: 'u' },
    });
    expect(r.messages).toEqual([
      { role: 'system', content: 'Be brief.\nUse tools.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: 'Looking.',
        reasoning_content: 'I should call it.',
        tool_calls: [
          { id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          { id: 'toolu_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_a', content: 'Cold' },
      { role: 'tool', tool_call_id: 'toolu_b', content: 'Error: no data' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
    expect(r.tools!.map((t) => t.function.name)).toEqual(['get_weather', 'get_time']);
    expect(r.tools![0].function.parameters).toEqual(weather.input_schema);
    expect(r.toolChoice).toBe('required');
    expect(r.stop).toEqual(['END']);
    expect(r.maxTokens).toBe(10);
    expect(r.sampling).toEqual({ temperature: 0.2, topK: 5, topP: 0.9, minP: 0.1 });
  });

  test('tool_choice: tool offers only that tool and requires it; none offers none', () => {
    const base = { model: 'm', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }], tools: [weather, { name: 'get_time', input_schema: {} }] };
    const one = parse({ ...base, tool_choice: { type: 'tool', name: 'get_time' } });
    expect(one.tools!.map((t) => t.function.name)).toEqual(['get_time']);
    expect(one.toolChoice).toBe('required');
    expect(parse({ ...base, tool_choice: { type: 'none' } }).tools).toBeUndefined();
    expect(parse({ ...base, tool_choice: { type: 'auto' } }).toolChoice).toBe('auto');
  });

  test('blocks it cannot take are refused naming the block', () => {
    const withBlock = (role: string, block: unknown) => () => parse({ model: 'm', max_tokens: 4, messages: [{ role, content: [block] }] });
    expect(withBlock('user', { type: 'document', source: {} })).toThrow('messages.0.content.0 is a document block');
    expect(withBlock('user', { type: 'tool_use', id: 'x', name: 'n', input: {} })).toThrow('messages.0.content.0 is a tool_use block');
    expect(withBlock('user', { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: {} }] })).toThrow('messages.0.content.0.content.0 is an image block');
    expect(withBlock('assistant', { type: 'text' })).toThrow('messages.0.content.0.text');
  });
});
