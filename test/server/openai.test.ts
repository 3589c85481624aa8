/**
 * The OpenAI-compatible API through OpenAI's official client (`openai` from npm) against the real
 * server on the real engine with a generated model.
 */
import OpenAI from 'openai';
import { apiApp, type ApiApp } from '../helpers/api-server';

let api: ApiApp;
let client: OpenAI;

beforeAll(async () => {
  api = await apiApp();
  client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused-on-loopback', maxRetries: 0 });
}, 60_000);
afterAll(() => api?.close());

test('lists the library models, the loaded one marked once a request loaded it', async () => {
  const before = await client.models.list();
  const ids = before.data.map((m) => m.id);
  expect(ids).toEqual([api.modelName]);
  expect((before.data[0] as unknown as { loaded: boolean }).loaded).toBe(false);
  await client.chat.completions.create({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  const after = await client.models.list();
  expect((after.data[0] as unknown as { loaded: boolean }).loaded).toBe(true);
}, 60_000);

test('chat non-stream and stream give the same text with the same seed; usage is reported', async () => {
  const messages = [{ role: 'user' as const, content: 'Tell me a story about a fox' }];
  const params = { model: api.modelName, messages, max_tokens: 12, seed: 42, temperature: 0.9 };
  const whole = await client.chat.completions.create(params);
  expect(whole.object).toBe('chat.completion');
  expect(whole.choices[0].finish_reason).toBe('length');
  expect(whole.usage!.completion_tokens).toBe(12);
  expect(whole.usage!.prompt_tokens).toBeGreaterThan(5);
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined;
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  expect(text).toBe(whole.choices[0].message.content);
  expect(finish).toBe('length');
  expect(usage?.completion_tokens).toBe(12);
}, 60_000);

test('a tool round trip: tools offered, the assistant tool call and the tool result sent back are accepted and answered', async () => {
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  ];
  const r = await client.chat.completions.create({
    model: api.modelName,
    tools,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 21 C' },
    ],
    max_tokens: 3,
    seed: 1,
  });
  expect(r.choices[0].finish_reason).toBe('length');
  expect(r.usage!.completion_tokens).toBe(3);
  // a tool_choice naming a tool that is not offered is the caller's error
  await expect(
    client.chat.completions.create({ model: api.modelName, tools, tool_choice: { type: 'function', function: { name: 'nope' } }, messages: [{ role: 'user', content: 'x' }] }),
  ).rejects.toMatchObject({ status: 400 });
}, 60_000);
