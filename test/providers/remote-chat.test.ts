/**
 * A chat on a remote model through the real parts, both ends: Hearth A runs its API server (the
 * OpenAI and Anthropic endpoints over the real engine host and a generated model, with an API key),
 * and Hearth B — composeApp over a real store — adds A as a provider of each kind and chats with it
 * through the same chat service that runs local models: the model list, a streamed reply with its
 * usage, the thread marked as sent to the provider, a stop mid-stream (A's generation sees its client
 * leave), a tool call round trip (B's real MCP server; A's engine steered into the call as in
 * test/chat/tool-turns.test.ts, since the random model would not call by itself), a wrong key (A's
 * real 401), switching the thread to a local model and back, remote providers forbidden, a removed
 * provider; and the key never stored in the settings nor shown to a page.
 */
import fs from 'fs';
import path from 'path';
import type { EngineClient } from '../../main/engine/client';
import type { ChatMessage } from '../../main/engine/protocol';
import type { EventOf, MessageDTO, ProvidersStatusDTO, ThreadDTO, ToolsStatusDTO } from '../../main/ipc/contract';
import { type ProviderKind, remoteModelRef, unmarkedMessages } from '../../main/params';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { chatApp, nextDone, type ChatApp } from '../helpers/chat';
import { makeEngine } from '../helpers/engine';
import { TINY_TOOLS_STEERED, TOOL_CALL_CLOSE, TOOL_CALL_OPEN_ID } from '../helpers/models';

jest.setTimeout(180_000);

const WEATHER = path.join(__dirname, '..', 'fixtures', 'mcp-weather.js');
const A_KEY = 'hearth-a-key-0123456789';

let a: ApiApp;
let b: ChatApp;
/** A's engine: tool requests steered into a call while `steer`; every request's signal kept (did the client's leaving reach it?) */
let steer = false;
/** A's replies run past the end of text (a long reply to stop mid-way) */
let long = false;
const signals: AbortSignal[] = [];
/** the messages of A's last chat request */
let lastMessages: unknown[] = [];
/**
 * While set, each piece A's engine streams is passed on in two (the text cut in half) and kept here:
 * the engine coalesces what comes within 100 ms (native/src/generation.cpp), so on a busy machine a
 * short reply can leave it in one piece; cut, A always sends several, and B must pass on each.
 */
let cutPieces: string[] | null = null;

function serverEngine(engine: EngineClient): EngineClient {
  const chatFn = engine.chat.bind(engine);
  engine.chat = ((id, req, opts) => {
    if (opts?.signal) signals.push(opts.signal);
    lastMessages = req.messages;
    let r = req;
    if (steer && req.tools?.length && req.toolChoice === 'auto') r = { ...req, stop: [TOOL_CALL_CLOSE], parallelToolCalls: false, sampling: { ...req.sampling, logitBias: [{ token: TOOL_CALL_OPEN_ID, bias: 100 }] } };
    if (long) r = { ...r, ignoreEos: true };
    const cut = cutPieces;
    if (cut && opts?.onPiece) {
      const onPiece = opts.onPiece;
      const halves = (c: string) => { const chars = [...c]; const h = Math.ceil(chars.length / 2); return [chars.slice(0, h).join(''), chars.slice(h).join('')].filter((x) => x); };
      return chatFn(id, r, { ...opts, onPiece: (content, reasoning, probs) => {
        if (reasoning || probs) {
          if (content) cut.push(content);
          return onPiece(content, reasoning, probs);
        }
        for (const half of halves(content)) {
          cut.push(half);
          onPiece(half, '', undefined);
        }
      } });
    }
    return chatFn(id, r, opts);
  }) as EngineClient['chat'];
  return engine;
}

const call = <T = any>(channel: string, payload: unknown = {}) => b.call<T>(channel, payload);

