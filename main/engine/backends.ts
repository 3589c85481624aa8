/**
 * Choosing the backend the way users expect: CUDA, then Metal, then Vulkan, then the CPU. Each is
 * tried first in a throwaway probe process (`engine-host.js --probe`), so a broken driver that
 * crashes while loading takes down only the probe, never the engine host. The user can pin one.
 */
import { spawn } from 'child_process';
import { Device } from './protocol';

export const BACKEND_PINS = ['auto', 'cuda', 'metal', 'vulkan', 'cpu'] as const;
export type BackendPin = (typeof BACKEND_PINS)[number];
const GPU_ORDER = ['cuda', 'metal', 'vulkan'] as const;

export interface ProbeResult {
  ok: boolean;
  backends: string[];
  devices: Device[];
  systemInfo: string;
  /** how the probe failed: a signal, an exit code, a timeout */
  error?: string;
}

export interface BackendChoice {
  /** what the host loads (HEARTH_BACKENDS) */
  backends: string[];
  /** the GPU backend in use, or 'cpu' */
  backend: string;
  reason: string;
  probes: { backends: string; ok: boolean; gpus: number; error?: string }[];
}

/** Runs the host in probe mode with the given backends; never throws. */
export function probe(hostScript: string, env: NodeJS.ProcessEnv, backends: string[], timeoutMs = 60000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [hostScript, '--probe'], {
      env: { ...env, HEARTH_BACKENDS: backends.join(','), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, backends: [], devices: [], systemInfo: '', error: e.message });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) {
        try {
          const r = JSON.parse(line) as { backends: string[]; devices: Device[]; systemInfo: string };
          resolve({ ok: true, ...r });
          return;
        } catch {
          /* fall through */
        }
      }
      resolve({ ok: false, backends: [], devices: [], systemInfo: '', error: signal ? `crashed with ${signal}` : `exit code ${code}` });
    });
  });
}

const NAMES: Record<string, string> = { cuda: 'CUDA', metal: 'Metal', vulkan: 'Vulkan', cpu: 'CPU' };

/**
 * Picks the backends the host will load. `available` are the backend modules next to the addon
 * (e.g. ['cpu', 'vulkan']); `pin` is the user's setting.
 */
export async function chooseBackend(hostScript: string, env: NodeJS.ProcessEnv, available: string[], pin: BackendPin = 'auto'): Promise<BackendChoice> {
  const probes: BackendChoice['probes'] = [];
  const candidates = pin === 'auto' ? GPU_ORDER.filter((b) => available.includes(b)) : pin === 'cpu' ? [] : [pin];
  const skipped: string[] = [];
  for (const b of candidates) {
    if (!available.includes(b)) {
      skipped.push(`${NAMES[b]} is not built`);
      continue;
    }
    const set = [b, 'cpu'];
    const r = await probe(hostScript, env, set);
    const gpus = r.devices.filter((d) => d.backend.toLowerCase() === b && (d.type === 'gpu' || d.type === 'igpu'));
    probes.push({ backends: set.join(','), ok: r.ok, gpus: gpus.length, error: r.error });
    if (r.ok && gpus.length > 0) {
      const what = gpus.map((d) => d.description || d.name).join(', ');
      return { backends: set, backend: b, reason: `${NAMES[b]}${pin === 'auto' ? '' : ' (pinned)'}: ${what}`, probes };
    }
    skipped.push(r.ok ? `${NAMES[b]} found no GPU` : `${NAMES[b]} ${r.error} while loading (a broken driver?)`);
  }
  const cpu = await probe(hostScript, env, ['cpu']);
  probes.push({ backends: 'cpu', ok: cpu.ok, gpus: 0, error: cpu.error });
  const why = skipped.length ? skipped.join('; ') : pin === 'cpu' ? 'pinned' : 'no GPU backend is built';
  return { backends: ['cpu'], backend: 'cpu', reason: `CPU (${why})`, probes };
}
