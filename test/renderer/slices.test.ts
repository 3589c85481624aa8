/** @jest-environment jsdom */
/**
 * Reducers and selectors of the renderer's slices, pure (no bridge): the thread list order, the
 * streaming message lifecycle (pieces, chat.done, stale snapshots, pieces that beat the send's
 * answer), regenerate/edit/alternatives paths, the default model rule, search ordering, errors.
 */
import { describeError, describeMessageError } from '../../renderer/src/app/errors';
import { splitHighlights } from '../../main/ipc/snippet';
import { comboKeys, isSendKey, matches, messageKeys, SHORTCUTS } from '../../renderer/src/app/shortcuts';
import { makeStore, RootState } from '../../renderer/src/app/store';
import { openDialog, requestFocus, toastAdded, toggleSidebar } from '../../renderer/src/app/uiSlice';
import {
  editMessage,
  loadThread,
  MAX_PROBS_REPLIES,
  messageDone,
  piecesApplied,
  regenerate,
  selectIsStreaming,
  selectMessageIds,
  selectProbs,
  sendMessage,
  switchAlternative,
} from '../../renderer/src/features/chat/chatSlice';
import { selectDefaultModelPath } from '../../renderer/src/features/models/modelsSlice';
import { runSearch } from '../../renderer/src/features/search/searchSlice';
import { parseSampling } from '../../renderer/src/features/settings/SamplingFields';
import { selectVisibleThreads, sortThreads, threadRemoved, threadSelected, threadUpserted } from '../../renderer/src/features/threads/threadsSlice';
import { message, settingsDTO, thread } from './fake-bridge';

describe('threads', () => {
  test('pinned first, then most recently updated; archived and pending deletes left out', () => {
    const store = makeStore();
    const a = thread({ id: 'a', updatedAt: 10 });
    const b = thread({ id: 'b', updatedAt: 30 });
    const c = thread({ id: 'c', updatedAt: 5, pinned: true });
    const d = thread({ id: 'd', updatedAt: 50, archived: true });
    const e = thread({ id: 'e', updatedAt: 1, pinned: true });
    for (const t of [a, b, c, d, e]) store.dispatch(threadUpserted(t));
    expect(selectVisibleThreads(store.getState()).map((t) => t.id)).toEqual(['c', 'e', 'b', 'a']);
    store.dispatch({ type: 'threads/hidden', payload: 'b' });
    expect(selectVisibleThreads(store.getState()).map((t) => t.id)).toEqual(['c', 'e', 'a']);
    expect(sortThreads([a, b]).map((t) => t.id)).toEqual(['b', 'a']);
  });

  test('threads.changed upserts; threads.deleted removes and leaves the thread if it was open', () => {
    const store = makeStore();
    store.dispatch(threadUpserted(thread({ id: 'x', title: 'Old' })));
    store.dispatch(threadSelected('x'));
    store.dispatch(threadUpserted(thread({ id: 'x', title: 'New' })));
    expect(store.getState().threads.entities.x?.title).toBe('New');
    store.dispatch(threadRemoved('x'));
    expect(store.getState().threads.entities.x).toBeUndefined();
    expect(store.getState().threads.selectedId).toBeNull();
  });
});

function withThread(ids: ReturnType<typeof message>[]) {
  const store = makeStore();
  store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: ids }, 'r', 't1'));
  return store;
}