beforeAll(async () => {
  a = await apiApp({ apiKey: A_KEY }, { model: TINY_TOOLS_STEERED, modelAs: 'steered.gguf', engine: serverEngine(makeEngine()) });
  b = chatApp({ compose: { providerTimeoutMs: 60_000 } });
  b.setChatDefaults({ seed: 1, maxTokens: 12 });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

async function addProvider(name: string, kind: ProviderKind, apiKey = A_KEY): Promise<string> {
  const st = await call<ProvidersStatusDTO>('providers.save', { provider: { name, kind, baseUrl: kind === 'anthropic' ? a.url : `${a.url}/v1` }, apiKey });
  return st.providers.find((p) => p.name === name)!.id;
}

/** The provider of A of a kind (added if not yet). */
async function providerOf(kind: ProviderKind): Promise<string> {
  const name = `Hearth A ${kind}`;
  return (await call<ProvidersStatusDTO>('providers.status')).providers.find((p) => p.name === name)?.id ?? (await addProvider(name, kind));
}

async function remoteThread(providerId: string, assistantId?: string): Promise<ThreadDTO> {
  return call<ThreadDTO>('threads.create', { modelPath: remoteModelRef(providerId, a.modelName), ...(assistantId ? { assistantId } : {}) });
}

const logged = (p: string) => a.status().requests.filter((r) => r.path === p);

describe.each([
  ['openai-server', '/v1/chat/completions'],
  ['anthropic', '/v1/messages'],
] as const)('%s', (kind, route) => {
  test('the model list, a streamed reply with its usage, the thread marked as sent; the key kept apart and masked', async () => {
    const name = `Hearth A ${kind}`;
    const id = await providerOf(kind);
    const st = await call<ProvidersStatusDTO>('providers.refreshModels', { id });
    const p = st.providers.find((x) => x.id === id)!;
    expect(p.models.map((m) => m.id)).toEqual([a.modelName]);
    expect(p).toMatchObject({ key: 'set', keyHint: `••••${A_KEY.slice(-4)}` });
    expect(JSON.stringify(st)).not.toContain(A_KEY);
    // the settings row holds no key; the key's own file is the user's alone
    expect(String(b.app.store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get())).not.toContain(A_KEY);
    const secrets = path.join(b.paths.root, 'provider-secrets.json');
    expect(fs.statSync(secrets).mode & 0o777).toBe(0o600);

    const thread = await remoteThread(id);
    const before = logged(route).length;
    const pieces: string[] = [];
    const off = b.app.services.subscribe((e, payload) => {
      if (e === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === thread.id) pieces.push((payload as EventOf<'chat.piece'>).content);
    });
    const done = nextDone(b.app, thread.id);
    // all 12 tokens (an Anthropic request carries no seed: a reply ended at its first token came in one piece)
    long = true;
    const sentPieces: string[] = [];
    cutPieces = sentPieces;
    let reply: MessageDTO;
    try {
      const sent = await call<{ reply: MessageDTO }>('chat.send', { threadId: thread.id, content: 'Hello there' });
      expect(sent.reply).toMatchObject({ status: 'streaming', model: a.modelName });
      reply = await done;
    } finally {
      long = false;
      cutPieces = null;
    }
    off();
    expect(reply).toMatchObject({ status: 'done', model: a.modelName, error: null });
    expect(reply.finishReason).toBe('maxTokens');
    expect(reply.content.length).toBeGreaterThan(0);
    expect(pieces.join('')).toBe(reply.content);
    // streamed, not in one piece: each piece A sent reached B's thread as its own
    expect(sentPieces.length).toBeGreaterThan(1);
    expect(pieces).toEqual(sentPieces);
    expect(reply.metrics).toMatchObject({ contextSize: 32_768 });
    expect(reply.metrics!.promptTokens).toBeGreaterThan(0);
    expect(reply.metrics!.generatedTokens).toBeGreaterThan(0);
    // A served it: its log has the request, answered 200
    expect(logged(route).length).toBe(before + 1);
    expect(logged(route)[0]).toMatchObject({ method: 'POST', status: 200, model: a.modelName });
    const t = (await call<{ thread: ThreadDTO }>('threads.get', { id: thread.id })).thread;
    expect(t.remoteSent).toEqual([name]);
  });

  test('a stop mid-stream: the reply ends as stopped with what came, and A’s generation sees its client leave', async () => {
    const id = await providerOf(kind);
    const thread = await remoteThread(id);
    long = true;
    b.setChatDefaults({ maxTokens: 4000 });
    try {
      signals.length = 0;
      let first!: () => void;
      const firstPiece = new Promise<void>((r) => (first = r));
      const off = b.app.services.subscribe((e, payload) => {
        if (e === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === thread.id) first();
      });
      const done = nextDone(b.app, thread.id);
      await call('chat.send', { threadId: thread.id, content: 'Write a long story' });
      await firstPiece;
      off();
      await call('chat.stop', { threadId: thread.id });
      const reply = await done;
      expect(reply.status).toBe('aborted');
      expect(reply.content.length).toBeGreaterThan(0);
      // A's engine request was aborted: the server saw the connection close
      expect(signals).toHaveLength(1);
      for (let i = 0; i < 100 && !signals[0].aborted; i++) await new Promise((r) => setTimeout(r, 50));
      expect(signals[0].aborted).toBe(true);
      await a.app.chat.idle();
    } finally {
      long = false;
      b.setChatDefaults({ maxTokens: 12 });
    }
  });

  test('a wrong key: A’s real 401, the reply says to check the key, without the key', async () => {
    const id = await addProvider(`Wrong key ${kind}`, kind, 'not-the-right-key-000');
    const thread = await remoteThread(id);
    const done = nextDone(b.app, thread.id);
    await call('chat.send', { threadId: thread.id, content: 'Hi' });
    const reply = await done;
    expect(reply.status).toBe('error');
    expect(reply.error).toMatch(/^provider_auth: Wrong key .* answered 401/);
    expect(reply.error).not.toContain('not-the-right-key-000');
    await expect(call('providers.refreshModels', { id })).rejects.toMatchObject({ code: 'provider_auth' });
  });
});

test('Continue: a llama.cpp-family server goes on from the reply; a hosted API kind is refused (it would start anew)', async () => {
  for (const kind of ['openai-server', 'anthropic'] as const) {
    const thread = await remoteThread(await providerOf(kind));
    const done = nextDone(b.app, thread.id);
    await call('chat.send', { threadId: thread.id, content: 'Hi' });
    const reply = await done;
    expect(reply.status).toBe('done');
    if (kind === 'anthropic') {
      await expect(call('chat.continue', { threadId: thread.id, messageId: reply.id })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^Continue works with local models/) });
      continue;
    }
    const more = nextDone(b.app, thread.id);
    await call('chat.continue', { threadId: thread.id, messageId: reply.id });
    const continued = await more;
    expect(continued.id).toBe(reply.id);
    expect(continued.status).toBe('done');
    expect(continued.content.startsWith(reply.content)).toBe(true);
    expect(continued.content.length).toBeGreaterThan(reply.content.length);
  }
});

