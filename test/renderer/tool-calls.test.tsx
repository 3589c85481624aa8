/** @jest-environment jsdom */
/**
 * A turn with tools in the chat (#18): a reply's calls as cards holding their tool messages' results
 * (as text, never HTML), the approval buttons (tools.decide), calls awaiting or running from
 * tools.pending and the tools.call events, the loop's messages from chat.message (and their pieces),
 * the truncation and step-limit notes. Main is the in-memory FakeBridge.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { LiveToolCallDTO, MessageDTO, ToolResultDTO } from '../../main/ipc/contract';
import { startEvents } from '../../renderer/src/app/events';
import { message } from './fake-bridge';
import { renderChat } from './render-chat';

const ARGS = '{"query":"hearth","count":3}';

function turn(result: Partial<ToolResultDTO> & { content?: string } = {}, next: Partial<MessageDTO> | null = { content: 'Found it.' }) {
  const { content = 'three hits', ...tool } = result;
  const user = message({ id: 'u', role: 'user', content: 'Search for hearth' });
  const reply = message({ id: 'r', parentId: 'u', toolCalls: [{ id: 'c1', name: 'web_search', arguments: ARGS }], finishReason: 'toolCalls' });
  const toolMsg = message({
    id: 'tm',
    role: 'tool',
    parentId: 'r',
    content,
    tool: { callId: 'c1', name: 'web_search', arguments: ARGS, source: 'built-in', state: 'done', durationMs: 1234, truncated: null, ...tool },
  });
  return next ? [user, reply, toolMsg, message({ id: 'r2', parentId: 'tm', ...next })] : [user, reply, toolMsg];
}

function awaiting(over: Partial<LiveToolCallDTO> = {}): LiveToolCallDTO {
  return { threadId: 't1', messageId: 'r', callId: 'c1', name: 'web_search', key: 'builtin:web_search', source: 'built-in', arguments: ARGS, state: 'awaiting', decisions: ['once', 'thread', 'always', 'deny'], ...over };
}

const card = (name = 'web_search') => screen.getByRole('group', { name: `Tool call ${name}` });

test('a reply’s call is a card holding the tool message’s result; the tool message is no message of its own', async () => {
  renderChat(turn());
  const log = screen.getByRole('log', { name: 'Messages' });
  // the user's message and the two replies: the tool message shows only in the card
  expect(within(log).getAllByRole('article').map((a) => a.getAttribute('aria-label'))).toEqual(['Your message', 'Reply from Assistant', 'Reply from Assistant']);
  const [first, second] = within(log).getAllByRole('article', { name: 'Reply from Assistant' });
  const c = within(first).getByRole('group', { name: 'Tool call web_search' });
  expect(within(second).queryByRole('group', { name: /^Tool call/ })).toBeNull();
  expect(within(second).getByText('Found it.')).toBeTruthy();
  expect(within(c).getByRole('status', { name: 'web_search: Done' }).textContent).toBe('Done');
  expect(within(c).getByText('built-in')).toBeTruthy();
  expect(within(c).getByText('1.2 s')).toBeTruthy();

  // folded until asked: then the arguments (pretty JSON) and the result
  const toggle = within(c).getByRole('button', { name: 'web_search details' });
  expect(toggle.getAttribute('aria-expanded')).toBe('false');
  expect(within(c).queryByText('three hits')).toBeNull();
  fireEvent.click(toggle);
  expect(toggle.getAttribute('aria-expanded')).toBe('true');
  expect(within(c).getByLabelText('Arguments').textContent).toBe('{\n  "query": "hearth",\n  "count": 3\n}');
  expect(within(c).getByLabelText('Result').textContent).toBe('three hits');
  expect(within(c).queryByRole('note')).toBeNull(); // not truncated
  fireEvent.click(toggle);
  expect(within(c).queryByText('three hits')).toBeNull();
});

test('a tool’s output is shown as text: HTML in it is never markup', () => {
  const evil = '<img src=x onerror=alert(1)> **not bold** <script>alert(2)</script>';
  const { container } = renderChat(turn({ content: evil }));
  fireEvent.click(within(card()).getByRole('button', { name: 'web_search details' }));
  expect(within(card()).getByLabelText('Result').textContent).toBe(evil);
  expect(container.querySelector('img')).toBeNull();
  expect(container.querySelector('script')).toBeNull();
  expect(container.querySelector('.tool-card strong')).toBeNull();
});

test('a truncated result says how much of it the model read', () => {
  renderChat(turn({ truncated: { keptTokens: 2000, totalTokens: 15000 } }));
  fireEvent.click(within(card()).getByRole('button', { name: 'web_search details' }));
  expect(within(card()).getByRole('note').textContent).toBe('truncated: kept 2,000 of 15,000 tokens');
});

test.each([
  ['denied', 'Denied'],
  ['aborted', 'Stopped'],
  ['error', 'Error'],
] as const)('a %s call says %s', (state, label) => {
  renderChat(turn({ state, content: 'why' }, null));
  expect(within(card()).getByRole('status').textContent).toBe(label);
});

test('a call awaiting approval (tools.pending when the chat opens) offers the decisions main allows; a click is tools.decide', async () => {
  const { bridge } = renderChat(turn({}, null).slice(0, 2), {
    'tools.pending': () => [awaiting({ decisions: ['once', 'thread', 'deny'] })],
    'tools.decide': () => ({ ok: true }),
  });
  await waitFor(() => expect(within(card()).getByRole('status').textContent).toBe('Awaiting approval'));
  expect(bridge.callsTo('tools.pending')).toEqual([{ threadId: 't1' }]);
  const approval = within(card()).getByRole('group', { name: 'Run web_search?' });
  expect(within(approval).getAllByRole('button').map((b) => b.textContent)).toEqual(['Allow once', 'Allow for this thread', 'Deny']);
  // what it would run is open
  expect(within(card()).getByLabelText('Arguments').textContent).toContain('"query": "hearth"');
  // the turn runs: the composer offers Stop, the reply's Regenerate waits
  expect(screen.getByRole('button', { name: 'Stop generating' })).toBeTruthy();
  expect((screen.getByRole('button', { name: 'Regenerate reply' }) as HTMLButtonElement).disabled).toBe(true);

  fireEvent.click(within(approval).getByRole('button', { name: 'Allow for this thread' }));
  await waitFor(() => expect(bridge.callsTo('tools.decide')).toEqual([{ threadId: 't1', callId: 'c1', decision: 'thread' }]));
});

test.each([
  ['Allow once', 'once'],
  ['Always allow this tool', 'always'],
  ['Deny', 'deny'],
] as const)('%s decides %s', async (label, decision) => {
  const { bridge } = renderChat(turn({}, null).slice(0, 2), { 'tools.pending': () => [awaiting()], 'tools.decide': () => ({ ok: true }) });
  fireEvent.click(await within(card()).findByRole('button', { name: label }));
  await waitFor(() => expect(bridge.callsTo('tools.decide')).toEqual([{ threadId: 't1', callId: 'c1', decision }]));
  // the buttons wait for main's word (tools.call) after a decision
  expect((within(card()).getByRole('button', { name: label }) as HTMLButtonElement).disabled).toBe(true);
});

test('tools.call and chat.message events: awaiting, running, then the result and the next reply streaming', async () => {
  const [user, reply, toolMsg] = turn({}, null);
  const { bridge, store } = renderChat([user, reply]);
  const stop = startEvents(store.dispatch);
  await waitFor(() => expect(bridge.callsTo('tools.pending')).toHaveLength(1));
  expect(within(card()).getByRole('status').textContent).toBe('Not run');

  act(() => bridge.emit('tools.call', { threadId: 't1', callId: 'c1', call: awaiting() }));
  expect(within(card()).getByRole('status').textContent).toBe('Awaiting approval');
  expect(within(card()).getByRole('button', { name: 'Allow once' })).toBeTruthy();

  act(() => bridge.emit('tools.call', { threadId: 't1', callId: 'c1', call: awaiting({ state: 'running', decisions: [] }) }));
  expect(within(card()).getByRole('status').textContent).toBe('Running…');
  expect(within(card()).queryByRole('button', { name: 'Allow once' })).toBeNull();

  act(() => {
    bridge.emit('tools.call', { threadId: 't1', callId: 'c1', call: null });
    bridge.emit('chat.message', { threadId: 't1', message: toolMsg });
  });
  expect(within(card()).getByRole('status').textContent).toBe('Done');
  expect(store.getState().chat.byThread.t1.ids).toEqual(['u', 'r', 'tm']);

  // the next reply, streaming: its pieces arrive by chat.piece (one of them before chat.message)
  const next = message({ id: 'r2', parentId: 'tm', status: 'streaming' });
  act(() => {
    bridge.emit('chat.piece', { threadId: 't1', messageId: 'r2', content: 'Found ', reasoning: '' });
  });
  await waitFor(() => expect(store.getState().chat.orphans.r2?.content).toBe('Found '));
  act(() => bridge.emit('chat.message', { threadId: 't1', message: next }));
  act(() => bridge.emit('chat.piece', { threadId: 't1', messageId: 'r2', content: 'it.', reasoning: '' }));
  const second = () => within(screen.getByRole('log')).getAllByRole('article', { name: 'Reply from Assistant' })[1];
  await waitFor(() => expect(second().textContent).toContain('Found it.'));
  expect(second().getAttribute('aria-busy')).toBe('true');
  act(() => bridge.emit('chat.done', { threadId: 't1', message: { ...next, status: 'done', content: 'Found it.' } }));
  await waitFor(() => expect(second().getAttribute('aria-busy')).toBeNull());
  expect(store.getState().chat.byThread.t1.ids).toEqual(['u', 'r', 'tm', 'r2']);
  // chat.message again with the same message replaces it without moving the path
  act(() => bridge.emit('chat.message', { threadId: 't1', message: { ...toolMsg, content: 'three hits (again)' } }));
  expect(store.getState().chat.byThread.t1.ids).toEqual(['u', 'r', 'tm', 'r2']);
  expect(store.getState().chat.messages.tm.content).toBe('three hits (again)');
  stop();
});

test('a reply written at the step limit says so and links to Settings → Tools', async () => {
  const u = message({ id: 'u', role: 'user', content: 'Go' });
  const path: MessageDTO[] = [u];
  let parent = 'u';
  for (const step of [1, 2]) {
    const r = message({ id: `r${step}`, parentId: parent, toolCalls: [{ id: 'call_0', name: 'current_time', arguments: '{}' }], finishReason: 'toolCalls' });
    const t = message({ id: `t${step}`, role: 'tool', parentId: r.id, content: `12:0${step}`, tool: { callId: 'call_0', name: 'current_time', arguments: '{}', source: 'built-in', state: 'done', durationMs: 3, truncated: null } });
    path.push(r, t);
    parent = t.id;
  }
  path.push(message({ id: 'r3', parentId: parent, content: 'It is noon.', finishReason: 'toolSteps' }));
  const { store } = renderChat(path);
  const note = screen.getByRole('note', { name: 'Why the reply stopped calling tools' });
  expect(note.textContent).toBe('Stopped calling tools after 3 steps (Settings → Tools)');
  // the same call id in two replies: each card holds its own reply's result
  const cards = screen.getAllByRole('group', { name: 'Tool call current_time' });
  expect(cards).toHaveLength(2);
  cards.forEach((c) => fireEvent.click(within(c).getByRole('button', { name: 'current_time details' })));
  expect(cards.map((c) => within(c).getByLabelText('Result').textContent)).toEqual(['12:01', '12:02']);
  fireEvent.click(within(note).getByRole('button', { name: 'Settings → Tools' }));
  expect(store.getState().ui).toMatchObject({ dialog: 'settings', settingsSection: 'tools' });
});
