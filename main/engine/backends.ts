/**
 * Choosing the backend the way users expect: CUDA, then Metal, then Vulkan, then the CPU. Each is
 * tried first in a throwaway probe process (`engine-host.js --probe`), so a broken driver that
 * crashes while loading takes down only the probe, never the engine host. The user can pin one.
 */
import { spawn } from 'child_process';
import { z } from 'zod';
import { Device, LoadedModule } from './protocol';
import { BACKEND_NAMES as NAMES, BackendPin, GPU_ORDER } from '../params/backends';

export { BACKEND_PINS, type BackendPin } from '../params/backends';

export interface ProbeResult {
  ok: boolean;
  backends: string[];
  devices: Device[];
  systemInfo: string;
  /** the modules the probe loaded: for the CPU built in variants, the one this machine accepts best */
  modules: LoadedModule[];
  /** how the probe failed: a signal, an exit code, a timeout */
  error?: string;
}

export interface BackendChoice {
  /** the backend modules this build has (next to the addon), e.g. ['cpu', 'vulkan'] */
  built: string[];
  /** what the host loads (HEARTH_BACKENDS) */
  backends: string[];
  /** the GPU backend in use, or 'cpu' */
  backend: string;
  reason: string;
  probes: { backends: string; ok: boolean; gpus: number; error?: string }[];
}

/** A probe process: its standard output, how it ended, and a way to stop it. */
export interface ProbeProcess {
  onStdout(fn: (text: string) => void): void;
  /** once: an exit code and/or signal (utilityProcess reports only a code), or why it could not start */
  onExit(fn: (code: number | null, signal: string | null, error?: string) => void): void;
  kill(): void;
}

/**
 * Starts `engine-host.js --probe`. Under Node, a child process of this Node (nodeProbeSpawner);
 * under Electron a utilityProcess (main/app/spawners.ts), so nothing needs ELECTRON_RUN_AS_NODE.
 */
export type ProbeSpawner = (script: string, args: string[], env: NodeJS.ProcessEnv) => ProbeProcess;

export const nodeProbeSpawner: ProbeSpawner = (script, args, env) => {
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  return {
    onStdout: (fn) => child.stdout.on('data', (d: Buffer) => fn(d.toString())),
    onExit: (fn) => {
      let done = false;
      const once = (code: number | null, signal: string | null, error?: string) => {
        if (!done) fn(code, signal, error);
        done = true;
      };
      child.on('error', (e) => once(null, null, e.message));
      child.on('exit', (code, signal) => once(code, signal));
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
};

/** The line a probe prints (host.ts runProbe). */
const ProbeLine = z.object({ backends: z.array(z.string()), devices: z.array(Device), systemInfo: z.string(), modules: z.array(LoadedModule) });

/** Runs the host in probe mode with the given backends; never throws. */
export function probe(spawner: ProbeSpawner, hostScript: string, env: NodeJS.ProcessEnv, backends: string[], timeoutMs = 60000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const failed = (error: string) => resolve({ ok: false, backends: [], devices: [], systemInfo: '', modules: [], error });
    let child: ProbeProcess;
    try {
      child = spawner(hostScript, ['--probe'], { ...env, HEARTH_BACKENDS: backends.join(',') });
    } catch (e) {
      failed(`could not start (${(e as Error).message})`);
      return;
    }
    let out = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, timeoutMs);
    child.onStdout((text) => (out += text));
    child.onExit((code, signal, error) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) {
        try {
          const r = ProbeLine.safeParse(JSON.parse(line));
          if (r.success) {
            resolve({ ok: true, ...r.data });
            return;
          }
        } catch {
          /* fall through */
        }
      }
      failed(error ?? (timedOut ? `timed out after ${timeoutMs} ms` : signal ? `crashed with ${signal}` : `exit code ${code}`));
    });
  });
}

/**
 * Picks the backends the host will load, probing with `spawner`. `available` are the backend modules
 * next to the addon (e.g. ['cpu', 'vulkan']); `pin` is the user's setting.
 */
