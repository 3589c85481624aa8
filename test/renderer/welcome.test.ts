/**
 * The first-run view's slice and listener (renderer/src/features/welcome/) on a real store, with the
 * in-memory FakeBridge standing in for main: showing the view asks for the recommendations and a
 * discovery once (a second view showing meanwhile asks nothing more; a failed one is asked again),
 * and an added file's model is marked as in the library.
 */
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { addDiscovered, welcomeOpened } from '../../renderer/src/features/welcome/welcomeSlice';
import { FakeBridge, ipcError } from './fake-bridge';

const REC = { repo: 'a/b-GGUF', name: 'B', description: 'd', use: 'chat', size: 'small', quant: 'Q4_K_M', parameters: 1e9 };
const FILE = '/home/u/.lmstudio/models/p/r/m.gguf';
const DISCOVERY = {
  models: [{ id: 'x', name: 'p/r/m', size: 10, sha256: null, facts: { architecture: 'llama', name: 'm', fileType: 'Q4_K_M', parameters: 1e9, layers: 2, trainedContext: 2048, hasChatTemplate: true, projector: false }, locations: [{ app: 'lmstudio', path: FILE, name: 'p/r/m', projector: null }], inLibrary: false }],
  skipped: [],
  searched: [],
};
const settle = () => new Promise((r) => setTimeout(r, 0));

test('showing the view asks main once for the recommendations and a discovery; a failed request is asked again when it shows again', async () => {
  let fail = true;
  const bridge = new FakeBridge({
    'hub.recommended': () => {
      if (fail) throw ipcError('internal', 'the recommended models (/x.json) could not be read: it is not JSON');
      return { models: [REC] };
    },
    'library.discover': () => DISCOVERY,
  });
  setBridge(bridge);
  const store = makeStore();
  store.dispatch(welcomeOpened());
  store.dispatch(welcomeOpened());
  await settle();
  expect(bridge.callsTo('hub.recommended')).toHaveLength(1);
  expect(bridge.callsTo('library.discover')).toHaveLength(1);
  expect(store.getState().welcome.recommended).toMatchObject({ status: 'error', error: { message: expect.stringContaining('not JSON') } });
  expect(store.getState().welcome.discovery.status).toBe('ready');

  fail = false;
  store.dispatch(welcomeOpened());
  await settle();
  expect(bridge.callsTo('hub.recommended')).toHaveLength(2);
  expect(bridge.callsTo('library.discover')).toHaveLength(1);
  expect(store.getState().welcome.recommended).toMatchObject({ status: 'ready', models: [REC] });
});

test('an added file marks its model as in the library; a refused one keeps the error with its file', async () => {
  let refuse = false;
  const bridge = new FakeBridge({
    'library.discover': () => DISCOVERY,
    'hub.recommended': () => ({ models: [] }),
    'library.addReference': () => {
      if (refuse) throw ipcError('model_unknown', 'this file was not found by library.discover');
      return { path: FILE, name: 'm', fileSize: 10, origin: 'reference', source: 'lmstudio', missing: false };
    },
  });
  setBridge(bridge);
  const store = makeStore();
  store.dispatch(welcomeOpened());
  await settle();
  refuse = true;
  await store.dispatch(addDiscovered(FILE));
  expect(store.getState().welcome.addError).toMatchObject({ path: FILE, error: { code: 'model_unknown' } });
  expect(store.getState().welcome.discovery.result!.models[0].inLibrary).toBe(false);
  refuse = false;
  await store.dispatch(addDiscovered(FILE));
  expect(bridge.callsTo('library.addReference')).toEqual([{ path: FILE }, { path: FILE }]);
  expect(store.getState().welcome).toMatchObject({ adding: [], addError: null });
  expect(store.getState().welcome.discovery.result!.models[0].inLibrary).toBe(true);
});
