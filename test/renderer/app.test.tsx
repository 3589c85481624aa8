/** @jest-environment jsdom */
/**
 * The whole <App> and the sidebar in jsdom: thread list order (pinned first), rename, pin,
 * delete with undo, search with snippets that jump to the message, a new chat that uses the only
 * model without asking, the model picker, settings (theme, About), assistants and the shortcut
 * help. Main is replaced by the in-memory FakeBridge from ./fake-bridge (the one allowed test
 * double here; main itself is exercised by the store, engine and e2e suites).
 */
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { Provider } from 'react-redux';
import type { ThreadDTO } from '../../main/ipc/contract';
import { setBridge } from '../../renderer/src/app/bridge';
import { toastAdded } from '../../renderer/src/app/uiSlice';
import { Toasts } from '../../renderer/src/app/Toasts';
import { makeStore } from '../../renderer/src/app/store';
import { fetchSettings } from '../../renderer/src/features/settings/settingsSlice';
import { ContextMeter } from '../../renderer/src/features/models/ModelPicker';
import { Sidebar } from '../../renderer/src/features/threads/Sidebar';
import { threadSelected, threadUpserted, UNDO_MS } from '../../renderer/src/features/threads/threadsSlice';
import { assistant, FakeBridge, ipcError, message, thread } from './fake-bridge';
import { renderApp } from './render-app';

function renderSidebar(threads: ThreadDTO[], handlers: ConstructorParameters<typeof FakeBridge>[0] = {}) {
  const bridge = new FakeBridge(handlers);
  setBridge(bridge);
  const store = makeStore();
  for (const t of threads) store.dispatch(threadUpserted(t));
  render(
    <Provider store={store}>
      <Sidebar />
      <Toasts />
    </Provider>,
  );
  return { bridge, store };
}

const titles = () =>
  within(screen.getByRole('list', { name: 'Chat list' }))
    .getAllByRole('listitem')
    .map((li) => li.querySelector('.thread-title')?.textContent);

