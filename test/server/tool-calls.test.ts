/**
 * A model's tool call through each dialect, with each API's official client, on the real engine: the
 * steered test model (TOOL_CALL_OPEN in test/helpers/models.ts: its template opens a call with one
 * special token, biased here with the `logit_bias` extra field, and llama.cpp's grammar writes the
 * call) answers a tool call, which comes back in the dialect's shape (OpenAI tool_calls, streamed and
 * not; Anthropic tool_use blocks; Ollama tool_calls); then the tool's result goes back and is answered.
 * The steered model opens call after call until max_tokens, so its answers are cut ('length', as
 * llama-server says of any cut answer: the last call may lack its end); a scripted model that ends its
 * call gives 'tool_calls' / 'tool_use'.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import path from 'path';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { tempDir } from '../helpers/engine';
import { TINY_TOOLS_STEERED, TOOL_CALL_OPEN_ID, writeGlm47Model, writeTokenizerModels } from '../helpers/models';
import { writeScriptedText } from '../helpers/scripted-model';

let api: ApiApp;
const steer = { logit_bias: { [TOOL_CALL_OPEN_ID]: 100 } };
const weather = { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Rome'] } }, required: ['city'] };

beforeAll(async () => {
  api = await apiApp({}, { model: TINY_TOOLS_STEERED, modelAs: 'steered.gguf' });
}, 60_000);
afterAll(() => api?.close());

const city = (args: unknown) => {
  const a = (typeof args === 'string' ? JSON.parse(args) : args) as { city: string };
  expect(Object.keys(a)).toEqual(['city']);
  expect(['Paris', 'Rome']).toContain(a.city);
  return a.city;
};

test('OpenAI: tool_choice required gives a tool call (stream and not, the same), cut at max_tokens: finish_reason length; the result goes back', async () => {
  const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: weather } }];
  const params = { model: api.modelName, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }], tools, tool_choice: 'required' as const, max_tokens: 60, seed: 1, ...steer };
  const r = await client.chat.completions.create(params);
  expect(r.choices[0].finish_reason).toBe('length');
  const call = r.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  expect(call.type).toBe('function');
  expect(call.function.name).toBe('get_weather');
  expect(call.id).toMatch(/\S/);
  const c = city(call.function.arguments);

  const stream = await client.chat.completions.create({ ...params, stream: true });
  const streamed: { name?: string; arguments: string }[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    for (const d of chunk.choices[0]?.delta?.tool_calls ?? []) {
      streamed[d.index] ??= { arguments: '' };
      if (d.function?.name) streamed[d.index].name = d.function.name;
      streamed[d.index].arguments += d.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  expect(finish).toBe('length');
  expect(streamed[0]).toEqual({ name: 'get_weather', arguments: call.function.arguments });

  const answer = await client.chat.completions.create({
    model: api.modelName,
    tools,
    messages: [...params.messages, r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: `sunny in ${c}` }],
    max_tokens: 4,
    seed: 1,
  });
  expect(answer.choices[0].finish_reason).toBe('length');
  expect(answer.usage!.prompt_tokens).toBeGreaterThan(r.usage!.prompt_tokens);
}, 120_000);

test('Anthropic: tool_choice any gives a tool_use block, cut at max_tokens: stop_reason max_tokens (stream and not); the tool_result goes back', async () => {
  const client = new Anthropic({ baseURL: api.url, apiKey: 'x', maxRetries: 0 });
  const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'The weather in a city', input_schema: weather as Anthropic.Tool.InputSchema }];
  const params = { model: api.modelName, max_tokens: 60, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }], tools, tool_choice: { type: 'any' as const } };
  // Anthropic's API has no seed: llama-server's `seed` goes as an extra field with the bias (a random seed
  // could let the grammar's optional whitespace run past max_tokens)
  const extra = { ...steer, seed: 1 };
  const r = await client.messages.create(params, { body: { ...params, ...extra } } as never);
  expect(r.stop_reason).toBe('max_tokens');
  const use = r.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
  expect(use.name).toBe('get_weather');
  const c = city(use.input);
  const streamed = await client.messages.stream(params, { body: { ...params, stream: true, ...extra } } as never).finalMessage();
  expect(streamed.stop_reason).toBe('max_tokens');
  const sUse = streamed.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
  expect(sUse.input).toEqual(use.input);

  const answerParams = {
    ...params,
    tool_choice: { type: 'auto' as const },
    max_tokens: 4,
    messages: [...params.messages, { role: 'assistant' as const, content: r.content }, { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: use.id, content: `sunny in ${c}` }] }],
  };
  // seeded (as an extra field) so that the end of text is not drawn before max_tokens
  const answer = await client.messages.create(answerParams, { body: { ...answerParams, seed: 1 } } as never);
  expect(answer.stop_reason).toBe('max_tokens');
}, 120_000);

test('Ollama: tools give message.tool_calls with the arguments as an object; the tool message goes back', async () => {
  const client = new Ollama({ host: api.url });
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: weather } }];
  // Ollama has no tool_choice: the steered marker makes the call, and the grammar (lazy, started by the marker) writes it
  const r = await client.chat({ model: api.modelName, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: tools as never, stream: false, options: { num_predict: 60, seed: 1, ...steer } as never });
  const call = r.message.tool_calls![0];
  expect(call.function.name).toBe('get_weather');
  const c = city(call.function.arguments);
  const answer = await client.chat({
    model: api.modelName,
    tools: tools as never,
    messages: [{ role: 'user', content: 'Weather in Paris?' }, r.message, { role: 'tool', content: `sunny in ${c}`, tool_name: 'get_weather' } as never],
    stream: false,
    options: { num_predict: 4, seed: 1 },
  });
  expect(answer.done_reason).toBe('length');
}, 120_000);

test('a call the model ends is finish_reason tool_calls (stop_reason tool_use); the same call cut by max_tokens is length (max_tokens)', async () => {
  // a GLM-4.7 scripted to think, call current_time and end (test/helpers/scripted-model.ts)
  const dir = tempDir('server-calls');
  const glm = await writeGlm47Model((await writeTokenizerModels(dir)).qwen, dir);
  const model = path.join(dir, 'scripted.gguf');
  const script = await writeScriptedText(glm, model, '<think>Let me check the clock</think><tool_call>current_time</tool_call>');
  const scripted = await apiApp({}, { model, modelAs: 'glm.gguf' });
  try {
    const openai = new OpenAI({ baseURL: `${scripted.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'current_time', description: 'The time now', parameters: { type: 'object', properties: {} } } }];
    const ask = (max: number) => openai.chat.completions.create({ model: scripted.modelName, messages: [{ role: 'user', content: 'What time is it?' }], tools, max_tokens: max, temperature: 0 });
    const ended = await ask(64);
    const names = (r: OpenAI.ChatCompletion) => r.choices[0].message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name);
    expect([ended.choices[0].finish_reason, names(ended)]).toEqual(['tool_calls', ['current_time']]);
    // cut a token before the call's end (the steered tests above cut answers whose calls were parsed)
    const n = ended.usage!.completion_tokens;
    expect(n).toBeGreaterThan(script.length / 2);
    expect((await ask(n - 1)).choices[0].finish_reason).toBe('length');

    const anthropic = new Anthropic({ baseURL: scripted.url, apiKey: 'x', maxRetries: 0 });
    const aTools: Anthropic.Tool[] = [{ name: 'current_time', description: 'The time now', input_schema: { type: 'object', properties: {} } }];
    const use = await anthropic.messages.create({ model: scripted.modelName, max_tokens: 64, tools: aTools, messages: [{ role: 'user', content: 'What time is it?' }] });
    const uses = (m: Anthropic.Message) => m.content.filter((b) => b.type === 'tool_use').map((b) => (b as Anthropic.ToolUseBlock).name);
    expect([use.stop_reason, uses(use)]).toEqual(['tool_use', ['current_time']]);
    const aCut = await anthropic.messages.create({ model: scripted.modelName, max_tokens: n - 1, tools: aTools, messages: [{ role: 'user', content: 'What time is it?' }] });
    expect(aCut.stop_reason).toBe('max_tokens');
  } finally {
    await scripted.close();
  }
}, 180_000);
