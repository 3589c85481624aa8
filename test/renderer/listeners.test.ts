/**
 * The renderer's listeners (renderer/src/app/listeners.ts) on a real store, with jest's fake timers
 * as the clock and the in-memory FakeBridge standing in for main: the search waits for the typing
 * to pause, and so does the composer's token count; the memory estimate waits for the model settings
 * form to stay still (and the request before is aborted); the hardware page polls usage only while
 * it is on screen.
 */
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { viewHidden, viewShown } from '../../renderer/src/app/uiSlice';
import { POLL_MS } from '../../renderer/src/features/hardware/hardwareSlice';
import { ESTIMATE_DEBOUNCE_MS, selectEstimateKey } from '../../renderer/src/features/modelSettings/listeners';
import { formFromView } from '../../renderer/src/features/modelSettings/loadForm';
import { draftChanged } from '../../renderer/src/features/modelSettings/modelSettingsSlice';
import { fetchModels, modelListReceived, modelStateReceived } from '../../renderer/src/features/models/modelsSlice';
import { SEARCH_DEBOUNCE_MS } from '../../renderer/src/features/search/listeners';
import { queryChanged, searchCleared } from '../../renderer/src/features/search/searchSlice';
import { draftEdited, NEW_CHAT, selectDraftCount } from '../../renderer/src/features/chat/chatSlice';
import { TOKEN_COUNT_DEBOUNCE_MS } from '../../renderer/src/features/chat/listeners';
import { FakeBridge, hardwareInfo, hardwareUsage, ipcError, memoryEstimate, modelSettingsView } from './fake-bridge';

const MODEL = '/m/a.gguf';

/** Runs the timers due in `ms` and the promises they settle. */
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('search', () => {
  test('searches once the query stays still for the debounce, with the last query', async () => {
    const bridge = new FakeBridge({ 'search.query': (p: { q: string }) => ({ hits: [{ threadId: 't1', threadTitle: 'T', messageId: null, snippet: p.q }] }) });
    setBridge(bridge);
    const store = makeStore();
    for (const q of ['z', 'ze', 'zeb', 'zebra']) {
      store.dispatch(queryChanged(q));
      await advance(SEARCH_DEBOUNCE_MS - 50);
    }
    expect(bridge.callsTo('search.query')).toEqual([]);
    await advance(50);
    expect(bridge.callsTo('search.query')).toEqual([{ q: 'zebra', limit: 30 }]);
    expect(store.getState().search).toMatchObject({ status: 'ready', hits: [{ snippet: 'zebra' }] });
  });

  test('a query cleared (or blank) before the debounce asks nothing', async () => {
    const bridge = new FakeBridge({ 'search.query': () => ({ hits: [] }) });
    setBridge(bridge);
    const store = makeStore();
    store.dispatch(queryChanged('zebra'));
    await advance(SEARCH_DEBOUNCE_MS - 1);
    store.dispatch(searchCleared());
    store.dispatch(queryChanged('   '));
    await advance(SEARCH_DEBOUNCE_MS * 5);
    expect(bridge.callsTo('search.query')).toEqual([]);
    expect(store.getState().search.status).toBe('idle');
  });
});

