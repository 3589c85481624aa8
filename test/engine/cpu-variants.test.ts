/**
 * Release builds (HEARTH_CPU_ALL_VARIANTS=ON: `npm run dist`, and any build machine without
 * /proc/cpuinfo) ship one CPU module per instruction-set level (libggml-cpu-x64.so …
 * libggml-cpu-zen4.so). The probe and the host load only the best one this CPU accepts, scored by
 * each module's own ggml_backend_score, as ggml_backend_load_best does.
 *
 * The all-variants set is built on demand into build-variants/ (scripts/build-native.js
 * --cpu-variants: CPU only, ccache keeps a rebuild to the link steps), then a real generation runs on
 * it through the real probe and engine host.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { backendModules, bestModule } from '../../main/engine/addon';
import { EngineClient } from '../../main/engine/client';
import { HOST_SCRIPT, tempDir } from '../helpers/engine';
import { TINY_SPM, writeQ8_0 } from '../helpers/models';
import { buildVariants, VARIANTS_BIN } from '../helpers/variants';

const ADDON = path.join(VARIANTS_BIN, 'hearth.node');
/** the ggml x86 variants that need AVX-512 (ggml/src/CMakeLists.txt, GGML_CPU_ALL_VARIANTS) */
const AVX512_VARIANTS = ['skylakex', 'cannonlake', 'cascadelake', 'icelake', 'cooperlake', 'zen4', 'sapphirerapids'];

describe('which modules a backend folder holds, and which one loads', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    const names = ['libggml-base.so', 'libggml-base.so.0', 'libggml.so', 'libggml.so.0.23.0', 'libllama.so', 'hearth.node', 'libggml-cpu-x64.so',
      'libggml-cpu-haswell.so', 'libggml-cpu-armv8.2_1.so', 'libggml-vulkan.so', 'ggml-cuda.dll', 'ggml-base.dll', 'libggml-cpu-zen4.so.0'];
    for (const n of names) fs.writeFileSync(path.join(dir, n), '');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('backendModules groups base modules and variants by backend, and skips ggml-base and versioned names', () => {
    const mods = backendModules(dir);
    expect([...mods.keys()].sort()).toEqual(['cpu', 'cuda', 'vulkan']);
    expect(mods.get('cpu')!.map((m) => m.variant)).toEqual(['armv8.2_1', 'haswell', 'x64']);
    expect(mods.get('cpu')![1]).toEqual({ backend: 'cpu', variant: 'haswell', path: path.join(dir, 'libggml-cpu-haswell.so') });
    expect(mods.get('vulkan')).toEqual([{ backend: 'vulkan', path: path.join(dir, 'libggml-vulkan.so') }]);
    expect(mods.get('cuda')).toEqual([{ backend: 'cuda', path: path.join(dir, 'ggml-cuda.dll') }]);
    expect(backendModules(path.join(dir, 'missing')).size).toBe(0);
  });

  const mod = (variant?: string) => ({ backend: 'cpu', ...(variant ? { variant } : {}), path: `/b/${variant ?? 'base'}` });
  const scorer = (scores: Record<string, number | Error>) => (p: string) => {
    const s = scores[path.basename(p)];
    if (s instanceof Error) throw s;
    return s;
  };

  test('bestModule takes the highest-scoring variant, passing over the ones this CPU refuses (0) or cannot open', () => {
    const r = bestModule([mod('x64'), mod('skylakex'), mod('haswell'), mod('sse42'), mod('zen4')],
      scorer({ x64: 1, skylakex: 0, haswell: 19, sse42: 3, zen4: new Error('cannot open') }));
    expect(r.chosen).toEqual({ ...mod('haswell'), score: 19 });
    expect(r.refused).toEqual(['skylakex', 'zen4']);
  });

  test('on a tie the first variant stays (ggml keeps the first of equal scores)', () => {
    expect(bestModule([mod('a'), mod('b')], () => 5).chosen?.variant).toBe('a');
  });

  test('with every variant refused the base module loads; with neither nothing does', () => {
    expect(bestModule([mod('skylakex'), mod()], scorer({ skylakex: 0 })).chosen).toEqual(mod());
    expect(bestModule([mod('skylakex'), mod('zen4')], scorer({ skylakex: 0, zen4: 0 }))).toEqual({ chosen: undefined, refused: ['skylakex', 'zen4'] });
  });

  test('a lone base module is loaded without scoring it', () => {
    const score = jest.fn(() => 0);
    expect(bestModule([mod()], score).chosen).toEqual(mod());
    expect(score).not.toHaveBeenCalled();
  });
});

function cpuFlags(): Set<string> | undefined {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return line ? new Set(line[1].trim().split(/\s+/)) : undefined;
  } catch {
    return undefined;
  }
}

