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
  /** the number llama.cpp gives this GPU for Main GPU and Tensor split; absent on the CPU and on a GPU llama.cpp leaves out */
  gpuIndex: z.number().int().min(0).optional(),
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
 * The GPUs in the order llama.cpp numbers them for Main GPU and Tensor split (each device's `gpuIndex`, which
 * the engine takes from llama.cpp's default choice of a model's devices: native/src/memory.cpp llamaGpus).
 */
export function gpuOrder<D extends Pick<Device, 'gpuIndex'>>(devices: readonly D[]): D[] {
  return devices.filter((d) => d.gpuIndex !== undefined).sort((a, b) => a.gpuIndex! - b.gpuIndex!);
}
