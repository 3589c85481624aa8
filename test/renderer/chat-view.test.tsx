/** @jest-environment jsdom */
/**
 * Chat components in jsdom: messages with Markdown (table, code with a copy button, KaTeX math,
 * reasoning), per-message re-rendering while streaming, the composer's keys and Stop, the
 * alternatives pager, and inline errors. Main is replaced by the in-memory FakeBridge from
 * ./fake-bridge (the one allowed test double; main itself is covered by its own suites).
 */
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { Profiler } from 'react';
import { Provider } from 'react-redux';
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { loadThread, piecesApplied } from '../../renderer/src/features/chat/chatSlice';
import { MessageItem } from '../../renderer/src/features/chat/MessageItem';
import { UNMEASURED_COUNT } from '../../renderer/src/components/VirtualList';
import { fetchSettings } from '../../renderer/src/features/settings/settingsSlice';
import { FakeBridge, ipcError, message, settingsDTO, thread } from './fake-bridge';
import { POOR_DRAFT_ACCEPTANCE } from '../../main/params';
import { renderChat } from './render-chat';

const writeText = jest.fn<Promise<void>, [string]>();
beforeAll(() => {
  Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
});
beforeEach(() => writeText.mockReset().mockResolvedValue(undefined));

const REPLY = [
  'Here is a table:',
  '',
  '| Name | Value |',
  '|------|-------|',
  '| pi   | 3.14  |',
  '',
  '```python',
  'print("hello")',
  '```',
  '',
  'And math: $E = mc^2$',
].join('\n');

