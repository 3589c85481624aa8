/**
 * Images through the API server: OpenAI's image_url parts (data: URLs) reach the engine's image path
 * when the model has a projector (here paired by its folder: mmproj-<model>-f16.gguf beside it). The
 * real server, the real engine, the tiny BPE model and the tiny generated projector (16 image tokens
 * per image); a model without a projector refuses images with 400.
 */
import path from 'path';
import fs from 'fs';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { testPng } from '../helpers/images';
import { copyModel, TINY_BPE, TINY_PROJECTOR, TINY_PROJECTOR_IMAGE_TOKENS, TINY_SPM } from '../helpers/models';

let api: ApiApp;
const dataUrl = `data:image/png;base64,${testPng(5).toString('base64')}`;

beforeAll(async () => {
  api = await apiApp({}, {
    model: TINY_BPE,
    modelAs: 'tiny-vision-Q8_0.gguf',
    prepare: (paths) => {
      fs.copyFileSync(TINY_PROJECTOR, path.join(paths.models, 'mmproj-tiny-vision-f16.gguf'));
      fs.mkdirSync(path.join(paths.models, 'plain'));
      copyModel(TINY_SPM, path.join(paths.models, 'plain', 'plain.gguf'));
    },
  });
}, 60_000);
afterAll(() => api?.close());

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const withImage = (url: string) => [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'Describe it.' }] }];

test("an image_url data: URL is read through the model's projector; the next request reuses it from the slot's cache", async () => {
  const text = await post({ model: api.modelName, messages: [{ role: 'user', content: 'Describe it.' }], max_tokens: 1, temperature: 0 });
  expect(text.status).toBe(200);
  const first = await post({ model: api.modelName, messages: withImage(dataUrl), max_tokens: 4, temperature: 0 });
  expect(first.status).toBe(200);
  expect(first.json.usage.prompt_tokens).toBe(text.json.usage.prompt_tokens + TINY_PROJECTOR_IMAGE_TOKENS);
  const again = await post({ model: api.modelName, messages: withImage(dataUrl), max_tokens: 4, temperature: 0 });
  expect(again.json.usage.prompt_tokens_details.cached_tokens).toBe(first.json.usage.prompt_tokens - 1);
  expect(again.json.choices[0].message.content).toBe(first.json.choices[0].message.content);
}, 60_000);

test('a streamed reply to an image', async () => {
  const res = await fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: api.modelName, messages: withImage(dataUrl), max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  expect(res.status).toBe(200);
  const body = await res.text();
  const chunks = body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  const usage = chunks.find((c) => c.usage)?.usage;
  expect(usage.completion_tokens).toBeGreaterThan(0);
  expect(usage.prompt_tokens).toBeGreaterThan(TINY_PROJECTOR_IMAGE_TOKENS);
  expect(body.trim().endsWith('data: [DONE]')).toBe(true);
}, 60_000);

test('refusals: an image URL to fetch, an image for a model without a projector, an image in an assistant turn', async () => {
  const remote = await post({ model: api.modelName, messages: withImage('https://example.com/cat.png'), max_tokens: 1 });
  expect(remote.status).toBe(400);
  expect(remote.json.error.message).toMatch(/data: URL/);
  const models = (await (await fetch(`${api.url}/v1/models`)).json()) as { data: { id: string }[] };
  const plainName = models.data.map((m) => m.id).find((id) => id.includes('plain'));
  expect(plainName).toBeDefined();
  const plain = await post({ model: plainName, messages: withImage(dataUrl), max_tokens: 1 });
  expect(plain.status).toBe(400);
  expect(plain.json.error.message).toMatch(/projector/);
  const assistant = await post({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'image_url', image_url: { url: dataUrl } }] }, { role: 'user', content: 'hi' }], max_tokens: 1 });
  expect(assistant.status).toBe(400);
}, 60_000);
