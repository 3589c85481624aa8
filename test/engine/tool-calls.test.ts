/**
 * Tool calls on the real engine: tools + toolChoice 'required' make llama.cpp's chat library build a
 * grammar from the template (its differential "autoparser": peg-native), and the reply's call comes back
 * parsed in result.toolCalls; then the call and the tool's answer render back into the next prompt.
 *
 * Why the test steers, and how: see TOOL_CALL_OPEN in test/helpers/models.ts (the grammar lets free text
 * come first; the steered model's template opens a call with one special token, biased here).
 */
import { EngineClient } from '../../main/engine/client';
import { makeEngine } from '../helpers/engine';
import { llamaTemplate, STEERED_TOOLS_TEMPLATE, TINY_TOOLS, TINY_TOOLS_STEERED, TOOL_CALL_CLOSE as CLOSE, TOOL_CALL_OPEN as OPEN, TOOL_CALL_OPEN_ID, TOOLS_CHAT_TEMPLATE } from '../helpers/models';

const tools = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Rome'] } }, required: ['city'] },
    },
  },
];
const question = { role: 'user' as const, content: 'What is the weather in Paris?' };

let engine: EngineClient;
let openToken: number;

beforeAll(async () => {
  expect(STEERED_TOOLS_TEMPLATE).not.toBe(TOOLS_CHAT_TEMPLATE);
  expect(STEERED_TOOLS_TEMPLATE).toContain(OPEN);
  engine = makeEngine();
  await engine.load('qwen', TINY_TOOLS, { contextSize: 1024, threads: 2 });
  await engine.load('tools', TINY_TOOLS_STEERED, { contextSize: 1024, threads: 2 });
  const ids = await engine.tokenize('tools', OPEN, { addSpecial: false, parseSpecial: true });
  expect(ids).toEqual([TOOL_CALL_OPEN_ID]);
  openToken = ids[0];
}, 120_000);

afterAll(async () => {
  await engine?.close();
});
describe('tool calls', () => {
  test("Qwen 2.5's template with tools is llama.cpp's peg-native format; 'required' alone lets the random model ramble (no call)", async () => {
    const t = await engine.applyTemplate('qwen', { messages: [question], tools, toolChoice: 'required' });
    expect(t.format).toBe('peg-native');
    expect(t.prompt).toContain('"get_weather"');
    const r = await engine.chat('qwen', { messages: [question], tools, toolChoice: 'required', maxTokens: 30, sampling: { seed: 1 } });
    // the grammar allows text before the first call; the call it requires never comes within 30 tokens
    expect(r.stopReason).toBe('length');
    expect(r.toolCalls).toEqual([]);
  });

  test("toolChoice 'required' with the one-token marker biased: the grammar writes a get_weather call with a city from the enum", async () => {
    const t = await engine.applyTemplate('tools', { messages: [question], tools, toolChoice: 'required' });
    expect(t.format).toBe('peg-native');
    const request = { messages: [question], tools, toolChoice: 'required' as const, maxTokens: 60, sampling: { seed: 1, logitBias: [{ token: openToken, bias: 100 }] } };
    const r = await engine.chat('tools', request);
    expect(r.tokens[0]).toBe(openToken);
    expect(r.toolCalls.length).toBeGreaterThanOrEqual(1);
    const call = r.toolCalls[0];
    expect(call.name).toBe('get_weather');
    const args = JSON.parse(call.arguments) as { city: string };
    expect(Object.keys(args)).toEqual(['city']);
    expect(['Paris', 'Rome']).toContain(args.city);
    // without the grammar the biased token repeats: with it, the token opens the call and nothing else
    expect(r.text.startsWith(OPEN + OPEN)).toBe(false);

    // the round trip: the call and the tool's answer render into the next prompt, and the model answers
    const messages = [
      question,
      { role: 'assistant' as const, content: '', tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: call.name, arguments: call.arguments } }] },
      { role: 'tool' as const, content: '{"temperature": 21}', tool_call_id: 'call_1' },
    ];
    const next = await engine.applyTemplate('tools', { messages, tools });
    expect(next.prompt).toContain(`${OPEN}{"name": "get_weather", "arguments": {"city": "${args.city}"}}${CLOSE}`);
    expect(next.prompt).toContain('<tool_response>\n{"temperature": 21}\n</tool_response>');
    expect(next.prompt.endsWith('<|im_start|>assistant\n')).toBe(true);
    const answer = await engine.chat('tools', { messages, tools, maxTokens: 8, sampling: { seed: 2 } });
    expect(answer.timings.promptTokens).toBe(next.tokens);
    expect(answer.stopReason).toBe('length');
    expect(answer.timings.generatedTokens).toBe(8);
  });
});

describe('tool calls of a thinking model', () => {
  // QwQ's template (llama.cpp's models/templates: tools and a generation prompt that opens <think>),
  // steered as STEERED_TOOLS_TEMPLATE is, its prompt ending right after <think> (see THINKING_CHAT_TEMPLATE)
  const qwq = llamaTemplate('Qwen-QwQ-32B.jinja');
  const steered = qwq
    .replace(/<tool_call>\\n/g, OPEN)
    .replace(/\\n<\/tool_call>/g, CLOSE)
    .replace("'<|im_start|>assistant\\n<think>\\n'", "'<|im_start|>assistant\\n<think>'");
  const ask = (reasoningBudget: number) =>
    engine.chat('thinker', { messages: [question], tools, toolChoice: 'auto', reasoningBudget, maxTokens: 40, sampling: { temperature: 0, logitBias: [{ token: openToken, bias: 100 }] } });

  beforeAll(async () => {
    expect(steered.split(OPEN).length).toBeGreaterThan(2);
    expect(steered).toContain("'<|im_start|>assistant\\n<think>'");
    await engine.load('thinker', TINY_TOOLS_STEERED, { contextSize: 1024, threads: 2, chatTemplate: steered });
    const t = await engine.applyTemplate('thinker', { messages: [question], tools, toolChoice: 'auto' });
    expect(t).toMatchObject({ format: 'peg-native', thinkingStart: '<think>', thinkingEnd: ['</think>'] });
    expect(t.prompt.endsWith('<think>')).toBe(true);
  });

  test('a call marker written while thinking does not start a call there: the tool grammar waits for the end of the thinking', async () => {
    // the biased marker comes at once, inside the thinking: it stays thinking, no call is forced into it
    const thinking = await ask(-1);
    expect(thinking.toolCalls).toEqual([]);
    expect(thinking.reasoning).toBe(OPEN.repeat(40));
    // with a budget the thinking ends after 5 tokens; the same marker then opens a real call
    const called = await ask(5);
    expect(called.reasoning).toBe(OPEN.repeat(5));
    expect(called.toolCalls.map((c) => c.name)).toEqual(['get_weather']);
  });
});
