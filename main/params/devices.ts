/**
 * What the engine reports of the machine, passed on unchanged to the renderer: a device and the
 * memory a model uses on each device and on the host. The engine protocol and the IPC contract both
 * take these shapes from here.
 */
import { z } from 'zod';

/** A backend device (llama.cpp's ggml device): bytes of memory in total and free now. */
export const Device = z.object({
  backend: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.string(),
  memoryTotal: z.number(),
  memoryFree: z.number(),
});
export type Device = z.infer<typeof Device>;

/**
 * Bytes on one device or the host: total and free, and what weights (model), KV cache (context), compute
 * buffers and the vision projector (its weights and compute buffer, as libmtmd reckons them) take.
 */
export const MemoryUse = z.object({ total: z.number(), free: z.number(), model: z.number(), context: z.number(), compute: z.number(), projector: z.number() });
export type MemoryUse = z.infer<typeof MemoryUse>;

/** The parts of a MemoryUse that a load takes, in the order the memory bars show them. */
export const MEMORY_PARTS = ['model', 'context', 'compute', 'projector'] as const satisfies readonly (keyof MemoryUse)[];

/** What a load takes of one device or the host: every part of MEMORY_PARTS. */
export function memoryNeed(m: Pick<MemoryUse, (typeof MEMORY_PARTS)[number]>): number {
  return MEMORY_PARTS.reduce((sum, k) => sum + m[k], 0);
}
export const DeviceMemory = MemoryUse.extend({ name: z.string(), backend: z.string(), description: z.string(), type: z.string() });
/** Per device and host: bytes for weights (model), KV cache (context), compute buffers and the projector. */
export const MemoryBreakdown = z.object({ devices: z.array(DeviceMemory), host: MemoryUse });
export type MemoryBreakdown = z.infer<typeof MemoryBreakdown>;

/**
 * The GPUs in the order llama.cpp numbers them for Main GPU and Tensor split: its default choice of a
 * model's devices (llama_model_load_from_file, src/llama.cpp) puts remote (RPC) devices first, then this
 * machine's GPUs, and its integrated GPUs only when it has no other. (llama.cpp also skips a device whose
 * id another already has, the same GPU through two backends; a build loads one GPU backend.)
 * test/engine/two-gpus.test.ts checks this against where llama.cpp puts a model with each Main GPU.
 */
export function gpuOrder<D extends Pick<Device, 'backend' | 'type'>>(devices: readonly D[]): D[] {
  const remote = devices.filter((d) => d.type === 'gpu' && d.backend === 'RPC');
  const local = devices.filter((d) => d.type === 'gpu' && d.backend !== 'RPC');
  return [...remote, ...local, ...(local.length > 0 ? [] : devices.filter((d) => d.type === 'igpu'))];
}
