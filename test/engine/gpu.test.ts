/**
 * A GPU backend on a real device: all layers on the GPU, greedy output checked against a CPU-only run.
 * Here (CI) the device is Mesa's lavapipe through Vulkan, which llama.cpp only uses when
 * GGML_VK_VISIBLE_DEVICES names it. On a machine with a GPU, scripts/check-gpu runs this file with
 * HEARTH_TEST_GPU_BACKEND=cuda (or metal, vulkan).
 * Skipped only where that backend's module was not built (the configure step says why).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { BackendPin } from '../../main/engine/backends';
import { writeTestLora } from '../../scripts/make-test-adapter';
import { collectingLogger, makeEngine, tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_BPE, TINY_PROJECTOR, TINY_SPM } from '../helpers/models';

const backend = (process.env.HEARTH_TEST_GPU_BACKEND ?? 'vulkan').toLowerCase() as Exclude<BackendPin, 'auto' | 'cpu'>;
const NAMES: Record<string, string> = { vulkan: 'Vulkan', cuda: 'CUDA', metal: 'Metal' };
const ext = process.platform === 'darwin' ? 'so' : process.platform === 'win32' ? 'dll' : 'so';
const built = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', `${process.platform === 'win32' ? '' : 'lib'}ggml-${backend}.${ext}`));
// lavapipe is a CPU-type Vulkan device: name it, as a user would for an iGPU llama.cpp skips
const env = backend === 'vulkan' && !process.env.GGML_VK_VISIBLE_DEVICES ? { GGML_VK_VISIBLE_DEVICES: '0' } : {};

(built ? describe : describe.skip)(`${NAMES[backend]} backend`, () => {
  let cpu: EngineClient;
  let gpu: EngineClient;
  const gpuLog = collectingLogger();

  beforeAll(async () => {
    cpu = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
    await cpu.setBackend('cpu');
    gpu = makeEngine(env, gpuLog);
    await gpu.setBackend(backend);
  });

  afterAll(async () => {
    await cpu.close();
    await gpu.close();
  });

  test('the device is listed with its memory', async () => {
    const devices = await gpu.devices();
    const d = devices.find((x) => x.backend === NAMES[backend]);
    expect(d).toBeDefined();
    expect(d!.memoryTotal).toBeGreaterThan(0);
    if (backend === 'vulkan' && env.GGML_VK_VISIBLE_DEVICES) expect(d!.description.toLowerCase()).toContain('llvmpipe');
  });

  test('all layers on the GPU give the CPU run’s greedy output', async () => {
    await cpu.load('m', TINY_SPM, { gpuLayers: 0, contextSize: 256, threads: 2 });
    await gpu.load('m', TINY_SPM, { gpuLayers: 'max', contextSize: 256, threads: 2 });
    const req = { prompt: 'The quick brown fox jumps over the lazy dog because', maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } };
    const a = await cpu.complete('m', req);
    const b = await gpu.complete('m', req);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.text).toBe(a.text);
    expect(gpuLog.lines.join('\n')).toMatch(/offloaded (\d+)\/\1 layers to GPU/);
    const mem = await gpu.memory('m');
    expect(mem.devices[0].model).toBeGreaterThan(0);
  });

  test("a vision projector goes on the device of the model's layers, in the estimate and the load alike; with no GPU layers, in system RAM", async () => {
    const params = { contextSize: 256, threads: 2, mmproj: TINY_PROJECTOR };
    const onCpu = await gpu.estimate(TINY_BPE, { ...params, gpuLayers: 0 });
    expect(onCpu.host.projector).toBeGreaterThan(0);
    for (const d of onCpu.devices) expect(d.projector).toBe(0);
    const onGpu = await gpu.estimate(TINY_BPE, { ...params, gpuLayers: 'max' });
    const dev = onGpu.devices.findIndex((d) => d.backend === NAMES[backend]);
    expect(dev).toBeGreaterThanOrEqual(0);
    // its weights go to the device; mtmd keeps a small CPU buffer beside them
    expect(onGpu.devices[dev].projector).toBeGreaterThan(onGpu.host.projector);
    expect(onGpu.host.projector).toBeLessThan(onCpu.host.projector / 2);
    await gpu.load('vision', TINY_BPE, { ...params, gpuLayers: 'max' });
    const loaded = await gpu.memory('vision');
    expect(loaded.devices[dev].projector).toBe(onGpu.devices[dev].projector);
    expect(loaded.host.projector).toBe(onGpu.host.projector);
    await gpu.unload('vision');
  });

  test('a LoRA adapter sits beside the layers it changes, in the estimate and the load alike', async () => {
    const lora = await writeTestLora({ out: path.join(tempDir('hearth-gpu-lora-'), 'tiny-lora.gguf') }); // each layer's attn_output and ffn_down
    const base = { contextSize: 256, threads: 2 };
    const adapters = { loraAdapters: [{ path: lora, scale: 1 }] };
    const added = async (gpuLayers: number | 'max') => {
      const [a, b] = [await gpu.estimate(TINY_SPM, { ...base, gpuLayers }), await gpu.estimate(TINY_SPM, { ...base, gpuLayers, ...adapters })];
      return { host: b.host.model - a.host.model, device: b.devices.map((d, i) => d.model - a.devices[i].model) };
    };
    const dev = (await gpu.estimate(TINY_SPM, base)).devices.findIndex((d) => d.backend === NAMES[backend]);
    expect(dev).toBeGreaterThanOrEqual(0);
    const all = await added('max');
    const none = await added(0);
    const half = await added(2); // the output and the last of the two layers on the GPU (llama.cpp offloads from the end)
    expect(none.host).toBeGreaterThan(0);
    expect(none.device[dev]).toBe(0);
    expect(all.host).toBe(0);
    expect(all.device[dev]).toBe(none.host);
    expect(half.host).toBeGreaterThan(0);
    expect(half.device[dev]).toBeGreaterThan(0);
    expect(half.host + half.device[dev]).toBe(none.host);
    // the loaded model holds on each side what the estimate said, beyond the one without the adapter
    await gpu.load('plain', TINY_SPM, { ...base, gpuLayers: 2 });
    await gpu.load('lora', TINY_SPM, { ...base, gpuLayers: 2, ...adapters });
    const [plain, withIt] = [await gpu.memory('plain'), await gpu.memory('lora')];
    expect(withIt.host.model - plain.host.model).toBe(half.host);
    expect(withIt.devices[dev].model - plain.devices[dev].model).toBe(half.device[dev]);
    await gpu.unload('plain');
    await gpu.unload('lora');
  });
});
