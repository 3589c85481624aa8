/**
 * Several GPUs without one: Mesa's lavapipe named twice (GGML_VK_VISIBLE_DEVICES=0,0 makes ggml-vulkan
 * open the one software GPU as two devices, Vulkan0 and Vulkan1, each with its own buffers) and an
 * rpc-server on loopback as a third. The real engine host and llama.cpp place a tiny model on them: a Main
 * GPU other than 0, a layer split between two GPUs, the vision projector's device, what llama.cpp
 * refuses, and the split llama.cpp's fit chooses. Skipped only where the Vulkan module was not built.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { planLoad } from '../../main/models/fit';
import { gpuOrder, MemoryBreakdown } from '../../main/params';
import { writeTestModel } from '../../scripts/make-test-model';
import { collectingLogger, errorOf, makeEngine } from '../helpers/engine';
import { REPO_ROOT, TINY_BPE, TINY_PROJECTOR, TINY_SPM } from '../helpers/models';
import { RpcServer, startRpcServer } from '../helpers/rpc';

jest.setTimeout(180_000);

const built = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', process.platform === 'win32' ? 'ggml-vulkan.dll' : 'libggml-vulkan.so'));
const GREEDY = { prompt: 'The quick brown fox jumps over the lazy dog because', maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } } as const;
const BASE = { contextSize: 256, threads: 2, gpuLayers: 'max' } as const;

/** what a load takes of each device, by name (free memory left out: it is the device's, not the load's) */
function taken(m: MemoryBreakdown) {
  return m.devices.map((d) => ({ name: d.name, model: d.model, context: d.context, compute: d.compute, projector: d.projector }));
}

