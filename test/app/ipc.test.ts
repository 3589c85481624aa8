/**
 * window.hearth end to end: the renderer's bridge → the real preload (main/app/preload.ts) → IPC →
 * the real handler registration (main/app/ipc.ts) → real Services. Electron's ipcMain, ipcRenderer,
 * webContents and contextBridge are doubles (no Electron binary can be downloaded here) that pass
 * only what Electron passes: see test/helpers/electron-ipc.ts.
 */
import { registerIpc, invokeFromPage } from '../../main/app/ipc';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from '../../main/app/preload-api';
import { APP_INDEX_URL } from '../../main/app/scheme';
import { menuTemplate, pageMenuActions } from '../../main/app/security';
import { silentLogger } from '../../main/logging';
import { IpcError } from '../../main/ipc/contract';
import type { PreloadApi } from '../../main/ipc/reply';
import { dataPaths } from '../../main/paths';
import { Services } from '../../main/services';
import { BridgeError, call, onEvent, PreloadBridge } from '../../renderer/src/app/bridge';
import { contextBridgeDouble, IpcMainDouble, pageDouble } from '../helpers/electron-ipc';

const FIT_WARNING = 'this model may not fit: 9.1 GiB on a device with 8 GiB free. Load anyway?';

function makeServices() {
  // app.info asks the engine; without one it answers with engineError (no engine runs in this suite)
  const engine = { version: () => Promise.reject(new Error('no engine here')), devices: () => Promise.reject(new Error('no engine here')) };
  const services = new Services({ engine: engine as never, paths: dataPaths('/tmp/hearth-ipc-test'), appVersion: '9.9.9', logger: silentLogger });
  // the guardrail's answer on "warn" (main/models/library.ts), thrown the way the library throws it
  services.register({
    'models.load': () => {
      throw new IpcError('needs_confirmation', FIT_WARNING);
    },
  });
  const calls = jest.spyOn(services, 'call');
  return { services, calls };
}

/** Runs the real preload with the doubles as `electron`; returns what it exposed as window.hearth. */
function runPreload(ipcRenderer: unknown): PreloadApi {
  const { world, contextBridge } = contextBridgeDouble();
  jest.isolateModules(() => {
    jest.doMock('electron', () => ({ contextBridge, ipcRenderer }));
    require('../../main/app/preload');
  });
  jest.dontMock('electron');
  return world.hearth as PreloadApi;
}

const ipcMain = new IpcMainDouble();
const { services, calls } = makeServices();
const appPage = pageDouble(ipcMain, APP_INDEX_URL);
const foreignPages = ['app://evil/index.html', 'app://hearth.evil.com/index.html', 'file:///C:/Program%20Files/Hearth/resources/app.asar/dist/renderer/index.html', 'http://127.0.0.1:1420/index.html'].map((url) => ({
  url,
  page: pageDouble(ipcMain, url),
}));
const stopEvents = registerIpc(ipcMain, services, () => [appPage.webContents, ...foreignPages.map((f) => f.page.webContents)]);
const hearth = runPreload(appPage.ipcRenderer);

beforeAll(() => {
  // the renderer's bridge finds window.hearth as in the Electron window
  (globalThis as { window?: unknown }).window = { hearth };
});
afterAll(() => {
  delete (globalThis as { window?: unknown }).window;
  stopEvents();
});
beforeEach(() => calls.mockClear());

test('needs_confirmation reaches the renderer as a BridgeError with its code', async () => {
  const err = await call('models.load', { path: 'big.gguf', force: false }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BridgeError);
  expect(err).toMatchObject({ code: 'needs_confirmation', message: FIT_WARNING });
  expect(calls).toHaveBeenCalledWith('models.load', { path: 'big.gguf', force: false });
});

test('results, invalid input and unknown channels come back as the same envelope as the WebSocket', async () => {
  const info = await call('app.info', {});
  expect(info).toMatchObject({ appVersion: '9.9.9', llamaCommit: 'unavailable', engineError: 'no engine here' });
  expect(await hearth.invoke('threads.list', { limit: 'lots' })).toEqual({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('limit') } });
  expect(await hearth.invoke('no.such.channel', {})).toEqual({ ok: false, error: { code: 'unknown_channel', message: 'unknown channel no.such.channel' } });
  expect(await hearth.invoke(42 as unknown as string, {})).toEqual({ ok: false, error: { code: 'invalid_input', message: 'channel must be a string' } });
  await expect(call('threads.list', { limit: 0 } as never)).rejects.toMatchObject({ code: 'invalid_input' });
});

