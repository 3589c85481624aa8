/**
 * Tool calls on the real engine: tools + toolChoice 'required' make llama.cpp's chat library build a
 * grammar from the template (its differential "autoparser": peg-native), and the reply's call comes back
 * parsed in result.toolCalls; then the call and the tool's answer render back into the next prompt.
 *
 * Why the test steers, and how: llama.cpp's grammar for toolChoice 'required' is
 *   root ::= <generation prompt> space until-<call marker>? tool-calls
 * — it allows free text before the first call and only requires that a call follows. The random model
 * never writes Qwen's multi-token "<tool_call>\n" marker by itself (it rambles until maxTokens), so this
 * test uses a variant of TINY_TOOLS's template whose call is opened by ONE special token of the Llama 3
 * vocab (<|reserved_special_token_5|>, closed by _6) and biases that token by +100: the model opens the
 * call at once, and from there the grammar writes the rest (the name, an argument from the enum).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { gguf } from '../../main/gguf/types';
import { GgufWriter, type GgufWriterTensorType } from '../../main/gguf/write';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_TOOLS, TOOLS_CHAT_TEMPLATE } from '../helpers/models';

const OPEN = '<|reserved_special_token_5|>';
const CLOSE = '<|reserved_special_token_6|>';
/** TOOLS_CHAT_TEMPLATE with the assistant's call written between one-token markers. */
const ONE_TOKEN_MARKER_TEMPLATE = TOOLS_CHAT_TEMPLATE.replace(`'\\n<tool_call>\\n{"name": "'`, `'\\n${OPEN}{"name": "'`).replace(`'}\\n</tool_call>'`, `'}${CLOSE}'`);

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
let dir: string;
let openToken: number;

/** `from` with its chat template replaced (metadata and tensors copied as they are). */
async function withTemplate(from: string, to: string, template: string): Promise<void> {
  const h = await readGgufHeader(from);
  const w = new GgufWriter();
  for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, k === 'tokenizer.chat_template' ? gguf.str(template) : v);
  for (const t of h.tensors) w.addTensor({ name: t.name, shape: t.dims, type: t.typeName as GgufWriterTensorType, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
  await w.write(to);
}

beforeAll(async () => {
  expect(ONE_TOKEN_MARKER_TEMPLATE).not.toBe(TOOLS_CHAT_TEMPLATE);
  expect(ONE_TOKEN_MARKER_TEMPLATE).toContain(OPEN);
  dir = tempDir();
  const file = path.join(dir, 'tiny-tools-one-token-marker.gguf');
  await withTemplate(TINY_TOOLS, file, ONE_TOKEN_MARKER_TEMPLATE);
  engine = makeEngine();
  await engine.load('qwen', TINY_TOOLS, { contextSize: 1024, threads: 2 });
  await engine.load('tools', file, { contextSize: 1024, threads: 2 });
  const ids = await engine.tokenize('tools', OPEN, { addSpecial: false, parseSpecial: true });
  expect(ids).toHaveLength(1);
  openToken = ids[0];
}, 120_000);

afterAll(async () => {
  await engine?.close();
  fs.rmSync(dir, { recursive: true, force: true });
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
