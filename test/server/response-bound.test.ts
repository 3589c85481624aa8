/**
 * A response sent whole (not streamed) is gathered in memory until its generation ends: a request for a
 * million tokens with top_logprobs 20 would gather gigabytes. Past the bound (RESPONSE_MAX_BYTES) the
 * generation stops and the answer is what it has, cut as at max_tokens. A real ApiServer over ApiModels
 * and the real engine (the tiny model), the official `openai` client; the bound is lowered to 2 MiB
 * (the server's option for it), since the tiny model takes about 50 s to gather 64 MiB of
 * log-probabilities here.
 */
import OpenAI from 'openai';
import { ApiServerSettings } from '../../main/ipc/api';
import { ApiModels } from '../../main/server/models';
import { ApiServer } from '../../main/server/server';
import { collectingLogger, makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

const BOUND = 2 * 1024 * 1024;
const engine = makeEngine();
const log = collectingLogger();
const settings = ApiServerSettings.parse({ port: 0, parallel: 1 });
const models = new ApiModels({
  engine,
  entries: async () => [{ path: TINY_SPM, name: 'tiny', fileSize: 1, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' }],
  chatModel: () => null,
  loadSettings: () => ({ contextSize: 1024 }),
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

test('a non-streamed answer that gathers more than the bound stops generating and ends as at max_tokens, with all it gathered', async () => {
  const MAX_TOKENS = 1_000_000;
  const raw = await client.chat.completions
    .create({ model: 'tiny', messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: MAX_TOKENS, logprobs: true, top_logprobs: 20, ...endless })
    .asResponse();
  const text = await raw.text();
  const r = JSON.parse(text) as OpenAI.ChatCompletion;
  const tokens = r.usage!.completion_tokens;
  console.log(`response bound: ${tokens} tokens, ${text.length} bytes of JSON (bound ${BOUND})`);
  expect(raw.status).toBe(200);
  const choice = r.choices[0];
  expect(choice.finish_reason).toBe('length');
  expect(tokens).toBeLessThan(MAX_TOKENS);
  // every generated token's log-probabilities are in the answer: nothing gathered was dropped
  expect(choice.logprobs!.content!.length).toBe(tokens);
  expect(choice.logprobs!.content!.every((p) => p.top_logprobs.length === 20)).toBe(true);
  // the estimate the bound counts is near what the JSON takes: the answer is past the bound, not far past
  expect(text.length).toBeGreaterThan(BOUND * 0.5);
  expect(text.length).toBeLessThan(BOUND * 2);
  // the log says why it ended
  expect(log.lines).toContainEqual(expect.stringMatching(/^api: POST \/v1\/chat\/completions: the answer reached 2097152 bytes, the most one sent whole gathers: generation stopped as at max_tokens/));
  // the slot is free and the next request runs
  expect(models.status()[0].busy).toBe(0);
  const next = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...endless });
  expect([next.choices[0].finish_reason, next.usage!.completion_tokens]).toEqual(['length', 4]);
}, 120_000);

test('legacy completions are held to the same bound; a stream is not', async () => {
  const MAX_TOKENS = 1_000_000;
  const c = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: MAX_TOKENS, logprobs: 5, ...endless });
  expect(c.choices[0].finish_reason).toBe('length');
  expect(c.usage!.completion_tokens).toBeLessThan(MAX_TOKENS);
  expect(c.choices[0].logprobs!.tokens!.length).toBe(c.usage!.completion_tokens);
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