test.each(foreignPages.map((f) => [f.url, f]))('a call from %s is refused with forbidden before it reaches the services', async (_url, f) => {
  const api = runPreload(f.page.ipcRenderer);
  await expect(new PreloadBridge(api).invoke('app.info', {})).rejects.toMatchObject({ code: 'forbidden' });
  expect(calls).not.toHaveBeenCalled();
});

test('a destroyed or missing sender frame is refused', async () => {
  const destroyed = {
    get senderFrame(): never {
      throw new Error('Render frame was disposed before WebFrameMain could be accessed');
    },
  };
  expect(await invokeFromPage(services, destroyed as never, 'app.info', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  expect(await invokeFromPage(services, { senderFrame: null }, 'app.info', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  expect(calls).not.toHaveBeenCalled();
});

test("events reach the app's page only, and unsubscribing removes the listener", () => {
  const seen: unknown[] = [];
  const off = onEvent('threads.deleted', (p) => seen.push(p));
  const foreignSeen: unknown[] = [];
  for (const f of foreignPages) f.page.ipcRenderer.on(EVENT_CHANNEL, (_e: unknown, ...a: unknown[]) => foreignSeen.push(a));
  services.emit('threads.deleted', { id: 't1' });
  expect(seen).toEqual([{ id: 't1' }]);
  expect(foreignSeen).toEqual([]);
  expect(appPage.listeners(EVENT_CHANNEL)).toBe(1);
  off();
  expect(appPage.listeners(EVENT_CHANNEL)).toBe(0);
  services.emit('threads.deleted', { id: 't2' });
  expect(seen).toEqual([{ id: 't1' }]);
});

test('Help → Keyboard Shortcuts in the app menu reaches the page as an app.menu event', () => {
  const seen: unknown[] = [];
  const off = onEvent('app.menu', (p) => seen.push(p));
  const help = menuTemplate('linux', pageMenuActions(services)).find((m) => m.role === 'help');
  const item = help?.submenu?.find((m) => m.label === 'Keyboard Shortcuts');
  expect(item?.accelerator).toBe('CmdOrCtrl+/');
  item!.click!();
  expect(seen).toEqual([{ item: 'shortcuts' }]);
  off();
});

test('a failure of the IPC itself (no handler in main) becomes a reply, not a bare rejection', async () => {
  const lonely = pageDouble(new IpcMainDouble(), APP_INDEX_URL);
  expect(await runPreload(lonely.ipcRenderer).invoke('app.info', {})).toEqual({
    ok: false,
    error: { code: 'disconnected', message: `Error invoking remote method '${INVOKE_CHANNEL}': Error: No handler registered for '${INVOKE_CHANNEL}'` },
  });
});

test('control: a handler that throws (what main did before) loses the code across the doubles, as across Electron', async () => {
  const main = new IpcMainDouble();
  main.handle(INVOKE_CHANNEL, async () => {
    throw new IpcError('needs_confirmation', FIT_WARNING);
  });
  const page = pageDouble(main, APP_INDEX_URL);
  // the old preload returned ipcRenderer.invoke's promise as it was
  const rejection = await page.ipcRenderer.invoke(INVOKE_CHANNEL, 'models.load', { path: 'big.gguf' }).catch((e: Error) => e);
  expect(rejection).toBeInstanceOf(Error);
  expect((rejection as Error & { code?: string }).code).toBeUndefined();
  expect((rejection as Error).message).toBe(`Error invoking remote method '${INVOKE_CHANNEL}': Error: ${FIT_WARNING}`);
  // and through the real preload and bridge the code is gone too: only the envelope carries it
  await expect(new PreloadBridge(runPreload(page.ipcRenderer)).invoke('models.load', { path: 'big.gguf' })).rejects.not.toMatchObject({ code: 'needs_confirmation' });
});
