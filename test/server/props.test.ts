/**
 * llama-server's GET /props on Hearth's API server (main/server/props.ts), for a model it serves while
 * it is loaded (a GET loads nothing unless autoload=true): its context and slots, and whether its
 * template keeps earlier turns' reasoning and renders tools, asked through the request path; without a
 * model, the router's placeholder. The tests run in order: the first finds nothing loaded, the second
 * loads the models the others ask about. Hearth's own provider client (main/providers/server-props.ts) then reads another
 * Hearth as it reads llama-server, and a chat on another Hearth sends earlier turns' reasoning to a model
 * whose template keeps it. Real server, real engine: a generated GLM-4.7 (its template keeps
 * reasoning when told to, and renders tools) and the tiny model (plain ChatML: neither).
 */
import fs from 'fs';
import path from 'path';
import { apiModelId } from '../../main/server/models';
import { serverKeepsReasoning } from '../../main/providers/server-props';
import type { ProvidersStatusDTO } from '../../main/ipc/contract';
import { remoteModelRef } from '../../main/params';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { chatApp } from '../helpers/chat';
import { earlierThoughtTokens, remoteFollowUp } from '../helpers/reasoning';
import { tempDir } from '../helpers/engine';
import { serverAccess } from '../helpers/llama-server';
import { copyModel, TINY_SPM, writeGlm47Model, writeTokenizerModels } from '../helpers/models';

jest.setTimeout(120_000);

const PLAIN = 'plain';
/** the GLM model's context, its load setting */
const CONTEXT = 1536;
const KEY = 'sk-hearth-props-test-key-0123456789';
let api: ApiApp;
let dir: string;
let glm: string;

beforeAll(async () => {
  dir = tempDir('hearth-api-props-');
  glm = await writeGlm47Model((await writeTokenizerModels(dir)).qwen, dir);
  api = await apiApp({ parallel: 3 }, { model: glm, modelAs: 'glm.gguf', prepare: (p) => copyModel(TINY_SPM, path.join(p.models, `${PLAIN}.gguf`)) });
  await api.call('models.settings.update', { path: api.modelPath, settings: { contextSize: CONTEXT } });
});

