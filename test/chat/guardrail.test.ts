/**
 * The guardrail, through the IPC entry point with the real store and engine, on a real Vulkan device
 * (Mesa's lavapipe, 2 GiB): a fit margin larger than the device makes every load "not fit".
 */
import fs from 'fs';
import path from 'path';
import { composeApp, App } from '../../main/compose';
import { EngineClient } from '../../main/engine/client';
import { ensureDataDir } from '../../main/paths';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const vulkanBuilt = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));

(vulkanBuilt ? describe : describe.skip)('guardrail', () => {
  let dir: string;
  let engine: EngineClient;
  let app: App;
  let model: string;
  const call = <T = any>(channel: string, payload: unknown = {}) => app.services.handle(channel, payload) as Promise<T>;

  beforeAll(() => {
    dir = tempDir();
    const paths = ensureDataDir(dir);
    model = path.join(paths.models, 'tiny.gguf');
    fs.copyFileSync(TINY_SPM, model);
    engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '0' });
    app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  });

  afterAll(async () => {
    await app.close();
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the estimate names the Vulkan device and moves with the GPU layers', async () => {
    await call('settings.update', { fitMarginMiB: 64 });
    const all = await call('models.estimate', { path: model, settings: { gpuLayers: 'max', contextSize: 1024 } });
    const none = await call('models.estimate', { path: model, settings: { gpuLayers: 0, contextSize: 1024 } });
    expect(all.devices[0].backend).toBe('Vulkan');
    expect(all.devices[0].model).toBeGreaterThan(none.devices[0].model);
    expect(none.host.model).toBeGreaterThan(all.host.model);
    const auto = await call('models.estimate', { path: model, settings: { contextSize: 1024 } });
    expect(auto.fitReason).toMatch(/All 2 layers and the output layer on Vulkan0/);
  });

  test('strict refuses with the numbers; warn asks once; off loads', async () => {
    await call('settings.update', { guardrail: 'strict', fitMarginMiB: 60000 });
    const strict = await errorOf(call('models.load', { path: model }));
    expect(strict.code).toBe('insufficient_memory');
    expect(strict.message).toMatch(/Vulkan0.*needs .* GiB \+ 58\.59 GiB margin, .* GiB free/);
    await call('settings.update', { guardrail: 'warn' });
    const warn = await errorOf(call('models.load', { path: model }));
    expect(warn.code).toBe('needs_confirmation');
    const forced = await call('models.load', { path: model, force: true });
    expect(forced.loaded.path).toBe(model);
    await call('models.unload');
    await call('settings.update', { guardrail: 'off' });
    expect((await call('models.load', { path: model })).loaded.path).toBe(model);
  });

  test('saved per-model settings are what the load uses; changing them reloads', async () => {
    await call('settings.update', { guardrail: 'off', fitMarginMiB: 64 });
    await call('models.settings.update', { path: model, settings: { contextSize: 1536, gpuLayers: 1 } });
    const view = await call('models.settings.get', { path: model });
    expect(view.settings).toEqual({ contextSize: 1536, gpuLayers: 1 });
    expect(view.trainedContext).toBe(2048);
    const state = await call('models.load', { path: model });
    expect(state.loaded.contextSize).toBe(1536);
    expect((await call('models.settings.get', { path: model })).loadedWith).toEqual({ contextSize: 1536, gpuLayers: 1 });
    const mem = await engine.memory('chat');
    expect(mem.devices[0].model).toBeGreaterThan(0);
    const reset = await call('models.settings.reset', { path: model });
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
