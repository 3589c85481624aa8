/**
 * The call loop through the real parts: composeApp over a real store, the real engine host with a
 * generated model whose chat template has tools (the steered one: a call opens with one special token,
 * biased here so the seeded random model calls; see TOOL_CALL_OPEN in test/helpers/models.ts), and a
 * real MCP server over stdio (test/fixtures/mcp-weather.js, built with the official SDK). The bias is
 * not a user setting, so the test adds it where main's requests reach the engine client, to requests
 * that offer tools and let the model call them (`steer`), with the call's closing marker as a stop
 * string and one call per reply (the grammar lets the random model write call after call); it takes it away while a call
 * awaits approval, so the next step answers in text.
 */
import fs from 'fs';
import path from 'path';
import type { EventOf, MessageDTO, ToolsStatusDTO } from '../../main/ipc/contract';
import type { EngineClient } from '../../main/engine/client';
import { toolsTheTemplateTakes } from '../../main/chat/turn-inputs';
import { silentLogger } from '../../main/logging';
import { CHAT_MODEL_ID } from '../../main/models/library';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';
import { makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_TOOLS_STEERED, TOOL_CALL_CLOSE, TOOL_CALL_OPEN_ID } from '../helpers/models';

jest.setTimeout(120_000);

const WEATHER = path.join(__dirname, '..', 'fixtures', 'mcp-weather.js');
const BIAS = [{ token: TOOL_CALL_OPEN_ID, bias: 100 }];

let chat: ChatApp;
/** whether requests that offer tools (toolChoice auto) get the bias */
let steer = true;

function steered(engine: EngineClient): EngineClient {
  const chatFn = engine.chat.bind(engine);
  engine.chat = ((id, req, opts) =>
    chatFn(id, steer && req.tools?.length && req.toolChoice === 'auto' ? { ...req, stop: [TOOL_CALL_CLOSE], parallelToolCalls: false, sampling: { ...req.sampling, logitBias: BIAS } } : req, opts)) as EngineClient['chat'];
  return engine;
}
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

/** The next event of a kind that passes `match`. */
function nextEvent<E extends 'tools.call' | 'chat.message' | 'chat.done'>(event: E, match: (p: EventOf<E>) => boolean): Promise<EventOf<E>> {
  return new Promise((resolve) => {
    const off = chat.app.services.subscribe((e, payload) => {
      if ((e as string) === event && match(payload as EventOf<E>)) {
        off();
        resolve(payload as EventOf<E>);
      }
    });
  });
}