export async function chooseBackend(
  spawner: ProbeSpawner,
  hostScript: string,
  env: NodeJS.ProcessEnv,
  available: string[],
  pin: BackendPin = 'auto',
): Promise<BackendChoice> {
  const probes: BackendChoice['probes'] = [];
  const candidates = pin === 'auto' ? GPU_ORDER.filter((b) => available.includes(b)) : pin === 'cpu' ? [] : [pin];
  const skipped: string[] = [];
  /** a pinned GPU backend that could not be used: why, in words */
  let pinFailed: string | undefined;
  for (const b of candidates) {
    if (!available.includes(b)) {
      skipped.push(`${NAMES[b]} is not built`);
      continue;
    }
    const set = [b, 'cpu'];
    const r = await probe(spawner, hostScript, env, set);
    const gpus = r.devices.filter((d) => d.backend.toLowerCase() === b && (d.type === 'gpu' || d.type === 'igpu'));
    probes.push({ backends: set.join(','), ok: r.ok, gpus: gpus.length, error: r.error });
    if (r.ok && gpus.length > 0) {
      const what = gpus.map((d) => d.description || d.name).join(', ');
      return { built: available, backends: set, backend: b, reason: `${NAMES[b]}${pin === 'auto' ? '' : ' (pinned)'}: ${what}`, probes };
    }
    skipped.push(r.ok ? `${NAMES[b]} found no GPU` : `${NAMES[b]} ${r.error} while loading (a broken driver?)`);
    if (pin !== 'auto') pinFailed = r.ok ? 'found no GPU' : `failed while loading (${r.error}: a broken driver?)`;
  }
  if (pin !== 'auto' && pin !== 'cpu' && !available.includes(pin)) pinFailed = 'is not in this build';
  const cpu = await probe(spawner, hostScript, env, ['cpu']);
  probes.push({ backends: 'cpu', ok: cpu.ok, gpus: 0, error: cpu.error });
  const why = skipped.length ? skipped.join('; ') : pin === 'cpu' ? 'pinned' : 'no GPU backend is built';
  const variant = cpu.modules.find((m) => m.backend === 'cpu')?.variant;
  const v = variant ? `, ${variant} variant` : '';
  // a pinned backend that cannot run: the engine still runs (on the CPU), and says so plainly
  const reason = pinFailed !== undefined && pin !== 'auto' && pin !== 'cpu' ? pinnedFallback(NAMES[pin], pinFailed) + v : `CPU (${why})${v}`;
  return { built: available, backends: ['cpu'], backend: 'cpu', reason, probes };
}

/** The words for a pinned backend that cannot run (the setting stays; the engine runs on the CPU meanwhile). */
export function pinnedFallback(name: string, what: string): string {
  return `CPU: the pinned backend, ${name}, ${what}, so the engine runs on the CPU (choose Auto or CPU only to stop trying ${name})`;
}

/**
 * Every backend this build has, in words with its state: one the engine loaded by its name
 * ("Vulkan", "CPU"), any other with why it is not in use ("Vulkan: found no GPU"). `loaded`: the
 * host's backends (llama.cpp's names). What the hardware page's Backends row lists, so it agrees
 * with the backend setting's choices (pinsFor(built)).
 */
export function backendStates(choice: Pick<BackendChoice, 'built' | 'probes'>, loaded: readonly string[]): string[] {
  const isLoaded = (b: string) => loaded.some((l) => l.toLowerCase() === b);
  const order = [...GPU_ORDER, 'cpu'].filter((b) => choice.built.includes(b));
  const out = order.map((b) => {
    const name = NAMES[b as keyof typeof NAMES] ?? b;
    if (isLoaded(b)) return name;
    const p = choice.probes.find((x) => x.backends === `${b},cpu`);
    if (!p) return `${name}: not in use`;
    return p.ok ? `${name}: found no GPU` : `${name}: failed while loading (${p.error ?? 'unknown'})`;
  });
  // a backend loaded that is not among the built modules (a build that links it in)
  for (const l of loaded) if (!order.includes(l.toLowerCase())) out.push(l);
  return out;
}
