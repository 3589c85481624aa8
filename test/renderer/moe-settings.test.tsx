/** @jest-environment jsdom */
/**
 * MoE offload in the model settings (jsdom, the FakeBridge standing in for main): the two load
 * settings generated from main/params (Experts on CPU, Tensor overrides one per line), their checks
 * in the form (an entry without "=", either with GPU layers on Auto), and what llama.cpp's fit chose
 * for the experts shown while GPU layers are Auto.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { LoadSettingsDTO, ModelSettingsView } from '../../main/ipc/contract';
import { changedSettings, formFromView, parseForm } from '../../renderer/src/features/modelSettings/loadForm';
import { memoryEstimate, modelSettingsView } from './fake-bridge';
import { renderApp } from './render-app';

const MODEL = '/m/a.gguf';

describe('the form as data', () => {
  test('tensor overrides are one per line; both settings need GPU layers other than Auto', () => {
    const form = formFromView(modelSettingsView());
    expect(form).toMatchObject({ nCpuMoe: '0', tensorOverrides: '' });
    const ok = parseForm({ ...form, gpuMode: 'max', nCpuMoe: '3', tensorOverrides: 'blk\\.1[0-9]\\.ffn_.*_exps=CPU\n\n  blk\\.2\\.ffn_up_exps=Vulkan0 \n' });
    expect(ok.ok && changedSettings(ok.value, modelSettingsView())).toEqual({
      gpuLayers: 'max',
      nCpuMoe: 3,
      tensorOverrides: ['blk\\.1[0-9]\\.ffn_.*_exps=CPU', 'blk\\.2\\.ffn_up_exps=Vulkan0'],
    });
    expect(parseForm({ ...form, gpuMode: 'max', tensorOverrides: 'exps=CPU\nno-buffer-type' })).toEqual({
      ok: false,
      field: 'tensorOverrides',
      error: 'Tensor overrides: Line 2 (no-buffer-type): must be pattern=buffer type, like blk\\.1[0-9]\\.ffn_.*_exps=CPU.',
    });
    expect(parseForm({ ...form, nCpuMoe: '2' })).toEqual({
      ok: false,
      field: 'nCpuMoe',
      error: 'Experts on CPU needs GPU layers set to Max or Custom: with Auto the fit places the experts itself.',
    });
    expect(parseForm({ ...form, tensorOverrides: 'exps=CPU' })).toMatchObject({ ok: false, field: 'tensorOverrides' });
    expect(parseForm({ ...form, nCpuMoe: '513', gpuMode: 'max' })).toMatchObject({ ok: false, field: 'nCpuMoe' });
  });
});

describe('model settings view', () => {
  test('the MoE settings are labelled controls; with Auto the fit\'s choice for the experts shows', async () => {
    const view: ModelSettingsView = modelSettingsView();
    const { bridge } = renderApp({
      'models.list': () => [{ path: MODEL, name: 'a', fileSize: 4e9 }],
      'models.settings.get': () => view,
      'models.estimate': (p: { settings: LoadSettingsDTO }) =>
        memoryEstimate(p.settings as never, {
          moeChoice: p.settings.gpuLayers === 'auto' ? 'experts of 3 layers on the CPU' : null,
          fitReason: p.settings.gpuLayers === 'auto' ? 'All 32 layers and the output layer on Vulkan0 with a context of 4,096 tokens, leaving at least 1024 MiB free. MoE: experts of 3 layers on the CPU.' : null,
        }),
    });
    const button = await screen.findByRole('button', { name: 'Model settings' });
    await waitFor(() => expect(button).toHaveProperty('disabled', false));
    fireEvent.click(button);
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    await within(dialog).findByRole('form', { name: 'Load settings' });
    const experts = within(dialog).getByRole('spinbutton', { name: 'Experts on CPU' });
    const overrides = within(dialog).getByRole('textbox', { name: 'Tensor overrides' });
    const hintOf = (el: HTMLElement) => (el.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ');
    await waitFor(() => expect(hintOf(experts)).toMatch(/Auto now: the fit chose experts of 3 layers on the CPU\./));
    expect(within(dialog).getByText(/MoE: experts of 3 layers on the CPU\./)).toBeTruthy();
    // a count with Auto is refused at the field, saying why
    fireEvent.change(experts, { target: { value: '2' } });
    await waitFor(() => expect(experts.getAttribute('aria-invalid')).toBe('true'));
    expect(hintOf(experts)).toMatch(/needs GPU layers set to Max or Custom/);
    // with Max it is valid, and the estimate asked for carries both settings
    fireEvent.click(within(dialog).getByRole('radio', { name: 'Max' }));
    fireEvent.change(overrides, { target: { value: 'blk\\.0\\.ffn_up_exps=CPU' } });
    await waitFor(() => expect(experts.getAttribute('aria-invalid')).toBe('false'));
    await waitFor(() =>
      expect(bridge.callsTo('models.estimate').at(-1)?.settings).toMatchObject({ gpuLayers: 'max', nCpuMoe: 2, tensorOverrides: ['blk\\.0\\.ffn_up_exps=CPU'] }),
    );
    expect(hintOf(experts)).not.toMatch(/Auto now/);
  });
});