describe('chat', () => {
  test('pieces append to the streaming message; chat.done replaces it and later pieces are ignored', () => {
    const user = message({ id: 'u', role: 'user', content: 'hi' });
    const reply = message({ id: 'r', parentId: 'u', status: 'streaming' });
    const store = withThread([user, reply]);
    expect(selectIsStreaming(store.getState(), 't1')).toBe(true);
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: 'Hel', reasoning: 'think' }]));
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: 'lo', reasoning: '' }]));
    expect(store.getState().chat.messages.r.content).toBe('Hello');
    expect(store.getState().chat.messages.r.reasoning).toBe('think');
    const userBefore = store.getState().chat.messages.u;
    const idsBefore = selectMessageIds(store.getState(), 't1');
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: '!', reasoning: '' }]));
    // only the streaming message changes identity: the others and the id list stay as they were
    expect(store.getState().chat.messages.u).toBe(userBefore);
    expect(selectMessageIds(store.getState(), 't1')).toBe(idsBefore);

    const final = { ...reply, content: 'Hello!', status: 'done' as const, metrics: { promptTokens: 5, cachedTokens: 0, generatedTokens: 2, ttftMs: 30, promptTps: 100, genTps: 20, contextSize: 2048 } };
    store.dispatch(messageDone({ threadId: 't1', message: final }));
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: 'late', reasoning: '' }]));
    expect(store.getState().chat.messages.r).toEqual(final);
    expect(selectIsStreaming(store.getState(), 't1')).toBe(false);
  });

  test("pieces that arrive before chat.send's answer are kept and applied to the reply", () => {
    const store = withThread([]);
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r', content: 'Early ', reasoning: '' }]));
    const user = message({ id: 'u', role: 'user', content: 'q', threadId: 't1' });
    const reply = message({ id: 'r', parentId: 'u', status: 'streaming', threadId: 't1' });
    store.dispatch(sendMessage.fulfilled({ threadId: 't1', userMessage: user, reply }, 'req', { threadId: 't1', content: 'q' }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u', 'r']);
    expect(store.getState().chat.messages.r.content).toBe('Early ');
    expect(store.getState().chat.orphans).toEqual({});
  });

  test("a streaming snapshot never overwrites a reply that is already done", () => {
    const reply = message({ id: 'r', status: 'streaming' });
    const store = withThread([reply]);
    store.dispatch(messageDone({ threadId: 't1', message: { ...reply, status: 'done', content: 'final' } }));
    store.dispatch(sendMessage.fulfilled({ threadId: 't1', userMessage: message({ id: 'u', role: 'user' }), reply }, 'req', { threadId: 't1', content: 'x' }));
    expect(store.getState().chat.messages.r.content).toBe('final');
  });

  test('chat.done for a new reply at the end of an open thread appends it', () => {
    const user = message({ id: 'u', role: 'user' });
    const store = withThread([user]);
    store.dispatch(messageDone({ threadId: 't1', message: message({ id: 'other', parentId: 'u' }) }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u', 'other']);
    store.dispatch(messageDone({ threadId: 't1', message: message({ id: 'elsewhere', parentId: 'zzz' }) }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u', 'other']);
  });

  test('regenerate replaces the reply; edit replaces from the edited message on; alternatives replace the path', () => {
    const u1 = message({ id: 'u1', role: 'user' });
    const r1 = message({ id: 'r1', parentId: 'u1' });
    const u2 = message({ id: 'u2', role: 'user', parentId: 'r1' });
    const r2 = message({ id: 'r2', parentId: 'u2' });
    const store = withThread([u1, r1, u2, r2]);
    const r2b = message({ id: 'r2b', parentId: 'u2', status: 'streaming', alternative: { index: 1, count: 2 } });
    store.dispatch(regenerate.fulfilled(r2b, 'q', { threadId: 't1', messageId: 'r2' }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u1', 'r1', 'u2', 'r2b']);

    const u1b = message({ id: 'u1b', role: 'user' });
    const r1b = message({ id: 'r1b', parentId: 'u1b', status: 'streaming' });
    store.dispatch(editMessage.fulfilled({ userMessage: u1b, reply: r1b }, 'q', { threadId: 't1', messageId: 'u1', content: 'x' }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u1b', 'r1b']);

    store.dispatch(switchAlternative.fulfilled({ thread: thread({ id: 't1' }), messages: [u1, r1] }, 'q', { threadId: 't1', messageId: 'u1b', direction: 'prev' }));
    expect(selectMessageIds(store.getState(), 't1')).toEqual(['u1', 'r1']);
  });

  test('token probabilities: kept for the last MAX_PROBS_REPLIES replies only, dropped with a regenerated or edited-away reply', () => {
    const u1 = message({ id: 'u1', role: 'user' });
    const r1 = message({ id: 'r1', parentId: 'u1', status: 'streaming' });
    const store = withThread([u1, r1]);
    const tok = (id: number) => ({ id, text: `t${id}`, logprob: -1, top: [] });
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r1', content: 'a', reasoning: '', probs: [tok(1)] }]));
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r1', content: 'b', reasoning: '', probs: [tok(2)] }]));
    expect(selectProbs(store.getState(), 'r1')?.map((p) => p.id)).toEqual([1, 2]);

    // regenerate drops the replaced reply's
    store.dispatch(regenerate.fulfilled(message({ id: 'r1b', parentId: 'u1', status: 'streaming' }), 'q', { threadId: 't1', messageId: 'r1' }));
    expect(selectProbs(store.getState(), 'r1')).toBeUndefined();
    store.dispatch(piecesApplied([{ threadId: 't1', messageId: 'r1b', content: 'c', reasoning: '', probs: [tok(3)] }]));
    // an edit drops those of the messages it replaces
    store.dispatch(editMessage.fulfilled({ userMessage: message({ id: 'u1c', role: 'user' }), reply: message({ id: 'r1c', parentId: 'u1c', status: 'streaming' }) }, 'q', { threadId: 't1', messageId: 'u1', content: 'x' }));
    expect(selectProbs(store.getState(), 'r1b')).toBeUndefined();

    // the cap: the oldest replies' go first
    const n = MAX_PROBS_REPLIES + 5;
    for (let i = 0; i < n; i++) store.dispatch(piecesApplied([{ threadId: 't1', messageId: `x${i}`, content: '', reasoning: '', probs: [tok(i)] }]));
    expect(Object.keys(store.getState().chat.probs)).toHaveLength(MAX_PROBS_REPLIES);
    expect(selectProbs(store.getState(), 'x0')).toBeUndefined();
    expect(selectProbs(store.getState(), 'x4')).toBeUndefined();
    expect(selectProbs(store.getState(), 'x5')?.map((p) => p.id)).toEqual([5]);
    expect(selectProbs(store.getState(), `x${n - 1}`)?.map((p) => p.id)).toEqual([n - 1]);
  });

  test('a failed send keeps its error per thread (or for the new-chat screen)', () => {
    const store = makeStore();
    store.dispatch(sendMessage.rejected(null, 'q', { threadId: null, content: 'x' }, { code: 'no_model', message: 'm' }));
    expect(store.getState().chat.errors.new).toEqual({ code: 'no_model', message: 'm' });
    store.dispatch(sendMessage.pending('q2', { threadId: null, content: 'x' }));
    expect(store.getState().chat.errors.new).toBeUndefined();
    expect(store.getState().chat.sending.new).toBe(true);
  });
});

describe('models', () => {
  const state = (list: number, loaded: string | null, loading: string | null = null) => {
    const s = makeStore().getState();
    return {
      ...s,
      models: {
        ...s.models,
        list: Array.from({ length: list }, (_, i) => ({ path: `/m/${i}.gguf`, name: `${i}.gguf`, fileSize: 1 })),
        state: { loaded: loaded ? { path: loaded, contextSize: 4096, tokensUsed: 0, tokensUsedBy: null } : null, loading: loading ? { path: loading, progress: 0.5 } : null, error: null },
      },
    } as RootState;
  };
  test('a new chat uses the loaded model, else the only model, else asks', () => {
    expect(selectDefaultModelPath(state(1, null))).toBe('/m/0.gguf');
    expect(selectDefaultModelPath(state(3, null))).toBeNull();
    expect(selectDefaultModelPath(state(3, '/m/2.gguf'))).toBe('/m/2.gguf');
    expect(selectDefaultModelPath(state(3, null, '/m/1.gguf'))).toBe('/m/1.gguf');
    expect(selectDefaultModelPath(state(0, null))).toBeNull();
  });

  test('the default model of the settings starts a new chat when none is loaded, while it is in the list', () => {
    const withDefault = (s: RootState, defaultModel: string | null) => ({ ...s, settings: { ...s.settings, settings: { ...settingsDTO(), defaultModel } } }) as RootState;
    expect(selectDefaultModelPath(withDefault(state(3, null), '/m/2.gguf'))).toBe('/m/2.gguf');
    expect(selectDefaultModelPath(withDefault(state(3, '/m/1.gguf'), '/m/2.gguf'))).toBe('/m/1.gguf');
    expect(selectDefaultModelPath(withDefault(state(3, null), '/m/gone.gguf'))).toBeNull();
    expect(selectDefaultModelPath(withDefault(state(1, null), '/m/gone.gguf'))).toBe('/m/0.gguf');
  });
});

describe('search', () => {
  test('only the newest query’s answer is kept', () => {
    const store = makeStore();
    store.dispatch(runSearch.pending('old', 'a'));
    store.dispatch(runSearch.pending('new', 'ab'));
    store.dispatch(runSearch.fulfilled([{ threadId: 't', threadTitle: 'old', messageId: null, snippet: '' }], 'old', 'a'));
    expect(store.getState().search.status).toBe('loading');
    store.dispatch(runSearch.fulfilled([{ threadId: 't', threadTitle: 'new', messageId: 'm', snippet: '' }], 'new', 'ab'));
    expect(store.getState().search.hits[0].threadTitle).toBe('new');
  });

  test('snippets split into plain and highlighted parts', () => {
    expect(splitHighlights('a \u0001match\u0002 b')).toEqual([
      { text: 'a ', match: false },
      { text: 'match', match: true },
      { text: ' b', match: false },
    ]);
    // a marker without its pair (a snippet cut mid-match) is dropped, not shown
    expect(splitHighlights('cut \u0001mat')).toEqual([{ text: 'cut mat', match: false }]);
  });
});

describe('ui', () => {
  test('sidebar, dialogs, focus requests and toasts', () => {
    const store = makeStore();
    store.dispatch(toggleSidebar());
    expect(store.getState().ui.sidebarOpen).toBe(false);
    store.dispatch(requestFocus('search'));
    expect(store.getState().ui.sidebarOpen).toBe(true);
    expect(store.getState().ui.focus).toEqual({ target: 'search', seq: 1 });
    store.dispatch(openDialog({ name: 'settings', section: 'about' }));
    expect(store.getState().ui).toMatchObject({ dialog: 'settings', settingsSection: 'about' });
    for (let i = 0; i < 6; i++) store.dispatch(toastAdded({ kind: 'info', text: `t${i}` }));
    expect(store.getState().ui.toasts.map((t) => t.text)).toEqual(['t2', 't3', 't4', 't5']);
  });
});

describe('errors, shortcuts, sampling', () => {
  test('error codes become a sentence with a next step', () => {
    expect(describeError({ code: 'no_model', message: '' })).toBe('The model is not loaded — pick one in the header.');
    expect(describeError({ code: 'engine_crashed', message: '' })).toBe('The engine stopped and restarted — try again.');
    expect(describeError({ code: 'context_overflow', message: '' })).toMatch(/new chat/);
    expect(describeError({ code: 'out_of_memory', message: '' })).toMatch(/smaller model/);
    expect(describeError({ code: 'weird', message: 'boom' })).toBe('Something went wrong: boom');
    expect(describeMessageError('engine_crashed: host died')).toBe('The engine stopped and restarted — try again.');
    expect(describeMessageError('engine_hung: the engine host stopped answering for 31 s')).toMatch(/stopped responding, so Hearth restarted it/);
    expect(describeMessageError('tokenizer exploded')).toBe('The reply failed: tokenizer exploded');
    // a template that ran past its deadline: the engine's words name the model and say what to do
    const tmpl = 'the chat template of "bad.gguf" ran for more than 15 s without finishing (…), so Hearth stopped it and restarted the engine. Pick another model: this one cannot be used until its file is replaced';
    expect(describeError({ code: 'template_timeout', message: tmpl })).toMatch(/^The chat template of "bad\.gguf" .*Pick another model.*replaced\.$/);
    expect(describeMessageError(`template_timeout: ${tmpl}`)).toMatch(/^The chat template of "bad\.gguf" .*Pick another model/);
    // a store failure is not the engine being busy, even when its code contains "busy"
    expect(describeMessageError('store_busy: the reply could not be saved (SQLITE_BUSY: database is locked); generation was stopped')).toMatch(/could not save this reply \(its database stayed locked\)/);
    expect(describeMessageError('store_write_failed: the reply could not be saved (SQLITE_FULL: database or disk is full); generation was stopped')).toMatch(/disk may be full/);
  });

  test('shortcuts match Ctrl on Linux/Windows and ⌘ on macOS', () => {
    const newChat = SHORTCUTS.find((s) => s.id === 'newChat')!.combo;
    const ev = { key: 'O', ctrlKey: true, metaKey: false, shiftKey: true, altKey: false };
    expect(matches(newChat, ev, false)).toBe(true);
    expect(matches(newChat, ev, true)).toBe(false);
    expect(matches(newChat, { ...ev, ctrlKey: false, metaKey: true }, true)).toBe(true);
    expect(matches(newChat, { ...ev, shiftKey: false }, false)).toBe(false);
    expect(comboKeys(newChat, false)).toEqual(['Ctrl', 'Shift', 'O']);
    expect(comboKeys(newChat, true)).toEqual(['⌘', '⇧', 'O']);
    expect(new Set(SHORTCUTS.map((s) => s.id))).toEqual(new Set(['newChat', 'search', 'focusComposer', 'toggleSidebar', 'settings', 'help']));
  });

  test('the send key follows "Enter sends": Enter (Shift+Enter a new line), or Ctrl/⌘+Enter (Enter a new line)', () => {
    const key = (over: Partial<KeyboardEvent> = {}) => ({ key: 'Enter', ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, isComposing: false, ...over });
    for (const mac of [false, true]) {
      const mod = mac ? { metaKey: true } : { ctrlKey: true };
      expect(isSendKey(key(), true, mac)).toBe(true);
      expect(isSendKey(key({ shiftKey: true }), true, mac)).toBe(false);
      expect(isSendKey(key(mod), true, mac)).toBe(true);
      expect(isSendKey(key(), false, mac)).toBe(false);
      expect(isSendKey(key(mod), false, mac)).toBe(true);
      expect(isSendKey(key({ ...mod, shiftKey: true }), false, mac)).toBe(false);
      // an input method still composing, another key, Alt: never
      expect(isSendKey(key({ isComposing: true }), true, mac)).toBe(false);
      expect(isSendKey(key({ ...mod, isComposing: true }), false, mac)).toBe(false);
      expect(isSendKey(key({ key: 'a' }), true, mac)).toBe(false);
      expect(isSendKey(key({ altKey: true }), true, mac)).toBe(false);
    }
    // Ctrl on a Mac is not ⌘
    expect(isSendKey(key({ ctrlKey: true }), false, true)).toBe(false);
    expect(messageKeys(true, false)).toEqual({ send: ['Enter'], alsoSend: ['Ctrl', 'Enter'], newLine: ['Shift', 'Enter'] });
    expect(messageKeys(false, false)).toEqual({ send: ['Ctrl', 'Enter'], alsoSend: null, newLine: ['Enter'] });
    expect(messageKeys(false, true).send).toEqual(['⌘', 'Enter']);
  });

  test('sampling fields: blank is unset, out of range is refused', () => {
    expect(parseSampling({ temperature: '0.7', topK: '', seed: '42' })).toEqual({ value: { temperature: 0.7, seed: 42 } });
    expect(parseSampling({ topP: '2' })).toEqual({ error: 'Top P must be between 0 and 1.' });
    expect(parseSampling({ topK: '1.5' })).toEqual({ error: 'Top K must be a whole number between 0 and 1000.' });
  });
});

describe('library facts', () => {
  test('only the latest library.facts answer is kept: an older one arriving after it is dropped', async () => {
    const { setBridge } = await import('../../renderer/src/app/bridge');
    const { makeStore } = await import('../../renderer/src/app/store');
    const { fetchLibraryFacts } = await import('../../renderer/src/features/library/librarySlice');
    const { FakeBridge } = await import('./fake-bridge');
    const answers: ((v: unknown) => void)[] = [];
    setBridge(new FakeBridge({ 'library.facts': () => new Promise((resolve) => answers.push(resolve)) }));
    const store = makeStore();
    const older = store.dispatch(fetchLibraryFacts());
    const newer = store.dispatch(fetchLibraryFacts());
    const entry = (path: string) => ({ path, files: [path], facts: null, projector: null, error: null });
    answers[1]([entry('/m/new.gguf')]);
    await newer;
    answers[0]([entry('/m/old.gguf')]);
    await older;
    expect(Object.keys(store.getState().library.facts)).toEqual(['/m/new.gguf']);
    expect(store.getState().library.factsStatus).toBe('ready');
  });
});