describe('a release build (every CPU variant)', () => {
  let engine: EngineClient;
  let scores: Record<string, number>;
  let best: string;

  beforeAll(async () => {
    await buildVariants();
    // scores read in a child process: this one may hold build/'s addon, whose libraries share names
    const files = backendModules(path.dirname(ADDON)).get('cpu') ?? [];
    const script = `const a=require(${JSON.stringify(ADDON)});const out={};for(const f of ${JSON.stringify(files)})out[f.variant??'']=a.backendScore(f.path);console.log(JSON.stringify(out))`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scoring the CPU variants failed: ${r.stderr}`);
    scores = JSON.parse(r.stdout) as Record<string, number>;
    best = Object.entries(scores).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    process.stdout.write(`CPU variant scores: ${JSON.stringify(scores)}; best: ${best}\n`);
    engine = new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1', HEARTH_ADDON: ADDON }, backendDir: path.dirname(ADDON) });
  }, 60 * 60_000);

  afterAll(async () => {
    await engine?.close();
  });

  test('the build holds only CPU variants (and ggml-rpc, for remote devices), and this machine accepts some and refuses others', () => {
    const mods = backendModules(path.dirname(ADDON));
    expect([...mods.keys()]).toEqual(['cpu', 'rpc']);
    expect(Object.keys(scores).length).toBeGreaterThan(1);
    expect(Object.keys(scores)).not.toContain(''); // no base libggml-cpu module: a variant must be chosen
    expect(scores[best]).toBeGreaterThan(0);
    const flags = cpuFlags();
    if (flags && !flags.has('avx512f')) {
      // e.g. this project's CI and development machines: AVX2, FMA, F16C, BMI2, no AVX-512
      for (const v of AVX512_VARIANTS) if (v in scores) expect({ v, score: scores[v] }).toEqual({ v, score: 0 });
      expect(AVX512_VARIANTS).not.toContain(best);
      if (['avx2', 'fma', 'f16c', 'bmi2'].every((f) => flags.has(f)) && !flags.has('avx_vnni')) expect(best).toBe('haswell');
    }
  });

  test('loading every variant, as the host did before, fails on this machine where one is refused', () => {
    if (!Object.values(scores).includes(0)) return; // every variant runs here: nothing to show
    const files = backendModules(path.dirname(ADDON)).get('cpu')!.map((f) => f.path);
    const script = `const a=require(${JSON.stringify(ADDON)});try{a.init({backends:${JSON.stringify(files)}});console.log('loaded')}catch(e){console.log(e.code)}`;
    expect(spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout.trim()).toBe('backend_failed');
  });

  test('the probe and the host load the best variant only, and a generation runs on it', async () => {
    await engine.start();
    const c = engine.backendChoice!;
    expect(c.backend).toBe('cpu');
    expect(c.probes.every((p) => p.ok)).toBe(true);
    expect(c.reason).toMatch(new RegExp(`, ${best} variant$`));
    const v = await engine.version();
    expect(v.backends).toEqual(['CPU']);
    expect(v.modules).toEqual([{ backend: 'cpu', variant: best, path: expect.stringContaining(`ggml-cpu-${best}.`), score: scores[best] }]);
    expect((await engine.devices()).map((d) => d.backend)).toEqual(['CPU']);
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const r = await engine.complete('m', { prompt: 'a release build', maxTokens: 4, ignoreEos: true, sampling: { seed: 1 } });
    expect(r.timings.generatedTokens).toBe(4);
    expect(r.text.length).toBeGreaterThan(0);
    // a quantized model's prompt (on an AMX CPU the sapphirerapids module, built without ggml's AMX
    // kernels, which fault as GCC builds them: CMakeLists.txt HEARTH_NO_AMX)
    const q8 = await writeQ8_0(TINY_SPM, path.join(tempDir(), 'tiny-spm-q8_0.gguf'));
    await engine.load('q8', q8, { contextSize: 256, threads: 2 });
    const q = await engine.complete('q8', { prompt: Array(12).fill('a release build').join(' '), maxTokens: 4, ignoreEos: true });
    expect(q.timings.promptTokens).toBeGreaterThanOrEqual(32);
    expect(q.timings.generatedTokens).toBe(4);
  });

  test('built by GCC, the sapphirerapids module holds no AMX instruction (HEARTH_NO_AMX), whichever CPU runs the suite', () => {
    const cache = fs.readFileSync(path.join(path.dirname(VARIANTS_BIN), 'CMakeCache.txt'), 'utf8');
    const module = path.join(VARIANTS_BIN, 'libggml-cpu-sapphirerapids.so');
    expect(cache).toMatch(/^HEARTH_NO_AMX:INTERNAL=(ON|OFF)$/m);
    if (!/^HEARTH_NO_AMX:INTERNAL=ON$/m.test(cache)) return; // another compiler than GCC keeps AMX
    if (process.arch !== 'x64') return; // no x86 release set here
    expect(fs.existsSync(module)).toBe(true);
    const dis = spawnSync('objdump', ['-d', '--no-show-raw-insn', module], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect(dis.status).toBe(0);
    expect(dis.stdout).toContain('vpdpbusd'); // its AVX-512 VNNI kernels are there
    expect(dis.stdout).not.toMatch(/\b(ldtilecfg|tileloadd|tdpbssd|tdpbusd)\b/);
    expect(dis.stdout).not.toContain('(bad)'); // an objdump that knows every instruction there
  });
});