describe('messages', () => {
  test('Markdown: table, highlighted code with a working copy button, math; reasoning folds; metrics shown', async () => {
    const user = message({ id: 'u', role: 'user', content: 'Show me *everything*' });
    const reply = message({
      id: 'r',
      parentId: 'u',
      content: REPLY,
      reasoning: 'The user wants a demo.',
      model: '/data/models/tiny.Q4_K_M.gguf',
      metrics: { promptTokens: 40, cachedTokens: 8, generatedTokens: 12, ttftMs: 120, promptTps: 300, genTps: 30, contextSize: 2048 },
    });
    const { container } = renderChat([user, reply]);
    const log = screen.getByRole('log', { name: 'Messages' });
    const articles = within(log).getAllByRole('article');
    expect(articles).toHaveLength(2);
    // user text is shown as typed, not as Markdown
    expect(within(articles[0]).getByText('Show me *everything*')).toBeTruthy();

    const answer = within(log).getByRole('article', { name: 'Reply from Assistant' });
    const table = within(answer).getByRole('table');
    expect(within(table).getByRole('columnheader', { name: 'Name' })).toBeTruthy();
    expect(within(table).getByRole('cell', { name: '3.14' })).toBeTruthy();
    expect(answer.querySelector('code.language-python .hljs-built_in')?.textContent).toBe('print');
    expect(answer.querySelector('.katex')).not.toBeNull();
    expect(within(answer).getByText('tiny.Q4_K_M')).toBeTruthy();

    fireEvent.click(within(answer).getByRole('button', { name: 'Copy code' }));
    expect(writeText).toHaveBeenCalledWith('print("hello")\n');
    expect(await within(answer).findByText('Copied')).toBeTruthy();

    const toggle = within(answer).getByRole('button', { name: 'Reasoning' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(within(answer).queryByText('The user wants a demo.')).toBeNull();
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(within(answer).getByText('The user wants a demo.')).toBeTruthy();

    expect(within(answer).getByLabelText('Reply metrics').textContent).toBe('12 tokens · 30.0 tok/s · TTFT 120 ms');
    fireEvent.click(within(answer).getByRole('button', { name: 'Copy message' }));
    expect(writeText).toHaveBeenLastCalledWith(REPLY);
    expect(await within(answer).findByRole('button', { name: 'Copied' })).toBeTruthy();
    expect(container.querySelector('script')).toBeNull();
  });

  test('while a reply streams only that message re-renders', () => {
    const store = makeStore();
    setBridge(new FakeBridge());
    const msgs = [
      message({ id: 'u', role: 'user', content: 'hi', threadId: 't1' }),
      message({ id: 'a', parentId: 'u', content: 'older *reply*', threadId: 't1' }),
      message({ id: 'r', parentId: 'a', status: 'streaming', threadId: 't1' }),
    ];
    store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: msgs }, 'q', 't1'));
    const renders: Record<string, number> = {};
    const onRender = (id: string) => (renders[id] = (renders[id] ?? 0) + 1);
    render(
      <Provider store={store}>
        {msgs.map((m) => (
          <Profiler key={m.id} id={m.id} onRender={onRender}>
            <MessageItem id={m.id} />
          </Profiler>
        ))}
      </Provider>,
    );
    for (const k of Object.keys(renders)) delete renders[k];
    act(() => {
      store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: 'Hello', reasoning: '' }]));
    });
    act(() => {
      store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: ' world', reasoning: '' }]));
    });
    expect(renders).toEqual({ r: 2 });
    expect(screen.getByRole('article', { name: 'Reply from Assistant', busy: true }).textContent).toContain('Hello world');
  });

  test('the message list is virtualized: a long thread mounts only a window of messages', () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      message({ id: `x${i}`, role: i % 2 ? 'assistant' : 'user', content: `message ${i}`, parentId: i ? `x${i - 1}` : null }),
    );
    renderChat(many);
    const log = screen.getByRole('log', { name: 'Messages' });
    const mounted = within(log).getAllByRole('article');
    // jsdom has no layout, so the list mounts its last window (the bottom of the chat)
    expect(mounted.length).toBe(UNMEASURED_COUNT);
    expect(mounted[mounted.length - 1].textContent).toContain('message 299');
    expect(within(log).queryByText('message 0')).toBeNull();
  });

  test('a reply written with speculative decoding shows the share of drafted tokens accepted, the counts in its title', () => {
    const metrics = { promptTokens: 40, cachedTokens: 0, generatedTokens: 64, ttftMs: 50, promptTps: 300, genTps: 90, contextSize: 2048, draftTokens: 80, acceptedTokens: 50 };
    renderChat([message({ id: 'u', role: 'user', content: 'q' }), message({ id: 'r', parentId: 'u', content: 'a', metrics })]);
    const note = screen.getByRole('note', { name: 'Reply metrics' });
    expect(note.textContent).toBe('64 tokens · 90.0 tok/s · TTFT 50 ms · draft 62% accepted');
    expect(note.getAttribute('title')).toMatch(/Speculative decoding: 50 of 80 drafted tokens accepted/);
  });

  test('a poor draft acceptance is flagged in the metrics, with what to do beside it; too few drafted tokens to tell, or 10%, are not', () => {
    const metrics = { promptTokens: 40, cachedTokens: 0, generatedTokens: 64, ttftMs: 50, promptTps: 300, genTps: 11, contextSize: 2048, draftTokens: 200, acceptedTokens: 19 };
    renderChat([
      message({ id: 'u', role: 'user', content: 'q' }),
      message({ id: 'r', parentId: 'u', content: 'a', metrics }),
      message({ id: 'u2', parentId: 'r', role: 'user', content: 'q2' }),
      message({ id: 'r2', parentId: 'u2', content: 'b', metrics: { ...metrics, draftTokens: POOR_DRAFT_ACCEPTANCE.minDrafted - 1, acceptedTokens: 0 } }),
      message({ id: 'u3', parentId: 'r2', role: 'user', content: 'q3' }),
      message({ id: 'r3', parentId: 'u3', content: 'c', metrics: { ...metrics, draftTokens: 200, acceptedTokens: 20 } }),
    ]);
    const [poor, few, tenth] = screen.getAllByRole('note', { name: 'Reply metrics' });
    // 9.5% accepted: flagged, and never shown as 10%
    expect(poor.textContent).toBe('64 tokens · 11.0 tok/s · TTFT 50 ms · draft 9% accepted (low: may slow replies)');
    expect(few.textContent).toBe('64 tokens · 11.0 tok/s · TTFT 50 ms · draft 0% accepted');
    expect(tenth.textContent).toBe('64 tokens · 11.0 tok/s · TTFT 50 ms · draft 10% accepted');
    // what to do: shown (not in a tooltip), under the flagged reply alone
    const advice = screen.getAllByRole('note', { name: 'Speculative decoding advice' });
    expect(advice).toHaveLength(1);
    expect(poor.closest('article')!.contains(advice[0])).toBe(true);
    expect(advice[0].textContent).toBe(
      "Few drafted tokens were accepted, so speculative decoding likely costs more time than it saves here: with a draft model, choose one closer to this model (the same family, a smaller size); or set Speculative decoding to Off in the model's settings.",
    );
  });

  test('an errored reply explains itself in words with a next step', () => {
    renderChat([message({ id: 'u', role: 'user', content: 'q' }), message({ id: 'r', parentId: 'u', status: 'error', error: 'engine_crashed' })]);
    expect(screen.getByRole('alert').textContent).toBe('The engine stopped and restarted — try again.');
    expect(screen.getByRole('button', { name: 'Regenerate reply' })).toBeTruthy();
  });
});