(built ? describe : describe.skip)('two Vulkan GPUs and a remote one', () => {
  let rpc: RpcServer;
  let cpu: EngineClient;
  let gpus: EngineClient;
  const log = collectingLogger();

  beforeAll(async () => {
    rpc = await startRpcServer();
    cpu = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
    await cpu.setBackend('cpu');
    // the reply each placement must give: the same model on the CPU
    await cpu.load('ref', TINY_BPE, { ...BASE, gpuLayers: 0 });
    gpus = makeEngine({ GGML_VK_VISIBLE_DEVICES: '0,0' }, log, { rpcServers: [rpc.endpoint] });
    await gpus.setBackend('vulkan');
  });

  afterAll(async () => {
    await Promise.all([cpu?.close(), gpus?.close()]);
    await rpc?.kill();
  });

  test('Main GPU numbers the GPUs as llama.cpp does: the remote one first, then Vulkan0 and Vulkan1', async () => {
    const order = gpuOrder(await gpus.devices());
    expect(order.map((d) => d.backend)).toEqual(['RPC', 'Vulkan', 'Vulkan']);
    expect(order.slice(1).map((d) => d.name)).toEqual(['Vulkan0', 'Vulkan1']);
    // with split mode none llama.cpp keeps the Main GPU alone: each number puts the model on the GPU listed there
    for (const [i, d] of order.entries()) {
      const est = await gpus.estimate(TINY_SPM, { ...BASE, splitMode: 'none', mainGpu: i });
      expect(est.devices.map((x) => x.name)).toEqual([d.name]);
      expect(est.devices[0].model).toBeGreaterThan(0);
    }
  });

  test('split mode none on the second local GPU: the model, its cache and the projector go there, as estimated, and it answers as on the CPU', async () => {
    const params = { ...BASE, splitMode: 'none', mainGpu: 2, mmproj: TINY_PROJECTOR } as const;
    const est = await gpus.estimate(TINY_BPE, params);
    expect(est.devices.map((d) => d.name)).toEqual(['Vulkan1']);
    for (const part of ['model', 'context', 'compute', 'projector'] as const) expect(est.devices[0][part]).toBeGreaterThan(0);
    log.lines.length = 0;
    await gpus.load('one', TINY_BPE, params);
    const lines = log.lines.join('\n');
    expect(lines).toMatch(/using device Vulkan1 /);
    expect(lines).not.toMatch(/using device (Vulkan0|RPC)/);
    expect(lines).toMatch(/CLIP using Vulkan1 backend/); // mtmd's own word for where the projector went
    expect(taken(await gpus.memory('one'))).toEqual(taken(est));
    const want = await cpu.complete('ref', GREEDY);
    const got = await gpus.complete('one', GREEDY);
    expect(got.tokens).toEqual(want.tokens);
    await gpus.unload('one');
  });

  test('a draft model goes where its target goes (split none on the second local GPU), and the memory a load reports counts it, as the estimate does', async () => {
    const params = { ...BASE, splitMode: 'none', mainGpu: 2, draftModel: TINY_SPM } as const;
    const est = await gpus.estimate(TINY_SPM, params);
    const alone = await gpus.estimate(TINY_SPM, { ...BASE, splitMode: 'none', mainGpu: 2 });
    expect(est.devices.map((d) => d.name)).toEqual(['Vulkan1']);
    expect(est.devices[0].model).toBe(2 * alone.devices[0].model); // the draft is the same file
    log.lines.length = 0;
    await gpus.load('drafting', TINY_SPM, params);
    const lines = log.lines.join('\n');
    expect(lines.match(/using device Vulkan1 /g)).toHaveLength(2); // the target, then the draft
    expect(lines).not.toMatch(/using device (Vulkan0|RPC)/);
    const loaded = await gpus.memory('drafting');
    expect(taken(loaded)).toEqual(taken(est));
    expect({ model: loaded.host.model, context: loaded.host.context }).toEqual({ model: est.host.model, context: est.host.context });
    // it drafts; its reply is not compared with the CPU's: verifying a draft decodes several tokens in one
    // batch, whose Vulkan kernels round differently from one token's, so on this random model the greedy
    // reply parts from the CPU's after 3 tokens, as llama.cpp's llama-speculative-simple's does here, word for word
    const r = await gpus.complete('drafting', GREEDY);
    expect(r.tokens).toHaveLength(GREEDY.maxTokens);
    expect(r.timings.draftTokens).toBeGreaterThan(0);
    expect(r.timings.acceptedTokens).toBeGreaterThan(0);
    await gpus.unload('drafting');

    // split by layer, all of them on the second local GPU: the draft's layers go there too, none to the
    // remote GPU (the split by free memory would give it most: its memory is this machine's RAM)
    const split = { ...BASE, splitMode: 'layer' as const, tensorSplit: [0, 0, 1], draftModel: TINY_SPM };
    const splitEst = await gpus.estimate(TINY_SPM, split);
    const models = Object.fromEntries(splitEst.devices.map((d) => [d.name, d.model]));
    expect(models).toEqual({ RPC0: 0, Vulkan0: 0, Vulkan1: 2 * alone.devices[0].model });
    await gpus.load('drafting', TINY_SPM, split);
    expect(taken(await gpus.memory('drafting'))).toEqual(taken(splitEst));
    await gpus.unload('drafting');

    // a context size llama.cpp rounds up (300 → 512 cells) with batches larger than it asked: the draft's
    // context takes the target's batch as the target's own (clamped to 300), as estimated
    const odd = { ...params, contextSize: 300, batchSize: 512, ubatchSize: 512 };
    const oddEst = await gpus.estimate(TINY_SPM, odd);
    await gpus.load('drafting', TINY_SPM, odd);
    expect(taken(await gpus.memory('drafting'))).toEqual(taken(oddEst));
    await gpus.unload('drafting');
  });

  test('layers split 1:3 between the two local GPUs (none remote): both hold layers, as estimated; the projector goes to the first', async () => {
    const params = { ...BASE, splitMode: 'layer' as const, tensorSplit: [0, 1, 3], mmproj: TINY_PROJECTOR };
    const est = await gpus.estimate(TINY_BPE, params);
    const by = Object.fromEntries(est.devices.map((d) => [d.name, d]));
    expect(by.Vulkan0.model).toBeGreaterThan(0);
    expect(by.Vulkan1.model).toBeGreaterThan(0);
    expect(est.devices.filter((d) => d.backend === 'RPC').every((d) => d.model === 0)).toBe(true);
    expect(by.Vulkan0.projector).toBeGreaterThan(0);
    expect(by.Vulkan1.projector).toBe(0);
    log.lines.length = 0;
    await gpus.load('split', TINY_BPE, params);
    expect(log.lines.join('\n')).toMatch(/CLIP using Vulkan0 backend/);
    // weights, cache and projector as estimated; the compute buffers too, except that ggml's scheduler
    // cuts this graph between the GPUs one node earlier in the estimate's no-alloc pass than in the load
    // (docs/architecture.md, Memory), so the estimate may only err high there
    const loaded = taken(await gpus.memory('split'));
    expect(loaded.map(({ compute: _, ...rest }) => rest)).toEqual(taken(est).map(({ compute: _, ...rest }) => rest));
    for (const [i, d] of loaded.entries()) {
      expect(est.devices[i].compute).toBeGreaterThanOrEqual(d.compute);
      expect(est.devices[i].compute).toBeLessThanOrEqual(d.compute * 1.25);
    }
    expect(est.devices.find((d) => d.name === 'Vulkan0')!.compute).toBe(loaded.find((d) => d.name === 'Vulkan0')!.compute);
    const want = await cpu.complete('ref', GREEDY);
    expect((await gpus.complete('split', GREEDY)).tokens).toEqual(want.tokens);
    await gpus.unload('split');
  });

  test("a Main GPU llama.cpp does not have is refused with llama.cpp's reason (load, its fit, estimate, fit), a row split by name; the engine goes on", async () => {
    const missing = { ...BASE, splitMode: 'none', mainGpu: 3 } as const;
    const load = await errorOf(gpus.load('x', TINY_SPM, missing));
    expect(load.code).toBe('load_failed');
    expect(load.message).toMatch(/could not load .*tiny-spm\.gguf: invalid value for main_gpu: 3 \(available devices: 3\)/);
    const est = await errorOf(gpus.estimate(TINY_SPM, missing));
    expect(est.message).toMatch(/could not estimate memory for .*: invalid value for main_gpu: 3 \(available devices: 3\)/);
    const fit = await errorOf(gpus.load('x', TINY_SPM, { ...missing, gpuLayers: 'auto', fitMarginMiB: 64 }));
    expect(fit.message).toMatch(/could not fit .*: invalid value for main_gpu: 3/);
    const fitAlone = await errorOf(gpus.fit(TINY_SPM, { ...missing, gpuLayers: 'auto' }));
    expect(fitAlone.message).toMatch(/could not fit .*: invalid value for main_gpu: 3/);
    // llama.cpp's row split needs split buffers, which only SYCL has here: not offered, refused by name
    const row = await errorOf(gpus.load('x', TINY_SPM, { ...BASE, splitMode: 'row' as never }));
    expect(row.code).toBe('invalid_argument');
    expect(row.message).toMatch(/splitMode .*'layer' \| 'none', received 'row'/);
    await gpus.load('after', TINY_SPM, { ...BASE, splitMode: 'none', mainGpu: 1 });
    expect((await gpus.complete('after', { ...GREEDY, maxTokens: 2 })).tokens).toHaveLength(2);
    await gpus.unload('after');
  });
});

