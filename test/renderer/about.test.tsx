/** @jest-environment jsdom */
/**
 * Settings → About's log actions: "Open logs folder" (shown only where main registers it, i.e. the
 * desktop app) and "Copy diagnostics" (main's text onto the clipboard), with their errors inline.
 * Main is the FakeBridge (./fake-bridge); the clipboard is jsdom's missing navigator.clipboard,
 * replaced by a recording double. The real channels are tested in test/logging/engine-logs.test.ts.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { Diagnostics } from '../../main/ipc/contract';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { ipcError } from './fake-bridge';
import { renderApp } from './render-app';

const writeText = jest.fn<Promise<void>, [string]>();
beforeAll(() => {
  Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
});
beforeEach(() => writeText.mockReset().mockResolvedValue(undefined));

const info = (canOpenLogsFolder: boolean) => () => ({
  appVersion: '0.1.0',
  llamaCommit: 'b1234',
  backends: ['CPU'],
  devices: [],
  dataDir: '/data',
  logsDir: '/data/logs',
  canOpenLogsFolder,
});

function diagnostics(): Diagnostics {
  const d = {
    appVersion: '0.1.0', runtime: 'Node 20', platform: 'linux', arch: 'x64', osRelease: 'Linux 6', cpu: 'Test CPU', ramTotal: 2 ** 34,
    llamaCommit: 'b1234', backends: ['CPU'], devices: [], backendChoice: { backend: 'cpu', reason: 'CPU: no GPU backend found' },
    logsDir: '/data/logs', logTail: ['2026-01-01T00:00:00.000Z INFO [main] chat reply', '2026-01-01T00:00:01.000Z INFO [engine] engine host started'],
  };
  return { ...d, text: 'Hearth 0.1.0 (Node 20)\nRecent log (2 lines, info and above):\n…' };
}

async function openAbout(store: ReturnType<typeof renderApp>['store']) {
  act(() => {
    store.dispatch(openDialog({ name: 'settings', section: 'about' }));
  });
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  return within(await within(dialog).findByRole('region', { name: 'Logs' }));
}

test('desktop app: Open logs folder calls main; Copy diagnostics puts main\'s text on the clipboard', async () => {
  const { bridge, store, stop } = renderApp({ 'app.info': info(true), 'app.openLogsFolder': () => ({ ok: true }), 'app.diagnostics': diagnostics });
  const logs = await openAbout(store);
  expect(logs.getByText('/data/logs')).toBeTruthy();

  fireEvent.click(logs.getByRole('button', { name: 'Open logs folder' }));
  await waitFor(() => expect(bridge.callsTo('app.openLogsFolder')).toEqual([{}]));

  fireEvent.click(logs.getByRole('button', { name: 'Copy diagnostics' }));
  await waitFor(() => expect(writeText).toHaveBeenCalledWith(diagnostics().text));
  expect(bridge.callsTo('app.diagnostics')).toHaveLength(1);
  expect((await logs.findByRole('status')).textContent).toBe('Diagnostics copied (with the last 2 log lines).');
  stop();
});

test('browser mode: no Open logs folder (the folder is named instead); failures show as alerts', async () => {
  const { bridge, store, stop } = renderApp({
    'app.info': info(false),
    'app.diagnostics': () => {
      throw ipcError('disconnected', 'connection to Hearth closed');
    },
  });
  const logs = await openAbout(store);
  expect(logs.getByText('/data/logs')).toBeTruthy();
  expect(logs.queryByRole('button', { name: 'Open logs folder' })).toBeNull();

  fireEvent.click(logs.getByRole('button', { name: 'Copy diagnostics' }));
  expect((await logs.findByRole('alert')).textContent).toMatch(/^Could not copy diagnostics: Lost the connection to Hearth/);
  expect(writeText).not.toHaveBeenCalled();
  expect(bridge.callsTo('app.openLogsFolder')).toEqual([]);
  stop();
});

test('a clipboard that refuses and a folder that cannot be opened are reported, not swallowed', async () => {
  writeText.mockRejectedValue(new Error('Write permission denied.'));
  const { store, stop } = renderApp({
    'app.info': info(true),
    'app.diagnostics': diagnostics,
    'app.openLogsFolder': () => {
      throw ipcError('internal', 'could not open the logs folder: no file manager');
    },
  });
  const logs = await openAbout(store);
  fireEvent.click(logs.getByRole('button', { name: 'Copy diagnostics' }));
  expect((await logs.findByRole('alert')).textContent).toContain('Write permission denied.');
  fireEvent.click(logs.getByRole('button', { name: 'Open logs folder' }));
  await waitFor(() => expect(logs.getByRole('alert').textContent).toContain('no file manager'));
  stop();
});