afterAll(async () => {
  await api?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const props = (query: string, headers: Record<string, string> = {}) => fetch(`${api.url}/props${query}`, { headers });
const loaded = () => api.status().models.map((m) => m.name);

test('a model not loaded: 503 not_loaded, and nothing loads, unless autoload=true; no model named: the router placeholder; unknown: 404; Hearth\'s client asks again to load it', async () => {
  const cold = await props('?model=glm');
  expect(cold.status).toBe(503);
  expect(cold.headers.get('retry-after')).toBe('10');
  expect((await cold.json()).error).toMatchObject({ code: 'not_loaded', message: expect.stringMatching(/glm is not loaded: a request to it loads it/) });
  // llama-server's words: only true or 1 loads
  expect((await props('?model=glm&autoload=maybe')).status).toBe(503);
  expect((await props('?model=glm&autoload=0')).status).toBe(503);
  // a page of another site cannot make it load (an <img> GET carries no Origin; Sec-Fetch-Site says where it is from)
  expect((await props('?model=glm&autoload=true', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' })).status).toBe(403);
  const router = await props('');
  expect(router.status).toBe(200);
  expect(await router.json()).toEqual({ role: 'router', models_autoload: false, model_alias: 'hearth', model_path: 'none', default_generation_settings: { params: {}, n_ctx: 0 }, build_info: 'Hearth 0.0.0-test' });
  expect(loaded()).toEqual([]);

  const unknown = await props('?model=nope&autoload=true');
  expect(unknown.status).toBe(404);
  expect((await unknown.json()).error.message).toMatch(/the model "nope" is not in Hearth's library/);
  expect(loaded()).toEqual([]);

  // Hearth's provider client reads the 503 as "not loaded", not as a no, and asks again with
  // autoload=true: the request it is about to send would load the model anyway
  expect(await serverKeepsReasoning(serverAccess(`${api.url}/v1`), 'glm', new AbortController().signal, 10_000)).toBe('keeps');
  expect(loaded()).toEqual(['glm']);
});

test("a model's props, as llama-server's: its context, slots and template's caps; asked while loaded, nothing reloads", async () => {
  const r = await props('?model=glm&autoload=true');
  expect(r.status).toBe(200);
  const body = await r.json();
  expect(loaded()).toEqual(['glm']);
  expect(body).toEqual({
    default_generation_settings: { n_ctx: CONTEXT, params: {} },
    total_slots: 3,
    model_alias: 'glm',
    model_path: api.modelPath,
    modalities: { vision: false, audio: false, video: false },
    chat_template_caps: { supports_preserve_reasoning: true, supports_tools: true },
    build_info: 'Hearth 0.0.0-test',
    is_sleeping: false,
  });
  expect((await api.engine.contextInfo(apiModelId(api.modelPath))).parallel).toBe(3);

  // a plain ChatML template keeps no reasoning and renders no tools
  const plain = await (await props(`?model=${PLAIN}&autoload=1`)).json();
  expect(plain.chat_template_caps).toEqual({ supports_preserve_reasoning: false, supports_tools: false });
  expect(plain.model_alias).toBe(PLAIN);

  // asking is no use of the model: the lease is given back, and its time-to-live runs on to the same time
  const status = () => api.status().models.find((m) => m.name === 'glm')!;
  const before = status();
  expect(before).toMatchObject({ busy: 0, queued: 0 });
  expect(before.unloadAt).not.toBeNull();
  await new Promise((r) => setTimeout(r, 20));
  expect((await props('?model=glm')).status).toBe(200);
  expect(status()).toMatchObject({ busy: 0, unloadAt: before.unloadAt });
  // several at once too
  expect((await Promise.all([props('?model=glm'), props('?model=glm'), props('?model=glm')])).map((r) => r.status)).toEqual([200, 200, 200]);
  expect(status()).toMatchObject({ busy: 0, unloadAt: before.unloadAt });

  // loaded: asked without autoload, it answers as loaded, even with a change that reloads it at the next request's hold
  await api.app.api.update({ parallel: 2 });
  const again = await props('?model=glm');
  expect(again.status).toBe(200);
  expect((await again.json()).total_slots).toBe(3);
  expect((await api.engine.contextInfo(apiModelId(api.modelPath))).parallel).toBe(3);
  await api.app.api.update({ parallel: 3 });
});

test("Hearth's provider client reads another Hearth as it reads llama-server: the key is sent, the answer read", async () => {
  const server = serverAccess(`${api.url}/v1`);
  const never = new AbortController().signal;
  expect(await serverKeepsReasoning(server, 'glm', never, 10_000)).toBe('keeps');
  expect(await serverKeepsReasoning(server, PLAIN, never, 10_000)).toBe('drops');
  // behind a key: without it no answer (401), with it the answer
  await api.app.api.update({ enabled: true, port: api.port, apiKey: KEY });
  try {
    expect(await serverKeepsReasoning(server, 'glm', never, 10_000)).toBe('no-answer');
    expect(await serverKeepsReasoning(serverAccess(`${api.url}/v1`, { apiKey: KEY }), 'glm', never, 10_000)).toBe('keeps');
    expect((await props('?model=glm', { authorization: `Bearer ${KEY}` })).status).toBe(200);
  } finally {
    await api.app.api.update({ enabled: true, port: api.port, apiKey: null });
  }
});

test("a chat on another Hearth, through its \"Local server\" provider, sends an earlier turn's reasoning to this one's GLM-4.7, unless the setting is off", async () => {
  const b = chatApp({ model: null });
  try {
    b.setChatDefaults({ maxTokens: 2, temperature: 0 });
    const saved = await b.call<ProvidersStatusDTO>('providers.save', { provider: { name: 'Other Hearth', kind: 'openai-server', baseUrl: `${api.url}/v1` } });
    const id = saved.providers[0].id;
    const listed = await b.call<ProvidersStatusDTO>('providers.refreshModels', { id });
    expect(listed.providers[0].models.map((m) => m.id).sort()).toEqual(['glm', PLAIN]);
    const ref = remoteModelRef(id, 'glm');
    const [kept, off] = [await remoteFollowUp(b, ref, {}), await remoteFollowUp(b, ref, { preserveReasoning: false })];
    // this server's prompts differ by what the earlier reasoning adds to the template's render
    expect(kept - off).toBe(await earlierThoughtTokens(glm));
  } finally {
    await b.close();
  }
});

test("after the engine host died, a loaded model is no answer (503) until a request loads it again: asking does not reload it", async () => {
  expect((await props('?model=glm&autoload=true')).status).toBe(200);
  const id = apiModelId(api.modelPath);
  expect(api.engine.isLive(id)).toBe(true);
  process.kill(api.engine.pid!, 'SIGKILL');
  for (let i = 0; i < 200 && api.engine.isLive(id); i++) await new Promise((r) => setTimeout(r, 50));
  expect(api.engine.isLive(id)).toBe(false);
  const r = await props('?model=glm');
  expect(r.status).toBe(503);
  expect((await r.json()).error.code).toBe('not_loaded');
  expect(api.engine.isLive(id)).toBe(false);
  // autoload=true: loaded again (the engine reloads it in the restarted host), then the answer
  const again = await props('?model=glm&autoload=true');
  expect(again.status).toBe(200);
  expect((await again.json()).chat_template_caps).toEqual({ supports_preserve_reasoning: true, supports_tools: true });
});
