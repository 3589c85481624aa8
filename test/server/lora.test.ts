/**
 * llama-server's LoRA adapters on the API server (main/server/lora.ts): GET /lora-adapters lists the
 * model's adapters by id with their load scales; a request's `lora: [{id, scale}]` sets its own scales
 * on /v1/completions and /v1/chat/completions (scale 0: what a copy of the model loaded without the
 * adapter answers; an adapter left out is off, as in llama-server); an unknown id or a scale out of
 * bounds is a 400 naming it; POST /lora-adapters answers 501; load settings naming a file twice (two
 * ids for one path) are refused when saved. Real server, real engine, the tiny model with a generated
 * LoRA in its load settings (applied at scale 1), through OpenAI's client.
 */
import fs from 'fs';
import path from 'path';
import OpenAI from 'openai';
import { ADAPTER_SCALE_MAX } from '../../main/params';
import { writeTestLora } from '../../scripts/make-test-adapter';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { tempDir } from '../helpers/engine';
import { copyModel, TINY_SPM } from '../helpers/models';

/** a copy of the model in the library, loaded without the adapter */
const PLAIN = 'plain';
const PROMPT = 'Once upon a time';

let api: ApiApp;
let client: OpenAI;
let dir: string;
let lora: string;

beforeAll(async () => {
  dir = tempDir('hearth-api-lora-');
  lora = await writeTestLora({ out: path.join(dir, 'tiny-lora.gguf') });
  api = await apiApp({}, { prepare: (p) => copyModel(TINY_SPM, path.join(p.models, `${PLAIN}.gguf`)) });
  // the model's load settings, saved as the settings page saves them
  await api.call('models.settings.update', { path: api.modelPath, settings: { loraAdapters: [{ path: lora, scale: 1 }] } });
  client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused-on-loopback', maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await api?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

type Lora = { id: number; scale: number }[];
/** llama-server's fields beside OpenAI's (the client sends them as given) */
type Extra = { lora?: Lora; ignore_eos?: boolean };

/** A greedy completion of 12 tokens (with the top log-probabilities, which an adapter moves too). */
async function complete(model: string, extra: Extra = {}): Promise<{ text: string; logprobs: number[] }> {
  const r = await client.completions.create({ model, prompt: PROMPT, max_tokens: 12, temperature: 0, seed: 42, logprobs: 3, ignore_eos: true, ...extra } as OpenAI.CompletionCreateParamsNonStreaming);
  expect(r.usage!.completion_tokens).toBe(12);
  return { text: r.choices[0].text, logprobs: r.choices[0].logprobs!.token_logprobs! };
}

/** The same reply: the same text, log-probabilities equal but for float rounding. */
function expectSame(a: { text: string; logprobs: number[] }, b: { text: string; logprobs: number[] }): void {
  expect(a.text).toBe(b.text);
  expect(a.logprobs).toHaveLength(b.logprobs.length);
  a.logprobs.forEach((x, i) => expect(Math.abs(x - b.logprobs[i])).toBeLessThan(1e-3));
}

async function chat(model: string, extra: Extra = {}): Promise<string> {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Tell me a story about a fox' }],
    max_tokens: 12,
    temperature: 0,
    seed: 42,
    ignore_eos: true,
    ...extra,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  expect(r.usage!.completion_tokens).toBe(12);
  return r.choices[0].message.content ?? '';
}

async function getAdapters(model?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api.url}/lora-adapters${model ? `?model=${encodeURIComponent(model)}` : ''}`);
  return { status: res.status, body: await res.json() };
}

test('GET /lora-adapters lists the model\'s adapters by id with their load scales, before and after it loads', async () => {
  expect(await getAdapters(api.modelName)).toEqual({ status: 200, body: [{ id: 0, path: lora, scale: 1 }] });
  expect(await getAdapters(PLAIN)).toEqual({ status: 200, body: [] });
  await complete(api.modelName);
  expect(await getAdapters(api.modelName)).toEqual({ status: 200, body: [{ id: 0, path: lora, scale: 1 }] });
  expect((await getAdapters('nope')).status).toBe(404);
}, 120_000);

test('ids stay unambiguous: load settings listing a file twice are refused over IPC, naming the field, the index and the file; nothing is saved', async () => {
  const twice = api.call('models.settings.update', { path: api.modelPath, settings: { loraAdapters: [{ path: lora, scale: 1 }, { path: lora, scale: 0.5 }] } });
  await expect(twice).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`loraAdapters.1 ${lora} is already listed at 0: give one scale per adapter`) });
  expect((await api.call('models.settings.get', { path: api.modelPath })).settings.loraAdapters).toEqual([{ path: lora, scale: 1 }]);
  expect(await getAdapters(api.modelName)).toEqual({ status: 200, body: [{ id: 0, path: lora, scale: 1 }] });
});

test('a completion\'s lora scale 0 is the model without the adapter; the load\'s scale and scale 1 change the reply alike', async () => {
  const loaded = await complete(api.modelName);
  const off = await complete(api.modelName, { lora: [{ id: 0, scale: 0 }] });
  const plain = await complete(PLAIN);
  expect(off.text).not.toBe(loaded.text);
  expectSame(off, plain);
  // an adapter left out of the list is off for the request (llama-server's meaning)
  expectSame(await complete(api.modelName, { lora: [] }), plain);
  expectSame(await complete(api.modelName, { lora: [{ id: 0, scale: 1 }] }), loaded);
  // 2 moves it further; and the model is back at its load scale without `lora`
  expect((await complete(api.modelName, { lora: [{ id: 0, scale: 2 }] })).text).not.toBe(loaded.text);
  expectSame(await complete(api.modelName), loaded);
}, 120_000);

test('a chat\'s lora scale 0 is the model without the adapter, and differs from the load\'s scale', async () => {
  const loaded = await chat(api.modelName);
  const off = await chat(api.modelName, { lora: [{ id: 0, scale: 0 }] });
  expect(off).not.toBe(loaded);
  expect(off).toBe(await chat(PLAIN));
}, 120_000);

test('an unknown adapter id or a scale out of bounds is a 400 naming it; POST /lora-adapters is 501', async () => {
  await expect(complete(api.modelName, { lora: [{ id: 0, scale: 0.5 }, { id: 1, scale: 1 }] })).rejects.toMatchObject({
    status: 400,
    param: 'lora.1.id',
    message: expect.stringMatching(/lora\.1\.id: 1 is not a LoRA adapter of tiny: it was loaded with 1 \(ids 0 to 0/),
  });
  await expect(chat(PLAIN, { lora: [{ id: 0, scale: 1 }] })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/0 is not a LoRA adapter of plain: it was loaded with none/) });
  await expect(complete(api.modelName, { lora: [{ id: 0, scale: ADAPTER_SCALE_MAX + 1 }] })).rejects.toMatchObject({ status: 400, param: 'lora.0.scale' });
  await expect(complete(api.modelName, { lora: [{ id: -1, scale: 1 }] })).rejects.toMatchObject({ status: 400, param: 'lora.0.id' });
  // the model goes on (complete checks its 12 tokens)
  await complete(api.modelName, { lora: [{ id: 0, scale: 0.5 }] });

  const res = await fetch(`${api.url}/lora-adapters`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ id: 0, scale: 0.5 }]) });
  expect(res.status).toBe(501);
  const body = (await res.json()) as { error: { message: string } };
  expect(body.error.message).toMatch(/global LoRA scales.*load settings.*"lora" field/);
}, 120_000);
