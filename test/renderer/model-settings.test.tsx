/** @jest-environment jsdom */
/**
 * Per-model load settings, memory estimates, the guardrail and the hardware page in jsdom, with the
 * in-memory FakeBridge standing in for main: the form's pure logic (parse, changed fields, reload
 * marks), the slice (stale and superseded estimates dropped), the form saving only what changed, a
 * save main refuses (a projector path that is no projector) shown in words, "Reload required" marks
 * against what the loaded model runs with, the debounced estimate following the GPU-layers slider,
 * the warn/strict guardrail flows, and usage polling only while the hardware page is open.
 */
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { Provider } from 'react-redux';
import type { LoadSettingsDTO, ModelSettingsView } from '../../main/ipc/contract';
import { App } from '../../renderer/src/app/App';
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { MAX_SAMPLES, fetchUsage } from '../../renderer/src/features/hardware/hardwareSlice';
import { changedSettings, formatMem, formFromView, parseForm, reloadRequired } from '../../renderer/src/features/modelSettings/loadForm';
import { describeMemory } from '../../renderer/src/features/modelSettings/MemoryBars';
import {
  draftChanged,
  fetchModelSettings,
  modelSettingsPathChosen,
  requestEstimate,
} from '../../renderer/src/features/modelSettings/modelSettingsSlice';
import { fetchModels } from '../../renderer/src/features/models/modelsSlice';
import { fetchAppInfo, fetchSettings } from '../../renderer/src/features/settings/settingsSlice';
import {
  FakeBridge,
  hardwareInfo,
  hardwareUsage,
  ipcError,
  memoryEstimate,
  modelSettingsView,
  settingsDTO,
} from './fake-bridge';
import { renderApp } from './render-app';

const MODEL = '/m/a.gguf';
const models = () => [{ path: MODEL, name: 'a', fileSize: 4e9 }];

/** app.info on a machine with one GPU (the one the fake estimate puts layers on) */
const oneGpuInfo = () => ({
  appVersion: '0.1.0',
  llamaCommit: 'b1234',
  backends: ['Vulkan', 'CPU'],
  devices: [
    { backend: 'Vulkan', name: 'Vulkan0', description: 'Test GPU', type: 'gpu', memoryTotal: 8 * 2 ** 30, memoryFree: 7 * 2 ** 30, gpuIndex: 0 },
    { backend: 'CPU', name: 'CPU', description: 'Test CPU', type: 'cpu', memoryTotal: 2 ** 34, memoryFree: 2 ** 33 },
  ],
  dataDir: '/data',
  logsDir: '/data/logs',
  canOpenLogsFolder: false,
});

function settingsHandlers(view: () => ModelSettingsView, extra: Record<string, (p: any) => unknown> = {}) {
  return {
    'app.info': oneGpuInfo,
    'models.list': models,
    'models.settings.get': () => view(),
    'models.estimate': (p: { settings: LoadSettingsDTO }) => memoryEstimate(p.settings as never),
    ...extra,
  };
}

/** Opens Settings → Models for MODEL and waits for the form. */
async function openModelSettings() {
  const button = await screen.findByRole('button', { name: 'Model settings' });
  await waitFor(() => expect(button).toHaveProperty('disabled', false));
  fireEvent.click(button);
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  await within(dialog).findByRole('form', { name: 'Load settings' });
  return dialog;
}

const memoryText = (dialog: HTMLElement, device: string) => within(within(dialog).getByRole('group', { name: `Memory on ${device}` })).getByRole('img').getAttribute('aria-label') ?? '';

afterEach(() => {
  jest.useRealTimers();
});

// ---- pure logic ----------------------------------------------------------------------------------

