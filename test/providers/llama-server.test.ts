/**
 * llama.cpp's llama-server (built from the same tree) as a "local server" provider of Hearth's chat
 * service (composeApp over a real store, no local model): its model list, a streamed reply with the
 * thread's settings — llama.cpp's sampler names (top_k, min_p, repeat_penalty) reach its slot, as
 * its /slots endpoint shows — a stop mid-stream, which llama-server logs as a cancelled task, and the
 * Continue of a reply cut off while thinking (a second server with a thinking template), which goes
 * on from the reply's reasoning, a tool loop's step sent with its reasoning, which Qwen3.5's
 * template (a third server) writes back, and an earlier turn's reasoning sent to a server whose
 * template keeps it (GLM-4.7's, a fourth), as its /props says; a router-mode llama-server whose
 * model is not loaded is asked again to load it for the answer, however long past the question's limit.
 */
import http from 'http';
import type { AddressInfo } from 'net';
import type { EventOf, MessageDTO, ProvidersStatusDTO, ThreadDTO } from '../../main/ipc/contract';
import { remoteModelRef } from '../../main/params';
import { chatApp, continueStored, nextDone, storedToolLoop, type ChatApp } from '../helpers/chat';
import { tempDir, untilValue } from '../helpers/engine';
import { serverAccess, startLlamaRouter, startLlamaServer, type LlamaServer } from '../helpers/llama-server';
import { inAddon } from '../helpers/addon';
import { earlierThoughtTokens, remoteFollowUp, renderedBy } from '../helpers/reasoning';
import { TINY_BPE, TINY_THINK, writeGlm47Model, writeQwen35Model, writeTokenizerModels } from '../helpers/models';
import { serverKeepsReasoning } from '../../main/providers/server-props';

jest.setTimeout(600_000);

let server: LlamaServer;
let b: ChatApp;
let modelId: string;
let providerId: string;

beforeAll(async () => {
  // one slot; its context capped at the model's trained 2048: a long reply runs for a while
  server = await startLlamaServer(TINY_BPE, ['-c', '2048', '-np', '1']);
  b = chatApp({ model: null });
  // seed 1: llama-server's chat parser fails some random-weight outputs mid-stream ("does not match the expected
  // peg-native format", shown as a provider_error); this seed's reply is not one of them
  b.setChatDefaults({ seed: 1, maxTokens: 16, topK: 7, minP: 0.07, repeatPenalty: 1.3, temperature: 0.6 });
}, 600_000);
afterAll(async () => {
  await b?.close();
  await server?.close();
});

/** `server` added as a local-server provider named `name`: its one model's reference. */
async function serverModel(name: string, server: LlamaServer): Promise<string> {
  const saved = await b.call<ProvidersStatusDTO>('providers.save', { provider: { name, kind: 'openai-server', baseUrl: `${server.url}/v1` } });
  const id = saved.providers.find((p) => p.name === name)!.id;
  const st = await b.call<ProvidersStatusDTO>('providers.refreshModels', { id });
  return remoteModelRef(id, st.providers.find((p) => p.id === id)!.models[0].id);
}

test('the model list; a streamed reply whose llama.cpp sampler settings reach the slot', async () => {
  const saved = await b.call<ProvidersStatusDTO>('providers.save', { provider: { name: 'llama-server', kind: 'openai-server', baseUrl: `${server.url}/v1` } });
  providerId = saved.providers[0].id;
  expect(saved.providers[0]).toMatchObject({ key: 'not set', keyHint: null });
  const st = await b.call<ProvidersStatusDTO>('providers.refreshModels', { id: providerId });
  const models = st.providers[0].models.map((m) => m.id);
  expect(models).toHaveLength(1);
  expect(models[0]).toContain('tiny-bpe');
  modelId = models[0];

  const thread = await b.call<ThreadDTO>('threads.create', { modelPath: remoteModelRef(providerId, modelId) });
  let pieces = 0;
  const off = b.app.services.subscribe((e, p) => {
    if (e === 'chat.piece' && (p as EventOf<'chat.piece'>).threadId === thread.id) pieces++;
  });
  const done = nextDone(b.app, thread.id);
  await b.call('chat.send', { threadId: thread.id, content: 'Hello' });
  const reply = await done;
  off();
  expect(reply.error).toBeNull();
  expect(reply).toMatchObject({ status: 'done', finishReason: 'maxTokens', model: modelId });
  expect(reply.metrics).toMatchObject({ generatedTokens: 16 });
  expect(reply.metrics!.promptTokens).toBeGreaterThan(0);
  expect(pieces).toBeGreaterThan(1);
  const slot = ((await (await fetch(`${server.url}/slots`)).json()) as { params: Record<string, number> }[])[0].params;
  expect(slot.top_k).toBe(7);
  expect(slot.min_p).toBeCloseTo(0.07, 5);
  expect(slot.repeat_penalty).toBeCloseTo(1.3, 5);
  expect(slot.temperature).toBeCloseTo(0.6, 5);
  expect(slot.seed).toBe(1);
  const t = (await b.call<{ thread: ThreadDTO; messages: MessageDTO[] }>('threads.get', { id: thread.id })).thread;
  expect(t.remoteSent).toEqual(['llama-server']);
});

