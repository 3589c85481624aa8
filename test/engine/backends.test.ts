/**
 * Backend choice: each GPU backend is probed in a throwaway process first (CUDA → Metal → Vulkan →
 * CPU). A backend whose driver crashes while loading is skipped and the engine host never sees it.
 * Vulkan here is Mesa's lavapipe (visible only with GGML_VK_VISIBLE_DEVICES=0).
 */
import fs from 'fs';
import path from 'path';
import { pinnedFallback } from '../../main/engine/backends';
import { EngineClient } from '../../main/engine/client';
import { HardwareMonitor } from '../../main/hardware';
import { makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const vulkanBuilt = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));
const engines: EngineClient[] = [];
const engine = (env: NodeJS.ProcessEnv) => {
  const e = makeEngine(env);
  engines.push(e);
  return e;
};

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

test('without a GPU device the CPU is chosen, saying why', async () => {
  const e = engine({ GGML_VK_VISIBLE_DEVICES: '' });
  await e.start();
  expect(e.backendChoice!.backend).toBe('cpu');
  if (vulkanBuilt) expect(e.backendChoice!.reason).toMatch(/Vulkan found no GPU/);
  expect((await e.version()).backends).toEqual(['CPU']);
});

(vulkanBuilt ? test : test.skip)('Vulkan pinned where it finds no GPU: the hardware info says the engine runs on the CPU, and lists Vulkan with why', async () => {
  const e = engine({ GGML_VK_VISIBLE_DEVICES: '' });
  const hw = new HardwareMonitor(e);
  await e.start();
  // auto: Vulkan tried and passed over; the Backends row has every built backend, with its state
  expect((await hw.info()).backends).toEqual(['Vulkan: found no GPU', 'CPU']);
  await e.setBackend('vulkan');
  const info = await hw.info();
  expect(info.backendChoice).toEqual({ backend: 'cpu', reason: expect.stringMatching(/^CPU: the pinned backend, Vulkan, found no GPU, so the engine runs on the CPU \(choose Auto or CPU only to stop trying Vulkan\)/) });
  expect(info.backendChoice!.reason.startsWith(pinnedFallback('Vulkan', 'found no GPU'))).toBe(true);
  expect(info.backends).toEqual(['Vulkan: found no GPU', 'CPU']);
  // the row agrees with the backend setting's choices: every built backend, named
  expect(info.built.sort()).toEqual(['cpu', 'vulkan']);
  expect(info.backends.map((b) => b.split(':')[0].toLowerCase()).sort()).toEqual(info.built);
  expect((await e.devices()).map((d) => d.backend)).toEqual(['CPU']);
  // pinned to the CPU: Vulkan is not in use, not tried
  await e.setBackend('cpu');
  expect((await hw.info()).backends).toEqual(['Vulkan: not in use', 'CPU']);
});

(vulkanBuilt ? describe : describe.skip)('with a Vulkan device', () => {
  test('Vulkan is chosen and the host loads Vulkan + CPU', async () => {
    const e = engine({ GGML_VK_VISIBLE_DEVICES: '0' });
    await e.start();
    expect(e.backendChoice!.backend).toBe('vulkan');
    expect(e.backendChoice!.reason).toMatch(/llvmpipe/);
    expect((await e.devices()).map((d) => d.backend).sort()).toEqual(['CPU', 'Vulkan']);
  });

  test('a driver that crashes in the probe is skipped; the engine runs on the CPU', async () => {
    const e = engine({ GGML_VK_VISIBLE_DEVICES: '0', HEARTH_TEST_CRASH_BACKEND: 'vulkan' });
    await e.start();
    expect(e.backendChoice!.backend).toBe('cpu');
    expect(e.backendChoice!.reason).toMatch(/Vulkan crashed with SIGABRT/);
    expect(e.backendChoice!.probes[0]).toMatchObject({ backends: 'vulkan,cpu', ok: false });
    await e.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const r = await e.complete('m', { prompt: 'still works', maxTokens: 3, ignoreEos: true });
    expect(r.timings.generatedTokens).toBe(3);
    // pinned, it says the pinned backend failed and the engine runs on the CPU
    await e.setBackend('vulkan');
    const info = await new HardwareMonitor(e).info();
    expect(info.backendChoice!.reason).toMatch(/^CPU: the pinned backend, Vulkan, failed while loading \(crashed with SIGABRT: a broken driver\?\), so the engine runs on the CPU/);
    expect(info.backends).toEqual(['Vulkan: failed while loading (crashed with SIGABRT)', 'CPU']);
  });

  test('the user can pin a backend', async () => {
    const e = engine({ GGML_VK_VISIBLE_DEVICES: '0' });
    await e.setBackend('cpu');
    expect(e.backendChoice!.reason).toMatch(/^CPU \(pinned\)/);
    expect((await e.devices()).map((d) => d.backend)).toEqual(['CPU']);
    await e.setBackend('vulkan');
    expect(e.backendChoice!.reason).toMatch(/^Vulkan \(pinned\)/);
    expect((await e.devices()).some((d) => d.backend === 'Vulkan')).toBe(true);
    expect((await new HardwareMonitor(e).info()).backends).toEqual(['Vulkan', 'CPU']);
  });
});

test('switching the backend is no crash: many switches in a minute leave the engine available', async () => {
  // found by the IPC fuzz: each switch counted as a crash (and respawned a second host), so the fifth
  // switch within a minute made the engine "keep crashing" (engine_unavailable) for a minute
  const e = engine({ GGML_VK_VISIBLE_DEVICES: '' });
  let crashes = 0;
  e.onCrash = () => crashes++;
  await e.start();
  const pids = new Set([e.pid]);
  for (const pin of ['cpu', 'auto', 'cpu', 'auto', 'cpu', 'auto', 'cpu'] as const) {
    await e.setBackend(pin);
    pids.add(e.pid);
  }
  expect(crashes).toBe(0);
  expect(pids.size).toBe(8); // one host per switch, none respawned behind it
  expect((await e.version()).backends).toEqual(['CPU']);
});
