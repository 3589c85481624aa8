/** @jest-environment jsdom */
/**
 * The model settings' adapter lists (LoRA adapters, control vectors: main/params/adapters.ts, kind
 * "adapters"), in jsdom with the FakeBridge standing in for main: the adapters found for the model
 * are offered, a row is added, named and scaled by role and name, a bad scale is said in words, and
 * Save sends the list; a file already listed is not offered again, and one typed in twice is refused
 * in words before anything is sent.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { LoadSettingsDTO, ModelSettingsView } from '../../main/ipc/contract';
import { memoryEstimate, modelSettingsView } from './fake-bridge';
import { renderApp } from './render-app';

const MODEL = '/m/a.gguf';
const FOUND = '/m/adapters/a-lora.gguf';

const info = () => ({
  appVersion: '0.1.0',
  llamaCommit: 'b1234',
  backends: ['CPU'],
  devices: [{ backend: 'CPU', name: 'CPU', description: 'Test CPU', type: 'cpu', memoryTotal: 2 ** 34, memoryFree: 2 ** 33 }],
  dataDir: '/data',
  logsDir: '/data/logs',
  canOpenLogsFolder: false,
});

/** The app on a model whose settings view starts as `initial` (updates kept), its settings dialog opened. */
async function openSettings(initial: ModelSettingsView) {
  let view = initial;
  const { bridge } = renderApp({
    'app.info': info,
    'models.list': () => [{ path: MODEL, name: 'a', fileSize: 4e9 }],
    'models.settings.get': () => view,
    'models.estimate': (p: { settings: LoadSettingsDTO }) => memoryEstimate(p.settings as never),
    'models.settings.update': (p: { settings: LoadSettingsDTO }) => (view = { ...view, settings: { ...view.settings, ...p.settings } }),
  });
  const button = await screen.findByRole('button', { name: 'Model settings' });
  await waitFor(() => expect(button).toHaveProperty('disabled', false));
  fireEvent.click(button);
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  await within(dialog).findByRole('form', { name: 'Load settings' });
  return { bridge, dialog };
}

test('adapters found for the model are offered; rows are added, scaled and removed by name; Save sends the list', async () => {
  const view: ModelSettingsView = modelSettingsView({ adapters: [{ path: FOUND, kind: 'lora' }] });
  const { bridge, dialog } = await openSettings(view);

  const loras = within(dialog).getByRole('group', { name: 'LoRA adapters' });
  expect(within(loras).getByText(/Found for this model: a-lora\.gguf/)).toBeTruthy();
  expect(within(dialog).getByRole('group', { name: 'Control vectors' })).toBeTruthy();
  // the found adapter fills the first row
  fireEvent.click(within(loras).getByRole('button', { name: 'Add adapter' }));
  const file = within(loras).getByRole('combobox', { name: 'LoRA adapters 1: file' }) as HTMLInputElement;
  expect(file.value).toBe(FOUND);
  const scale = within(loras).getByRole('spinbutton', { name: 'LoRA adapters 1: scale' }) as HTMLInputElement;
  expect(scale.value).toBe('1');

  // a scale out of bounds: said in words, nothing saved
  fireEvent.change(scale, { target: { value: '12' } });
  expect(within(dialog).getByRole('alert').textContent).toMatch(/LoRA adapters: row 1 needs a number from -10 to 10/);
  const save = within(dialog).getByRole('button', { name: 'Save' });
  expect(save.getAttribute('aria-disabled')).toBe('true');

  fireEvent.change(scale, { target: { value: '0.5' } });
  fireEvent.click(within(loras).getByRole('button', { name: 'Add adapter' }));
  fireEvent.change(within(loras).getByRole('combobox', { name: 'LoRA adapters 2: file' }), { target: { value: '/elsewhere/b.gguf' } });
  fireEvent.click(within(loras).getByRole('button', { name: 'Remove adapter 2' }));
  expect(within(loras).queryByRole('combobox', { name: 'LoRA adapters 2: file' })).toBeNull();
  fireEvent.click(save);
  await within(dialog).findByText('Saved.');
  expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { loraAdapters: [{ path: FOUND, scale: 0.5 }] } }]);
});

test('a file is listed once: a found file already listed is not offered again, and a repeat typed in is refused in words before Save', async () => {
  const OTHER = '/m/adapters/b-lora.gguf';
  const view: ModelSettingsView = modelSettingsView({ settings: { loraAdapters: [{ path: FOUND, scale: 1 }] }, adapters: [{ path: FOUND, kind: 'lora' }, { path: OTHER, kind: 'lora' }] });
  const { bridge, dialog } = await openSettings(view);
  const loras = within(dialog).getByRole('group', { name: 'LoRA adapters' });
  /** what a row's file box offers: its datalist's options */
  const offered = (row = 1) => {
    const input = within(loras).getByRole('combobox', { name: `LoRA adapters ${row}: file` });
    return [...(document.getElementById(input.getAttribute('list') ?? '')?.querySelectorAll('option') ?? [])].map((o) => o.value);
  };

  // row 1 holds FOUND: Add fills the other found file, and only files not listed are offered
  expect(offered()).toEqual([OTHER]);
  fireEvent.click(within(loras).getByRole('button', { name: 'Add adapter' }));
  const second = within(loras).getByRole('combobox', { name: 'LoRA adapters 2: file' }) as HTMLInputElement;
  expect(second.value).toBe(OTHER);
  expect(offered()).toEqual([]);
  // with every found file listed, a new row starts blank
  fireEvent.click(within(loras).getByRole('button', { name: 'Add adapter' }));
  const third = within(loras).getByRole('combobox', { name: 'LoRA adapters 3: file' }) as HTMLInputElement;
  expect(third.value).toBe('');

  // typed in again (spaces around it are trimmed, as the form saves it): said in words, nothing can be saved
  fireEvent.change(third, { target: { value: ` ${FOUND} ` } });
  expect(within(dialog).getByRole('alert').textContent).toBe(`LoRA adapters: row 3 (${FOUND}) is already in row 1: give each file one scale.`);
  expect(loras.getAttribute('aria-invalid')).toBe('true');
  const save = within(dialog).getByRole('button', { name: 'Save' });
  expect(save.getAttribute('aria-disabled')).toBe('true');
  fireEvent.click(save);
  expect(bridge.callsTo('models.settings.update')).toEqual([]);

  // removed: the list saves
  fireEvent.click(within(loras).getByRole('button', { name: 'Remove adapter 3' }));
  expect(within(dialog).queryByRole('alert')).toBeNull();
  fireEvent.click(save);
  await within(dialog).findByText('Saved.');
  expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { loraAdapters: [{ path: FOUND, scale: 1 }, { path: OTHER, scale: 1 }] } }]);
});
