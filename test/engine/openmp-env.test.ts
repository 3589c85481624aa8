/**
 * The engine host's OpenMP settings (main/engine/openmp.ts): with ggml's CPU backend on GCC's libgomp
 * the host starts with OMP_WAIT_POLICY=ACTIVE and GOMP_SPINCOUNT=300000, unless the user chose how
 * OpenMP waits, the CPU is hybrid, or the runtime is another one; several models' OpenMP teams then do
 * not make every barrier sleep (docs/benchmarks.md, bench:beside). The rule as a pure function, the
 * runtime read from real and written module files, then the real host: libgomp's own account of what
 * it read (OMP_DISPLAY_ENV=verbose, printed when libgomp starts in the host).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { HostSpawner, nodeSpawner } from '../../main/engine/channel';
import { HOST_OPENMP, hostOpenmpEnv, openmpRuntime } from '../../main/engine/openmp';
import { ADDON, makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

test('the rule: the pair on libgomp; nothing where the user chose, the CPU is hybrid or the runtime is another', () => {
  expect(hostOpenmpEnv({ PATH: '/usr/bin' }, 'libgomp', false)).toEqual({ PATH: '/usr/bin', ...HOST_OPENMP });
  for (const chosen of [{ OMP_WAIT_POLICY: 'PASSIVE' }, { GOMP_SPINCOUNT: '0' }, { OMP_WAIT_POLICY_ALL: 'active' }, { OMP_WAIT_POLICY_DEV_0: 'passive' }]) {
    expect(hostOpenmpEnv(chosen, 'libgomp', false)).toEqual(chosen);
  }
  expect(hostOpenmpEnv({ PATH: '/usr/bin' }, 'libgomp', true)).toEqual({ PATH: '/usr/bin' });
  // LLVM's libomp and MSVC's vcomp read ACTIVE as never sleeping; without OpenMP there is nothing to tune
  expect(hostOpenmpEnv({}, 'other', false)).toEqual({});
  expect(hostOpenmpEnv({}, 'none', false)).toEqual({});
});

test('an OpenMP variable set empty is dropped (libgomp refuses it) and counts as unset; unset entries are dropped', () => {
  expect(hostOpenmpEnv({ OMP_WAIT_POLICY: '', HOME: '/h' }, 'libgomp', false)).toEqual({ HOME: '/h', ...HOST_OPENMP });
  expect(hostOpenmpEnv({ GOMP_SPINCOUNT: '', OMP_WAIT_POLICY: 'PASSIVE' }, 'libgomp', false)).toEqual({ OMP_WAIT_POLICY: 'PASSIVE' });
  // a caller that unsets an inherited variable: it is gone, and our pair comes whole
  expect(hostOpenmpEnv({ OMP_WAIT_POLICY: undefined, EMPTY: '' }, 'libgomp', false)).toEqual({ EMPTY: '', ...HOST_OPENMP });
});

test('the runtime, read from the CPU backend modules', () => {
  // this build's own modules (CMakeLists.txt builds ggml with GGML_OPENMP; GCC links libgomp)
  expect(openmpRuntime(path.dirname(ADDON))).toBe('libgomp');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-omp-'));
  try {
    expect(openmpRuntime(dir)).toBe('none');
    fs.writeFileSync(path.join(dir, 'libggml-cpu.so'), Buffer.from('\x7fELF...libomp.so.5\0...'));
    expect(openmpRuntime(dir)).toBe('other');
    fs.writeFileSync(path.join(dir, 'libggml-cpu-haswell.so'), Buffer.from('\x7fELF...libgomp.so.1\0...'));
    expect(openmpRuntime(dir)).toBe('libgomp');
    fs.writeFileSync(path.join(dir, 'libggml-vulkan.so'), Buffer.from('libgomp.so.1'));
    fs.rmSync(path.join(dir, 'libggml-cpu-haswell.so'));
    expect(openmpRuntime(dir)).toBe('other'); // only the CPU backend's modules count
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** An engine whose host's stderr is kept (libgomp prints its settings there with OMP_DISPLAY_ENV). */
function engineWithStderr(env: NodeJS.ProcessEnv): { engine: ReturnType<typeof makeEngine>; stderr: () => string } {
  let text = '';
  const spawner: HostSpawner = (script, e) => {
    const p = nodeSpawner(script, e);
    p.onStderr?.((chunk) => (text += chunk));
    return p;
  };
  return { engine: makeEngine({ GGML_VK_VISIBLE_DEVICES: '', OMP_DISPLAY_ENV: 'verbose', ...env }, undefined, { spawner }), stderr: () => text };
}

const userChose = Object.keys(process.env).some((k) => /^(OMP_WAIT_POLICY.*|GOMP_SPINCOUNT)$/.test(k));
const onLibgomp = openmpRuntime(path.dirname(ADDON)) === 'libgomp' && !fs.existsSync('/sys/devices/cpu_atom') && !userChose;
const libgompTest = onLibgomp ? test : test.skip;

libgompTest('the real host: libgomp read ACTIVE and 300000, and the host generates', async () => {
  const { engine, stderr } = engineWithStderr({});
  try {
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const r = await engine.complete('m', { prompt: 'hello', maxTokens: 4, ignoreEos: true });
    expect(r.timings.generatedTokens).toBe(4);
    expect(stderr()).toMatch(/OMP_WAIT_POLICY = 'ACTIVE'/);
    expect(stderr()).toMatch(/GOMP_SPINCOUNT = '300000'/);
  } finally {
    await engine.close();
  }
});

libgompTest("the real host: a user's choice reaches libgomp unchanged, without our pair", async () => {
  const { engine, stderr } = engineWithStderr({ OMP_WAIT_POLICY: 'PASSIVE' });
  try {
    await engine.start();
    await engine.version();
    expect(stderr()).toMatch(/OMP_WAIT_POLICY = 'PASSIVE'/);
    // PASSIVE without a spin count: libgomp's own 0, not our 300000
    expect(stderr()).not.toMatch(/GOMP_SPINCOUNT = '300000'/);
  } finally {
    await engine.close();
  }
});
