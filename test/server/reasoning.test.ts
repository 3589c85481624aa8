/**
 * How much a model thinks, asked in each dialect through its official client (`openai`,
 * `@anthropic-ai/sdk`, `ollama`) against the real server on the real engine: every client effort
 * level reaches the chat template as the level it maps to (or turns thinking off), and Anthropic's
 * thinking budget ends the thinking. The template under test (a Chat template setting on a tiny BPE
 * model) writes what it was given as words, so the prompt's token count says what reached it.
 */
import path from 'path';
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { copyModel, TINY_BPE, TINY_THINK } from '../helpers/models';

/** A template that adds 8 tokens when thinking is off, 1, 3 or 7 for a low, medium or high effort, and 5 when told not to keep reasoning. */
const TEMPLATE =
  "{%- for m in messages -%}{{ m['role'] }}: {{ m['content'] }}\n{% endfor -%}" +
  '{%- if not enable_thinking %} off off off off off off off off{% endif -%}' +
  "{%- set e = reasoning_effort | default('') -%}" +
  "{%- if e == 'low' %} a{% elif e == 'medium' %} a a a{% elif e == 'high' %} a a a a a a a{% endif -%}" +
  // llama.cpp's preserve flags: clear_thinking is true only when preserve_reasoning is false, and unset without it
  '{%- if clear_thinking is defined and clear_thinking %} cleared cleared cleared cleared cleared{% endif -%}' +
  '{%- if clear_thinking is not defined %} unset unset unset{% endif -%}' +
  '{%- if add_generation_prompt %}\nassistant:{% endif -%}';
const OFF = 8;
const ADDED = { low: 1, medium: 3, high: 7 } as const;
const CLEARED = 5;

const EFFORT = 'effort';
const THINKER = 'thinker';
let api: ApiApp;
let openai: OpenAI;
let anthropic: Anthropic;
let ollama: Ollama;

beforeAll(async () => {
  api = await apiApp({}, { model: TINY_BPE, modelAs: `${EFFORT}.gguf`, prepare: (paths) => copyModel(TINY_THINK, path.join(paths.models, `${THINKER}.gguf`)) });
  api.app.store.modelSettings.set(api.modelPath, { chatTemplate: TEMPLATE });
  openai = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused-on-loopback', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: api.url, apiKey: 'unused-on-loopback', maxRetries: 0 });
  ollama = new Ollama({ host: api.url });
}, 60_000);
afterAll(() => api?.close());

const messages = [{ role: 'user' as const, content: 'Why is the sky blue?' }];
const greedy = { temperature: 0 };

/** The prompt's tokens for a chat completion with `extra` beside the messages. */
async function openaiPrompt(extra: Record<string, unknown>): Promise<number> {
  const r = await openai.chat.completions.create({ model: EFFORT, messages, max_tokens: 1, ...greedy, ...extra });
  return r.usage!.prompt_tokens;
}

test('OpenAI\'s reasoning_effort: each level reaches the template as the nearest it reads, none turns thinking off', async () => {
  const base = await openaiPrompt({});
  const levels = { none: OFF, minimal: ADDED.low, low: ADDED.low, medium: ADDED.medium, high: ADDED.high, xhigh: ADDED.high, max: ADDED.high };
  const seen: Record<string, number> = {};
  for (const level of Object.keys(levels)) seen[level] = (await openaiPrompt({ reasoning_effort: level })) - base;
  expect(seen).toEqual(levels);
  // the same through llama-server's chat_template_kwargs; 'none' turns thinking off over its enable_thinking, as in llama-server
  expect((await openaiPrompt({ chat_template_kwargs: { reasoning_effort: 'medium' } })) - base).toBe(ADDED.medium);
  expect((await openaiPrompt({ reasoning_effort: 'none', chat_template_kwargs: { enable_thinking: true } })) - base).toBe(OFF);
  expect((await openaiPrompt({ chat_template_kwargs: { enable_thinking: false } })) - base).toBe(OFF);
  // llama-server's chat_template_kwargs.preserve_reasoning: on unless false (templates that can keep earlier
  // turns' reasoning then drop it); the template is always told (the same as true, never unset)
  expect((await openaiPrompt({ chat_template_kwargs: { preserve_reasoning: true } })) - base).toBe(0);
  expect((await openaiPrompt({ chat_template_kwargs: { preserve_reasoning: false } })) - base).toBe(CLEARED);
  // a level no client sends is refused, naming the field
  const bad = await fetch(`${api.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: EFFORT, messages, reasoning_effort: 'extreme' }) });
  expect(bad.status).toBe(400);
  expect(await bad.text()).toContain('reasoning_effort');
}, 120_000);

test('the Responses API\'s reasoning.effort', async () => {
  const input = (effort?: 'none' | 'high') => openai.responses.create({ model: EFFORT, input: 'Why is the sky blue?', max_output_tokens: 1, store: false, ...greedy, ...(effort ? { reasoning: { effort } } : {}) });
  const base = (await input()).usage!.input_tokens;
  expect((await input('high')).usage!.input_tokens - base).toBe(ADDED.high);
  expect((await input('none')).usage!.input_tokens - base).toBe(OFF);
}, 120_000);

test('Anthropic\'s output_config.effort and thinking, in a message and in its token count alike', async () => {
  // Anthropic counts the tokens read from the cache apart from input_tokens
  const ask = async (extra: Partial<Anthropic.MessageCreateParamsNonStreaming>) => {
    const { usage } = await anthropic.messages.create({ model: EFFORT, messages, max_tokens: 1, ...greedy, ...extra });
    return usage.input_tokens + (usage.cache_read_input_tokens ?? 0);
  };
  const count = (extra: Partial<Anthropic.MessageCountTokensParams>) => anthropic.messages.countTokens({ model: EFFORT, messages, ...extra });
  const base = await ask({});
  expect((await ask({ output_config: { effort: 'max' } })) - base).toBe(ADDED.high);
  expect((await ask({ output_config: { effort: 'low' } })) - base).toBe(ADDED.low);
  expect((await ask({ thinking: { type: 'disabled' } })) - base).toBe(OFF);
  const counted = (await count({})).input_tokens;
  expect((await count({ output_config: { effort: 'medium' } })).input_tokens - counted).toBe(ADDED.medium);
}, 120_000);

test('Anthropic\'s thinking.budget_tokens ends the thinking after that many tokens', async () => {
  const ask = (thinking?: Anthropic.ThinkingConfigParam) =>
    anthropic.messages.create({ model: THINKER, messages, max_tokens: 30, ...greedy, ...(thinking ? { thinking } : {}) });
  const kinds = (m: Anthropic.Message) => m.content.map((b) => b.type);
  // unbounded, the tiny model thinks for the whole reply
  expect(kinds(await ask())).toEqual(['thinking']);
  expect(kinds(await ask({ type: 'enabled', budget_tokens: 1024 }))).toEqual(['thinking']);
  const bounded = await ask({ type: 'enabled', budget_tokens: 4 });
  expect(kinds(bounded)).toEqual(['thinking', 'text']);
}, 120_000);

test('Ollama\'s think levels are the template\'s effort, false turns thinking off', async () => {
  const prompt = async (think?: boolean | 'low' | 'medium' | 'high') =>
    (await ollama.chat({ model: EFFORT, messages, options: { num_predict: 1, temperature: 0 }, ...(think !== undefined ? { think } : {}) })).prompt_eval_count;
  const base = await prompt();
  expect((await prompt('medium')) - base).toBe(ADDED.medium);
  expect((await prompt(true)) - base).toBe(0);
  expect((await prompt(false)) - base).toBe(OFF);
}, 120_000);
