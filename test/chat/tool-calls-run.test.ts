/**
 * A reply's calls as the call loop runs them (main/chat/tool-loop.ts runToolCalls), with the app's
 * real parts (composeApp: the store, ToolsService's registry and approvals) and a real MCP server over
 * stdio whose one tool answers after WEATHER_DELAY_MS (test/fixtures/mcp-weather.js): several calls of
 * one reply run at once and are stored in the calls' order, chained after the reply; a call to no such
 * tool, or with arguments that are no JSON object, answers an error without running anything; a stop
 * while calls run ends them aborted, each with its message.
 */
import path from 'path';
import { runToolCalls, withIds } from '../../main/chat/tool-loop';
import { silentLogger } from '../../main/logging';
import type { ToolsStatusDTO } from '../../main/ipc/contract';
import { type ChatApp, useChatApps } from '../helpers/chat';
import { until } from '../helpers/mcp';

jest.setTimeout(60_000);

const WEATHER = path.join(__dirname, '..', 'fixtures', 'mcp-weather.js');
const DELAY_MS = 600;
const { open } = useChatApps((extra) => ({ model: null, ...extra }));

async function withWeather(): Promise<ChatApp> {
  const c = open();
  await c.call<ToolsStatusDTO>('tools.servers.save', { config: { transport: 'stdio', name: 'weather', command: process.execPath, args: [WEATHER], env: { WEATHER_DELAY_MS: String(DELAY_MS) } } });
  await until(() => c.app.tools.status().servers.some((s) => s.state === 'ready'), 20_000);
  await c.call('settings.update', { tools: { ...c.app.tools.settings(), alwaysAllowed: ['mcp:weather:weather'] } });
  return c;
}

/** A thread with a user message and a reply that made `calls`. */
function replyWith(c: ChatApp, calls: { id: string; name: string; arguments: string }[]): { threadId: string; replyId: string } {
  const t = c.app.store.threads.create({});
  c.app.store.messages.add({ threadId: t.id, role: 'user', content: 'Weather?' });
  const reply = c.app.store.messages.add({ threadId: t.id, role: 'assistant', content: '', toolCalls: calls, status: 'done', finishReason: 'toolCalls' });
  return { threadId: t.id, replyId: reply.id };
}

function run(c: ChatApp, ids: { threadId: string; replyId: string }, calls: ReturnType<typeof withIds>, signal: AbortSignal) {
  const added: string[] = [];
  const done = runToolCalls(
    { registry: c.app.tools.registry, approvals: c.app.tools.approvals, settings: () => c.app.tools.settings() },
    {
      ...ids,
      calls,
      offered: c.app.tools.registry.offered({ builtins: [], servers: ['weather'] }),
      signal,
      countTokens: async (t) => Math.ceil(t.length / 4),
      addMessage: (m) => c.app.store.messages.add(m),
      added: (id) => added.push(id),
      logger: silentLogger,
    },
  );
  return { done, added };
}

test('two calls of one reply run at once and are stored in their order, chained after the reply', async () => {
  const c = await withWeather();
  const calls = withIds([
    { id: 'call_0', name: 'weather__weather', arguments: '{"city":"Paris"}' },
    { id: 'call_0', name: 'weather__weather', arguments: '{"city":"Rome"}' },
  ]);
  // a repeated id is made distinct (each tool message answers one call)
  expect(calls[0].id).toBe('call_0');
  expect(calls[1].id).not.toBe('call_0');
  const ids = replyWith(c, calls);
  const t0 = Date.now();
  const { done, added } = run(c, ids, calls, new AbortController().signal);
  const last = await done;
  const ms = Date.now() - t0;
  // each call waits DELAY_MS in the server: one after the other would take twice that
  expect(ms).toBeLessThan(2 * DELAY_MS);
  const path = c.app.store.messages.list(ids.threadId);
  expect(path.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
  expect(path[2]).toMatchObject({ parentId: ids.replyId, toolCallId: calls[0].id, content: 'Sunny and 21 degrees in Paris.' });
  expect(path[3]).toMatchObject({ parentId: path[2].id, toolCallId: calls[1].id, content: 'Sunny and 21 degrees in Rome.' });
  expect(last).toBe(path[3].id);
  expect(added).toEqual([path[2].id, path[3].id]);
});

test('no such tool, and arguments that are no JSON object, answer errors the model reads; nothing runs', async () => {
  const c = await withWeather();
  const calls = withIds([
    { id: 'a', name: 'weather__nope', arguments: '{}' },
    { id: 'b', name: 'weather__weather', arguments: '["Paris"]' },
  ]);
  const ids = replyWith(c, calls);
  const t0 = Date.now();
  await run(c, ids, calls, new AbortController().signal).done;
  expect(Date.now() - t0).toBeLessThan(DELAY_MS);
  const tools = c.app.store.messages.list(ids.threadId).slice(2);
  expect(tools[0].content).toMatch(/^Error: there is no tool named "weather__nope"\. The tools: weather__weather\.$/);
  expect(tools[1].content).toMatch(/^Error: the arguments of weather__weather must be a JSON object/);
  expect(tools.map((m) => (m.toolCalls![0].result as { state: string }).state)).toEqual(['error', 'error']);
});

test('a stop while the calls run ends each one aborted, with its message', async () => {
  const c = await withWeather();
  const calls = withIds([{ id: 'x', name: 'weather__weather', arguments: '{"city":"Paris"}' }]);
  const ids = replyWith(c, calls);
  const abort = new AbortController();
  const { done } = run(c, ids, calls, abort.signal);
  await until(() => c.app.tools.approvals.pending(ids.threadId).some((p) => p.state === 'running'));
  abort.abort();
  const t0 = Date.now();
  await done;
  expect(Date.now() - t0).toBeLessThan(DELAY_MS);
  const tool = c.app.store.messages.list(ids.threadId)[2];
  expect(tool).toMatchObject({ role: 'tool', status: 'aborted', content: 'The call was stopped by the user.' });
  expect(c.app.tools.approvals.pending(ids.threadId)).toEqual([]);
});
