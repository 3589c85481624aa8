/** The machine: CPU, RAM, devices, and live usage sampled on demand (only while the hardware page asks). */
import fs from 'fs';
import os from 'os';
import { backendStates } from '../engine/backends';
import { EngineClient } from '../engine/client';
import { availableMemory } from '../engine/system-memory';
import { HardwareInfo, HardwareUsage } from '../ipc/contract';

/** Instruction sets from llama.cpp's system info ("CPU : SSE3 = 1 | AVX = 1 | …"). */
export function instructionSets(systemInfo: string): string[] {
  const cpu = /CPU\s*:\s*([^\n]*)/.exec(systemInfo)?.[1] ?? '';
  const out: string[] = [];
  for (const m of cpu.matchAll(/([A-Z0-9_]+)\s*=\s*1/g)) {
    if (!['OPENMP', 'REPACK', 'LLAMAFILE', 'KLEIDIAI', 'ACCELERATE'].includes(m[1])) out.push(m[1].replace(/_/g, '-'));
  }
  return out;
}

function physicalCores(): number {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const ids = new Set<string>();
    let phys = '0';
    for (const line of text.split('\n')) {
      const [k, v] = line.split(':').map((x) => x?.trim());
      if (k === 'physical id') phys = v;
      if (k === 'core id') ids.add(`${phys}/${v}`);
    }
    if (ids.size > 0) return ids.size;
  } catch {
    /* not Linux */
  }
  return os.cpus().length;
}

export class HardwareMonitor {
  private last: { idle: number; total: number } | undefined;

  constructor(private readonly engine: EngineClient) {}

  async info(): Promise<HardwareInfo> {
    const [v, devices] = await Promise.all([this.engine.version(), this.engine.devices()]);
    const c = this.engine.backendChoice;
    return {
      cpu: {
        model: os.cpus()[0]?.model.trim() ?? 'unknown',
        cores: physicalCores(),
        threads: os.cpus().length,
        // the engine's own default, which the load settings show: llama.cpp counts cores its own way
        defaultThreads: v.defaultThreads,
        instructionSets: instructionSets(v.systemInfo),
      },
      ram: { total: os.totalmem(), free: availableMemory() },
      backends: c ? backendStates(c, v.backends) : v.backends,
      built: c?.built ?? [],
      devices,
      backendChoice: c ? { backend: c.backend, reason: c.reason } : null,
      rpc: this.engine.rpcServers,
    };
  }

  private cpuTimes(): { idle: number; total: number } {
    let idle = 0;
    let total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      idle += t.idle;
      total += t.user + t.nice + t.sys + t.idle + t.irq;
    }
    return { idle, total };
  }

  /** CPU use since the previous sample (the first sample measures a 100 ms window). */
  async usage(): Promise<HardwareUsage> {
    if (!this.last) {
      this.last = this.cpuTimes();
      await new Promise((r) => setTimeout(r, 100));
    }
    const now = this.cpuTimes();
    const dt = now.total - this.last.total;
    const cpuPercent = dt > 0 ? Math.max(0, Math.min(100, (100 * (dt - (now.idle - this.last.idle))) / dt)) : 0;
    this.last = now;
    const devices = (await this.engine.devices()).filter((d) => d.type !== 'cpu').map((d) => ({ name: d.name, backend: d.backend, used: d.memoryTotal - d.memoryFree, total: d.memoryTotal }));
    const total = os.totalmem();
    return { at: Date.now(), cpuPercent, ram: { used: total - availableMemory(), total }, devices };
  }
}