describe('the form as data', () => {
  test('unset fields show the defaults; only fields that differ from what is saved are sent', () => {
    const view = modelSettingsView({ settings: { contextSize: 2048, gpuLayers: 10 } });
    const form = formFromView(view);
    expect(form).toMatchObject({ gpuMode: 'layers', gpuLayers: 10, contextSize: '2048', threads: '8', cacheTypeK: 'f16', useMmap: true });
    const same = parseForm(form);
    expect(same.ok && changedSettings(same.value, view)).toEqual({});
    const edited = parseForm({ ...form, contextSize: '8192', gpuMode: 'max', useMlock: true });
    expect(edited.ok && changedSettings(edited.value, view)).toEqual({ contextSize: 8192, gpuLayers: 'max', useMlock: true });
    // back to a default value counts as a change (it is saved explicitly)
    const toDefault = parseForm({ ...form, contextSize: '4096' });
    expect(toDefault.ok && changedSettings(toDefault.value, view)).toEqual({ contextSize: 4096 });
  });

  test('the projector: blank is unset (the one its folder pairs), a path is saved, clearing it again unsets it', () => {
    const view = modelSettingsView();
    const form = formFromView(view);
    expect(form.mmproj).toBe('');
    const blank = parseForm({ ...form, mmproj: '   ' });
    expect(blank.ok && 'mmproj' in blank.value).toBe(false);
    expect(blank.ok && changedSettings(blank.value, view)).toEqual({});
    const chosen = parseForm({ ...form, mmproj: ' /models/mmproj-f16.gguf ' });
    expect(chosen.ok && changedSettings(chosen.value, view)).toEqual({ mmproj: '/models/mmproj-f16.gguf' });
    const saved = modelSettingsView({ settings: { mmproj: '/models/mmproj-f16.gguf' } });
    expect(formFromView(saved).mmproj).toBe('/models/mmproj-f16.gguf');
    const cleared = parseForm({ ...formFromView(saved), mmproj: '' });
    expect(cleared.ok && 'mmproj' in cleared.value).toBe(false);
    expect(cleared.ok && changedSettings(cleared.value, saved)).toEqual({ mmproj: '' });
  });

  test('invalid values name the field and say why', () => {
    const form = formFromView(modelSettingsView());
    expect(parseForm({ ...form, contextSize: '100' })).toMatchObject({ ok: false, field: 'contextSize' });
    expect(parseForm({ ...form, threads: '2.5' })).toMatchObject({ ok: false, field: 'threads' });
    expect(parseForm({ ...form, batchSize: '256', ubatchSize: '512' })).toEqual({ ok: false, field: 'ubatchSize', error: 'The micro-batch cannot be larger than the batch.' });
    expect(parseForm({ ...form, cacheTypeV: 'q8_0', flashAttention: 'off' })).toMatchObject({ ok: false, field: 'cacheTypeV' });
    expect(parseForm({ ...form, cacheTypeV: 'q8_0', flashAttention: 'on' }).ok).toBe(true);
    expect(parseForm({ ...form, tensorSplit: '3, x' })).toMatchObject({ ok: false, field: 'tensorSplit' });
    const split = parseForm({ ...form, tensorSplit: '3, 1' });
    expect(split.ok && split.value.tensorSplit).toEqual([3, 1]);
  });

  test('reload required: the fields that differ from what the loaded model runs with', () => {
    const notLoaded = modelSettingsView({ settings: { contextSize: 2048 } });
    const p = parseForm(formFromView(notLoaded));
    expect(p.ok && reloadRequired(p.value, notLoaded).size).toBe(0);
    const loaded = modelSettingsView({ settings: { contextSize: 2048, useMlock: true }, loadedWith: { contextSize: 1024 } });
    const q = parseForm(formFromView(loaded));
    expect(q.ok && [...reloadRequired(q.value, loaded)].sort()).toEqual(['contextSize', 'useMlock']);
  });

  test('memory in words', () => {
    expect(formatMem(512 * 1024)).toBe('512 KiB');
    expect(formatMem(4.05 * 1024 * 1024)).toBe('4.05 MiB');
    expect(formatMem(62.6 * 1024 * 1024)).toBe('62.6 MiB');
    expect(formatMem(2 * 1024 ** 3)).toBe('2.00 GiB');
    const e = memoryEstimate({ gpuLayers: 0, contextSize: 4096 });
    expect(describeMemory('Vulkan0', e.devices[0])).toBe('Vulkan0: needs 300 MiB (weights 0 B, KV cache 0 B, compute 300 MiB); 7.71 GiB of 8.00 GiB free left');
    expect(describeMemory('X', { model: 2, context: 0, compute: 0, projector: 0, total: 2, free: 1 })).toMatch(/1 B more than the 1 B free$/);
    // a projector's share is named only where it takes memory
    expect(describeMemory('CPU', { model: 2 * 1024 ** 2, context: 0, compute: 0, projector: 3 * 1024 ** 2, total: 5 * 1024 ** 2, free: 8 * 1024 ** 2 })).toBe(
      'CPU: needs 5.00 MiB (weights 2.00 MiB, KV cache 0 B, compute 0 B, vision projector 3.00 MiB); 3.00 MiB of 8.00 MiB free left',
    );
  });
});

describe('model settings slice', () => {
  test('an estimate answered after a newer request is dropped, and so are superseded and aborted ones', async () => {
    const answers: Record<number, (v: unknown) => void> = {};
    const fails: Record<number, (e: Error) => void> = {};
    let n = 0;
    const bridge = new FakeBridge({
      'models.estimate': () =>
        new Promise((resolve, reject) => {
          n++;
          answers[n] = resolve;
          fails[n] = reject;
        }),
    });
    setBridge(bridge);
    const store = makeStore();
    store.dispatch(modelSettingsPathChosen(MODEL));
    const first = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 0 } }));
    const second = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 8 } }));
    const third = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 16 } }));
    third.abort();
    await third;
    expect(store.getState().modelSettings.estimate.pending).toBe(true);
    expect(store.getState().modelSettings.estimate.error).toBeNull();

    const fourth = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 24 } }));
    await waitFor(() => expect(n).toBe(4));
    // the newest answers first; the older ones arrive late and change nothing
    answers[4](memoryEstimate({ gpuLayers: 24 }));
    await fourth;
    answers[2](memoryEstimate({ gpuLayers: 8 }));
    await second;
    fails[1](ipcError('superseded', 'a newer estimate was asked for'));
    await first;
    const est = store.getState().modelSettings.estimate;
    expect(est).toMatchObject({ pending: false, error: null });
    expect(est.data?.gpuLayers).toBe(24);

    // superseded for the newest request: still waiting (a newer one is on its way), no error shown
    const fifth = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 1 } }));
    await waitFor(() => expect(n).toBe(5));
    fails[5](ipcError('superseded'));
    await fifth;
    expect(store.getState().modelSettings.estimate.error).toBeNull();
    // a real failure of the newest is shown
    const sixth = store.dispatch(requestEstimate({ path: MODEL, settings: { gpuLayers: 2 } }));
    await waitFor(() => expect(n).toBe(6));
    fails[6](ipcError('load_failed', 'could not estimate memory'));
    await sixth;
    expect(store.getState().modelSettings.estimate.error).toMatch(/could not estimate memory/);
  });

  test('the draft follows the chosen model; a refresh can keep the edits', async () => {
    let view = modelSettingsView();
    setBridge(new FakeBridge({ 'models.settings.get': (p: { path: string }) => ({ ...view, path: p.path }) }));
    const store = makeStore();
    store.dispatch(modelSettingsPathChosen(MODEL));
    await store.dispatch(fetchModelSettings({ path: MODEL }));
    expect(store.getState().modelSettings.draft?.contextSize).toBe('4096');
    store.dispatch(draftChanged({ contextSize: '1024' }));
    view = modelSettingsView({ loadedWith: {} });
    await store.dispatch(fetchModelSettings({ path: MODEL, keepDraft: true }));
    expect(store.getState().modelSettings.draft?.contextSize).toBe('1024');
    expect(store.getState().modelSettings.view?.loadedWith).toEqual({});
    // an answer for a model no longer chosen is ignored
    store.dispatch(modelSettingsPathChosen('/m/b.gguf'));
    await store.dispatch(fetchModelSettings({ path: MODEL }));
    expect(store.getState().modelSettings.view).toBeNull();
  });
});

