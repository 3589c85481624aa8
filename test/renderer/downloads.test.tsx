/** @jest-environment jsdom */
/**
 * The downloads panel and the hub page's file row on the whole <App> with the FakeBridge standing
 * in for main: cancel is a labelled button apart from the panel's close ×, asks first once bytes are
 * on disk (Keep leaves the download alone), and cancels at once when nothing is downloaded yet.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { DownloadDTO } from '../../main/ipc/contract';
import { setDownloadsOpen } from '../../renderer/src/app/uiSlice';
import { downloadsChanged } from '../../renderer/src/features/downloads/downloadsSlice';
import { showHubRepo } from '../../renderer/src/features/hub/hubSlice';
import { renderApp } from './render-app';

const MiB = 1024 * 1024;
const dl = (over: Partial<DownloadDTO> = {}): DownloadDTO => ({
  id: 'd1', repo: 'bartowski/Tiny-GGUF', revision: 'main', file: 'Tiny-Q8_0.gguf', target: '/m/Tiny-Q8_0.gguf', size: 20 * MiB, sha256: 'a'.repeat(64),
  state: 'downloading', bytes: 12 * MiB, speed: MiB, etaSeconds: 8, error: null, ...over,
});

test('the panel: cancel is a text button that asks first when bytes are on disk; Keep keeps it; the repository shows under the name', async () => {
  const { bridge, store } = renderApp({ 'downloads.cancel': () => ({ ok: true }) });
  act(() => {
    store.dispatch(downloadsChanged({ downloads: [dl()] } as never));
    store.dispatch(setDownloadsOpen(true));
  });
  const panel = screen.getByRole('region', { name: 'Downloads' });
  const row = within(panel).getByRole('listitem');
  expect(row.textContent).toContain('bartowski/Tiny-GGUF');
  const cancel = within(row).getByRole('button', { name: 'Cancel Tiny-Q8_0.gguf' });
  expect(cancel.textContent).toBe('Cancel');
  fireEvent.click(cancel);
  await act(async () => {});
  expect(bridge.callsTo('downloads.cancel')).toEqual([]);
  const ask = within(row).getByRole('group', { name: 'Cancel Tiny-Q8_0.gguf?' });
  expect(ask.textContent).toContain('The 12 MiB downloaded are deleted.');
  expect(document.activeElement).toBe(within(ask).getByRole('button', { name: 'Keep downloading Tiny-Q8_0.gguf' }));
  fireEvent.click(within(ask).getByRole('button', { name: 'Keep downloading Tiny-Q8_0.gguf' }));
  expect(within(row).queryByRole('group')).toBeNull();
  expect(document.activeElement).toBe(within(row).getByRole('button', { name: 'Cancel Tiny-Q8_0.gguf' }));
  fireEvent.click(within(row).getByRole('button', { name: 'Cancel Tiny-Q8_0.gguf' }));
  fireEvent.click(within(row).getByRole('button', { name: 'Cancel download of Tiny-Q8_0.gguf' }));
  await act(async () => {});
  expect(bridge.callsTo('downloads.cancel')).toEqual([{ id: 'd1' }]);
  await waitFor(() => expect(store.getState().downloads.list).toEqual([]));
});

test('the panel: a download with nothing on disk yet is cancelled without a question', async () => {
  const { bridge, store } = renderApp({ 'downloads.cancel': () => ({ ok: true }) });
  act(() => {
    store.dispatch(downloadsChanged({ downloads: [dl({ state: 'queued', bytes: 0 })] } as never));
    store.dispatch(setDownloadsOpen(true));
  });
  fireEvent.click(screen.getByRole('button', { name: 'Cancel Tiny-Q8_0.gguf' }));
  await act(async () => {});
  expect(bridge.callsTo('downloads.cancel')).toEqual([{ id: 'd1' }]);
});

test("the hub page's file row has Pause and Cancel, and Cancel asks the same question", async () => {
  const part = { path: 'Tiny-Q8_0.gguf', size: 20 * MiB, sha256: 'a'.repeat(64) };
  const files = { repo: 'bartowski/Tiny-GGUF', revision: 'main', groups: [{ quant: 'Q8_0', files: [{ name: 'Tiny-Q8_0.gguf', quant: 'Q8_0', size: 20 * MiB, parts: [part], projector: false }] }] };
  const { bridge, store } = renderApp({ 'hub.files': () => files, 'hub.fit': () => new Promise(() => {}), 'downloads.cancel': () => ({ ok: true }) });
  act(() => {
    store.dispatch(showHubRepo('bartowski/Tiny-GGUF'));
    store.dispatch(downloadsChanged({ downloads: [dl()] } as never));
  });
  const row = await screen.findByRole('listitem', { name: 'Tiny-Q8_0.gguf' });
  expect(within(row).getByRole('button', { name: 'Pause Tiny-Q8_0.gguf' })).toBeTruthy();
  fireEvent.click(within(row).getByRole('button', { name: 'Cancel Tiny-Q8_0.gguf' }));
  expect(within(row).getByRole('group', { name: 'Cancel Tiny-Q8_0.gguf?' }).textContent).toContain('The 12 MiB downloaded are deleted.');
  fireEvent.click(within(row).getByRole('button', { name: 'Cancel download of Tiny-Q8_0.gguf' }));
  await waitFor(() => expect(bridge.callsTo('downloads.cancel')).toEqual([{ id: 'd1' }]));
});