describe('why a reply stopped', () => {
  const metrics = { promptTokens: 60, cachedTokens: 0, generatedTokens: 1988, ttftMs: 20, promptTps: 900, genTps: 40, contextSize: 2048 };

  test('a reply that filled the context says so, names the size and opens the model settings', () => {
    const { store } = renderChat([message({ id: 'u', role: 'user', content: 'q' }), message({ id: 'r', parentId: 'u', content: 'long…', finishReason: 'contextFull', metrics })]);
    const note = screen.getByRole('note', { name: 'Why the reply stopped' });
    expect(note.textContent).toBe("Stopped: the context (2,048 tokens) is full — raise Context length in the model's settings or start a new chat. Model settings");
    // nothing to continue into: the context is full
    expect(screen.queryByRole('button', { name: 'Continue reply' })).toBeNull();
    fireEvent.click(within(note).getByRole('button', { name: 'Model settings' }));
    expect(store.getState().ui).toMatchObject({ dialog: 'settings', settingsSection: 'models' });
  });

  test('a reply cut off by an engine restart says so, unlike a stop, and can be continued', () => {
    renderChat([
      message({ id: 'u', role: 'user', content: 'q' }),
      message({ id: 'r', parentId: 'u', content: 'Once upon', status: 'interrupted', finishReason: 'engineRestarted', error: 'engine_crashed: the engine host stopped (signal SIGKILL)' }),
    ]);
    const note = screen.getByRole('note', { name: 'Why the reply stopped' });
    expect(note.textContent).toBe('The engine stopped unexpectedly and was restarted; this reply is incomplete — Continue or Regenerate it.');
    expect(screen.queryByText('Stopped.')).toBeNull();
    expect(screen.getByRole('button', { name: 'Continue reply' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Regenerate reply' })).toBeTruthy();
  });

  test('a reply left streaming when Hearth closed says that, and a stop is a stop', () => {
    renderChat([
      message({ id: 'u', role: 'user', content: 'q' }),
      message({ id: 'r', parentId: 'u', content: 'Once upon', status: 'interrupted', finishReason: null }),
      message({ id: 'u2', parentId: 'r', role: 'user', content: 'again' }),
      message({ id: 'r2', parentId: 'u2', content: 'Twice', status: 'aborted', finishReason: 'aborted' }),
    ]);
    expect(screen.getByRole('note', { name: 'Why the reply stopped' }).textContent).toBe('Hearth closed while this reply was being written; it is incomplete — Continue or Regenerate it.');
    expect(screen.getByText('Stopped.')).toBeTruthy();
  });

  test('a reply cut at the max tokens limit says so and can be continued', async () => {
    const cut = message({ id: 'r', parentId: 'u', content: 'Once upon', finishReason: 'maxTokens', metrics, threadId: 't1' });
    const { bridge, store } = renderChat([message({ id: 'u', role: 'user', content: 'q', threadId: 't1' }), cut], {
      'chat.continue': () => ({ reply: { ...cut, status: 'streaming', finishReason: null } }),
    });
    const note = screen.getByRole('note', { name: 'Why the reply stopped' });
    expect(note.textContent).toMatch(/^Stopped at the max tokens limit — Continue writes more; raise Max tokens for longer replies\./);
    fireEvent.click(within(note).getByRole('button', { name: 'Chat defaults' }));
    expect(store.getState().ui).toMatchObject({ dialog: 'settings', settingsSection: 'chat' });
    fireEvent.click(screen.getByRole('button', { name: 'Continue reply' }));
    await waitFor(() => expect(bridge.callsTo('chat.continue')).toEqual([{ threadId: 't1', messageId: 'r' }]));
  });

  test('Continue: the reply streams again where it is shown (its pieces, even those before the answer, and Stop)', async () => {
    const cut = message({ id: 'r', parentId: 'u', content: 'Once upon', status: 'aborted', finishReason: 'aborted', metrics, threadId: 't1' });
    let answer: (v: unknown) => void = () => undefined;
    const { bridge, store } = renderChat([message({ id: 'u', role: 'user', content: 'q', threadId: 't1' }), cut], {
      'chat.continue': () => new Promise((r) => (answer = r)),
    });
    fireEvent.click(screen.getByRole('button', { name: 'Continue reply' }));
    await waitFor(() => expect(bridge.callsTo('chat.continue')).toHaveLength(1));
    // a piece that beats chat.continue's answer is shown, and the composer offers Stop
    act(() => {
      store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: ' a time', reasoning: '' }]));
    });
    expect(store.getState().chat.messages.r).toMatchObject({ status: 'streaming', content: 'Once upon a time' });
    await screen.findByRole('button', { name: 'Stop generating' });
    act(() => answer({ reply: { ...cut, status: 'streaming', finishReason: null } }));
    await waitFor(() => expect(store.getState().chat.resuming).toEqual({}));
    // the answer (the text as it was when the continue began) does not undo the piece
    expect(store.getState().chat.messages.r).toMatchObject({ status: 'streaming', content: 'Once upon a time' });
  });

  test('a continue the app refuses leaves the reply as it was', async () => {
    const cut = message({ id: 'r', parentId: 'u', content: 'Once upon', status: 'aborted', finishReason: 'aborted', metrics, threadId: 't1' });
    const { store } = renderChat([message({ id: 'u', role: 'user', content: 'q', threadId: 't1' }), cut], {
      'chat.continue': () => {
        throw ipcError('busy', 'a reply is still being written in this chat');
      },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Continue reply' }));
    await waitFor(() => expect(store.getState().chat.errors.t1?.code).toBe('busy'));
    expect(store.getState().chat.messages.r).toMatchObject({ status: 'aborted', finishReason: 'aborted', content: 'Once upon' });
    expect(store.getState().chat.resuming).toEqual({});
  });

  test('a reply that ended by itself, with a stop string, or unknown shows no note', () => {
    renderChat([
      message({ id: 'u', role: 'user', content: 'q' }),
      message({ id: 'a', parentId: 'u', content: 'one', finishReason: 'eos', metrics }),
      message({ id: 'b', parentId: 'a', content: 'two', finishReason: 'stop', metrics }),
      message({ id: 'c', parentId: 'b', content: 'three', finishReason: null, metrics: null }),
    ]);
    expect(screen.queryByRole('note', { name: 'Why the reply stopped' })).toBeNull();
  });
});

describe('composer', () => {
  test('Enter sends, Shift+Enter is left to the textarea (new line); Stop while generating', async () => {
    const user = message({ id: 'u1', role: 'user', content: 'Hello there', threadId: 't1' });
    const reply = message({ id: 'r1', parentId: 'u1', status: 'streaming', threadId: 't1' });
    const { bridge, store } = renderChat([], {
      'chat.send': () => ({ userMessage: user, reply }),
      'chat.stop': () => ({ ok: true }),
    });
    const box = screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: 'Hello there' } });
    expect(await screen.findByText('2 tokens')).toBeTruthy();

    // Shift+Enter: not prevented, so the browser inserts the newline; nothing is sent
    expect(fireEvent.keyDown(box, { key: 'Enter', shiftKey: true })).toBe(true);
    expect(bridge.callsTo('chat.send')).toHaveLength(0);

    // Enter: prevented, and the message is sent
    expect(fireEvent.keyDown(box, { key: 'Enter' })).toBe(false);
    await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 't1', content: 'Hello there' }]));
    expect(box.value).toBe('');
    await screen.findByRole('article', { name: 'Your message' });

    const stop = await screen.findByRole('button', { name: 'Stop generating' });
    expect(screen.queryByRole('button', { name: 'Send message' })).toBeNull();
    fireEvent.click(stop);
    await waitFor(() => expect(bridge.callsTo('chat.stop')).toEqual([{ threadId: 't1' }]));
    // Enter does not send a second message while the reply streams
    fireEvent.change(box, { target: { value: 'again' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(bridge.callsTo('chat.send')).toHaveLength(1);
    expect(store.getState().chat.byThread.t1.ids).toEqual(['u1', 'r1']);
  });

  test('with "Enter sends" off, Enter is a new line and Ctrl+Enter sends; the text size and open reasoning follow the settings', async () => {
    const user = message({ id: 'u1', role: 'user', content: 'Two\nlines', threadId: 't1' });
    const reply = message({ id: 'r1', parentId: 'u1', content: 'Yes.', reasoning: 'Counting lines.', threadId: 't1' });
    const { bridge, store, container } = renderChat([], { 'chat.send': () => ({ userMessage: user, reply }) });
    act(() => void store.dispatch(fetchSettings.fulfilled(settingsDTO({ sendOnEnter: false, fontSize: 18, showReasoning: true }), 's')));
    expect(screen.getByText('Ctrl+Enter to send · Enter for a new line')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Send message' }).getAttribute('title')).toBe('Send (Ctrl+Enter)');
    expect((container.querySelector('main.chat') as HTMLElement).style.fontSize).toBe('18px');

    const box = screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: 'Two\nlines' } });
    // Enter: left to the textarea (a new line); nothing is sent
    expect(fireEvent.keyDown(box, { key: 'Enter' })).toBe(true);
    expect(bridge.callsTo('chat.send')).toHaveLength(0);
    // Ctrl+Enter: prevented, and sent
    expect(fireEvent.keyDown(box, { key: 'Enter', ctrlKey: true })).toBe(false);
    await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 't1', content: 'Two\nlines' }]));

    // the reply's reasoning shows open, and still folds
    const answer = await screen.findByRole('article', { name: 'Reply from Assistant' });
    const toggle = within(answer).getByRole('button', { name: 'Reasoning' });
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(within(answer).getByText('Counting lines.')).toBeTruthy();
    fireEvent.click(toggle);
    expect(within(answer).queryByText('Counting lines.')).toBeNull();
  });

  test('a failed send shows the reason inline and gives the text back', async () => {
    renderChat([], { 'chat.send': () => Promise.reject(ipcError('no_model', 'no model loaded')) });
    const box = screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: 'Will this work?' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The model is not loaded — pick one in the header.');
    expect(box.value).toBe('Will this work?');
    fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('alternatives pager', () => {
  test('< and > call messages.switchAlternative and show the returned path', async () => {
    const u = message({ id: 'u', role: 'user', content: 'Tell a joke', threadId: 't1' });
    const first = message({ id: 'r1', parentId: 'u', content: 'First joke', threadId: 't1', alternative: { index: 0, count: 2 } });
    const second = message({ id: 'r2', parentId: 'u', content: 'Second joke', threadId: 't1', alternative: { index: 1, count: 2 } });
    const { bridge } = renderChat([u, first], {
      'messages.switchAlternative': (p: { messageId: string; direction: string }) => ({
        thread: thread({ id: 't1' }),
        messages: [u, p.direction === 'next' ? second : first],
      }),
    });
    const pager = screen.getByRole('group', { name: 'Alternatives' });
    expect(within(pager).getByText('1 / 2')).toBeTruthy();
    expect((within(pager).getByRole('button', { name: 'Previous alternative' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(pager).getByRole('button', { name: 'Next alternative' }));
    expect(await screen.findByText('Second joke')).toBeTruthy();
    expect(bridge.callsTo('messages.switchAlternative')).toEqual([{ messageId: 'r1', direction: 'next' }]);
    expect(screen.queryByText('First joke')).toBeNull();
    const pager2 = screen.getByRole('group', { name: 'Alternatives' });
    expect(within(pager2).getByText('2 / 2')).toBeTruthy();
    expect((within(pager2).getByRole('button', { name: 'Next alternative' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(pager2).getByRole('button', { name: 'Previous alternative' }));
    expect(await screen.findByText('First joke')).toBeTruthy();
    expect(bridge.callsTo('messages.switchAlternative')[1]).toEqual({ messageId: 'r2', direction: 'prev' });
  });

  test('regenerate and edit call main and show the new reply', async () => {
    const u = message({ id: 'u', role: 'user', content: 'Question', threadId: 't1' });
    const r = message({ id: 'r', parentId: 'u', content: 'Answer', threadId: 't1' });
    const regen = message({ id: 'r2', parentId: 'u', content: 'Better answer', threadId: 't1', alternative: { index: 1, count: 2 } });
    const u2 = message({ id: 'u2', role: 'user', content: 'Edited question', threadId: 't1', alternative: { index: 1, count: 2 } });
    const r3 = message({ id: 'r3', parentId: 'u2', content: 'Edited answer', threadId: 't1' });
    const { bridge } = renderChat([u, r], {
      'chat.regenerate': () => ({ reply: regen }),
      'chat.edit': () => ({ userMessage: u2, reply: r3 }),
    });
    fireEvent.click(screen.getByRole('button', { name: 'Regenerate reply' }));
    expect(await screen.findByText('Better answer')).toBeTruthy();
    expect(bridge.callsTo('chat.regenerate')).toEqual([{ threadId: 't1', messageId: 'r' }]);

    fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));
    const edit = screen.getByRole('textbox', { name: 'Edit message' });
    fireEvent.change(edit, { target: { value: 'Edited question' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save and send' }));
    expect(await screen.findByText('Edited answer')).toBeTruthy();
    expect(bridge.callsTo('chat.edit')).toEqual([{ threadId: 't1', messageId: 'u', content: 'Edited question' }]);
    expect(screen.queryByText('Question')).toBeNull();
  });
});