// ---- the view ------------------------------------------------------------------------------------

describe('model settings view', () => {
  test('the header button opens the model’s settings with defaults; Save sends the changed fields only', async () => {
    let view = modelSettingsView({ settings: { gpuLayers: 20 } });
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'models.settings.update': (p: { settings: LoadSettingsDTO }) => (view = { ...view, settings: { ...view.settings, ...p.settings } }),
        'models.settings.reset': () => (view = { ...view, settings: {} }),
      }),
    );
    const dialog = await openModelSettings();
    expect(within(dialog).getByRole('tab', { name: 'Models' }).getAttribute('aria-selected')).toBe('true');
    expect(bridge.callsTo('models.settings.get')).toEqual([{ path: MODEL }]);
    expect((within(dialog).getByRole('combobox', { name: 'Model to set up' }) as HTMLSelectElement).value).toBe(MODEL);
    // saved value and defaults
    expect((within(dialog).getByRole('slider', { name: 'GPU layers' }) as HTMLInputElement).value).toBe('20');
    expect(within(dialog).getByRole('radio', { name: 'Custom' })).toHaveProperty('checked', true);
    const ctx = within(dialog).getByRole('spinbutton', { name: 'Context length' }) as HTMLInputElement;
    expect(ctx.value).toBe('4096');
    expect(within(dialog).getByText(/Trained maximum: 8,192 tokens/)).toBeTruthy();
    expect((within(dialog).getByRole('spinbutton', { name: 'CPU threads' }) as HTMLInputElement).value).toBe('8');
    expect((within(dialog).getByRole('combobox', { name: 'K cache type' }) as HTMLSelectElement).value).toBe('f16');
    expect((within(dialog).getByRole('checkbox', { name: 'Use mmap' }) as HTMLInputElement).checked).toBe(true);
    // one GPU: no multi-GPU fields
    expect(within(dialog).queryByRole('combobox', { name: 'Main GPU' })).toBeNull();
    const save = within(dialog).getByRole('button', { name: 'Save' });
    expect(save.getAttribute('aria-disabled')).toBe('true');

    fireEvent.change(ctx, { target: { value: '8192' } });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Use mlock' }));
    fireEvent.change(within(dialog).getByRole('combobox', { name: 'Flash attention' }), { target: { value: 'on' } });
    expect(within(dialog).getByText('3 unsaved changes')).toBeTruthy();
    fireEvent.click(save);
    await within(dialog).findByText('Saved.');
    expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { contextSize: 8192, useMlock: true, flashAttention: 'on' } }]);
    expect(save.getAttribute('aria-disabled')).toBe('true');

    // an invalid value: said in words, nothing can be saved
    fireEvent.change(ctx, { target: { value: '12' } });
    expect(within(dialog).getByRole('alert').textContent).toMatch(/Context length must be a whole number from 256/);
    expect(save.getAttribute('aria-disabled')).toBe('true');

    // reset: back to every default
    fireEvent.click(within(dialog).getByRole('button', { name: 'Reset to defaults' }));
    await within(dialog).findByText('Back to the defaults.');
    expect(bridge.callsTo('models.settings.reset')).toEqual([{ path: MODEL }]);
    expect(ctx.value).toBe('4096');
    expect(within(dialog).getByRole('radio', { name: 'Auto' })).toHaveProperty('checked', true);
  });

  test('speculative decoding: a draft model path, the kind and the draft bounds are load settings; Save sends them, a cleared path sends none', async () => {
    let view = modelSettingsView();
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'models.settings.update': (p: { settings: LoadSettingsDTO }) => (view = { ...view, settings: { ...view.settings, ...p.settings } }),
      }),
    );
    const dialog = await openModelSettings();
    const group = within(dialog).getByRole('group', { name: 'Speculative decoding' });
    const draft = within(group).getByRole('textbox', { name: 'Draft model' }) as HTMLInputElement;
    expect(draft.value).toBe('');
    expect((within(group).getByRole('combobox', { name: 'Speculative decoding' }) as HTMLSelectElement).value).toBe('auto');
    expect(within(group).getByRole('option', { name: 'N-gram lookup (simple)' })).toBeTruthy();
    fireEvent.change(draft, { target: { value: ' /m/small.gguf ' } });
    fireEvent.change(within(group).getByRole('spinbutton', { name: 'Draft model: longest draft' }), { target: { value: '8' } });
    fireEvent.change(within(group).getByRole('spinbutton', { name: 'Draft model: p-min' }), { target: { value: '0.5' } });
    const save = within(dialog).getByRole('button', { name: 'Save' });
    fireEvent.click(save);
    await within(dialog).findByText('Saved.');
    expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { draftModel: '/m/small.gguf', draftMax: 8, draftPMin: 0.5 } }]);

    // p-min is a fraction: past 1 is said in words
    fireEvent.change(within(group).getByRole('spinbutton', { name: 'Draft model: p-min' }), { target: { value: '1.5' } });
    expect(within(dialog).getByRole('alert').textContent).toMatch(/Draft model: p-min must be a number from 0 to 1/);
    fireEvent.change(within(group).getByRole('spinbutton', { name: 'Draft model: p-min' }), { target: { value: '0.5' } });

    fireEvent.change(draft, { target: { value: '' } });
    fireEvent.change(within(group).getByRole('combobox', { name: 'Speculative decoding' }), { target: { value: 'ngram-map-k' } });
    fireEvent.click(save);
    await waitFor(() => expect(bridge.callsTo('models.settings.update')).toHaveLength(2));
    expect(bridge.callsTo('models.settings.update')[1]).toEqual({ path: MODEL, settings: { draftModel: '', speculative: 'ngram-map-k' } });

    // drafting with a draft model needs one: said by the form, nothing saved
    fireEvent.change(within(group).getByRole('combobox', { name: 'Speculative decoding' }), { target: { value: 'draft' } });
    expect(within(dialog).getByRole('alert').textContent).toMatch(/Speculative decoding is set to Draft model, but no draft model file is chosen: choose one, or set it to Auto/);
    fireEvent.click(save);
    fireEvent.change(draft, { target: { value: '/m/small.gguf' } });
    expect(within(dialog).queryByRole('alert')).toBeNull();
    expect(bridge.callsTo('models.settings.update')).toHaveLength(2);
  });

  test('a projector path main refuses when saved: its reason is shown, nothing is marked saved, the edit stays to fix', async () => {
    const NOT_PROJECTOR = `${MODEL} is not a vision projector (its architecture is llama): choose the model's mmproj file`;
    let view = modelSettingsView();
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        // as main's models.settings.update: the projector's file is checked before anything is saved
        'models.settings.update': (p: { settings: LoadSettingsDTO }) => {
          if (p.settings.mmproj === MODEL) throw ipcError('invalid_input', NOT_PROJECTOR);
          return (view = { ...view, settings: { ...view.settings, ...p.settings } });
        },
      }),
    );
    const dialog = await openModelSettings();
    const projector = within(within(dialog).getByRole('group', { name: 'Images' })).getByRole('textbox', { name: 'Projector (mmproj)' }) as HTMLInputElement;
    fireEvent.change(projector, { target: { value: MODEL } });
    const save = within(dialog).getByRole('button', { name: 'Save' });
    fireEvent.click(save);
    await waitFor(() => expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { mmproj: MODEL } }]));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toBe(`That was not accepted: ${NOT_PROJECTOR}`);
    expect(within(dialog).queryByText('Saved.')).toBeNull();
    expect(within(dialog).getByText('1 unsaved change')).toBeTruthy();
    expect(projector.value).toBe(MODEL);

    // the model's projector: saved, the refusal gone
    fireEvent.change(projector, { target: { value: '/m/mmproj-a-f16.gguf' } });
    fireEvent.click(save);
    await within(dialog).findByText('Saved.');
    expect(within(dialog).queryByRole('alert')).toBeNull();
    expect(view.settings).toEqual({ mmproj: '/m/mmproj-a-f16.gguf' });
  });

  test('fields that differ from what the loaded model runs with are marked "Reload required"; Save and reload reloads', async () => {
    let view = modelSettingsView({ settings: { contextSize: 2048 }, loadedWith: { contextSize: 2048 } });
    const loadedState = (ctx: number) => ({ loaded: { path: MODEL, contextSize: ctx, tokensUsed: 0, tokensUsedBy: null }, loading: null, error: null });
    let state = loadedState(2048);
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'models.state': () => state,
        'models.settings.update': (p: { settings: LoadSettingsDTO }) => (view = { ...view, settings: { ...view.settings, ...p.settings } }),
        'models.load': () => {
          view = { ...view, loadedWith: view.settings };
          state = loadedState(view.settings.contextSize ?? 4096);
          return state;
        },
      }),
    );
    const dialog = await openModelSettings();
    expect(within(dialog).queryByText('Reload required')).toBeNull();
    const ctx = within(dialog).getByRole('spinbutton', { name: 'Context length' });
    fireEvent.change(ctx, { target: { value: '3072' } });
    // the mark describes the field, and only that field
    expect(within(dialog).getAllByText('Reload required')).toHaveLength(1);
    expect(ctx.getAttribute('aria-describedby')).toContain('ms-context-reload');
    expect(within(dialog).getByText(/One setting differs from what the loaded model runs with/)).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Use mlock' }));
    expect(within(dialog).getAllByText('Reload required')).toHaveLength(2);

    fireEvent.click(within(dialog).getByRole('button', { name: 'Save and reload' }));
    await within(dialog).findByText('Saved and loaded.');
    expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { contextSize: 3072, useMlock: true } }]);
    expect(bridge.callsTo('models.load')).toEqual([{ path: MODEL }]);
    await waitFor(() => expect(within(dialog).queryByText('Reload required')).toBeNull());
    // the header shows the new context size
    expect(screen.getByRole('meter', { name: 'Context used' }).getAttribute('aria-valuemax')).toBe('3072');
  });

  test('moving the GPU-layers slider asks for one estimate after the debounce, and the bars show its numbers', async () => {
    jest.useFakeTimers();
    const view = modelSettingsView();
    const { bridge } = renderApp(settingsHandlers(() => view));
    const dialog = await openModelSettings();
    // the first estimate: the saved settings (auto)
    await act(async () => void jest.advanceTimersByTime(300));
    await waitFor(() => expect(bridge.callsTo('models.estimate')).toHaveLength(1));
    expect(bridge.callsTo('models.estimate')[0]).toMatchObject({ path: MODEL, settings: { gpuLayers: 'auto', contextSize: 4096 } });
    await waitFor(() => expect(memoryText(dialog, 'Vulkan0')).toMatch(/^Vulkan0: needs 4\.70 GiB \(weights 3\.91 GiB, KV cache 512 MiB/));
    expect(within(dialog).getByText(/All 32 layers on Vulkan0/)).toBeTruthy();
    expect(within(dialog).getByRole('group', { name: 'Memory on System RAM' })).toBeTruthy();

    const slider = within(dialog).getByRole('slider', { name: 'GPU layers' });
    for (const v of ['30', '20', '10', '0']) {
      fireEvent.change(slider, { target: { value: v } });
      await act(async () => void jest.advanceTimersByTime(100));
    }
    // still moving: nothing asked yet
    expect(bridge.callsTo('models.estimate')).toHaveLength(1);
    expect(within(dialog).getByRole('radio', { name: 'Custom' })).toHaveProperty('checked', true);
    await act(async () => void jest.advanceTimersByTime(250));
    await waitFor(() => expect(bridge.callsTo('models.estimate')).toHaveLength(2));
    expect(bridge.callsTo('models.estimate')[1].settings).toMatchObject({ gpuLayers: 0, contextSize: 4096 });
    await waitFor(() => expect(memoryText(dialog, 'Vulkan0')).toBe('Vulkan0: needs 300 MiB (weights 0 B, KV cache 0 B, compute 300 MiB); 7.71 GiB of 8.00 GiB free left'));
    expect(memoryText(dialog, 'System RAM')).toMatch(/weights 4\.15 GiB, KV cache 512 MiB/);
    expect(within(dialog).getByText(/0 of 33 layers on the GPU/)).toBeTruthy();
  });

  test('without a GPU, auto GPU layers says CPU only (not "max") and so does the estimate', async () => {
    const view = modelSettingsView();
    // the fake bridge's own app.info has only the CPU device; llama.cpp's fit then answers "all layers", which means none
    renderApp(
      settingsHandlers(() => view, {
        'app.info': () => ({ ...oneGpuInfo(), backends: ['CPU'], devices: oneGpuInfo().devices.filter((d) => d.type === 'cpu') }),
        'models.estimate': (p: { settings: LoadSettingsDTO }) =>
          memoryEstimate(p.settings as never, { devices: [], gpuLayers: 0, fitReason: 'CPU only: no GPU device is available, every layer runs on the CPU.' }),
      }),
    );
    const dialog = await openModelSettings();
    const slider = within(dialog).getByRole('slider', { name: 'GPU layers' });
    expect(within(dialog).getByRole('radio', { name: 'Auto' })).toHaveProperty('checked', true);
    expect(slider.getAttribute('aria-valuetext')).toBe('auto: CPU only, no layers on a GPU');
    expect((slider as HTMLInputElement).value).toBe('0');
    expect(dialog.querySelector('output[for="ms-gpu-layers"]')?.textContent).toBe('auto (CPU only)');
    expect(await within(dialog).findByText(/^CPU only · context 4,096 tokens$/, {}, { timeout: 3000 })).toBeTruthy();
    expect(within(dialog).queryByText(/on the GPU ·/)).toBeNull();
    // the GPU-only controls are disabled, their reason their accessible description
    for (const control of [slider, ...within(dialog).getAllByRole('radio', { name: /^(Auto|Max|Custom)$/ }), within(dialog).getByRole('spinbutton', { name: 'Fit margin (MiB)' })]) {
      expect(control).toHaveProperty('disabled', true);
      const description = (control.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ');
      expect(description).toMatch(/No GPU device is available/);
    }
  });

  test('without a GPU, a saved layer count shows what the load does: CPU only', async () => {
    const view = modelSettingsView({ settings: { gpuLayers: 20 } });
    renderApp(settingsHandlers(() => view, { 'app.info': () => ({ ...oneGpuInfo(), devices: oneGpuInfo().devices.filter((d) => d.type === 'cpu') }) }));
    const dialog = await openModelSettings();
    const slider = within(dialog).getByRole('slider', { name: 'GPU layers' }) as HTMLInputElement;
    expect(within(dialog).getByRole('radio', { name: 'Custom' })).toHaveProperty('checked', true);
    expect(slider.value).toBe('0');
    expect(slider.getAttribute('aria-valuetext')).toBe('CPU only, no layers on a GPU');
    expect(dialog.querySelector('output[for="ms-gpu-layers"]')?.textContent).toBe('CPU only');
    expect(slider).toHaveProperty('disabled', true);
  });

  test('with a GPU, the GPU controls are enabled and carry no "no GPU" reason', async () => {
    const view = modelSettingsView();
    renderApp(settingsHandlers(() => view));
    const dialog = await openModelSettings();
    const slider = within(dialog).getByRole('slider', { name: 'GPU layers' });
    expect(slider).toHaveProperty('disabled', false);
    expect(within(dialog).getByRole('spinbutton', { name: 'Fit margin (MiB)' })).toHaveProperty('disabled', false);
    expect(within(dialog).queryByText(/No GPU device is available/)).toBeNull();
  });

  test('a context length llama.cpp would round up says what it runs as', async () => {
    const view = modelSettingsView();
    renderApp(settingsHandlers(() => view));
    const dialog = await openModelSettings();
    const input = within(dialog).getByRole('spinbutton', { name: 'Context length' });
    const hint = () => document.getElementById(input.getAttribute('aria-describedby')!.split(' ')[0])!.textContent;
    expect(hint()).not.toMatch(/Runs as/);
    fireEvent.change(input, { target: { value: '300' } });
    expect(hint()).toMatch(/Runs as 512 tokens: llama\.cpp sizes a context in whole multiples of 256\.$/);
    fireEvent.change(input, { target: { value: '768' } });
    expect(hint()).not.toMatch(/Runs as/);
  });

  test('a slow estimate answered after a newer one does not overwrite it', async () => {
    jest.useFakeTimers();
    const view = modelSettingsView({ settings: { gpuLayers: 32 } });
    const pending: { settings: LoadSettingsDTO; resolve: (v: unknown) => void }[] = [];
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'models.estimate': (p: { settings: LoadSettingsDTO }) => new Promise((resolve) => pending.push({ settings: p.settings, resolve })),
      }),
    );
    const dialog = await openModelSettings();
    await act(async () => void jest.advanceTimersByTime(300));
    await waitFor(() => expect(pending).toHaveLength(1));
    const slider = within(dialog).getByRole('slider', { name: 'GPU layers' });
    fireEvent.change(slider, { target: { value: '16' } });
    await act(async () => void jest.advanceTimersByTime(300));
    await waitFor(() => expect(pending).toHaveLength(2));
    // the newer answers first, then the older one, late
    await act(async () => pending[1].resolve(memoryEstimate(pending[1].settings as never)));
    await waitFor(() => expect(memoryText(dialog, 'Vulkan0')).toMatch(/weights 1\.95 GiB/));
    await act(async () => pending[0].resolve(memoryEstimate(pending[0].settings as never)));
    await act(async () => void jest.advanceTimersByTime(50));
    expect(memoryText(dialog, 'Vulkan0')).toMatch(/weights 1\.95 GiB/);
    expect(bridge.callsTo('models.estimate').map((c) => c.settings.gpuLayers)).toEqual([32, 16]);
  });

  test('an estimate that does not fit shows the problems in words', async () => {
    const view = modelSettingsView();
    renderApp(
      settingsHandlers(() => view, {
        'models.estimate': () => memoryEstimate({ gpuLayers: 32, contextSize: 4096 }, { fits: false, problems: ['Vulkan0 (Test GPU): needs 4.30 GiB + 58.59 GiB margin, 8.00 GiB free'] }),
      }),
    );
    const dialog = await openModelSettings();
    const problems = await within(dialog).findByRole('group', { name: 'Does not fit' }, { timeout: 3000 });
    expect(problems.textContent).toContain('needs 4.30 GiB + 58.59 GiB margin, 8.00 GiB free');
  });

  /** The settings dialog on an engine that reports these devices; saves go to the view. */
  async function settingsWithDevices(devices: { backend: string; name: string; description: string; type: string; gpuIndex?: number }[], start = modelSettingsView()) {
    let view = start;
    const info = {
      appVersion: '0.1.0',
      llamaCommit: 'b1',
      backends: [...new Set(devices.map((d) => d.backend))],
      dataDir: '/data',
      logsDir: '/data/logs',
      canOpenLogsFolder: false,
      devices: devices.map((d) => ({ ...d, memoryTotal: 2 ** 34, memoryFree: 2 ** 33 })),
    };
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'app.info': () => info,
        'models.settings.update': (p: { settings: LoadSettingsDTO }) => (view = { ...view, settings: { ...view.settings, ...p.settings } }),
      }),
    );
    const dialog = await openModelSettings();
    return { bridge, dialog, main: await within(dialog).findByRole('combobox', { name: 'Main GPU' }) };
  }

  test('several GPUs: tensor split, split mode and, with split mode none, main GPU are offered and saved', async () => {
    const { bridge, dialog, main } = await settingsWithDevices([
      { backend: 'CUDA', name: 'CUDA0', description: 'GPU A', type: 'gpu', gpuIndex: 0 },
      { backend: 'CUDA', name: 'CUDA1', description: 'GPU B', type: 'gpu', gpuIndex: 1 },
    ]);
    // split by layer (the default), Main GPU does nothing in llama.cpp: it is disabled, saying when it counts
    expect((main as HTMLSelectElement).disabled).toBe(true);
    const hint = (main.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ');
    expect(hint).toMatch(/With split mode none/);
    const split = within(dialog).getByRole('combobox', { name: 'Split mode' });
    expect(within(split).getAllByRole('option').map((o) => (o as HTMLOptionElement).value)).toEqual(['layer', 'none']);
    fireEvent.change(within(dialog).getByRole('textbox', { name: 'Tensor split' }), { target: { value: '3, 1' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await within(dialog).findByText('Saved.');
    fireEvent.change(split, { target: { value: 'none' } });
    expect((main as HTMLSelectElement).disabled).toBe(false);
    fireEvent.change(main, { target: { value: '1' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(bridge.callsTo('models.settings.update')).toHaveLength(2));
    expect(bridge.callsTo('models.settings.update')).toEqual([
      { path: MODEL, settings: { tensorSplit: [3, 1] } },
      { path: MODEL, settings: { splitMode: 'none', mainGpu: 1 } },
    ]);
  });

  test("Main GPU lists the GPUs by the engine's numbers (llama.cpp's: a remote one first), and saves the chosen one's number", async () => {
    // as the engine lists them (ggml's registry: the local GPU, the CPU, the rpc-server's device), numbered as llama.cpp numbers them
    const { bridge, dialog, main } = await settingsWithDevices([
      { backend: 'CUDA', name: 'CUDA0', description: 'GPU A', type: 'gpu', gpuIndex: 1 },
      { backend: 'CPU', name: 'CPU', description: 'CPU', type: 'cpu' },
      { backend: 'RPC', name: 'RPC0', description: '10.0.0.2:50052', type: 'gpu', gpuIndex: 0 },
    ]);
    expect(within(main).getAllByRole('option').map((o) => o.textContent)).toEqual(['RPC0 · 10.0.0.2:50052', 'CUDA0 · GPU A']);
    fireEvent.change(within(dialog).getByRole('combobox', { name: 'Split mode' }), { target: { value: 'none' } });
    fireEvent.change(main, { target: { value: '1' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await within(dialog).findByText('Saved.');
    expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { splitMode: 'none', mainGpu: 1 } }]);
  });

  test('a Main GPU saved when there were more GPUs shows as not found, not as another GPU', async () => {
    const saved = modelSettingsView();
    const { main } = await settingsWithDevices(
      [
        { backend: 'CUDA', name: 'CUDA0', description: 'GPU A', type: 'gpu', gpuIndex: 0 },
        { backend: 'CUDA', name: 'CUDA1', description: 'GPU B', type: 'gpu', gpuIndex: 1 },
      ],
      { ...saved, settings: { ...saved.settings, splitMode: 'none', mainGpu: 2 } },
    );
    expect((main as HTMLSelectElement).value).toBe('2');
    expect(within(main).getByRole('option', { selected: true }).textContent).toBe('GPU 2 (not found)');
  });

  test('with one GPU left the several-GPU settings still show while a saved one would change a load, and can be put back', async () => {
    const saved = modelSettingsView();
    const { bridge, dialog, main } = await settingsWithDevices(
      [{ backend: 'CUDA', name: 'CUDA0', description: 'GPU A', type: 'gpu', gpuIndex: 0 }],
      { ...saved, settings: { ...saved.settings, splitMode: 'none', mainGpu: 1 } },
    );
    expect(within(main).getAllByRole('option').map((o) => o.textContent)).toEqual(['CUDA0 · GPU A', 'GPU 1 (not found)']);
    fireEvent.change(main, { target: { value: '0' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await within(dialog).findByText('Saved.');
    expect(bridge.callsTo('models.settings.update')).toEqual([{ path: MODEL, settings: { mainGpu: 0 } }]);
  });
});

// ---- guardrail -----------------------------------------------------------------------------------

describe('guardrail', () => {
  test('warn: a load that may not fit asks once; Cancel leaves it, Load anyway loads with force', async () => {
    const message = 'this model may not fit: Vulkan0 (Test GPU): needs 4.30 GiB + 1.00 GiB margin, 2.00 GiB free. Load anyway?';
    const { bridge } = renderApp({
      'models.list': models,
      'models.load': (p: { path: string; force?: boolean }) => {
        if (!p.force) throw ipcError('needs_confirmation', message);
        return { loaded: { path: p.path, contextSize: 4096, tokensUsed: 0, tokensUsedBy: null }, loading: null, error: null };
      },
    });
    const picker = await screen.findByRole('combobox', { name: 'Model' });
    await screen.findByRole('option', { name: /^a · / });
    fireEvent.change(picker, { target: { value: MODEL } });
    let confirm = await screen.findByRole('dialog', { name: 'This model may not fit' });
    expect(confirm.textContent).toContain('This model may not fit: Vulkan0 (Test GPU): needs 4.30 GiB + 1.00 GiB margin, 2.00 GiB free.');
    expect(document.activeElement).toBe(within(confirm).getByRole('button', { name: 'Cancel' }));
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog', { name: 'This model may not fit' })).toBeNull();
    expect(screen.queryByRole('meter', { name: 'Context used' })).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(bridge.callsTo('models.load')).toEqual([{ path: MODEL }]);

    fireEvent.change(picker, { target: { value: MODEL } });
    confirm = await screen.findByRole('dialog', { name: 'This model may not fit' });
    fireEvent.click(within(confirm).getByRole('button', { name: 'Load anyway' }));
    await screen.findByRole('meter', { name: 'Context used' });
    expect(screen.queryByRole('dialog', { name: 'This model may not fit' })).toBeNull();
    expect(bridge.callsTo('models.load')).toEqual([{ path: MODEL }, { path: MODEL }, { path: MODEL, force: true }]);
  });

  test('strict: the refusal is shown with the numbers; the guardrail and fit margin are saved from the Models page', async () => {
    let settings = settingsDTO({ guardrail: 'warn' });
    const view = modelSettingsView();
    const { bridge } = renderApp(
      settingsHandlers(() => view, {
        'settings.get': () => settings,
        'settings.update': (p: object) => (settings = { ...settings, ...p }),
        'models.load': () => {
          throw ipcError('insufficient_memory', 'this model and these settings do not fit: Vulkan0 (Test GPU): needs 4.30 GiB + 58.59 GiB margin, 8.00 GiB free');
        },
      }),
    );
    const dialog = await openModelSettings();
    const guard = within(dialog).getByRole('radiogroup', { name: 'Memory guardrail' });
    expect(within(guard).getByRole('radio', { name: 'Warn' })).toHaveProperty('checked', true);
    fireEvent.click(within(guard).getByRole('radio', { name: 'Strict' }));
    await waitFor(() => expect(within(guard).getByRole('radio', { name: 'Strict' })).toHaveProperty('checked', true));
    const margin = within(dialog).getByRole('spinbutton', { name: 'Fit margin (MiB)' });
    fireEvent.change(margin, { target: { value: '60000' } });
    fireEvent.keyDown(margin, { key: 'Enter' });
    await within(dialog).findByText('Fit margin saved: 60,000 MiB.');
    expect(bridge.callsTo('settings.update')).toEqual([{ guardrail: 'strict' }, { fitMarginMiB: 60000 }]);

    fireEvent.click(within(dialog).getByRole('button', { name: 'Save and load' }));
    const alert = await within(dialog).findByText(/^Not loaded:/);
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toBe(
      'Not loaded: This model and these settings do not fit: Vulkan0 (Test GPU): needs 4.30 GiB + 58.59 GiB margin, 8.00 GiB free. Lower the GPU layers or the context length, or change the guardrail in Settings → Models.',
    );
    expect(screen.queryByRole('dialog', { name: 'This model may not fit' })).toBeNull();
  });
});

// ---- hardware ------------------------------------------------------------------------------------

describe('hardware page', () => {
  test('lists backends and devices, polls usage every second only while open, and charts it', async () => {
    jest.useFakeTimers();
    let i = 0;
    const { bridge, store } = renderApp({ 'hardware.info': () => hardwareInfo(), 'hardware.usage': () => hardwareUsage(i++) });
    await act(async () => void store.dispatch(openDialog({ name: 'settings', section: 'hardware' })));
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    await within(dialog).findByRole('table', { name: 'Hardware devices' });
    expect(within(dialog).getByText('Vulkan: Test GPU')).toBeTruthy();
    expect(within(within(dialog).getByRole('list', { name: 'Available backends' })).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Vulkan', 'CPU']);
    expect(within(dialog).getByText(/Test CPU · 8 cores, 16 threads/)).toBeTruthy();
    expect(within(dialog).getByText('6 unless a model\'s settings say otherwise')).toBeTruthy();
    expect(within(dialog).getByRole('table', { name: 'Hardware devices' }).textContent).toContain('7.00 GiB / 8.00 GiB');

    await waitFor(() => expect(bridge.callsTo('hardware.usage')).toHaveLength(1));
    const cpuChart = await within(dialog).findByRole('img', { name: /^CPU use over the last 1 s: now 0%$/ });
    for (let k = 0; k < 3; k++) await act(async () => void jest.advanceTimersByTime(1000));
    expect(bridge.callsTo('hardware.usage')).toHaveLength(4);
    expect(cpuChart.getAttribute('aria-label')).toBe('CPU use over the last 4 s: now 51%');
    expect(cpuChart.getAttribute('data-samples')).toBe('4');
    expect(within(dialog).getByRole('img', { name: /^Vulkan0 memory use over the last 4 s: now 300 MiB of 8\.00 GiB/ })).toBeTruthy();
    expect(within(dialog).getByRole('img', { name: /^RAM use over the last 4 s/ })).toBeTruthy();

    // another tab: polling stops
    fireEvent.click(within(dialog).getByRole('tab', { name: 'About' }));
    for (let k = 0; k < 3; k++) await act(async () => void jest.advanceTimersByTime(1000));
    expect(bridge.callsTo('hardware.usage')).toHaveLength(4);
    // back: it starts again (with fresh charts); closing the dialog stops it
    fireEvent.click(within(dialog).getByRole('tab', { name: 'Hardware' }));
    await waitFor(() => expect(bridge.callsTo('hardware.usage')).toHaveLength(5));
    await within(dialog).findByRole('img', { name: /^CPU use over the last 1 s/ });
    await act(async () => void jest.advanceTimersByTime(1000));
    expect(bridge.callsTo('hardware.usage')).toHaveLength(6);
    expect(within(dialog).getByRole('img', { name: /^CPU use over the last 2 s/ })).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    for (let k = 0; k < 3; k++) await act(async () => void jest.advanceTimersByTime(1000));
    expect(bridge.callsTo('hardware.usage')).toHaveLength(6);
  });

  test('keeps the last 60 samples', async () => {
    let i = 0;
    setBridge(new FakeBridge({ 'hardware.usage': () => hardwareUsage(i++) }));
    const store = makeStore();
    for (let k = 0; k < MAX_SAMPLES + 5; k++) await store.dispatch(fetchUsage());
    const samples = store.getState().hardware.samples;
    expect(samples).toHaveLength(MAX_SAMPLES);
    expect(samples[0].at).toBe(hardwareUsage(5).at);
  });

  test('the backend choice offers the backends the engine reports built, auto naming them in order; a saved pin not built is marked', async () => {
    const options = async (built: string[], backend: 'auto' | 'cuda') => {
      setBridge(
        new FakeBridge({
          'settings.get': () => ({ ...settingsDTO(), backend }),
          'hardware.info': () => hardwareInfo({ built }),
          'hardware.usage': () => hardwareUsage(0),
          'models.list': models,
        }),
      );
      const store = makeStore();
      await store.dispatch(fetchSettings());
      store.dispatch(openDialog({ name: 'settings', section: 'hardware' }));
      const r = render(
        <Provider store={store}>
          <App />
        </Provider>,
      );
      const select = (await screen.findByRole('combobox', { name: 'Backend' })) as HTMLSelectElement;
      await waitFor(() => expect(select.disabled).toBe(false));
      const texts = [...select.options].map((o) => `${o.value}=${o.textContent}`);
      r.unmount();
      return texts;
    };
    expect(await options(['cpu', 'vulkan'], 'auto')).toEqual(['auto=Auto (Vulkan → CPU)', 'vulkan=Vulkan', 'cpu=CPU only']);
    expect(await options(['cpu'], 'auto')).toEqual(['auto=Auto (CPU)', 'cpu=CPU only']);
    expect(await options(['cpu', 'vulkan', 'cuda', 'metal'], 'auto')).toEqual(['auto=Auto (CUDA → Metal → Vulkan → CPU)', 'cuda=CUDA', 'metal=Metal', 'vulkan=Vulkan', 'cpu=CPU only']);
    expect(await options(['cpu'], 'cuda')).toEqual(['auto=Auto (CPU)', 'cpu=CPU only', 'cuda=CUDA (not in this build)']);
  });

  test('the backend pin is saved through settings.update', async () => {
    let settings = settingsDTO();
    setBridge(
      new FakeBridge({
        'settings.get': () => settings,
        'settings.update': (p: object) => (settings = { ...settings, ...p }),
        'hardware.info': () => hardwareInfo(),
        'hardware.usage': () => hardwareUsage(0),
        'models.list': models,
      }),
    );
    const store = makeStore();
    await store.dispatch(fetchSettings());
    await store.dispatch(fetchAppInfo());
    await store.dispatch(fetchModels());
    store.dispatch(openDialog({ name: 'settings', section: 'hardware' }));
    render(
      <Provider store={store}>
        <App />
      </Provider>,
    );
    const select = await screen.findByRole('combobox', { name: 'Backend' });
    fireEvent.change(select, { target: { value: 'cpu' } });
    await waitFor(() => expect((select as HTMLSelectElement).value).toBe('cpu'));
    expect(settings.backend).toBe('cpu');
  });
});
