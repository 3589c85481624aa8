/**
 * The Vulkan backend on a real Vulkan device: Mesa's lavapipe (a CPU-type Vulkan device, which
 * llama.cpp only uses when GGML_VK_VISIBLE_DEVICES names it). All layers go to the Vulkan device,
 * and greedy output is checked against a CPU-only run of the same model.
 * Skipped only where the Vulkan backend module was not built (the configure step says why).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { collectingLogger, makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const built = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));
const maybe = built ? describe : describe.skip;

maybe('Vulkan (lavapipe)', () => {
  let cpu: EngineClient;
  let vk: EngineClient;
  const vkLog = collectingLogger();

  beforeAll(() => {
    cpu = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
    vk = makeEngine({ GGML_VK_VISIBLE_DEVICES: '0' }, vkLog);
  });

  afterAll(async () => {
    await cpu.close();
    await vk.close();
  });

  test('the Vulkan device is listed with its memory', async () => {
    const devices = await vk.devices();
    const v = devices.find((d) => d.backend === 'Vulkan');
    expect(v).toBeDefined();
    expect(v!.memoryTotal).toBeGreaterThan(0);
    expect(v!.description.toLowerCase()).toContain('llvmpipe');
  });

  test('all layers on Vulkan give the CPU run’s greedy output', async () => {
    await cpu.load('m', TINY_SPM, { gpuLayers: 0, contextSize: 256, threads: 2 });
    await vk.load('m', TINY_SPM, { gpuLayers: 'max', contextSize: 256, threads: 2 });
    const req = { prompt: 'The quick brown fox jumps over the lazy dog because', maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } };
    const a = await cpu.complete('m', req);
    const b = await vk.complete('m', req);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.text).toBe(a.text);
    expect(vkLog.lines.join('\n')).toMatch(/offloaded (\d+)\/\1 layers to GPU/);
  });
});
