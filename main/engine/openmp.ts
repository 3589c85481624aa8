/**
 * The engine host's OpenMP settings (docs/benchmarks.md, "Several models in one engine host"). Each
 * loaded model's context decodes on its own worker thread, and each such thread leads an OpenMP team of
 * its own (ggml's CPU backend runs a graph in `#pragma omp parallel` and waits at `#pragma omp barrier`
 * between its nodes). GCC's libgomp counts the threads of all teams (1 + the sum of each team's threads
 * less one); once they outnumber the CPUs this process may use, it spins at a barrier only its
 * "throttled" count (100) before it sleeps, and every barrier of a generation beside another loaded
 * model (the documents' embedding model after a search) costs a sleep and a wake-up. OMP_WAIT_POLICY
 * ACTIVE raises that count to 1,000; GOMP_SPINCOUNT keeps the ordinary count at libgomp's default
 * (300,000 spins, ~3 ms before an idle thread sleeps) instead of ACTIVE's minutes of spinning.
 */
import fs from 'fs';
import { backendModules } from './addon';

/** The pair the host gets. */
export const HOST_OPENMP: Readonly<Record<string, string>> = { OMP_WAIT_POLICY: 'ACTIVE', GOMP_SPINCOUNT: '300000' };

/** A variable by which the user already chose how OpenMP waits (libgomp's, GCC 13's per-device forms included). */
const USER_CHOICE = /^(OMP_WAIT_POLICY(_ALL|_DEV(_\d+)?)?|GOMP_SPINCOUNT)$/;

export type OpenmpRuntime = 'libgomp' | 'other' | 'none';

/**
 * The OpenMP runtime ggml's CPU backend modules in `dir` are linked with, by the library name each
 * names: GCC's libgomp, another (LLVM's libomp, MSVC's vcomp: for them ACTIVE means never sleeping), or
 * none found (ggml's own threads, or a module that cannot be read: nothing is changed then).
 */
export function openmpRuntime(dir: string): OpenmpRuntime {
  let other = false;
  for (const m of backendModules(dir).get('cpu') ?? []) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(m.path);
    } catch {
      continue;
    }
    if (bytes.includes('libgomp')) return 'libgomp';
    other ||= bytes.includes('libomp') || bytes.includes('libiomp') || bytes.includes('VCOMP');
  }
  return other ? 'other' : 'none';
}

/**
 * Intel's hybrid CPUs (performance and efficiency cores), as Linux shows them (an "atom" core PMU):
 * there GCC 14's libgomp lowers its own default spin count, which an explicit GOMP_SPINCOUNT would undo.
 */
export function hybridCpu(): boolean {
  return fs.existsSync('/sys/devices/cpu_atom');
}

/**
 * The host's environment from `given` (this process's and the caller's): without unset entries, an
 * OpenMP variable set empty dropped (libgomp refuses it with a warning at every start), and HOST_OPENMP
 * added where the backend runs on libgomp, the CPU is not hybrid, and the user chose none of their own.
 */
export function hostOpenmpEnv(given: NodeJS.ProcessEnv, runtime: OpenmpRuntime, hybrid: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined || (v === '' && USER_CHOICE.test(k))) continue;
    env[k] = v;
  }
  const chosen = Object.keys(env).some((k) => USER_CHOICE.test(k));
  return runtime === 'libgomp' && !hybrid && !chosen ? { ...HOST_OPENMP, ...env } : env;
}
