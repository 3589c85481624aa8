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
import { HOST_OPENMP, hostOpenmpEnv, hybridCpu, linksLibgomp, openmpDecision, userChoseOpenmp } from '../../main/engine/openmp';
import { ADDON, makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

test('the rule: the pair on libgomp; nothing where the user chose, the CPU is hybrid or the runtime is another', () => {
  expect(openmpDecision({ PATH: '/usr/bin' }, true, false).apply).toBe(true);
  for (const chosen of [{ OMP_WAIT_POLICY: 'PASSIVE' }, { GOMP_SPINCOUNT: '0' }, { OMP_WAIT_POLICY_ALL: 'active' }, { OMP_WAIT_POLICY_DEV_0: 'passive' }]) {
    expect(userChoseOpenmp(chosen)).toBe(true);
    expect(openmpDecision(chosen, true, false)).toEqual({ apply: false, why: expect.stringMatching(/of your own/) });
  }
  expect(openmpDecision({}, true, true)).toEqual({ apply: false, why: expect.stringMatching(/hybrid/) });
  // LLVM's libomp and MSVC's vcomp read ACTIVE as never sleeping; without OpenMP there is nothing to tune
  expect(openmpDecision({}, false, false)).toEqual({ apply: false, why: expect.stringMatching(/does not run on GCC's libgomp/) });
  expect(openmpDecision({}, true, false).why).toBe("libgomp: the host gets OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=300000");
  expect(hostOpenmpEnv({ PATH: '/usr/bin' }, true)).toEqual({ PATH: '/usr/bin', ...HOST_OPENMP });
  expect(hostOpenmpEnv({ PATH: '/usr/bin' }, false)).toEqual({ PATH: '/usr/bin' });
});

test('an OpenMP variable set empty or blank is no choice and is dropped (libgomp refuses it)', () => {
  const env = { OMP_WAIT_POLICY: '', HOME: '/h', EMPTY: '' };
  expect(userChoseOpenmp(env)).toBe(false);
  expect(hostOpenmpEnv(env, openmpDecision(env, true, false).apply)).toEqual({ HOME: '/h', EMPTY: '', ...HOST_OPENMP });
  const mixed = { GOMP_SPINCOUNT: '', OMP_WAIT_POLICY: 'PASSIVE' };
  expect(hostOpenmpEnv(mixed, openmpDecision(mixed, true, false).apply)).toEqual({ OMP_WAIT_POLICY: 'PASSIVE' });
  const blank = { OMP_WAIT_POLICY_ALL: ' \t', GOMP_SPINCOUNT: '  ', SPACE: ' ' };
  expect(userChoseOpenmp(blank)).toBe(false);
  expect(hostOpenmpEnv(blank, openmpDecision(blank, true, false).apply)).toEqual({ SPACE: ' ', ...HOST_OPENMP });
  expect(userChoseOpenmp({ GOMP_SPINCOUNT: ' 10' })).toBe(true);
});

/** What this build's CMake found for OpenMP (build/CMakeCache.txt): whether its CPU backend links libgomp. */
function builtWithLibgomp(): boolean {
  const cache = path.join(path.dirname(path.dirname(ADDON)), 'CMakeCache.txt');
  return /^OpenMP_C_LIB_NAMES:STRING=.*\bgomp\b/m.test(fs.existsSync(cache) ? fs.readFileSync(cache, 'utf8') : '');
}

test('the runtime, read from the CPU backend modules', () => {
  // this build's own modules, as its CMake configured them
  expect(linksLibgomp(path.dirname(ADDON))).toBe(builtWithLibgomp());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-omp-'));
  try {
    expect(linksLibgomp(dir)).toBe(false);
    fs.writeFileSync(path.join(dir, 'libggml-cpu.so'), Buffer.from('\x7fELF...libomp.so.5\0...'));
    expect(linksLibgomp(dir)).toBe(false);
    fs.writeFileSync(path.join(dir, 'libggml-cpu-haswell.so'), Buffer.from('\x7fELF...libgomp.so.1\0...'));
    expect(linksLibgomp(dir)).toBe(true);
    fs.rmSync(path.join(dir, 'libggml-cpu-haswell.so'));
    fs.writeFileSync(path.join(dir, 'libggml-vulkan.so'), Buffer.from('libgomp.so.1'));
    expect(linksLibgomp(dir)).toBe(false); // only the CPU backend's modules count
    if (process.platform !== 'win32') {
      // a module name that is not a file (a folder, a dangling link) is skipped, not read
      fs.mkdirSync(path.join(dir, 'libggml-cpu-zen4.so'));
      fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'libggml-cpu-icelake.so'));
      expect(linksLibgomp(dir)).toBe(false);
    }
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

// the real host gets the pair where the supervisor decides so: libgomp, not hybrid, no variable of the user's
const onLibgomp = openmpDecision(process.env, linksLibgomp(path.dirname(ADDON)), hybridCpu()).apply;
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