test("replies' reasoning sent back: DeepSeek's API every reply's, Kimi's every tool turn's (\".\" for a call without), a llama.cpp-family server the turn's, another hosted API none", async () => {
  const sent: Record<string, (string | undefined)[]> = {};
  const reasoningSent = () => unmarkedMessages(lastMessages as ChatMessage[]).filter((m) => m.role === 'assistant').map((m) => m.reasoning_content);
  for (const kind of ['deepseek', 'kimi', 'openai-server', 'openai'] as const) {
    const thread = await remoteThread(await providerOf(kind));
    // an earlier turn that thought and called a tool; one that called without thinking (another model's,
    // say), then thought; one that thought and did not call
    const add = (m: Omit<Parameters<typeof b.app.store.messages.add>[0], 'threadId'>) => b.app.store.messages.add({ threadId: thread.id, ...m });
    add({ role: 'user', content: 'Weather in Paris?' });
    add({ role: 'assistant', content: '', reasoning: 'I call the tool', status: 'done', finishReason: 'toolCalls', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city": "Paris"}' }] });
    add({ role: 'tool', content: 'Sunny.', toolCallId: 'c1', status: 'done' });
    add({ role: 'assistant', content: 'It is sunny.', reasoning: 'It said sunny', status: 'done', finishReason: 'stop' });
    add({ role: 'user', content: 'And Oslo?' });
    add({ role: 'assistant', content: '', status: 'done', finishReason: 'toolCalls', toolCalls: [{ id: 'c2', name: 'weather', arguments: '{"city": "Oslo"}' }] });
    add({ role: 'tool', content: 'Rain.', toolCallId: 'c2', status: 'done' });
    add({ role: 'assistant', content: 'It rains.', reasoning: 'It said rain', status: 'done', finishReason: 'stop' });
    add({ role: 'user', content: 'Thanks' });
    add({ role: 'assistant', content: 'You are welcome.', reasoning: 'Be polite', status: 'done', finishReason: 'stop' });
    const done = nextDone(b.app, thread.id);
    await call('chat.send', { threadId: thread.id, content: 'And in Rome?' });
    expect((await done).status).toBe('done');
    // what A's engine was given, from what B sent A (A marks a reply's text as data: unmarked here)
    sent[kind] = reasoningSent();
    if (kind !== 'openai-server') continue;
    // the turn's own replies do go to a llama.cpp-family server: a reply that thought, continued
    add({ role: 'user', content: 'And tomorrow?' });
    const cut = add({ role: 'assistant', content: 'Tomorrow', reasoning: 'Check the forecast', status: 'done', finishReason: 'maxTokens' });
    const more = nextDone(b.app, thread.id);
    await call('chat.continue', { threadId: thread.id, messageId: cut.id });
    expect((await more).status).toBe('done');
    sent.continued = reasoningSent();
  }
  // (DeepSeek's "" for the call that did not think reaches A as none: A's own API takes "" as no reasoning;
  // test/providers/client.test.ts shows it sent)
  expect(sent).toEqual({
    deepseek: ['I call the tool', 'It said sunny', undefined, 'It said rain', 'Be polite'],
    kimi: ['I call the tool', 'It said sunny', '.', 'It said rain', undefined],
    'openai-server': [undefined, undefined, undefined, undefined, undefined],
    continued: [undefined, undefined, undefined, undefined, undefined, undefined, 'Check the forecast'],
    openai: [undefined, undefined, undefined, undefined, undefined],
  });
});

test('documents: a chat’s document goes to the remote model as it would to a local one', async () => {
  const text = '# Recipe\n\nMix the flour with water, then bake the quokka bread for twenty minutes.\n';
  const { attachment } = await call('docs.store', { name: 'recipe.md', data: Buffer.from(text).toString('base64') });
  const thread = await remoteThread(await providerOf('openai-server'));
  const done = nextDone(b.app, thread.id);
  await call('chat.send', { threadId: thread.id, content: 'How long does it bake?', documents: [attachment] });
  const reply = await done;
  expect(reply.status).toBe('done');
  // it fits the remote model's context whole, and is the reply's source
  expect(reply.sources).toHaveLength(1);
  expect(reply.sources![0]).toMatchObject({ n: 1, name: 'recipe.md', mode: 'whole' });
  // A was sent it, before the question
  const user = (lastMessages as { role: string; content: unknown }[]).filter((m) => m.role === 'user').pop()!;
  expect(JSON.stringify(user.content)).toMatch(/recipe\.md[^]*quokka bread for twenty minutes[^]*How long does it bake\?/);
});

describe('tools through a remote model', () => {
  beforeAll(async () => {
    await call<ToolsStatusDTO>('tools.servers.save', { config: { transport: 'stdio', name: 'weather', command: process.execPath, args: [WEATHER] } });
    for (let i = 0; i < 300; i++) {
      const s = await call<ToolsStatusDTO>('tools.status');
      if (s.servers.find((x) => x.name === 'weather')?.state === 'ready') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the weather server did not start');
  });

  test.each(['openai-server', 'anthropic'] as const)('%s: the model calls, the user allows, the result goes back, the model answers', async (kind) => {
    const id = await providerOf(kind);
    const assistant = await call('assistants.create', { name: `Forecaster ${kind}`, tools: { builtins: [], servers: ['weather'] } });
    const thread = await remoteThread(id, assistant.id);
    steer = true;
    // room for the call's JSON
    b.setChatDefaults({ maxTokens: 200 });
    const awaiting = new Promise<EventOf<'tools.call'>>((resolve) => {
      const off = b.app.services.subscribe((e, payload) => {
        const p = payload as EventOf<'tools.call'>;
        if (e === 'tools.call' && p.threadId === thread.id && p.call?.state === 'awaiting') {
          off();
          resolve(p);
        }
      });
    });
    const firstDone = nextDone(b.app, thread.id);
    await call('chat.send', { threadId: thread.id, content: 'What is the weather in Paris?' });
    const first = await firstDone;
    expect(first).toMatchObject({ status: 'done', finishReason: 'toolCalls' });
    expect(first.toolCalls).toHaveLength(1);
    expect(first.toolCalls[0].name).toBe('weather__weather');
    const city = JSON.parse(first.toolCalls[0].arguments).city as string;
    expect(['Paris', 'Rome']).toContain(city);
    const asked = (await awaiting).call!;
    steer = false;
    const before = a.status().requests.length;
    await call('tools.decide', { threadId: thread.id, callId: asked.callId, decision: 'once' });
    await b.app.chat.idle();
    const view = await call<{ messages: MessageDTO[] }>('threads.get', { id: thread.id });
    expect(view.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(view.messages[2].content).toBe(`Sunny and 21 degrees in ${city}.`);
    const final = view.messages[3];
    expect(final.status).toBe('done');
    expect(final.metrics!.generatedTokens).toBeGreaterThan(0);
    // the answer went to A with the call and its result: a longer prompt than the first step's
    expect(a.status().requests.length).toBe(before + 1);
    expect(final.metrics!.promptTokens).toBeGreaterThan(first.metrics!.promptTokens);
    // the result went as its text: the data marks the chat service gives the local engine are not sent (main/params/data-text.ts)
    expect((lastMessages as { role: string; content: unknown }[]).find((m) => m.role === 'tool')?.content).toBe(`Sunny and 21 degrees in ${city}.`);
    b.setChatDefaults({ maxTokens: 12 });
  });
});

test('a thread switches to a local model and back; forbidden and removed providers are refused before anything is stored', async () => {
  const id = await providerOf('openai-server');
  const thread = await remoteThread(id);
  let done = nextDone(b.app, thread.id);
  await call('chat.send', { threadId: thread.id, content: 'One' });
  expect((await done).model).toBe(a.modelName);

  // to the local model: the picker loads it and sets the thread's model
  await call('threads.setModel', { id: thread.id, model: b.modelPath });
  await call('models.load', { path: b.modelPath });
  done = nextDone(b.app, thread.id);
  await call('chat.send', { threadId: thread.id, content: 'Two' });
  const local = await done;
  expect(local).toMatchObject({ status: 'done', model: 'tiny' });
  // and back
  const back = await call<ThreadDTO>('threads.setModel', { id: thread.id, model: remoteModelRef(id, a.modelName) });
  expect(back.modelPath).toBe(remoteModelRef(id, a.modelName));
  done = nextDone(b.app, thread.id);
  await call('chat.send', { threadId: thread.id, content: 'Three' });
  expect((await done).model).toBe(a.modelName);
  expect((await call<{ messages: MessageDTO[] }>('threads.get', { id: thread.id })).messages.map((m) => m.model)).toEqual([null, a.modelName, null, 'tiny', null, a.modelName]);

  // remote providers forbidden: the turn is refused, nothing stored; a thread cannot be set to one
  const count = () => (b.app.store.db.prepare('SELECT count(*) FROM messages WHERE thread_id = ?').pluck().get(thread.id) as number);
  const n = count();
  expect((await call<ProvidersStatusDTO>('providers.allow', { allowRemote: false })).allowRemote).toBe(false);
  await expect(call('chat.send', { threadId: thread.id, content: 'Four' })).rejects.toMatchObject({ code: 'remote_forbidden' });
  await expect(call('threads.setModel', { id: thread.id, model: remoteModelRef(id, a.modelName) })).rejects.toMatchObject({ code: 'remote_forbidden' });
  expect(count()).toBe(n);
  await call('providers.allow', { allowRemote: true });

  // a removed provider: its key goes with it, and a turn on it is refused
  await call('providers.delete', { id });
  expect(fs.readFileSync(path.join(b.paths.root, 'provider-secrets.json'), 'utf8')).not.toContain(`provider.${id}.key`);
  await expect(call('chat.send', { threadId: thread.id, content: 'Five' })).rejects.toMatchObject({ code: 'provider_unknown' });
  expect(count()).toBe(n);
  await expect(call('threads.setModel', { id: thread.id, model: 'remote:not a ref' })).rejects.toMatchObject({ code: 'invalid_input' });
});