describe('sidebar', () => {
  test('pinned chats come first, then the most recent; pinning reorders at once', async () => {
    const { bridge } = renderSidebar(
      [
        thread({ id: 'a', title: 'Alpha', updatedAt: 100 }),
        thread({ id: 'b', title: 'Bravo', updatedAt: 300 }),
        thread({ id: 'c', title: 'Charlie', updatedAt: 200, pinned: true }),
      ],
      { 'threads.pin': (p: { id: string; pinned: boolean }) => thread({ id: p.id, title: 'Alpha', updatedAt: 100, pinned: p.pinned }) },
    );
    expect(screen.getByRole('navigation', { name: 'Chats' })).toBeTruthy();
    expect(titles()).toEqual(['Charlie', 'Bravo', 'Alpha']);
    fireEvent.click(screen.getByRole('link', { name: 'Bravo' }));
    expect(screen.getByRole('link', { name: 'Bravo' }).getAttribute('aria-current')).toBe('page');
    fireEvent.click(screen.getByRole('button', { name: 'Pin Alpha' }));
    expect(titles()).toEqual(['Charlie', 'Alpha', 'Bravo']);
    await waitFor(() => expect(bridge.callsTo('threads.pin')).toEqual([{ id: 'a', pinned: true }]));
    expect(await screen.findByRole('button', { name: 'Unpin Alpha' })).toBeTruthy();
  });

  test('rename edits the title in place', async () => {
    const { bridge } = renderSidebar([thread({ id: 'a', title: 'Alpha' })], {
      'threads.rename': (p: { id: string; title: string }) => thread({ id: p.id, title: p.title }),
    });
    fireEvent.click(screen.getByRole('button', { name: 'Rename Alpha' }));
    const input = screen.getByRole('textbox', { name: 'Chat title' });
    fireEvent.change(input, { target: { value: 'Trip plans' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(await screen.findByRole('link', { name: 'Trip plans' })).toBeTruthy();
    expect(bridge.callsTo('threads.rename')).toEqual([{ id: 'a', title: 'Trip plans' }]);
  });

  test('delete hides the chat at once, Undo brings it back, and main is told only when the toast expires', async () => {
    jest.useFakeTimers();
    try {
      const { bridge, store } = renderSidebar([thread({ id: 'a', title: 'Alpha' }), thread({ id: 'b', title: 'Bravo' })], {
        'threads.delete': () => ({ ok: true }),
      });
      fireEvent.click(screen.getByRole('button', { name: 'Delete Alpha' }), { detail: 1 }); // a mouse click
      expect(titles()).toEqual(['Bravo']);
      const status = screen.getByRole('status');
      expect(within(status).getByText('Deleted “Alpha”')).toBeTruthy();
      fireEvent.click(within(status).getByRole('button', { name: 'Undo' }));
      expect(titles()).toEqual(['Bravo', 'Alpha']);
      expect(within(screen.getByRole('status')).queryByText('Deleted “Alpha”')).toBeNull();
      act(() => void jest.advanceTimersByTime(UNDO_MS * 2));
      expect(bridge.callsTo('threads.delete')).toHaveLength(0);

      fireEvent.click(screen.getByRole('button', { name: 'Delete Alpha' }), { detail: 1 }); // a mouse click
      act(() => void jest.advanceTimersByTime(UNDO_MS - 100));
      expect(bridge.callsTo('threads.delete')).toHaveLength(0);
      await act(async () => void jest.advanceTimersByTime(200));
      expect(bridge.callsTo('threads.delete')).toEqual([{ id: 'a' }]);
      expect(store.getState().threads.entities.a).toBeUndefined();
      expect(within(screen.getByRole('status')).queryByText('Deleted “Alpha”')).toBeNull();
    } finally {
      jest.useRealTimers();
    }
  });

  test('the delete toast names the chat, and its undo window waits while it is hovered or focused', async () => {
    jest.useFakeTimers();
    try {
      const { bridge } = renderSidebar([thread({ id: 'a', title: 'Alpha' }), thread({ id: 'b', title: 'Bravo' })], {
        'threads.delete': () => ({ ok: true }),
      });
      fireEvent.click(screen.getByRole('button', { name: 'Delete Alpha' }), { detail: 1 }); // a mouse click
      const toast = within(screen.getByRole('status')).getByText('Deleted “Alpha”').parentElement!;
      act(() => void jest.advanceTimersByTime(UNDO_MS - 1000));
      // hovered: the window does not run out
      fireEvent.mouseEnter(toast);
      act(() => void jest.advanceTimersByTime(UNDO_MS * 3));
      expect(bridge.callsTo('threads.delete')).toHaveLength(0);
      // focus in it holds it too, after the pointer left
      act(() => within(toast).getByRole('button', { name: 'Undo' }).focus());
      fireEvent.mouseLeave(toast);
      act(() => void jest.advanceTimersByTime(UNDO_MS * 3));
      expect(bridge.callsTo('threads.delete')).toHaveLength(0);
      // neither: the 1 s that was left runs, not a new window
      act(() => within(toast).getByRole('button', { name: 'Undo' }).blur());
      act(() => void jest.advanceTimersByTime(900));
      expect(bridge.callsTo('threads.delete')).toHaveLength(0);
      await act(async () => void jest.advanceTimersByTime(200));
      expect(bridge.callsTo('threads.delete')).toEqual([{ id: 'a' }]);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a held undo toast pushed out by newer toasts lets its window run: the delete is sent (it was held forever)', async () => {
    jest.useFakeTimers();
    try {
      const { bridge, store } = renderSidebar([thread({ id: 'a', title: 'Alpha' }), thread({ id: 'b', title: 'Bravo' })], {
        'threads.delete': () => ({ ok: true }),
      });
      fireEvent.click(screen.getByRole('button', { name: 'Delete Alpha' }), { detail: 1 }); // a mouse click
      fireEvent.mouseEnter(within(screen.getByRole('status')).getByText('Deleted “Alpha”').parentElement!);
      // four newer toasts: uiSlice keeps four, so the held one unmounts with no mouseleave
      act(() => {
        for (let i = 0; i < 4; i++) store.dispatch(toastAdded({ kind: 'info', text: `note ${i}` }));
      });
      expect(within(screen.getByRole('status')).queryByText('Deleted “Alpha”')).toBeNull();
      await act(async () => void jest.advanceTimersByTime(UNDO_MS + 100));
      expect(bridge.callsTo('threads.delete')).toEqual([{ id: 'a' }]);
    } finally {
      jest.useRealTimers();
    }
  });

  test('keyboard: deleting a chat puts focus on Undo; Undo puts it on the chat it brought back', async () => {
    renderSidebar([thread({ id: 'a', title: 'Alpha' }), thread({ id: 'b', title: 'Bravo' })]);
    fireEvent.click(screen.getByRole('button', { name: 'Delete Alpha' }), { detail: 0 }); // Enter or Space on the button
    const undo = within(screen.getByRole('status')).getByRole('button', { name: 'Undo' });
    await waitFor(() => expect(document.activeElement).toBe(undo));
    fireEvent.click(undo);
    await waitFor(() => expect(document.activeElement).toBe(within(screen.getByRole('list', { name: 'Chat list' })).getByRole('link', { name: 'Alpha' })));
  });

  test('search shows snippets with the matches marked; a hit opens the chat at its message', async () => {
    const hitMessage = message({ id: 'm2', threadId: 'b', role: 'assistant', content: 'the quick brown fox' });
    const { bridge, store } = renderSidebar([thread({ id: 'a', title: 'Alpha' }), thread({ id: 'b', title: 'Bravo' })], {
      'search.query': () => ({ hits: [{ threadId: 'b', threadTitle: 'Bravo', messageId: 'm2', snippet: 'the quick brown \u0001fox\u0002' }] }),
      'threads.get': () => ({ thread: thread({ id: 'b', title: 'Bravo' }), messages: [message({ id: 'm1', threadId: 'b', role: 'user', content: 'q' }), hitMessage] }),
    });
    fireEvent.change(screen.getByRole('searchbox', { name: 'Search chats' }), { target: { value: 'fox' } });
    const results = await screen.findByRole('list', { name: 'Search results' });
    expect(screen.queryByRole('list', { name: 'Chat list' })).toBeNull();
    const hit = await within(results).findByRole('button', { name: /Bravo/ });
    expect(hit.querySelector('mark')?.textContent).toBe('fox');
    expect(bridge.callsTo('search.query')).toEqual([{ q: 'fox', limit: 30 }]);
    fireEvent.click(hit);
    await waitFor(() => expect(store.getState().chat.byThread.b?.ids).toEqual(['m1', 'm2']));
    expect(store.getState().threads.selectedId).toBe('b');
    expect(store.getState().chat.jumpTo).toMatchObject({ threadId: 'b', messageId: 'm2' });
    // Escape clears the search and the list comes back
    fireEvent.keyDown(screen.getByRole('searchbox', { name: 'Search chats' }), { key: 'Escape' });
    expect(screen.getByRole('list', { name: 'Chat list' })).toBeTruthy();
  });
});

describe('app', () => {
  test('with exactly one model, a new chat uses it without asking', async () => {
    const created = thread({ id: 'new1', title: '' });
    const { bridge, stop } = renderApp({
      'models.list': () => [{ path: '/data/models/only.gguf', name: 'only.gguf', fileSize: 2 ** 30 }],
      'threads.create': () => created,
      'chat.send': (p: { threadId: string; content: string }) => ({
        userMessage: message({ id: 'u', threadId: p.threadId, role: 'user', content: p.content }),
        reply: message({ id: 'r', threadId: p.threadId, parentId: 'u', status: 'streaming' }),
      }),
    });
    expect(await screen.findByText('only is loaded when you send.')).toBeTruthy();
    const box = screen.getByRole('textbox', { name: 'Message' });
    fireEvent.change(box, { target: { value: 'Hi!' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 'new1', content: 'Hi!' }]));
    expect(bridge.callsTo('threads.create')).toEqual([{ modelPath: '/data/models/only.gguf' }]);
    expect(await screen.findByRole('article', { name: 'Your message' })).toBeTruthy();
    // the streamed reply arrives through events
    act(() => bridge.emit('chat.piece', { threadId: 'new1', messageId: 'r', content: 'Hello **friend**', reasoning: '' }));
    expect(await screen.findByText('friend')).toBeTruthy();
    act(() => bridge.emit('chat.done', { threadId: 'new1', message: message({ id: 'r', threadId: 'new1', parentId: 'u', content: 'Hello **friend**!', status: 'done' }) }));
    expect(await screen.findByRole('button', { name: 'Regenerate reply' })).toBeTruthy();
    stop();
  });

  test('with several models and none loaded, sending asks to pick one', async () => {
    const { bridge, stop } = renderApp({
      'models.list': () => [
        { path: '/m/a.gguf', name: 'a.gguf', fileSize: 1 },
        { path: '/m/b.gguf', name: 'b.gguf', fileSize: 1 },
      ],
    });
    expect(await screen.findByText('Pick a model in the header to start.')).toBeTruthy();
    const box = screen.getByRole('textbox', { name: 'Message' });
    fireEvent.change(box, { target: { value: 'Hi' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect((await screen.findByRole('alert')).textContent).toContain('The model is not loaded — pick one in the header.');
    expect(bridge.callsTo('threads.create')).toHaveLength(0);
    stop();
  });

  test('model picker: load, progress from models.state events, context use', async () => {
    const { bridge, stop } = renderApp({
      'models.list': () => [
        { path: '/m/a.gguf', name: 'a.gguf', fileSize: 2 ** 30 },
        { path: '/m/b.gguf', name: 'b.gguf', fileSize: 2 ** 31 },
      ],
      'models.load': (p: { path: string }) => ({ loaded: { path: p.path, contextSize: 4096, tokensUsed: 0, tokensUsedBy: null }, loading: null, error: null }),
    });
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: 'b · 2.0 GiB' });
    fireEvent.change(select, { target: { value: '/m/b.gguf' } });
    expect(await screen.findByRole('progressbar', { name: 'Loading b' })).toBeTruthy();
    act(() => bridge.emit('models.state', { loaded: null, loading: { path: '/m/b.gguf', progress: 0.5 }, error: null }));
    expect(screen.getByText('50%')).toBeTruthy();
    // the engine holds another chat's 1,024 tokens: the new-chat screen's meter shows its own, none
    act(() => bridge.emit('models.state', { loaded: { path: '/m/b.gguf', contextSize: 4096, tokensUsed: 1024, tokensUsedBy: 'other-thread' }, loading: null, error: null }));
    const meter = screen.getByRole('meter', { name: 'Context used' });
    expect(meter.getAttribute('aria-valuetext')).toBe('0 of 4,096 tokens');
    expect(bridge.callsTo('models.load')).toEqual([{ path: '/m/b.gguf' }]);
    expect(select.value).toBe('/m/b.gguf');
    stop();
  });

  test("a model error shows whole under the header (no tooltip) until dismissed; main's stays dismissed until it changes", async () => {
    const { bridge, stop } = renderApp({
      'models.list': () => [{ path: '/m/broken.gguf', name: 'broken.gguf', fileSize: 10 }],
      'models.load': () => Promise.reject(ipcError('invalid_model', 'not a GGUF file')),
    });
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: /^broken/ });
    fireEvent.change(select, { target: { value: '/m/broken.gguf' } });
    const dismiss = await screen.findByRole('button', { name: 'Dismiss model error' });
    const alert = dismiss.closest('[role="alert"]')!;
    expect(alert.textContent).toBe('broken.gguf: This model file cannot be read — it may be incomplete or not a GGUF model. Pick another one.');
    expect(alert.closest('header')).toBeNull(); // below the header, across the page: not squeezed into it
    expect([alert.getAttribute('title'), alert.querySelector('p')!.getAttribute('title')]).toEqual([null, null]);
    fireEvent.click(dismiss);
    expect(screen.queryByRole('button', { name: 'Dismiss model error' })).toBeNull();
    // main's own error (the engine dropped the model)
    const lost = 'engine_hung: a.gguf did not stop within 10 s of being asked to, so Hearth restarted the engine; the model was unloaded';
    act(() => bridge.emit('models.state', { loaded: null, loading: null, error: lost }));
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss model error' }));
    act(() => bridge.emit('models.state', { loaded: null, loading: null, error: lost }));
    expect(screen.queryByRole('button', { name: 'Dismiss model error' })).toBeNull();
    act(() => bridge.emit('models.state', { loaded: null, loading: null, error: null }));
    act(() => bridge.emit('models.state', { loaded: null, loading: null, error: lost }));
    expect(screen.getByRole('button', { name: 'Dismiss model error' }).closest('[role="alert"]')!.textContent).toBe(lost);
    stop();
  });

  test('settings: theme applies to <html data-theme>, chat defaults save, About lists versions and devices', async () => {
    const { bridge, stop } = renderApp({
      'settings.update': (p: { theme?: 'light' | 'dark' | 'system'; chatDefaults?: object }) => ({ theme: p.theme ?? 'dark', chatDefaults: p.chatDefaults ?? {}, dataDir: '/data' }),
    });
    await waitFor(() => expect(bridge.callsTo('settings.get')).toHaveLength(1));
    fireEvent.keyDown(window, { key: ',', ctrlKey: true });
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    fireEvent.click(within(dialog).getByRole('radio', { name: 'Dark' }));
    expect(document.documentElement.dataset.theme).toBe('dark');
    await waitFor(() => expect(bridge.callsTo('settings.update')).toEqual([{ theme: 'dark' }]));

    fireEvent.click(within(dialog).getByRole('tab', { name: 'Chat defaults' }));
    fireEvent.change(within(dialog).getByRole('spinbutton', { name: 'Temperature' }), { target: { value: '0.6' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save defaults' }));
    await waitFor(() => expect(bridge.callsTo('settings.update')[1]).toEqual({ chatDefaults: { temperature: 0.6 } }));

    fireEvent.click(within(dialog).getByRole('tab', { name: 'Data' }));
    expect((within(dialog).getByRole('textbox', { name: 'Data folder' }) as HTMLInputElement).value).toBe('/data');

    fireEvent.click(within(dialog).getByRole('tab', { name: 'About' }));
    expect(within(dialog).getByRole('tab', { name: 'About' }).getAttribute('aria-selected')).toBe('true');
    const devices = await within(dialog).findByRole('table', { name: 'Devices' });
    expect(devices.textContent).toContain('Test CPU');
    expect(within(dialog).getByRole('list', { name: 'Backends' }).textContent).toContain('CPU');
    expect(dialog.textContent).toContain('b1234');
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
    stop();
  });

  test('chat defaults: what was typed is kept when the settings are fetched again with the same defaults (another setting saved)', async () => {
    const { bridge, store, stop } = renderApp();
    await waitFor(() => expect(bridge.callsTo('settings.get')).toHaveLength(1));
    fireEvent.keyDown(window, { key: ',', ctrlKey: true });
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    fireEvent.click(within(dialog).getByRole('tab', { name: 'Chat defaults' }));
    const temperature = within(dialog).getByRole('spinbutton', { name: 'Temperature' }) as HTMLInputElement;
    fireEvent.change(temperature, { target: { value: '0.6' } });
    // the model for new chats saved meanwhile: main answers with all the settings, the defaults unchanged
    const now = store.getState().settings.settings!;
    act(() => void store.dispatch(fetchSettings.fulfilled({ ...now, chatDefaults: { ...now.chatDefaults } }, 'again')));
    expect(temperature.value).toBe('0.6');
    // defaults that really changed (another window saved them) replace the form
    act(() => void store.dispatch(fetchSettings.fulfilled({ ...now, chatDefaults: { ...now.chatDefaults, temperature: 0.3 } }, 'changed')));
    expect(temperature.value).toBe('0.3');
    stop();
  });

  test('without a model the chat page is the first-run view, until a model arrives (models.changed): then the new-chat screen', async () => {
    const { stop, bridge } = renderApp({ 'hub.recommended': () => ({ models: [] }), 'library.discover': () => ({ models: [], skipped: [], searched: [] }) });
    expect(await screen.findByRole('heading', { name: 'Welcome to Hearth' })).toBeTruthy();
    await waitFor(() => expect(bridge.callsTo('library.discover')).toHaveLength(1));
    expect(await screen.findByText(/No models found in LM Studio, Ollama, Jan and GPT4All folders/)).toBeTruthy();
    act(() => bridge.emit('models.changed', { models: [{ path: '/m/a.gguf', name: 'a.gguf', fileSize: 1 }] }));
    expect(await screen.findByRole('heading', { name: 'New chat' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Welcome to Hearth' })).toBeNull();
    stop();
  });

  test('shortcuts: help dialog lists them; toggle sidebar; new chat; search focus', async () => {
    // a model: the new-chat screen (without one it is the first-run view)
    const { stop, store } = renderApp({ 'models.list': () => [{ path: '/m/a.gguf', name: 'a.gguf', fileSize: 1 }] });
    fireEvent.keyDown(window, { key: '/', ctrlKey: true });
    const help = screen.getByRole('dialog', { name: 'Keyboard shortcuts' });
    const rows = within(help).getAllByRole('row').map((r) => r.textContent);
    expect(rows).toEqual(expect.arrayContaining(['New chatCtrlShiftO', 'Search chatsCtrlK', 'SettingsCtrl,', 'Show or hide the sidebarCtrlB', 'Focus the message boxShiftEsc']));
    fireEvent.click(within(help).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog')).toBeNull();

    fireEvent.keyDown(window, { key: 'b', ctrlKey: true });
    expect(screen.queryByRole('navigation', { name: 'Chats' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Show sidebar' }).getAttribute('aria-expanded')).toBe('false');
    fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    expect(screen.getByRole('navigation', { name: 'Chats' })).toBeTruthy();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('searchbox', { name: 'Search chats' })));
    fireEvent.keyDown(window, { key: 'Escape', shiftKey: true });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('textbox', { name: 'Message' })));
    act(() => void store.dispatch(threadSelected('somewhere')));
    fireEvent.keyDown(window, { key: 'O', ctrlKey: true, shiftKey: true });
    expect(store.getState().threads.selectedId).toBeNull();
    expect(screen.getByRole('heading', { name: 'New chat' })).toBeTruthy();
    stop();
  });

  test("the desktop app's Help → Keyboard Shortcuts (an app.menu event) opens the shortcuts dialog", () => {
    const { stop, bridge } = renderApp();
    expect(screen.queryByRole('dialog', { name: 'Keyboard shortcuts' })).toBeNull();
    act(() => bridge.emit('app.menu', { item: 'shortcuts' }));
    expect(screen.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeTruthy();
    stop();
  });

  test("the desktop app's notices (an app.notice event: a link it could not open) show as a message", () => {
    const { stop, bridge } = renderApp();
    const text = 'Hearth could not open the link to example.com in your browser (Failed to open). Use Copy link and open it yourself.';
    act(() => bridge.emit('app.notice', { kind: 'error', text }));
    // in the toasts' live region
    expect(screen.getByText(text).closest('[aria-live="polite"]')).toBeTruthy();
    stop();
  });

  test('assistants: create one, and pick one for the next new chat', async () => {
    const helper = assistant({ id: 'def', name: 'Helper', emoji: '🤖', isDefault: true });
    let list = [helper];
    const { bridge, stop } = renderApp({
      'assistants.list': () => list,
      'assistants.create': (p: { name: string; instructions: string }) => {
        const a = assistant({ id: 'poet', name: p.name, instructions: p.instructions, emoji: '🪶' });
        list = [...list, a];
        return a;
      },
      'models.list': () => [{ path: '/m/a.gguf', name: 'a.gguf', fileSize: 1 }],
      'threads.create': () => thread({ id: 'tp' }),
      'chat.send': () => Promise.reject(Object.assign(new Error('x'), { code: 'engine_crashed' })),
    });
    expect(await screen.findByRole('radio', { name: /Helper/ })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: /Assistants/ }));
    const dialog = screen.getByRole('dialog', { name: 'Assistants' });
    fireEvent.click(within(dialog).getByRole('button', { name: /New assistant/ }));
    fireEvent.change(within(dialog).getByRole('textbox', { name: 'Name' }), { target: { value: 'Poet' } });
    fireEvent.change(within(dialog).getByRole('textbox', { name: 'Instructions' }), { target: { value: 'Answer in verse.' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create assistant' }));
    await waitFor(() => expect(bridge.callsTo('assistants.create')).toHaveLength(1));
    expect(bridge.callsTo('assistants.create')[0]).toMatchObject({ name: 'Poet', instructions: 'Answer in verse.', modelPath: null, sampling: {} });
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Start a chat with it' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect((screen.getByRole('radio', { name: /Poet/ }) as HTMLInputElement).checked).toBe(true);

    const box = screen.getByRole('textbox', { name: 'Message' });
    fireEvent.change(box, { target: { value: 'A poem please' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(bridge.callsTo('threads.create')).toEqual([{ assistantId: 'poet', modelPath: '/m/a.gguf' }]));
    // the send failed after the thread was made: the error and the draft move to that thread
    expect((await screen.findByRole('alert')).textContent).toContain('The engine stopped and restarted — try again.');
    expect((screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement).value).toBe('A poem please');
    stop();
  });
});

describe('context meter', () => {
  test('a conversation one token longer than the context (a reply that ran it full) shows the context full, never more than it holds', () => {
    const { rerender } = render(<ContextMeter used={2049} size={2048} />);
    const meter = screen.getByRole('meter', { name: 'Context used' });
    expect(meter.textContent).toBe('2,048+ / 2,048');
    // ARIA: the value stays within its range
    expect([meter.getAttribute('aria-valuenow'), meter.getAttribute('aria-valuemax')]).toEqual(['2048', '2048']);
    expect(meter.getAttribute('aria-valuetext')).toBe('full: 2,049 tokens of conversation in 2,048');
    expect(meter.getAttribute('title')).toBe('Context full: the conversation is 2,049 tokens, the context 2,048');
    expect(meter.className).toBe('context-meter full');
    rerender(<ContextMeter used={1024} size={2048} />);
    expect(meter.textContent).toBe('1,024 / 2,048');
    expect(meter.getAttribute('aria-valuenow')).toBe('1024');
    expect(meter.getAttribute('aria-valuetext')).toBe('1,024 of 2,048 tokens');
    expect(meter.className).toBe('context-meter');
    // no context size known: no meter (a range of no width)
    rerender(<ContextMeter used={10} size={0} />);
    expect(screen.queryByRole('meter', { name: 'Context used' })).toBeNull();
  });
});
