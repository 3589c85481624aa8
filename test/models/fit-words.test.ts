/**
 * The fit's sentence over several GPUs (main/models/fit.ts describeFit), a pure function: the layers each
 * GPU got from llama.cpp's fit, and a split of the user's that the fit does not move. The figures stand
 * for what the engine reports (test/engine/two-gpus.test.ts gets them from llama.cpp on two lavapipe GPUs).
 */
import type { Estimate, FitResult } from '../../main/engine/protocol';
import { describeFit } from '../../main/models/fit';

const MiB = 2 ** 20;
const gpu = (name: string, usedMiB: number) => ({ name, backend: 'Vulkan', description: 'test GPU', type: 'gpu', total: 2048 * MiB, free: 2048 * MiB, model: usedMiB * MiB, context: 0, compute: 0, projector: 0 });
const estimate = (...used: number[]): Estimate => ({
  devices: used.map((u, i) => gpu(`Vulkan${i}`, u)),
  host: { total: 0, free: 0, model: 0, context: 0, compute: 0, projector: 0 },
  layers: 4,
  trainedContext: 4096,
  contextSize: 256,
  experts: 0,
});
const fit = (f: Partial<FitResult>): FitResult => ({ fits: true, gpuLayers: -1, contextSize: 256, tensorSplit: [], tensorOverrides: [], ...f });

test("the fit's own split names each GPU's layers, a GPU given none too", () => {
  expect(describeFit(fit({ gpuLayers: 5, tensorSplit: [4, 1] }), estimate(36, 41), 1972)).toBe(
    'All 5 layers (the output layer counts as one) on Vulkan0 (4 layers), Vulkan1 (1 layer) with a context of 256 tokens, leaving at least 1972 MiB free.',
  );
  // zeros after the last GPU given any are not sent: the GPU still shows, with none
  expect(describeFit(fit({ gpuLayers: 5, tensorSplit: [5] }), estimate(77, 0), 1972)).toContain('on Vulkan0 (5 layers), Vulkan1 (0 layers) with');
  expect(describeFit(fit({ gpuLayers: 3, tensorSplit: [0, 3] }), estimate(0, 50), 1972)).toContain('3 of 5 layers (the output layer counts as one) on Vulkan0 (0 layers), Vulkan1 (3 layers) with');
  // no split of the fit's: the GPUs by name alone
  expect(describeFit(fit({}), estimate(20, 20), 1024)).toContain('on Vulkan0, Vulkan1 with');
});

test("a split of the user's that the fit could not move: what overfills, and what to change; one that keeps the margin says so", () => {
  const over = describeFit(fit({ fits: false }), estimate(10, 100), 1972, [1, 3]);
  expect(over).toBe(
    "Does not fit as split: with a context of 256 tokens, less than 1972 MiB would stay free on Vulkan1. llama.cpp's fit moves layers only when Tensor split is empty: clear it, change the proportions, shorten the context, or set GPU layers to a smaller number.",
  );
  // llama.cpp shortened the context, then refused to move the user's layers: at that context it fits
  expect(describeFit(fit({ fits: false, contextSize: 1024 }), estimate(10, 10), 1972, [1, 3])).toBe(
    "As split, with a context of 1,024 tokens, leaving at least 1972 MiB free (llama.cpp's fit moves layers only when Tensor split is empty).",
  );
  // a split with no layers for the model's GPUs is none to llama.cpp: the fit failed for want of room
  expect(describeFit(fit({ fits: false }), estimate(10, 100), 1972, [0, 0, 5])).toMatch(/^Does not fit: even with the fewest layers on Vulkan0, Vulkan1/);
});
