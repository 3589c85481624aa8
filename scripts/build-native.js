#!/usr/bin/env node
// Builds the native addon (build/bin/hearth.node) and the ggml backend modules next to it with
// cmake-js from the root CMakeLists.txt. Options come from the environment:
//   HEARTH_VULKAN=AUTO|ON|OFF  HEARTH_CUDA=AUTO|ON|OFF  HEARTH_CPU_ALL_VARIANTS=ON  LLAMA_CPP_DIR=/path
//   HEARTH_BUILD_JOBS=N (default: all cores)   extra targets: node scripts/build-native.js --target llama-bench
// `--cpu-variants` builds the release CPU set (every CPU variant, no GPU backend) into build-variants/
// instead (test/engine/cpu-variants.test.ts runs a generation with it).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
/**
 * The folder of the all-CPU-variants build: a sibling of build/ with its own llama.cpp clone, so every
 * compile command reads as build/'s relative to its folder and ccache hits for all but the variants.
 */
const VARIANTS_DIR = path.join(root, 'build-variants');

function cmakeJs(args) {
  const bin = require.resolve('cmake-js/bin/cmake-js');
  // cmake-js reads node's headers from npm's nodedir, else downloads them: run without npm (the
  // variants test, bench/), point it at the running node's own headers when they are installed
  const env = { ...process.env };
  const prefix = path.dirname(path.dirname(process.execPath));
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit', env });
  return r.status ?? 1;
}

/** The build options this script passes on (from the environment, or `build`'s options). */
const BUILD_OPTIONS = ['HEARTH_VULKAN', 'HEARTH_CUDA', 'HEARTH_CPU_ALL_VARIANTS', 'LLAMA_CPP_DIR', 'CMAKE_CUDA_ARCHITECTURES'];

/** The values a configured build folder's CMakeCache.txt holds (`NAME:TYPE=value` lines), or null where it has none. */
function cachedValues(out) {
  let text;
  try {
    text = fs.readFileSync(path.resolve(root, out, 'CMakeCache.txt'), 'utf8');
  } catch {
    return null;
  }
  const values = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):[A-Z_]+=(.*)$/.exec(line);
    if (m) values.set(m[1], m[2].trim());
  }
  return values;
}

/**
 * The options of `given` ([name, value] pairs) whose value differs from the one build folder `out` was
 * configured with; none for a folder not configured yet (its first configure takes them all).
 */
function changedOptions(out, given) {
  const cached = cachedValues(out);
  return cached ? given.filter(([k, v]) => cached.get(k) !== v) : [];
}

/** Configures (if needed) and builds `out` (default build/); `options` override the environment's build options. */
function build(extraArgs = [], { out = 'build', options = {} } = {}) {
  const given = [];
  for (const k of BUILD_OPTIONS) {
    const v = options[k] ?? process.env[k];
    if (v) given.push([k, v]);
  }
  const defs = given.map(([k, v]) => `--CD${k}=${v}`);
  const jobs = process.env.HEARTH_BUILD_JOBS || String(os.cpus().length);
  // ccache keys on relative paths, so every clone of the repository shares one cache
  if (!process.env.CCACHE_BASEDIR) process.env.CCACHE_BASEDIR = root;
  const t0 = Date.now();
  // cmake-js passes -D options only when it configures, which its build does for a new folder alone: an
  // option given with another value than the folder was configured with (HEARTH_CUDA=ON after a first
  // build without it) configures it again first, or the option would be ignored
  const changed = changedOptions(out, given);
  if (changed.length > 0) {
    console.log(`native build (${out}): configuring again for ${changed.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    const status = cmakeJs(['configure', '--out', out, ...defs]);
    if (status !== 0) return status;
  }
  const status = cmakeJs(['build', '--out', out, '--parallel', jobs, ...defs, ...extraArgs]);
  if (status === 0) console.log(`native build (${out}) finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return status;
}

/** Builds build-variants/: the addon with every CPU variant and no GPU backend, the CPU set a release build ships. */
function buildCpuVariants() {
  const options = { HEARTH_CPU_ALL_VARIANTS: 'ON', HEARTH_VULKAN: 'OFF', HEARTH_CUDA: 'OFF' };
  return build([], { out: path.relative(root, VARIANTS_DIR), options });
}

/** Builds one more target of the configured build folder (e.g. llama-bench for bench/), configuring first if needed. */
function buildTarget(target) {
  if (!fs.existsSync(path.join(root, 'build', 'CMakeCache.txt'))) {
    const status = build();
    if (status !== 0) return status;
  }
  const jobs = process.env.HEARTH_BUILD_JOBS || String(os.cpus().length);
  const r = spawnSync('cmake', ['--build', 'build', '--target', target, '--parallel', jobs], { cwd: root, stdio: 'inherit', env: { CCACHE_BASEDIR: root, ...process.env } });
  return r.status ?? 1;
}

module.exports = { build, buildTarget, buildCpuVariants, changedOptions, VARIANTS_DIR };
if (require.main === module) {
  const argv = process.argv.slice(2);
  const t = argv.indexOf('--target');
  process.exit(argv.includes('--cpu-variants') ? buildCpuVariants() : t >= 0 ? buildTarget(argv[t + 1]) : build());
}