(built ? describe : describe.skip)('two Vulkan GPUs, placed by llama.cpp\'s fit', () => {
  let gpus: EngineClient;
  let dir: string;
  let model: string;

  beforeAll(async () => {
    gpus = makeEngine({ GGML_VK_VISIBLE_DEVICES: '0,0' });
    await gpus.setBackend('vulkan');
    // layers of ~9 MB (the fast size, F16, 4 of its layers): a few MiB of margin move one
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-two-gpus-'));
    model = path.join(dir, 'four-layers.gguf');
    await writeTestModel({ out: model, size: 'fast', blockCount: 4, untied: true });
  });

  afterAll(async () => {
    await gpus?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("with too little room for its own split, the fit gives each GPU its layers: the estimate shown before the load places them so, and the load takes exactly that; a split of the user's own is kept, and where it overfills a GPU the plan says so; a split of zeros is none", async () => {
    const free = Math.min(...(await gpus.devices()).filter((d) => d.backend === 'Vulkan').map((d) => d.memoryFree)) / 2 ** 20;
    // room on each GPU for the output layer (39 MiB), its compute buffer (34 MiB) and little more, so
    // llama.cpp's own split (by free memory, even here) overfills the second GPU and the fit moves layers to the first
    const marginMiB = Math.floor(free) - 76;
    const params = { contextSize: 256, threads: 2, gpuLayers: 'auto' as const, fitMarginMiB: marginMiB };
    const plan = await planLoad(gpus, model, params, marginMiB);
    const split = plan.fit!.tensorSplit;
    expect(plan.fit).toMatchObject({ fits: true, gpuLayers: 5 }); // 4 layers and the output layer
    expect(split).toHaveLength(2);
    expect(split[0]).toBeGreaterThan(split[1]);
    expect(split[1]).toBeGreaterThan(0);
    expect(split[0] + split[1]).toBe(5);
    expect(plan.reason).toContain(`on Vulkan0 (${split[0]} layers), Vulkan1 (${split[1]} ${split[1] === 1 ? 'layer' : 'layers'})`);
    // the split matters: llama.cpp's own puts the layers elsewhere
    const own = await gpus.estimate(model, { ...params, gpuLayers: 'max' });
    expect(taken(own)).not.toEqual(taken(plan.estimate));
    await gpus.load('fitted', model, params);
    expect(taken(await gpus.memory('fitted'))).toEqual(taken(plan.estimate));
    await gpus.unload('fitted');

    // a split of the user's own: llama.cpp's fit moves no layer then (it refuses a split it did not
    // write), so the plan keeps the user's split and says why it does not fit, naming the GPU it overfills
    const mine = { ...params, tensorSplit: [1, 3] };
    const asSplit = await planLoad(gpus, model, mine, marginMiB);
    expect(asSplit.fit).toMatchObject({ fits: false, tensorSplit: [] });
    expect(asSplit.reason).toMatch(/^Does not fit as split: with a context of 256 tokens, less than \d+ MiB would stay free on Vulkan1\. llama\.cpp's fit moves layers only when Tensor split is empty/);
    expect(taken(asSplit.estimate)).toEqual(taken(await gpus.estimate(model, { ...mine, gpuLayers: 'max' })));

    // a split of zeros is none to llama.cpp: the fit splits as it would without one, and the load follows
    const zeros = { ...params, tensorSplit: [0, 0] };
    const asNone = await planLoad(gpus, model, zeros, marginMiB);
    expect(asNone.fit!.tensorSplit).toEqual(split);
    expect(taken(asNone.estimate)).toEqual(taken(plan.estimate));
    await gpus.load('fitted', model, zeros);
    expect(taken(await gpus.memory('fitted'))).toEqual(taken(plan.estimate));
    await gpus.unload('fitted');
  });
});
