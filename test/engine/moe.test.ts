/**
 * MoE offload on a generated tiny mixture-of-experts model (TINY_MOE: llama architecture with 32
 * experts per layer, laid out as Mixtral): it loads and generates; nCpuMoe and tensor overrides move the
 * experts between a real Vulkan device (Mesa's lavapipe, visible only with GGML_VK_VISIBLE_DEVICES=0)
 * and system RAM, and llama.cpp's estimate and the real breakdown move together and agree within 5%;
 * with gpuLayers "auto" llama.cpp's fit places the experts itself and says so (the engine, the load,
 * `hearth fit`); bad overrides are refused with an error naming them.
 */
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { EngineClient } from '../../main/engine/client';
import { MemoryBreakdown } from '../../main/engine/protocol';
import { cpuExpertLayers, planLoad } from '../../main/models/fit';
import { errorOf, makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_MOE, TINY_MOE_EXPERTS, TINY_SPM } from '../helpers/models';

const vulkanBuilt = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));
const HEARTH = path.join(REPO_ROOT, 'bin', 'hearth.js');
const MiB = 2 ** 20;

/** One layer's experts, in bytes: gate, up and down, each 64 x 128 x TINY_MOE_EXPERTS F16 values (the tiny size's shape). */
const EXPERT_BYTES_PER_LAYER = 3 * 64 * 128 * TINY_MOE_EXPERTS * 2;

const sum = (m: { model: number; context: number; compute: number }) => m.model + m.context + m.compute;

function within(estimate: number, actual: number, tolerance = 0.05): boolean {
  if (actual === 0) return estimate === 0;
  return Math.abs(estimate - actual) / actual <= tolerance;
}

/** Every device's (and the host's) estimate within ±5% of what the load really allocated: weights, KV cache and total. */
function expectClose(est: MemoryBreakdown, actual: MemoryBreakdown, what: string): void {
  expect(est.devices.map((d) => d.name)).toEqual(actual.devices.map((d) => d.name));
  const problems: string[] = [];
  est.devices.forEach((d, i) => {
    const a = actual.devices[i];
    if (!within(sum(d), sum(a))) problems.push(`${what} ${d.name} total: estimate ${sum(d)}, real ${sum(a)}`);
    if (!within(d.model, a.model)) problems.push(`${what} ${d.name} weights: estimate ${d.model}, real ${a.model}`);
    if (!within(d.context, a.context)) problems.push(`${what} ${d.name} KV: estimate ${d.context}, real ${a.context}`);
  });
  if (!within(est.host.model, actual.host.model)) problems.push(`${what} host weights: estimate ${est.host.model}, real ${actual.host.model}`);
  if (!within(sum(est.host), sum(actual.host))) problems.push(`${what} host total: estimate ${sum(est.host)}, real ${sum(actual.host)}`);
  expect(problems).toEqual([]);
}

