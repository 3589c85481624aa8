/** @jest-environment jsdom */
/**
 * My models on the FakeBridge (main stands in): a model's paired vision projector shows beside its name;
 * projectors and adapters are listed with what they are and cannot be loaded, and the model picker offers models only.
 */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { pageShown } from '../../renderer/src/app/uiSlice';
import { renderApp } from './render-app';

const facts = { architecture: 'llama', name: 'x', fileType: 'Q8_0', parameters: 7e9, layers: 32, trainedContext: 4096, hasChatTemplate: true, projector: false };

test("a model's vision projector (library.facts) shows beside its name; a model without one shows none", async () => {
  const { store } = renderApp({
    'models.list': () => [
      { path: '/m/vision-Q8_0.gguf', name: 'vision-Q8_0', fileSize: 1e9, origin: 'folder', source: null, missing: false },
      { path: '/m/plain-Q4_0.gguf', name: 'plain-Q4_0', fileSize: 1e9, origin: 'folder', source: null, missing: false },
    ],
    'library.facts': () => [
      { path: '/m/vision-Q8_0.gguf', files: ['/m/vision-Q8_0.gguf'], facts, projector: '/m/mmproj-vision-f16.gguf', error: null },
      { path: '/m/plain-Q4_0.gguf', files: ['/m/plain-Q4_0.gguf'], facts, projector: null, error: null },
    ],
    'library.discover': () => ({ models: [], skipped: [], searched: [] }),
  });
  await act(async () => {
    store.dispatch(pageShown('library'));
  });
  const vision = await screen.findByRole('row', { name: 'vision-Q8_0' });
  await within(vision).findByText('Vision: mmproj-vision-f16.gguf');
  expect(within(screen.getByRole('row', { name: 'plain-Q4_0' })).queryByText(/^Vision:/)).toBeNull();
});

test('projectors and adapters are listed as what they are, without Load; the model picker offers only the models', async () => {
  const entry = (name: string, role: string | null) => ({ path: `/m/${name}.gguf`, name, fileSize: 1e6, origin: 'folder', source: null, missing: false, pooling: 'none', role });
  const { store } = renderApp({
    'models.list': () => [entry('chat', 'model'), entry('mmproj-chat', 'projector'), entry('style-lora', 'lora'), entry('calm-cvec', 'controlVector'), entry('unread', null)],
    'library.facts': () => [],
    'library.discover': () => ({ models: [], skipped: [], searched: [] }),
  });
  const picker = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
  const offered = () => [...picker.querySelectorAll('option')].map((o) => o.textContent ?? '');
  await act(async () => {});
  expect(offered().some((t) => t.includes('chat') && !t.includes('mmproj'))).toBe(true);
  expect(offered().some((t) => /mmproj|lora|cvec/.test(t))).toBe(false);
  expect(offered().some((t) => t.includes('unread'))).toBe(true);
  await act(async () => {
    store.dispatch(pageShown('library'));
  });
  for (const [name, badge] of [['mmproj-chat', 'Vision projector'], ['style-lora', 'LoRA adapter'], ['calm-cvec', 'Control vector']]) {
    const row = await screen.findByRole('row', { name });
    within(row).getByText(badge);
    expect((within(row).getByRole('button', { name: `Load ${name}` }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(row).getByRole('button', { name: `Load settings of ${name}` }) as HTMLButtonElement).disabled).toBe(true);
  }
  const chat = screen.getByRole('row', { name: 'chat' });
  expect((within(chat).getByRole('button', { name: 'Load chat' }) as HTMLButtonElement).disabled).toBe(false);
  expect(within(chat).queryByText(/LoRA adapter|Vision projector|Control vector/)).toBeNull();
});

test('an import shows its progress (library.importProgress) until main answers', async () => {
  let answer: (v: unknown) => void = () => {};
  const { store, bridge } = renderApp({
    'models.list': () => [],
    'library.facts': () => [],
    'library.discover': () => ({ models: [], skipped: [], searched: [] }),
    'library.import': () => new Promise((resolve) => (answer = resolve)),
  });
  await act(async () => {
    store.dispatch(pageShown('library'));
  });
  fireEvent.change(await screen.findByLabelText('Path of a .gguf file'), { target: { value: '/big/model.gguf' } });
  await act(async () => {
    fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  });
  await act(async () => {
    bridge.emit('library.importProgress', { path: '/big/model.gguf', bytes: 3 << 20, total: 12 << 20 });
  });
  const bar = screen.getByRole('progressbar', { name: 'Import progress' });
  expect(bar.getAttribute('value')).toBe(String(3 << 20));
  expect(screen.getByText('3 MiB of 12 MiB')).toBeTruthy();
  await act(async () => {
    answer({ mode: 'copy', path: '/m/model.gguf', files: ['/m/model.gguf'], size: 12 << 20 });
  });
  expect(screen.queryByRole('progressbar', { name: 'Import progress' })).toBeNull();
});