test('a stop mid-stream: the reply ends as stopped, and llama-server cancels the task', async () => {
  b.setChatDefaults({ maxTokens: -1 });
  const thread = await b.call<ThreadDTO>('threads.create', { modelPath: remoteModelRef(providerId, modelId) });
  let first!: () => void;
  const firstPiece = new Promise<void>((r) => (first = r));
  const off = b.app.services.subscribe((e, p) => {
    if (e === 'chat.piece' && (p as EventOf<'chat.piece'>).threadId === thread.id) first();
  });
  const done = nextDone(b.app, thread.id);
  const logBefore = server.output().length;
  await b.call('chat.send', { threadId: thread.id, content: 'Tell me everything' });
  await firstPiece;
  off();
  await b.call('chat.stop', { threadId: thread.id });
  const reply = await done;
  expect(reply.status).toBe('aborted');
  expect(reply.content.length).toBeGreaterThan(0);
  for (let i = 0; i < 100 && !/cancel task/.test(server.output().slice(logBefore)); i++) await new Promise((r) => setTimeout(r, 50));
  const log = server.output().slice(logBefore);
  expect(log).toMatch(/cancel task/);
  // it stopped well before the context's end
  const n = Number(/stop processing: n_tokens = (\d+)/.exec(log)?.[1]);
  expect(n).toBeGreaterThan(0);
  expect(n).toBeLessThan(2048);
});