function hearth(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [HEARTH, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('CPU', () => {
  let engine: EngineClient;
  beforeAll(() => {
    engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
  });
  afterAll(() => engine.close());

  test('the tiny MoE model loads and generates, the same tokens for the same seed; the estimate counts its experts', async () => {
    const info = await engine.info(TINY_MOE);
    expect(info.architecture).toBe('llama');
    expect(info.layers).toBe(2);
    expect((await engine.estimate(TINY_MOE, { contextSize: 512 })).experts).toBe(TINY_MOE_EXPERTS);
    expect((await engine.estimate(TINY_SPM, { contextSize: 512 })).experts).toBe(0);
    await engine.load('moe', TINY_MOE, { contextSize: 512, threads: 2 });
    const sampled = { seed: 7, temperature: 0.8 };
    const a = await engine.complete('moe', { prompt: 'Once upon a time', maxTokens: 12, ignoreEos: true, sampling: sampled });
    const b = await engine.complete('moe', { prompt: 'Once upon a time', maxTokens: 12, ignoreEos: true, sampling: sampled });
    expect(a.timings.generatedTokens).toBe(12);
    expect(a.stopReason).toBe('length');
    expect(b.text).toBe(a.text);
    await engine.unload('moe');
  });

  test('a bad override is refused with an error naming it: an invalid pattern, an unknown buffer type, no "="', async () => {
    const badRegex = await errorOf(engine.estimate(TINY_MOE, { gpuLayers: 'max', tensorOverrides: ['blk\\.(0|1\\.ffn_up_exps=CPU'] }));
    expect(badRegex.code).toBe('invalid_argument');
    expect(badRegex.message).toContain('blk\\.(0|1\\.ffn_up_exps');
    expect(badRegex.message).toMatch(/not a valid regular expression/);
    const badType = await errorOf(engine.load('bad', TINY_MOE, { gpuLayers: 'max', tensorOverrides: ['blk\\.0\\.ffn_up_exps=GPU9'] }));
    expect(badType.code).toBe('invalid_argument');
    expect(badType.message).toMatch(/unknown buffer type "GPU9"/);
    expect(badType.message).toMatch(/this machine has: CPU/);
    const noEq = await errorOf(engine.estimate(TINY_MOE, { gpuLayers: 'max', tensorOverrides: ['blk\\.0\\.ffn_up_exps'] }));
    expect(noEq.message).toMatch(/pattern=buffer type/);
    // with gpuLayers auto the fit places the experts itself: a hand placement with it is refused by name
    const withAuto = await errorOf(engine.estimate(TINY_MOE, { nCpuMoe: 1 }));
    expect(withAuto.message).toMatch(/nCpuMoe needs gpuLayers set to a number or "max"/);
    const overAuto = await errorOf(engine.load('bad', TINY_MOE, { gpuLayers: 'auto', tensorOverrides: ['exps=CPU'] }));
    expect(overAuto.message).toMatch(/tensorOverrides needs gpuLayers/);
  });

  test("the fit's overrides counted as layers: only CPU entries for the FFN of a layer the model has", () => {
    const fitWrote = ['blk\\.1\\.ffn_(gate|gate_up|down).*=CPU', 'blk\\.2\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU'];
    expect(cpuExpertLayers(fitWrote, 2)).toBe(1); // blk.2 is the output layer's place in llama.cpp's count: no tensor
    expect(cpuExpertLayers(fitWrote, 3)).toBe(2);
    expect(cpuExpertLayers(['blk\\.0\\.ffn_up_exps=Vulkan0', 'blk\\.0\\.attn_q.*=CPU'], 2)).toBe(0);
  });

  test('hearth refuses a bad -ot and --n-cpu-moe without --gpu-layers, naming the option', () => {
    const env = { GGML_VK_VISIBLE_DEVICES: '' };
    const noLayers = hearth(['fit', TINY_MOE, '--n-cpu-moe', '1'], env);
    expect(noLayers.status).toBe(1);
    expect(noLayers.stderr).toMatch(/--n-cpu-moe needs --gpu-layers N or max/);
    const badRegex = hearth(['fit', TINY_MOE, '--gpu-layers', 'max', '-ot', 'blk\\.([0-9]=CPU'], env);
    expect(badRegex.status).toBe(1);
    expect(badRegex.stderr).toContain('blk\\.([0-9]');
    expect(badRegex.stderr).toMatch(/not a valid regular expression/);
    const badShape = hearth(['fit', TINY_MOE, '--gpu-layers', 'max', '-ot', 'blk'], env);
    expect(badShape.status).toBe(1);
    expect(badShape.stderr).toMatch(/-ot "blk": must be pattern=buffer type/);
  });
});

(vulkanBuilt ? describe : describe.skip)('Vulkan (lavapipe)', () => {
  let engine: EngineClient;
  beforeAll(() => {
    engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '0' });
  });
  afterAll(() => engine.close());

  test('the estimate and the real breakdown move with nCpuMoe, a layer of experts at a time, and agree within 5%', async () => {
    const seen: { n: number; est: MemoryBreakdown; real: MemoryBreakdown }[] = [];
    for (const nCpuMoe of [0, 1, 2]) {
      // without mmap, as llama.cpp advises for overrides to the CPU: a mapped file's pages are counted whole
      const params = { contextSize: 512, gpuLayers: 'max' as const, nCpuMoe, useMmap: false };
      const est = await engine.estimate(TINY_MOE, params);
      expect(est.devices).toHaveLength(1);
      expect(est.devices[0].backend).toBe('Vulkan');
      await engine.load('moe', TINY_MOE, { ...params, threads: 2 });
      const real = await engine.memory('moe');
      await engine.unload('moe');
      expectClose(est, real, `nCpuMoe ${nCpuMoe}`);
      seen.push({ n: nCpuMoe, est, real });
    }
    // each step moves one layer's experts from the Vulkan device to system RAM, in both
    for (let i = 1; i < seen.length; i++) {
      for (const k of ['est', 'real'] as const) {
        const movedOff = seen[i - 1][k].devices[0].model - seen[i][k].devices[0].model;
        const movedOn = seen[i][k].host.model - seen[i - 1][k].host.model;
        expect({ k, n: seen[i].n, off: within(movedOff, EXPERT_BYTES_PER_LAYER), on: within(movedOn, EXPERT_BYTES_PER_LAYER) }).toEqual({ k, n: seen[i].n, off: true, on: true });
      }
    }
    // an override by pattern does what nCpuMoe does: layer 0's experts in system RAM
    const byPattern = await engine.estimate(TINY_MOE, { contextSize: 512, gpuLayers: 'max', useMmap: false, tensorOverrides: ['blk\\.0\\.ffn_(up|down|gate)_exps=CPU'] });
    expect(byPattern.devices[0].model).toBe(seen[1].est.devices[0].model);
    expect(byPattern.host.model).toBe(seen[1].est.host.model);
    // and the other way round: everything on the CPU but layer 1's experts, named by the device's buffer type
    const onDevice = await engine.estimate(TINY_MOE, { contextSize: 512, gpuLayers: 0, tensorOverrides: ['blk\\.1\\.ffn_.*_exps=Vulkan0'] });
    expect(within(onDevice.devices[0].model, EXPERT_BYTES_PER_LAYER)).toBe(true);
  });

  test('auto: llama.cpp\'s fit keeps experts in system RAM when the device is tight, the load does the same, and hearth fit says so', async () => {
    const vk = (await engine.devices()).find((d) => d.backend === 'Vulkan')!;
    const all = await engine.estimate(TINY_MOE, { contextSize: 512, gpuLayers: 'max' });
    const roomy = await engine.fit(TINY_MOE, { contextSize: 512 }, { marginMiB: 64 });
    expect(roomy.tensorOverrides).toEqual([]);
    // the smallest margin (in whole MiB) that leaves no room for everything: the fit moves experts first
    const marginMiB = Math.floor((vk.memoryFree - sum(all.devices[0])) / MiB) + 1;
    const tight = await engine.fit(TINY_MOE, { contextSize: 512 }, { marginMiB });
    expect(tight.fits).toBe(true);
    const layersOff = cpuExpertLayers(tight.tensorOverrides, 2);
    expect(layersOff).toBeGreaterThanOrEqual(1);
    expect(tight.tensorOverrides.some((o) => /^blk\\\.[01]\\\.ffn_.*=CPU$/.test(o))).toBe(true);
    // the plan the app and the CLI use: the estimate with the fit's placement, in words
    // without mmap (see above): a mapped file's host part counts the mapped range around the experts
    const plan = await planLoad(engine, TINY_MOE, { contextSize: 512, useMmap: false }, marginMiB);
    expect(plan.moe).toBe(`experts of ${layersOff} layer${layersOff === 1 ? '' : 's'} on the CPU`);
    expect(plan.reason).toContain(`MoE: ${plan.moe}.`);
    expect(plan.estimate.devices[0].model).toBeLessThan(all.devices[0].model);
    expect(plan.check.fits).toBe(true);
    // loading with gpuLayers "auto" and that margin: the same placement, and the real allocation keeps the margin
    const loaded = await engine.load('moe', TINY_MOE, { contextSize: 512, gpuLayers: 'auto', fitMarginMiB: marginMiB, useMmap: false, threads: 2 });
    expect(loaded.fit?.tensorOverrides).toEqual(tight.tensorOverrides);
    const real = await engine.memory('moe');
    await engine.unload('moe');
    expectClose(plan.estimate, real, 'auto');
    expect(sum(real.devices[0])).toBeLessThanOrEqual((vk.memoryFree - marginMiB * MiB) * 1.05);

    const env = { GGML_VK_VISIBLE_DEVICES: '0' };
    const text = hearth(['fit', TINY_MOE, '--ctx', '512', '--margin', String(marginMiB)], env);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`MoE: ${plan.moe}.`);
    const json = hearth(['fit', TINY_MOE, '--ctx', '512', '--margin', String(marginMiB), '--json'], env);
    const out = JSON.parse(json.stdout);
    expect(out.experts).toBe(TINY_MOE_EXPERTS);
    expect(out.moe).toBe(plan.moe);
    expect(out.fit.tensorOverrides).toEqual(tight.tensorOverrides);
    // by hand: --n-cpu-moe with --gpu-layers max, the experts moved in the figures too
    const byHand = hearth(['fit', TINY_MOE, '--ctx', '512', '--gpu-layers', 'max', '--n-cpu-moe', '1', '--json'], env);
    expect(byHand.status).toBe(0);
    const h = JSON.parse(byHand.stdout);
    const vkRow = h.devices.find((d: { backend: string }) => d.backend === 'Vulkan');
    expect(within(all.devices[0].model - vkRow.weights, EXPERT_BYTES_PER_LAYER)).toBe(true);
    const handText = hearth(['fit', TINY_MOE, '--ctx', '512', '--gpu-layers', 'max', '--n-cpu-moe', '1'], env);
    expect(handText.stdout).toMatch(/MoE \(32 experts per layer\): experts of 1 layer on the CPU \(--n-cpu-moe\)/);
    // -ot alone: only the overrides are named, counted in the singular
    const otText = hearth(['fit', TINY_MOE, '--ctx', '512', '--gpu-layers', 'max', '-ot', 'ffn_.*_exps=CPU'], env);
    expect(otText.status).toBe(0);
    expect(otText.stdout).toMatch(/MoE \(32 experts per layer\): 1 tensor override \(-ot\)\n/);
  });
});
