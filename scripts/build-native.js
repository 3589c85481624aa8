#!/usr/bin/env node
// Builds the native addon (build/bin/hearth.node) and the ggml backend modules next to it with
// cmake-js from the root CMakeLists.txt. Options come from the environment:
//   HEARTH_VULKAN=AUTO|ON|OFF  HEARTH_CUDA=AUTO|ON|OFF  HEARTH_CPU_ALL_VARIANTS=ON  LLAMA_CPP_DIR=/path
//   HEARTH_BUILD_JOBS=N (default: all cores)   extra targets: node scripts/build-native.js --target llama-bench
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');

function cmakeJs(args) {
  const bin = require.resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

function build(extraArgs = []) {
  const defs = [];
  for (const k of ['HEARTH_VULKAN', 'HEARTH_CUDA', 'HEARTH_CPU_ALL_VARIANTS', 'LLAMA_CPP_DIR', 'CMAKE_CUDA_ARCHITECTURES']) {
    if (process.env[k]) defs.push(`--CD${k}=${process.env[k]}`);
  }
  const jobs = process.env.HEARTH_BUILD_JOBS || String(os.cpus().length);
  // ccache keys on relative paths, so every clone of the repository shares one cache
  if (!process.env.CCACHE_BASEDIR) process.env.CCACHE_BASEDIR = root;
  const t0 = Date.now();
  const status = cmakeJs(['build', '--out', 'build', '--parallel', jobs, ...defs, ...extraArgs]);
  if (status === 0) console.log(`native build finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return status;
}

/** Builds one more target of the configured build folder (e.g. llama-bench for bench/), configuring first if needed. */
function buildTarget(target) {
  const fs = require('fs');
  if (!fs.existsSync(path.join(root, 'build', 'CMakeCache.txt'))) {
    const status = build();
    if (status !== 0) return status;
  }
  const jobs = process.env.HEARTH_BUILD_JOBS || String(os.cpus().length);
  const r = spawnSync('cmake', ['--build', 'build', '--target', target, '--parallel', jobs], { cwd: root, stdio: 'inherit', env: { CCACHE_BASEDIR: root, ...process.env } });
  return r.status ?? 1;
}

module.exports = { build, buildTarget };
if (require.main === module) {
  const argv = process.argv.slice(2);
  const t = argv.indexOf('--target');
  process.exit(t >= 0 ? buildTarget(argv[t + 1]) : build());
}