describe('model settings', () => {
  async function modelsPage(handlers: ConstructorParameters<typeof FakeBridge>[0] = {}) {
    const bridge = new FakeBridge({
      'models.list': () => [{ path: MODEL, name: 'a', fileSize: 4e9 }],
      'models.settings.get': () => modelSettingsView(),
      'models.estimate': (p: { settings: object }) => memoryEstimate(p.settings as never),
      ...handlers,
    });
    setBridge(bridge);
    const store = makeStore();
    await store.dispatch(fetchModels());
    store.dispatch(viewShown('modelSettings'));
    await advance(0);
    return { bridge, store };
  }

  test('on screen: the first model is chosen and its settings read; the estimate follows the form after the debounce', async () => {
    const { bridge, store } = await modelsPage();
    expect(store.getState().modelSettings.path).toBe(MODEL);
    expect(bridge.callsTo('models.settings.get')).toEqual([{ path: MODEL }]);
    expect(store.getState().modelSettings.draft).toEqual(formFromView(modelSettingsView()));
    expect(bridge.callsTo('models.estimate')).toEqual([]);
    await advance(ESTIMATE_DEBOUNCE_MS);
    expect(bridge.callsTo('models.estimate')).toEqual([{ path: MODEL, settings: expect.objectContaining({ gpuLayers: 'auto', contextSize: 4096 }) }]);

    // the slider moves: nothing until it stays still, then one estimate for where it stopped
    for (const n of [30, 20, 10]) {
      store.dispatch(draftChanged({ gpuMode: 'layers', gpuLayers: n }));
      await advance(ESTIMATE_DEBOUNCE_MS - 10);
    }
    expect(bridge.callsTo('models.estimate')).toHaveLength(1);
    await advance(10);
    expect(bridge.callsTo('models.estimate').map((c) => c.settings.gpuLayers)).toEqual(['auto', 10]);
    expect(store.getState().modelSettings.estimate.data?.gpuLayers).toBe(10);

    // a form that does not parse asks nothing; the same settings again ask nothing either
    store.dispatch(draftChanged({ contextSize: 'many' }));
    await advance(ESTIMATE_DEBOUNCE_MS * 2);
    store.dispatch(draftChanged({ contextSize: '4096' }));
    const key = selectEstimateKey(store.getState());
    store.dispatch(draftChanged({ contextSize: '4096' }));
    expect(selectEstimateKey(store.getState())).toBe(key);
    await advance(ESTIMATE_DEBOUNCE_MS);
    expect(bridge.callsTo('models.estimate').map((c) => c.settings.gpuLayers)).toEqual(['auto', 10, 10]);
  });

  test('the chosen model leaves the library: the same file in its new folder is chosen, else the first model', async () => {
    const { bridge, store } = await modelsPage();
    expect(store.getState().modelSettings.path).toBe(MODEL);
    const model = (path: string) => ({ ...store.getState().models.list[0], path });
    // the models folder moved: a.gguf is now elsewhere, and read there
    store.dispatch(modelListReceived([model('/other/b.gguf'), model('/moved/a.gguf')]));
    await advance(0);
    expect(store.getState().modelSettings.path).toBe('/moved/a.gguf');
    expect(bridge.callsTo('models.settings.get').map((c) => c.path)).toEqual([MODEL, '/moved/a.gguf']);
    // deleted: the first model
    store.dispatch(modelListReceived([model('/other/b.gguf')]));
    await advance(0);
    expect(store.getState().modelSettings.path).toBe('/other/b.gguf');
    // a list that still has it changes nothing
    store.dispatch(modelListReceived([model('/other/c.gguf'), model('/other/b.gguf')]));
    await advance(0);
    expect(store.getState().modelSettings.path).toBe('/other/b.gguf');
  });

  test('a load changes what the model runs with: its settings are read again, the edits kept, and the estimate asked again', async () => {
    let view = modelSettingsView();
    const { bridge, store } = await modelsPage({ 'models.settings.get': () => view });
    await advance(ESTIMATE_DEBOUNCE_MS);
    store.dispatch(draftChanged({ threads: '4' }));
    await advance(ESTIMATE_DEBOUNCE_MS);
    expect(bridge.callsTo('models.estimate')).toHaveLength(2);
    view = modelSettingsView({ loadedWith: { contextSize: 4096 } });
    store.dispatch(modelStateReceived({ loaded: { path: MODEL, contextSize: 4096, tokensUsed: 0, tokensUsedBy: null, projector: null }, loading: null, error: null }));
    await advance(0);
    expect(bridge.callsTo('models.settings.get')).toHaveLength(2);
    expect(store.getState().modelSettings.view?.loadedWith).toEqual({ contextSize: 4096 });
    expect(store.getState().modelSettings.draft?.threads).toBe('4');
    await advance(ESTIMATE_DEBOUNCE_MS);
    expect(bridge.callsTo('models.estimate')).toHaveLength(3);
  });

  test('off screen: the estimate waiting for the debounce is not asked, and the one in flight is aborted', async () => {
    const pending: ((v: unknown) => void)[] = [];
    const { bridge, store } = await modelsPage({ 'models.estimate': () => new Promise((resolve) => pending.push(resolve)) });
    await advance(ESTIMATE_DEBOUNCE_MS);
    expect(pending).toHaveLength(1);
    expect(store.getState().modelSettings.estimate.pending).toBe(true);
    store.dispatch(viewHidden('modelSettings'));
    await advance(0);
    // aborted: its late answer is dropped
    pending[0](memoryEstimate({ gpuLayers: 'auto' }));
    await advance(0);
    expect(store.getState().modelSettings.estimate.data).toBeNull();

    store.dispatch(viewShown('modelSettings'));
    await advance(0);
    expect(bridge.callsTo('models.settings.get')).toHaveLength(2); // fresh each time the page opens
    store.dispatch(draftChanged({ threads: '2' }));
    await advance(ESTIMATE_DEBOUNCE_MS - 1);
    store.dispatch(viewHidden('modelSettings'));
    await advance(ESTIMATE_DEBOUNCE_MS * 4);
    expect(bridge.callsTo('models.estimate')).toHaveLength(1);
  });
});

