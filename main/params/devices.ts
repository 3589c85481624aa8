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

/** Bytes on one device or the host: total and free, and what weights (model), KV cache (context) and compute buffers take. */
export const MemoryUse = z.object({ total: z.number(), free: z.number(), model: z.number(), context: z.number(), compute: z.number() });
export const DeviceMemory = MemoryUse.extend({ name: z.string(), backend: z.string(), description: z.string(), type: z.string() });
/** Per device and host: bytes for weights (model), KV cache (context) and compute buffers. */
export const MemoryBreakdown = z.object({ devices: z.array(DeviceMemory), host: MemoryUse });
export type MemoryBreakdown = z.infer<typeof MemoryBreakdown>;
