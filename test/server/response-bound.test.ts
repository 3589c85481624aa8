/**
 * An answer sent whole (not streamed) is gathered in memory until its generation ends: a request for a
 * million tokens with top_logprobs 20 would gather gigabytes (a tool call's log-probabilities too, which the
 * engine sends in one piece once the call ends). Such a request asks for at most wholeTokenCap tokens, the
 * bound (RESPONSE_MAX_BYTES) over the log-probabilities' estimated bytes, and ends as at max_tokens. A real
 * ApiServer over ApiModels and the real engine (tiny models), the official `openai` client; the bound is
 * lowered to 2 MiB (the server's option for it), since the tiny model takes about 50 s to gather 64 MiB of
 * log-probabilities here.
 */
import OpenAI from 'openai';
import { ApiServerSettings } from '../../main/ipc/api';
import { RESPONSE_MAX_BYTES, wholeTokenCap } from '../../main/server/generate';
import { ApiModels } from '../../main/server/models';
import { ApiServer } from '../../main/server/server';
import { collectingLogger, makeEngine } from '../helpers/engine';
import { TINY_SPM, TINY_TOOLS_STEERED, TOOL_CALL_OPEN_ID } from '../helpers/models';

const BOUND = 2 * 1024 * 1024;
const engine = makeEngine();
const log = collectingLogger();
const settings = ApiServerSettings.parse({ port: 0, parallel: 1 });
const entry = (file: string, name: string) => ({ path: file, name, fileSize: 1, origin: 'folder' as const, source: null, missing: false, pooling: 'none' as const, role: 'model' as const });
const models = new ApiModels({
  engine,
  entries: async () => [entry(TINY_SPM, 'tiny'), entry(TINY_TOOLS_STEERED, 'tools')],
  chatModel: () => null,
  loadSettings: (file) => ({ contextSize: file === TINY_TOOLS_STEERED ? 8192 : 1024 }),
  guardrail: () => ({ mode: 'off', marginMiB: 0 }),
  settings: () => settings,
  logger: log,
});
const server = new ApiServer({ settings, models, engine, version: 'test', logger: log, responseMaxBytes: BOUND });
let client: OpenAI;

beforeAll(async () => {
  await server.listen();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  await models.close();
  await engine.close();
});

/** llama-server's fields: no end of sequence, and the context shifts rather than filling. */
const endless = { ignore_eos: true, n_keep: 0 } as object;
const stopped = (cap: number) => new RegExp(`^api: POST /v1/(chat/)?completions: stopped at ${cap} tokens, the most an answer sent whole gathers with their log-probabilities`);

test('the cap: the bound over the log-probabilities of a token (the chosen one and its alternatives); none without them', () => {
  expect(wholeTokenCap(20)).toBe(Math.floor(RESPONSE_MAX_BYTES / (21 * 64)));
  expect(wholeTokenCap(1, BOUND)).toBe(BOUND / 128);
  expect(wholeTokenCap(undefined)).toBeNull();
  expect(wholeTokenCap(0)).toBeNull();
});

test('a non-streamed answer with top_logprobs 20 stops at the cap and ends as at max_tokens, with every token it generated', async () => {
  const MAX_TOKENS = 1_000_000;
  const cap = wholeTokenCap(20, BOUND)!;
  const raw = await client.chat.completions
    .create({ model: 'tiny', messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: MAX_TOKENS, logprobs: true, top_logprobs: 20, ...endless })
    .asResponse();
  const text = await raw.text();
  const r = JSON.parse(text) as OpenAI.ChatCompletion;
  console.log(`response bound: ${r.usage?.completion_tokens} tokens, ${text.length} bytes of JSON (bound ${BOUND}, cap ${cap})`);
  expect(raw.status).toBe(200);
  const choice = r.choices[0];
  expect([choice.finish_reason, r.usage!.completion_tokens]).toEqual(['length', cap]);
  // every generated token's log-probabilities are in the answer
  expect(choice.logprobs!.content!.length).toBe(cap);
  expect(choice.logprobs!.content!.every((p) => p.top_logprobs.length === 20)).toBe(true);
  // the estimate the cap uses is near what the JSON takes
  expect(text.length).toBeGreaterThan(BOUND * 0.5);
  expect(text.length).toBeLessThan(BOUND * 2);
  expect(log.lines).toContainEqual(expect.stringMatching(stopped(cap)));
  // a max_tokens under the cap stands, and the slot serves the next request
  expect(models.status()[0].busy).toBe(0);
  const next = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, logprobs: true, top_logprobs: 20, ...endless });
  expect([next.choices[0].finish_reason, next.usage!.completion_tokens, next.choices[0].logprobs!.content!.length]).toEqual(['length', 4, 4]);
}, 120_000);

test('a tool call, whose log-probabilities come in one piece at its end, is held to the cap too', async () => {
  const cap = wholeTokenCap(20, BOUND)!;
  const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'w', parameters: { type: 'object', properties: { s: { type: 'string', minLength: 1500 } }, required: ['s'] } } }];
  const raw = await client.chat.completions
    .create({ model: 'tools', messages: [{ role: 'user', content: 'go' }], tools, tool_choice: 'required', max_tokens: 3000, logprobs: true, top_logprobs: 20, seed: 1, logit_bias: { [TOOL_CALL_OPEN_ID]: 100 } })
    .asResponse();
  const text = await raw.text();
  const r = JSON.parse(text) as OpenAI.ChatCompletion;
  expect(raw.status).toBe(200);
  expect([r.choices[0].finish_reason, r.usage!.completion_tokens]).toEqual(['length', cap]);
  expect(r.choices[0].logprobs!.content!.length).toBe(cap);
  expect(text.length).toBeLessThan(BOUND * 2);
}, 120_000);

test('legacy completions are held to the same bound; a stream is not', async () => {
  const cap = wholeTokenCap(5, BOUND)!;
  const c = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 1_000_000, logprobs: 5, ...endless });
  expect([c.choices[0].finish_reason, c.usage!.completion_tokens, c.choices[0].logprobs!.tokens!.length]).toEqual(['length', cap, cap]);
  expect(log.lines).toContainEqual(expect.stringMatching(stopped(cap)));
  // a stream's client reads as it goes: past the bound it runs on to its own max_tokens
  const streamed = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'go' }], max_tokens: 3000, logprobs: true, top_logprobs: 20, stream: true, stream_options: { include_usage: true }, ...endless });
  let bytes = 0;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of streamed) {
    bytes += JSON.stringify(chunk).length;
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  expect(bytes).toBeGreaterThan(BOUND);
  expect([finish, usage?.completion_tokens]).toEqual(['length', 3000]);
}, 120_000);