test("Continue of a reply cut off while thinking: its reasoning goes with it, and llama-server goes on thinking from it", async () => {
  const think = await startLlamaServer(TINY_THINK, ['-c', '1024', '-np', '1']);
  try {
    b.setChatDefaults({ maxTokens: 8, temperature: 0 });
    const thread = await b.call<ThreadDTO>('threads.create', { modelPath: await serverModel('llama-server thinking', think) });
    const thought = 'Let me think about';
    const more = await continueStored(b, thread.id, 'Say hello.', { content: '', reasoning: thought });
    expect(more.error).toBeNull();
    expect(more.status).toBe('done');
    // the stored reasoning grew (llama-server wrote reasoning, not text)
    expect(more.reasoning.length).toBeGreaterThan(thought.length);
    // llama-server's prompt: the conversation, its generation prompt, then the reasoning it goes on from
    const asked = `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n<think>`;
    const [n, fresh] = await inAddon<number[]>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       try { return input.prompts.map((p) => m.tokenize(p, { addSpecial: true, parseSpecial: true }).length); } finally { await m.dispose(); }`,
      { model: TINY_THINK, prompts: [asked + thought, asked] },
    );
    expect(more.metrics!.promptTokens).toBe(n);
    // a reply with nothing in it yet: llama-server is not sent it (it would end the prompt after the
    // user's message), so it writes the reply afresh after its generation prompt
    const empty = b.app.store.messages.add({ threadId: thread.id, role: 'assistant', content: '', status: 'aborted', parentId: more.parentId });
    const again = nextDone(b.app, thread.id);
    await b.call('chat.continue', { threadId: thread.id, messageId: empty.id });
    const afresh = await again;
    expect(afresh.error).toBeNull();
    expect(afresh.metrics!.promptTokens).toBe(fresh);
  } finally {
    await think.close();
  }
});

test("a tool loop's step goes with its reasoning, and llama-server's template (Qwen3.5's) writes it back", async () => {
  const dir = tempDir('llama-server-qwen35');
  const model = await writeQwen35Model((await writeTokenizerModels(dir)).qwen, dir);
  const qwen = await startLlamaServer(model, ['-c', '1024', '-np', '1']);
  try {
    b.setChatDefaults({ maxTokens: 2, temperature: 0 });
    const ref = await serverModel('llama-server qwen', qwen);
    const thought = 'The user asks about Paris so I call the weather tool';
    // the stored loop's answer continued on the server (the turn's steps are sent again), with the step's reasoning and without
    const prompts: number[] = [];
    for (const t of [thought, '']) {
      const thread = await b.call<ThreadDTO>('threads.create', { modelPath: ref });
      const answer = storedToolLoop(b, thread.id, t);
      const done = nextDone(b.app, thread.id);
      await b.call('chat.continue', { threadId: thread.id, messageId: answer });
      const reply = await done;
      expect(reply.error).toBeNull();
      prompts.push(reply.metrics!.promptTokens);
    }
    // what llama.cpp's template renders for the same turn (the addon, the same tree's chat code)
    const turn = (reasoning: string) => [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: '', ...(reasoning ? { reasoning_content: reasoning } : {}), tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', content: 'Sunny and 21 degrees in Paris.', tool_call_id: 'c1' },
      { role: 'assistant', content: 'It is sunny' },
    ];
    const rendered = await renderedBy(model, [turn(thought), turn('')], { continueFinal: true });
    expect(rendered[0].prompt).toContain(`<think>\n${thought}\n</think>`);
    expect(prompts).toEqual(rendered.map((r) => r.tokens));
    expect(prompts[0]).toBeGreaterThan(prompts[1]);
    // reasoning too long for the server's context (about 2,000 tokens in 1,024): the server refuses the
    // request, and the step is asked again without it
    const thread = await b.call<ThreadDTO>('threads.create', { modelPath: ref });
    const answer = storedToolLoop(b, thread.id, Array.from({ length: 400 }, (_, i) => `step ${i} checked`).join(', '));
    const done = nextDone(b.app, thread.id);
    await b.call('chat.continue', { threadId: thread.id, messageId: answer });
    const reply = await done;
    expect(reply.error).toBeNull();
    expect(reply.metrics!.promptTokens).toBe(prompts[1]);
  } finally {
    await qwen.close();
  }
});

const accessTo = (server: LlamaServer) => serverAccess(`${server.url}/v1`);

test("an earlier turn's reasoning goes to a server whose template keeps it (its /props says so), unless the setting is off", async () => {
  const dir = tempDir('llama-server-glm');
  const { qwen } = await writeTokenizerModels(dir);
  const [glmModel, qwenModel] = [await writeGlm47Model(qwen, dir), await writeQwen35Model(qwen, dir)];
  // started so that its template drops earlier reasoning unless a request asks otherwise: Hearth asks
  const glm = await startLlamaServer(glmModel, ['-c', '1024', '-np', '1', '--no-reasoning-preserve']);
  const other = await startLlamaServer(qwenModel, ['-c', '1024', '-np', '1']);
  try {
    // what each server says of its template: GLM-4.7's keeps earlier turns' reasoning when asked, Qwen3.5's never
    const signal = new AbortController().signal;
    expect(await serverKeepsReasoning(accessTo(glm), 'any', signal, 10_000)).toBe('keeps');
    expect(await serverKeepsReasoning(accessTo(other), 'any', signal, 10_000)).toBe('drops');
    b.setChatDefaults({ maxTokens: 2, temperature: 0 });
    const glmRef = await serverModel('llama-server glm', glm);
    const [kept, off] = [await remoteFollowUp(b, glmRef, {}), await remoteFollowUp(b, glmRef, { preserveReasoning: false })];
    // the server's prompts differ by what the earlier reasoning adds to the template's render (the server
    // renders with preserve_reasoning on: Hearth's request says so)
    expect(kept - off).toBe(await earlierThoughtTokens(glmModel));
    // the same server behind a proxy that answers /props with 404 (a server that does not say): the turn's alone
    let asked = 0;
    const proxy = http.createServer((req, res) => {
      if (req.url?.startsWith('/props')) return void (asked++, res.writeHead(404, { connection: 'close' }).end());
      // one connection per request both ways: no kept-alive socket that either end may close as it is reused
      const up = http.request(`${glm.url}${req.url}`, { method: req.method, headers: { ...req.headers, connection: 'close' }, agent: false }, (r) => {
        res.writeHead(r.statusCode ?? 502, { ...r.headers, connection: 'close' });
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxied = { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } as LlamaServer;
      expect(await serverKeepsReasoning(accessTo(proxied), 'any', signal, 10_000)).toBe('drops');
      // a thread without earlier reasoning does not ask (nothing would change)
      const plain = await b.call<ThreadDTO>('threads.create', { modelPath: await serverModel('llama-server glm, plain', proxied) });
      const answered = nextDone(b.app, plain.id);
      await b.call('chat.send', { threadId: plain.id, content: 'Hello' });
      expect((await answered).error).toBeNull();
      expect(asked).toBe(1);
      expect(await remoteFollowUp(b, await serverModel('llama-server glm, no props', proxied), {})).toBe(off);
      expect(asked).toBe(2);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  } finally {
    await glm.close();
    await other.close();
  }
});

test("a router-mode llama-server whose model is not loaded: asked again as a request would load it, the question waits for the load past its own limit; a router that does not autoload is not made to", async () => {
  const models = tempDir('llama-router-models');
  const { qwen } = await writeTokenizerModels(tempDir('llama-router-tokenizers'));
  await writeGlm47Model(qwen, models); // served as tiny-glm-4.7
  const router = await startLlamaRouter(models, ['-c', '1024', '-np', '1']);
  const strict = await startLlamaRouter(models, ['-c', '1024', '-np', '1', '--no-models-autoload']);
  // in front of the first, a load that takes longer than the question's limit: a GET that may load the
  // model is held back LOAD_MS (one asked with autoload=false is not)
  const LOAD_MS = 2_500;
  const asked: string[] = [];
  const held = new Set<NodeJS.Timeout>();
  const proxy = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    res.on('error', () => undefined);
    const wait = new URL(req.url ?? '/', 'http://x').searchParams.get('autoload') === 'false' ? 0 : LOAD_MS;
    const timer = setTimeout(() => {
      held.delete(timer);
      if (req.socket.destroyed) return; // the asker gave up meanwhile
      const up = http.request(`${router.url}${req.url}`, { method: 'GET', headers: { ...req.headers, connection: 'close' }, agent: false }, (r) => {
        res.writeHead(r.statusCode ?? 502, { ...r.headers, connection: 'close' });
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end();
    }, wait);
    held.add(timer);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const slow = accessTo({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } as LlamaServer);
  const signal = new AbortController().signal;
  const MODEL = 'tiny-glm-4.7';
  // asked not to load it: 200 when loaded, the router's 400 "model is not loaded" when not (a 500 while a child ends)
  const propsStatus = async (server = router) => (await fetch(`${server.url}/props?model=${MODEL}&autoload=false`)).status;
  try {
    expect(await propsStatus()).toBe(400);
    // asked with a second's limit: the router says at once that the model is not loaded (read as that,
    // not as a no); asked again as a request asks (no autoload: the router's default, which loads), the
    // question waits for the load
    expect(await serverKeepsReasoning(slow, MODEL, signal, 1_000, 20_000)).toBe('keeps');
    expect(asked.map((u) => new URL(u, 'http://x').searchParams.get('autoload'))).toEqual(['false', null]);
    expect(await propsStatus()).toBe(200);
    // loaded: one question, answered at once
    asked.length = 0;
    expect(await serverKeepsReasoning(slow, MODEL, signal, 1_000, 20_000)).toBe('keeps');
    expect(asked).toHaveLength(1);
    // a model the router does not have: its 400 is a no, asked once
    asked.length = 0;
    expect(await serverKeepsReasoning(slow, 'nope', signal, 1_000, 20_000)).toBe('drops');
    expect(asked).toHaveLength(1);
    // unloaded, and a load longer than even the load's limit: the load failed (the service holds that
    // as long as a time-out, so the next turns do not wait for it again)
    const unload = await fetch(`${router.url}/models/unload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL }) });
    expect(unload.status).toBe(200);
    await untilValue(async () => (await propsStatus()) === 400, 'the router to unload the model', 30_000);
    expect(await serverKeepsReasoning(slow, MODEL, signal, 1_000, 500)).toBe('load-failed');
    // a router started with --no-models-autoload refuses a request for a model not loaded: the question
    // does not load it either, and is no answer for now (the model may be loaded by hand any time)
    expect(await serverKeepsReasoning(accessTo(strict), MODEL, signal, 1_000, 20_000)).toBe('no-answer');
    expect(await propsStatus(strict)).toBe(400);
  } finally {
    for (const t of held) clearTimeout(t);
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    await router.close();
    await strict.close();
  }
});
