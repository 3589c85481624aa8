/**
 * The hub page's listeners (renderer/src/features/hub/listeners.ts) on a real store, jest's fake
 * timers as the clock and the in-memory FakeBridge standing in for main: the search waits for the
 * fields to stay still; a repository's files are listed when it opens; the fit verdicts are asked
 * one at a time, projectors skipped, and stop when the page leaves; a gated refusal is kept as the
 * file's error. The real main side of hub.fit is test/models/hub-ipc.test.ts's.
 */
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { pageShown } from '../../renderer/src/app/uiSlice';
import { downloadsChanged } from '../../renderer/src/features/downloads/downloadsSlice';
import { downloadHubFile, fitKey, hubAuthorChanged, hubQueryChanged, hubSortChanged, HUB_RESULTS, selectLocalCopy, showHubRepo } from '../../renderer/src/features/hub/hubSlice';
import { HUB_SEARCH_DEBOUNCE_MS } from '../../renderer/src/features/hub/listeners';
import { FakeBridge, ipcError } from './fake-bridge';

const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const part = (path: string, size = 100) => ({ path, size, sha256: 'a'.repeat(64) });
const FILES = {
  repo: 'o/r-GGUF',
  revision: 'main',
  groups: [
    { quant: 'Q4_K_M', files: [{ name: 'r-Q4_K_M.gguf', quant: 'Q4_K_M', size: 100, parts: [part('r-Q4_K_M.gguf')], projector: false }] },
    { quant: 'Q8_0', files: [{ name: 'r-Q8_0.gguf', quant: 'Q8_0', size: 100, parts: [part('r-Q8_0.gguf')], projector: false }] },
    { quant: 'F16', files: [{ name: 'mmproj-r-f16.gguf', quant: 'F16', size: 100, parts: [part('mmproj-r-f16.gguf')], projector: true }] },
  ],
};
const fitOf = (file: string) => ({
  repo: 'o/r-GGUF', revision: 'main', file, name: file, quant: null, size: 100, verdict: 'cpu-only', words: 'CPU only', reason: null,
  gpuLayers: 0, contextSize: 4096, layers: 2, estimate: { devices: [], host: { total: 1, free: 1, model: 1, context: 0, compute: 0, projector: 0 } }, problems: [], fetched: { requests: 1, bytes: 10 },
});

test('the search follows the fields once they stay still; the page asks the first search when it opens', async () => {
  const bridge = new FakeBridge({ 'hub.search': () => ({ models: [] }) });
  setBridge(bridge);
  const store = makeStore();
  store.dispatch(pageShown('hub'));
  await advance(0);
  expect(bridge.callsTo('hub.search')).toEqual([{ sort: 'downloads', limit: HUB_RESULTS }]);
  for (const q of ['l', 'll', 'lla']) {
    store.dispatch(hubQueryChanged(q));
    await advance(HUB_SEARCH_DEBOUNCE_MS - 50);
  }
  store.dispatch(hubAuthorChanged('bartowski'));
  store.dispatch(hubSortChanged('likes'));
  await advance(HUB_SEARCH_DEBOUNCE_MS - 1);
  expect(bridge.callsTo('hub.search')).toHaveLength(1);
  await advance(1);
  expect(bridge.callsTo('hub.search')[1]).toEqual({ query: 'lla', author: 'bartowski', sort: 'likes', limit: HUB_RESULTS });
  expect(store.getState().hub.searchStatus).toBe('ready');
});

test('an opened repository lists its files, then asks a verdict per model file one at a time (no projector); leaving the page stops the asking', async () => {
  let release: (() => void) | null = null;
  const bridge = new FakeBridge({
    'hub.search': () => ({ models: [] }),
    'hub.files': () => FILES,
    'hub.fit': (p: { file: string }) => new Promise((resolve) => (release = () => resolve(fitOf(p.file)))),
  });
  setBridge(bridge);
  const store = makeStore();
  store.dispatch(showHubRepo('o/r-GGUF'));
  await advance(0);
  expect(bridge.callsTo('hub.files')).toEqual([{ repo: 'o/r-GGUF' }]);
  // one at a time: the second is asked only once the first answered
  expect(bridge.callsTo('hub.fit')).toEqual([{ repo: 'o/r-GGUF', revision: 'main', file: 'r-Q4_K_M.gguf' }]);
  expect(store.getState().hub.fits[fitKey('o/r-GGUF', 'main', 'r-Q4_K_M.gguf')]).toEqual({ status: 'checking' });
  // the page leaves while the first runs: nothing more is asked
  store.dispatch(pageShown('chat'));
  release!();
  await advance(0);
  expect(store.getState().hub.fits[fitKey('o/r-GGUF', 'main', 'r-Q4_K_M.gguf')]).toMatchObject({ status: 'ready', fit: { words: 'CPU only' } });
  expect(bridge.callsTo('hub.fit')).toHaveLength(1);
  // back on the page: the rest, projectors aside
  store.dispatch(pageShown('hub'));
  await advance(0);
  expect(bridge.callsTo('hub.fit').map((p) => p.file)).toEqual(['r-Q4_K_M.gguf', 'r-Q8_0.gguf']);
  release!();
  await advance(0);
  expect(bridge.callsTo('hub.fit')).toHaveLength(2);
  expect(bridge.callsTo('hub.files')).toHaveLength(1);
});

test('a gated refusal is the file’s error; a download queues every part and, once done, the file is on this disk', async () => {
  const bridge = new FakeBridge({
    'hub.search': () => ({ models: [] }),
    'hub.files': () => FILES,
    'hub.fit': () => Promise.reject(ipcError('hub_unauthorized', 'the hub answered 401')),
    'downloads.add': (p: { file: string; size: number; repo: string; sha256: string }) => ({ id: 'd1', repo: p.repo, revision: 'main', file: p.file, target: `/m/${p.file}`, size: p.size, sha256: p.sha256, state: 'queued', bytes: 0, speed: 0, etaSeconds: null, error: null }),
  });
  setBridge(bridge);
  const store = makeStore();
  store.dispatch(showHubRepo('o/r-GGUF'));
  await advance(0);
  expect(store.getState().hub.fits[fitKey('o/r-GGUF', 'main', 'r-Q4_K_M.gguf')]).toMatchObject({ status: 'error', error: { code: 'hub_unauthorized' } });
  const file = FILES.groups[1].files[0];
  await store.dispatch(downloadHubFile({ repo: 'o/r-GGUF', revision: 'main', file }));
  expect(bridge.callsTo('downloads.add')).toEqual([{ repo: 'o/r-GGUF', revision: 'main', file: 'r-Q8_0.gguf', sha256: 'a'.repeat(64), size: 100 }]);
  expect(selectLocalCopy(store.getState(), 'o/r-GGUF', 'main', file)).toBeNull();
  store.dispatch(downloadsChanged({ downloads: [], done: { id: 'd1', path: '/m/r-Q8_0.gguf' } }));
  expect(selectLocalCopy(store.getState(), 'o/r-GGUF', 'main', file)).toBe('/m/r-Q8_0.gguf');
});
