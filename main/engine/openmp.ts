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

/**
 * A variable by which the user already chose how OpenMP waits. libgomp reads the plain variable and its
 * `_ALL` form for the host; the per-device forms (GCC 13) are counted too, to leave any choice alone.
 */
const USER_CHOICE = /^(OMP_WAIT_POLICY(_ALL|_DEV(_\d+)?)?|GOMP_SPINCOUNT)$/;

/** A CPU backend module larger than this is not read (a module is a few MB; this bounds a stray file). */
const MAX_MODULE_BYTES = 256 << 20;

/**
 * Whether ggml's CPU backend modules in `dir` link GCC's libgomp (the library name a module needs is in
 * its dynamic string table). Not for another runtime (LLVM's libomp, MSVC's vcomp: for them ACTIVE means
 * never sleeping), nor without OpenMP, nor when no module can be read (nothing is changed then).
 */
export function linksLibgomp(dir: string): boolean {
  for (const m of backendModules(dir).get('cpu') ?? []) {
    try {
      const st = fs.statSync(m.path);
      if (!st.isFile() || st.size > MAX_MODULE_BYTES) continue;
      if (fs.readFileSync(m.path).includes('libgomp')) return true;
    } catch {
      continue;
    }
  }
  return false;
}

/**
 * Intel's hybrid CPUs (performance and efficiency cores), as Linux shows them (the `hybrid_cpu` flag, or
 * an "atom" core PMU): there GCC 14's libgomp sets its own spin count to 1 when none is given, which an
 * explicit GOMP_SPINCOUNT would undo.
 */
export function hybridCpu(): boolean {
  if (fs.existsSync('/sys/devices/cpu_atom')) return true;
  try {
    return /^flags\s*:.*\bhybrid_cpu\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** A value libgomp refuses as empty (it skips leading white space first): no choice. */
const blank = (v: string | undefined) => v === undefined || v.trim() === '';

/** Whether `env` holds the user's own choice of how OpenMP waits (an empty or blank value is no choice). */
export function userChoseOpenmp(env: NodeJS.ProcessEnv): boolean {
  return Object.entries(env).some(([k, v]) => USER_CHOICE.test(k) && !blank(v));
}

/** Why the host gets HOST_OPENMP or not, in words for the log. */
export function openmpDecision(env: NodeJS.ProcessEnv, libgomp: boolean, hybrid: boolean): { apply: boolean; why: string } {
  if (!libgomp) return { apply: false, why: "the CPU backend does not run on GCC's libgomp: its OpenMP settings left as they are" };
  if (userChoseOpenmp(env)) return { apply: false, why: 'libgomp with OpenMP variables of your own: used as given' };
  if (hybrid) return { apply: false, why: 'libgomp on a hybrid CPU: its own spin count kept' };
  return { apply: true, why: `libgomp: the host gets ${Object.entries(HOST_OPENMP).map(([k, v]) => `${k}=${v}`).join(' ')}` };
}

/**
 * The host's environment from `env` (already without unset entries): an OpenMP variable set empty or
 * blank dropped (libgomp refuses it with a warning at every start), and HOST_OPENMP added when `apply`.
 */
export function hostOpenmpEnv(env: NodeJS.ProcessEnv, apply: boolean): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!(blank(v) && USER_CHOICE.test(k))) out[k] = v;
  return apply ? { ...HOST_OPENMP, ...out } : out;
}
