/**
 * The guardrail, through the IPC entry point with the real store and engine, on a real Vulkan device
 * (Mesa's lavapipe, 2 GiB): a fit margin larger than the device makes every load "not fit".
 */
import fs from 'fs';
import path from 'path';
import { errorOf, makeEngine } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';
import { ChatApp, chatApp } from '../helpers/chat';

const vulkanBuilt = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));

(vulkanBuilt ? describe : describe.skip)('guardrail', () => {
  let chat: ChatApp;
  const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

  beforeAll(() => {
    chat = chatApp({ engine: makeEngine({ GGML_VK_VISIBLE_DEVICES: '0' }) });
  });

  afterAll(() => chat.close());

  test('the estimate names the Vulkan device and moves with the GPU layers', async () => {
    await call('settings.update', { fitMarginMiB: 64 });
    const all = await call('models.estimate', { path: chat.modelPath, settings: { gpuLayers: 'max', contextSize: 1024 } });
    const none = await call('models.estimate', { path: chat.modelPath, settings: { gpuLayers: 0, contextSize: 1024 } });
    expect(all.devices[0].backend).toBe('Vulkan');
    expect(all.devices[0].model).toBeGreaterThan(none.devices[0].model);
    expect(none.host.model).toBeGreaterThan(all.host.model);
    const auto = await call('models.estimate', { path: chat.modelPath, settings: { contextSize: 1024 } });
    expect(auto.fitReason).toMatch(/All 2 layers and the output layer on Vulkan0/);
  });

  test('settings naming a file that is no adapter of the model: the estimate says so as a settings error, the load (guardrail or not) as its failure', async () => {
    const adapters = { controlVectors: [{ path: chat.modelPath, scale: 1 }] };
    const estimate = await errorOf(call('models.estimate', { path: chat.modelPath, settings: { contextSize: 1024, ...adapters } }));
    expect(estimate.code).toBe('invalid_input');
    expect(estimate.message).toMatch(/tiny\.gguf is not a control vector/);
    for (const guardrail of ['warn', 'off']) {
      await call('settings.update', { guardrail, fitMarginMiB: 64 });
      await call('models.settings.update', { path: chat.modelPath, settings: { contextSize: 1024, ...adapters } });
      const load = await errorOf(call('models.load', { path: chat.modelPath }));
      expect(load.code).toBe('load_failed');
      expect(load.message).toMatch(/tiny\.gguf is not a control vector/);
    }
    await call('models.settings.reset', { path: chat.modelPath });
  });

  test('strict refuses with the numbers; warn asks once; off loads', async () => {
    await call('settings.update', { guardrail: 'strict', fitMarginMiB: 60000 });
    const strict = await errorOf(call('models.load', { path: chat.modelPath }));
    expect(strict.code).toBe('insufficient_memory');
    expect(strict.message).toMatch(/Vulkan0.*needs .* GiB \+ 58\.59 GiB margin, .* GiB free/);
    await call('settings.update', { guardrail: 'warn' });
    const warn = await errorOf(call('models.load', { path: chat.modelPath }));
    expect(warn.code).toBe('needs_confirmation');
    const forced = await call('models.load', { path: chat.modelPath, force: true });
    expect(forced.loaded.path).toBe(chat.modelPath);
    await call('models.unload');
    await call('settings.update', { guardrail: 'off' });
    expect((await call('models.load', { path: chat.modelPath })).loaded.path).toBe(chat.modelPath);
  });

  test('saved per-model settings are what the load uses; changing them reloads', async () => {
    await call('settings.update', { guardrail: 'off', fitMarginMiB: 64 });
    await call('models.settings.update', { path: chat.modelPath, settings: { contextSize: 1536, gpuLayers: 1 } });
    const view = await call('models.settings.get', { path: chat.modelPath });
    expect(view.settings).toEqual({ contextSize: 1536, gpuLayers: 1 });
    expect(view.trainedContext).toBe(2048);
    const state = await call('models.load', { path: chat.modelPath });
    expect(state.loaded.contextSize).toBe(1536);
    expect((await call('models.settings.get', { path: chat.modelPath })).loadedWith).toEqual({ contextSize: 1536, gpuLayers: 1 });
    const mem = await chat.engine.memory('chat');
    expect(mem.devices[0].model).toBeGreaterThan(0);
    const reset = await call('models.settings.reset', { path: chat.modelPath });
    expect(reset.settings).toEqual({});
  });

  test('the hardware page: CPU, RAM, devices, the backend choice and a live sample', async () => {
    const info = await call('hardware.info');
    expect(info.cpu.threads).toBeGreaterThan(0);
    expect(info.cpu.instructionSets.length).toBeGreaterThan(0);
    expect(info.ram.total).toBeGreaterThan(info.ram.free);
    expect(info.backendChoice.backend).toBe('vulkan');
    expect(info.devices.some((d: any) => d.backend === 'Vulkan')).toBe(true);
    const a = await call('hardware.usage');
    const b = await call('hardware.usage');
    expect(b.at).toBeGreaterThanOrEqual(a.at);
    expect(b.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(b.cpuPercent).toBeLessThanOrEqual(100);
    expect(b.devices[0]).toMatchObject({ backend: 'Vulkan' });
  });
});
