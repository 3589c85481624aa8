/**
 * The system RAM a load can still use. llama.cpp's CPU device reports its free memory as the total
 * on Linux and macOS ("free system memory is ill-defined"), so the engine host replaces it here,
 * for every device list, estimate and memory breakdown it answers: Linux's MemAvailable (free
 * memory plus the caches the kernel gives back), elsewhere os.freemem() (Windows: available
 * physical memory, as llama.cpp reads it there; macOS: free pages only, a low bound).
 */
import fs from 'fs';
import os from 'os';
import type { Device, MemoryBreakdown } from './protocol';

/** MemAvailable from /proc/meminfo's text, in bytes; null when the line is missing. */
export function parseMemAvailable(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

/** Bytes of RAM available to a new allocation now. */
export function availableMemory(): number {
  if (process.platform === 'linux') {
    try {
      const n = parseMemAvailable(fs.readFileSync('/proc/meminfo', 'utf8'));
      if (n !== null) return n;
    } catch {
      /* no /proc: fall back */
    }
  }
  return os.freemem();
}

/** The CPU devices with the RAM available now as their free memory (never above their total). */
export function withAvailableRam(devices: Device[], available = availableMemory()): Device[] {
  return devices.map((d) => (d.type === 'cpu' ? { ...d, memoryFree: Math.min(available, d.memoryTotal) } : d));
}

/** An estimate or breakdown whose host (system RAM) part shows the RAM available now. */
export function hostWithAvailableRam<T extends MemoryBreakdown>(m: T, available = availableMemory()): T {
  return { ...m, host: { ...m.host, free: m.host.total > 0 ? Math.min(available, m.host.total) : available } };
}
