/**
 * The fit verdict's rule (remote-fit.ts verdictOf) over planned loads as llama.cpp's fit and estimate
 * report them. This machine has no GPU, so the GPU cases are plans written here with a GPU device in
 * the estimate (the real engine's GPU answers are the boundary out of reach; the CPU-only case runs on
 * the real engine in remote-fit.test.ts and hub-ipc.test.ts).
 */
import type { PlannedLoad } from '../../main/models/fit';
import { verdictOf } from '../../main/models/remote-fit';

const device = (type: 'gpu' | 'igpu' | 'cpu') => ({ name: type === 'cpu' ? 'CPU' : 'GPU0', type, model: 1, context: 1, compute: 1, free: 8 << 30, total: 16 << 30 });

function plan(o: { gpu: boolean; gpuLayers: number | 'max'; layers?: number; fits?: boolean; fitFits?: boolean | null }): PlannedLoad {
  const estimate = { layers: o.layers ?? 32, devices: o.gpu ? [device('gpu')] : [], host: { model: 1, context: 1, compute: 1 } };
  return {
    gpuLayers: o.gpuLayers,
    contextSize: 4096,
    estimate,
    fit: o.fitFits === undefined || o.fitFits === null ? null : { fits: o.fitFits },
    reason: null,
    check: { fits: o.fits ?? true, problems: [] },
  } as unknown as PlannedLoad;
}

test('every layer and the output layer on the GPU: full GPU; some: partial; none, or no GPU: CPU only; too large: does not fit', () => {
  expect(verdictOf(plan({ gpu: true, gpuLayers: 'max' }))).toBe('full-gpu');
  // llama.cpp counts the output layer as one more offloadable layer
  expect(verdictOf(plan({ gpu: true, gpuLayers: 33, layers: 32 }))).toBe('full-gpu');
  expect(verdictOf(plan({ gpu: true, gpuLayers: 32, layers: 32 }))).toBe('partial');
  expect(verdictOf(plan({ gpu: true, gpuLayers: 10 }))).toBe('partial');
  expect(verdictOf(plan({ gpu: true, gpuLayers: 0 }))).toBe('cpu-only');
  expect(verdictOf(plan({ gpu: false, gpuLayers: 0 }))).toBe('cpu-only');
  expect(verdictOf(plan({ gpu: true, gpuLayers: 'max', fits: false }))).toBe('does-not-fit');
  expect(verdictOf(plan({ gpu: true, gpuLayers: 20, fitFits: false }))).toBe('does-not-fit');
  expect(verdictOf(plan({ gpu: false, gpuLayers: 0, fits: false }))).toBe('does-not-fit');
});