describe('token count', () => {
  test("the draft is counted once the typing pauses; estimated when the model cannot count; 0 at once when empty", async () => {
    let fail = false;
    const bridge = new FakeBridge({
      'chat.countTokens': (p: { text: string }) => {
        if (fail) throw ipcError('no_model');
        return { tokens: p.text.split(' ').length };
      },
    });
    setBridge(bridge);
    const store = makeStore();
    for (const text of ['one', 'one two', 'one two three']) {
      store.dispatch(draftEdited({ key: 't1', threadId: 't1', text }));
      await advance(TOKEN_COUNT_DEBOUNCE_MS - 1);
    }
    expect(bridge.callsTo('chat.countTokens')).toEqual([]);
    await advance(1);
    expect(bridge.callsTo('chat.countTokens')).toEqual([{ threadId: 't1', text: 'one two three' }]);
    expect(selectDraftCount(store.getState(), 't1')).toEqual({ tokens: 3, estimated: false });

    fail = true;
    store.dispatch(draftEdited({ key: NEW_CHAT, threadId: null, text: 'twelve chars' }));
    await advance(TOKEN_COUNT_DEBOUNCE_MS);
    expect(bridge.callsTo('chat.countTokens')[1]).toEqual({ text: 'twelve chars' });
    expect(selectDraftCount(store.getState(), NEW_CHAT)).toEqual({ tokens: 3, estimated: true });

    store.dispatch(draftEdited({ key: NEW_CHAT, threadId: null, text: 'more text' }));
    store.dispatch(draftEdited({ key: NEW_CHAT, threadId: null, text: '  ' }));
    expect(selectDraftCount(store.getState(), NEW_CHAT)).toEqual({ tokens: 0, estimated: false });
    await advance(TOKEN_COUNT_DEBOUNCE_MS * 4);
    expect(bridge.callsTo('chat.countTokens')).toHaveLength(2);
  });
});

describe('hardware', () => {
  test('polls usage at once and every POLL_MS while the page is on screen, and never after it left', async () => {
    let i = 0;
    const bridge = new FakeBridge({ 'hardware.info': () => hardwareInfo(), 'hardware.usage': () => hardwareUsage(i++) });
    setBridge(bridge);
    const store = makeStore();
    await advance(POLL_MS * 3);
    expect(bridge.calls).toEqual([]);

    store.dispatch(viewShown('hardware'));
    await advance(0);
    expect(bridge.callsTo('hardware.info')).toHaveLength(1);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(1);
    await advance(POLL_MS * 3);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(4);
    expect(store.getState().hardware.samples).toHaveLength(4);

    // two components show it (React's strict mode mounts twice): hidden once, it is still on screen
    store.dispatch(viewShown('hardware'));
    store.dispatch(viewHidden('hardware'));
    await advance(POLL_MS);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(5);

    store.dispatch(viewHidden('hardware'));
    await advance(POLL_MS * 5);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(5);

    // shown again: fresh charts, one poller (not one per showing)
    store.dispatch(viewShown('hardware'));
    await advance(0);
    expect(store.getState().hardware.samples).toHaveLength(1);
    store.dispatch(viewHidden('hardware'));
    store.dispatch(viewShown('hardware'));
    await advance(0);
    await advance(POLL_MS * 2);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(5 + 2 + 2);
    store.dispatch(viewHidden('hardware'));
    await advance(POLL_MS * 3);
    expect(bridge.callsTo('hardware.usage')).toHaveLength(9);
  });
});