async function untilReady(name: string): Promise<ToolsStatusDTO> {
  for (let i = 0; i < 300; i++) {
    const s = await call<ToolsStatusDTO>('tools.status');
    const server = s.servers.find((x) => x.name === name);
    if (server?.state === 'ready') return s;
    if (server?.state === 'failed') throw new Error(`${name} failed: ${server.error} ${server.stderrTail}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not become ready`);
}

/** A thread whose assistant offers only the weather server's tool. */
async function weatherThread(temporary = false): Promise<string> {
  const a = await call('assistants.create', { name: 'Forecaster', tools: { builtins: [], servers: ['weather'] } });
  return (await call('threads.create', { assistantId: a.id, temporary })).id;
}

beforeAll(async () => {
  chat = chatApp({ model: TINY_TOOLS_STEERED, modelAs: 'tools.gguf', engine: steered(makeEngine()) });
  await call('models.settings.update', { path: chat.modelPath, settings: { contextSize: 2048 } });
  await call('models.load', { path: chat.modelPath });
  const saved = await call<ToolsStatusDTO>('tools.servers.save', { config: { transport: 'stdio', name: 'weather', command: process.execPath, args: [WEATHER] } });
  expect(saved.servers.map((s) => s.name)).toEqual(['weather']);
  const ready = await untilReady('weather');
  expect(ready.tools.map((t) => t.name)).toContain('weather__weather');
});

afterAll(() => chat?.close());

beforeEach(() => {
  steer = true;
  chat.setChatDefaults({ seed: 1, maxTokens: 200 });
});

test('one full loop: the model calls the tool, the user allows it once, the result goes back, the model answers; all stored in order', async () => {
  const threadId = await weatherThread();
  const awaiting = nextEvent('tools.call', (p) => p.threadId === threadId && p.call?.state === 'awaiting');
  const firstDone = nextDone(chat.app, threadId);
  await call('chat.send', { threadId, content: 'What is the weather in Paris?' });
  const reply = await firstDone;
  expect(reply).toMatchObject({ role: 'assistant', status: 'done', finishReason: 'toolCalls' });
  expect(reply.toolCalls).toHaveLength(1);
  expect(reply.toolCalls[0].name).toBe('weather__weather');
  const args = JSON.parse(reply.toolCalls[0].arguments);
  expect(['Paris', 'Rome']).toContain(args.city);

  const asked = (await awaiting).call!;
  expect(asked).toMatchObject({ messageId: reply.id, callId: reply.toolCalls[0].id, key: 'mcp:weather:weather', source: 'weather', decisions: ['once', 'thread', 'always', 'deny'] });
  // a page that opens the chat now sees the call waiting
  expect(await call('tools.pending', { threadId })).toEqual([asked]);

  // the next step: without the bias the model answers in text
  steer = false;
  const toolMessage = nextEvent('chat.message', (p) => p.threadId === threadId && p.message.role === 'tool');
  const nextReply = nextEvent('chat.message', (p) => p.threadId === threadId && p.message.role === 'assistant');
  await call('tools.decide', { threadId, callId: asked.callId, decision: 'once' });
  const tool = (await toolMessage).message;
  expect(tool.content).toBe(`Sunny and 21 degrees in ${args.city}.`);
  expect(tool.tool).toMatchObject({ callId: asked.callId, name: 'weather__weather', source: 'weather', state: 'done', truncated: null });
  const answer = (await nextReply).message;
  expect(answer).toMatchObject({ status: 'streaming', parentId: tool.id });
  const final = await nextDone(chat.app, threadId);
  expect(final.id).toBe(answer.id);
  expect(final.status).toBe('done');
  expect(final.toolCalls).toEqual([]);
  expect(final.metrics!.generatedTokens).toBeGreaterThan(0);
  await chat.app.chat.idle();
  expect(await call('tools.pending', { threadId })).toEqual([]);

  // as stored: user → reply with the call → the tool's answer → the answer
  const view = await call<{ messages: MessageDTO[] }>('threads.get', { id: threadId });
  expect(view.messages.map((m) => [m.role, m.finishReason])).toEqual([['user', null], ['assistant', 'toolCalls'], ['tool', null], ['assistant', final.finishReason]]);
  const rows = chat.app.store.db.prepare('SELECT seq, role, substr(content, 1, 80) AS content, tool_calls, tool_call_id, status, finish_reason FROM messages WHERE thread_id = ? ORDER BY seq').all(threadId) as { role: string; tool_call_id: string | null }[];
  expect(rows.map((r) => r.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  expect(rows[2].tool_call_id).toBe(asked.callId);
  // the loop as the database holds it (the closing note of issue 18 shows it)
  fs.mkdirSync(path.join(REPO_ROOT, 'test-output'), { recursive: true });
  fs.writeFileSync(path.join(REPO_ROOT, 'test-output', 'tool-loop-rows.json'), JSON.stringify(rows, null, 1));
  // "once" is not remembered for the thread (an MCP tool asks every time)
  expect(chat.app.store.toolGrants.list(threadId)).toEqual([]);
  // the answer's prompt held the call and its result (the first reply's prompt and more), the call's part from the cache
  expect(final.metrics!.promptTokens).toBeGreaterThan(reply.metrics!.promptTokens + reply.metrics!.generatedTokens);
  expect(final.metrics!.cachedTokens).toBeGreaterThanOrEqual(reply.metrics!.promptTokens);
});

test('deny is respected: the model is told, and nothing runs', async () => {
  const threadId = await weatherThread();
  const awaiting = nextEvent('tools.call', (p) => p.threadId === threadId && p.call?.state === 'awaiting');
  await call('chat.send', { threadId, content: 'Weather in Rome?' });
  const asked = (await awaiting).call!;
  steer = false;
  const toolMessage = nextEvent('chat.message', (p) => p.threadId === threadId && p.message.role === 'tool');
  await call('tools.decide', { threadId, callId: asked.callId, decision: 'deny' });
  const tool = (await toolMessage).message;
  expect(tool.tool!.state).toBe('denied');
  expect(tool.content).toMatch(/denied/);
  await chat.app.chat.idle();
  // a second decision on the same call is refused
  await expect(call('tools.decide', { threadId, callId: asked.callId, decision: 'once' })).rejects.toMatchObject({ code: 'not_found' });
});

test('"allow for this thread" is remembered: the next call in the thread runs without asking, another thread still asks', async () => {
  const threadId = await weatherThread();
  let awaiting = nextEvent('tools.call', (p) => p.threadId === threadId && p.call?.state === 'awaiting');
  await call('chat.send', { threadId, content: 'Weather?' });
  let asked = (await awaiting).call!;
  steer = false;
  await call('tools.decide', { threadId, callId: asked.callId, decision: 'thread' });
  await chat.app.chat.idle();
  expect(chat.app.store.toolGrants.list(threadId)).toEqual(['mcp:weather:weather']);

  // again in the same thread: it calls, and the call runs at once
  steer = true;
  const events: string[] = [];
  const off = chat.app.services.subscribe((e, p) => {
    if (e === 'tools.call' && (p as EventOf<'tools.call'>).threadId === threadId) events.push((p as EventOf<'tools.call'>).call?.state ?? 'ended');
  });
  const toolMessage = nextEvent('chat.message', (p) => p.threadId === threadId && p.message.role === 'tool');
  await call('chat.send', { threadId, content: 'And tomorrow?' });
  const tool = (await toolMessage).message;
  steer = false;
  expect(tool.tool!.state).toBe('done');
  expect(events).not.toContain('awaiting');
  expect(events).toContain('running');
  await call('chat.stop', { threadId });
  off();

  // another thread asks
  const other = await weatherThread();
  steer = true;
  awaiting = nextEvent('tools.call', (p) => p.threadId === other && p.call?.state === 'awaiting');
  await call('chat.send', { threadId: other, content: 'Weather?' });
  asked = (await awaiting).call!;
  await call('chat.stop', { threadId: other });
  // the stop ended the waiting call: its message says so, and nothing waits
  const view = await call<{ messages: MessageDTO[] }>('threads.get', { id: other });
  expect(view.messages.at(-1)).toMatchObject({ role: 'tool', status: 'aborted', tool: { state: 'aborted', callId: asked.callId } });
  expect(await call('tools.pending', { threadId: other })).toEqual([]);
});

test('the step limit: with the bias kept, the model calls until the last step, which may not call and says so', async () => {
  await call('settings.update', { tools: { ...(await call('settings.get')).tools, maxSteps: 2, alwaysAllowed: ['mcp:weather:weather'] } });
  try {
    const threadId = await weatherThread();
    await call('chat.send', { threadId, content: 'Weather forever' });
    await chat.app.chat.idle();
    const view = await call<{ messages: MessageDTO[] }>('threads.get', { id: threadId });
    expect(view.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    // the last step ran with toolChoice none (and so without the bias): no call; it ended by the max tokens, or says the limit
    const last = view.messages[3];
    expect(last.toolCalls).toEqual([]);
    expect(['toolSteps', 'maxTokens']).toContain(last.finishReason);
  } finally {
    await call('settings.update', { tools: { ...(await call('settings.get')).tools, maxSteps: 10, alwaysAllowed: [] } });
  }
});

test('regenerate after a tool turn re-runs the whole turn from the user message', async () => {
  await call('settings.update', { tools: { ...(await call('settings.get')).tools, alwaysAllowed: ['mcp:weather:weather'] } });
  try {
    const threadId = await weatherThread();
    const toolMessage = nextEvent('chat.message', (p) => p.threadId === threadId && p.message.role === 'tool');
    await call('chat.send', { threadId, content: 'Weather in Paris?' });
    await toolMessage;
    steer = false;
    await chat.app.chat.idle();
    let view = await call<{ messages: MessageDTO[] }>('threads.get', { id: threadId });
    expect(view.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const firstReply = view.messages[1];
    await call('chat.regenerate', { threadId, messageId: view.messages[3].id });
    await chat.app.chat.idle();
    view = await call<{ messages: MessageDTO[] }>('threads.get', { id: threadId });
    // the new version replaces the first reply (an alternative under the user message): without the bias, no call
    expect(view.messages).toHaveLength(2);
    expect(view.messages[1].parentId).toBe(view.messages[0].id);
    expect(view.messages[1].alternative).toEqual({ index: 1, count: 2 });
    expect(view.messages[1].id).not.toBe(firstReply.id);
  } finally {
    await call('settings.update', { tools: { ...(await call('settings.get')).tools, alwaysAllowed: [] } });
  }
});

test("a tool whose arguments' schema llama.cpp cannot make a grammar of is left out (with a warning); the others stay", async () => {
  const good = { type: 'function' as const, function: { name: 'good', description: 'fine', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
  const bad = { type: 'function' as const, function: { name: 'bad', description: 'unresolvable $ref', parameters: { type: 'object', properties: { x: { $ref: '#/definitions/missing' } } } } };
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  // together they fail to render: every reply would fail
  await expect(chat.engine.applyTemplate(CHAT_MODEL_ID, { messages: [{ role: 'user', content: 'x' }], tools: [good, bad], toolChoice: 'auto' })).rejects.toThrow();
  expect(await toolsTheTemplateTakes(chat.engine, [good, bad], logger)).toEqual([good]);
  expect(warnings).toEqual([expect.stringMatching(/^tools: bad is left out: llama\.cpp cannot use its arguments' schema/)]);
  expect(await toolsTheTemplateTakes(chat.engine, [good], logger)).toEqual([good]);
});
