#!/usr/bin/env node
// Builds Hearth's installers with electron-builder, programmatically: electron-builder.yml plus what
// comes from the environment (code signing, notarization: a line says which, or that it is skipped)
// and, for CUDA builds, the CUDA runtime libraries staged next to the addon in resources/native.
// scripts/release calls packageApp for its build step; `npm run dist` runs this file.
//
//   packageApp({ platform, arch, gpu, version, out, dir, unpacked }) → Promise<string[]> (the artifacts' paths)
//     platform  linux | win32 | darwin (default: this machine's)
//     arch      x64 | arm64 | universal (default: this machine's)
//     gpu       cpu | vulkan | cuda | metal: the backend build/bin was built with (names the artifacts)
//     version   the release's version (package.json's by default)
//     out       the output folder (electron-builder.yml's directories.output by default)
//     dir       the project folder (package.json, dist/, node_modules; this repository by default)
//     unpacked  true: only the unpacked app folder (electron-builder's `dir` target), whose path is returned
//   and, for the packaging check: nativeDir (the addon's folder, build/bin by default) and builder
//   (configuration merged last, e.g. a stand-in electronDist).
//
// Before building, the native folder must be the release set for `gpu` (checkNativeSet: every CPU
// variant, exactly that GPU backend). Only the requested arch is built (macOS's dmg/zip targets list
// both in electron-builder.yml). electron-builder rebuilds native dependencies (better-sqlite3) for
// Electron inside the project's node_modules (npmRebuild); afterwards packageApp rebuilds them for
// this Node again (`npm rebuild better-sqlite3`), so npm test and npm start keep working.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const CONFIG_FILE = path.join(root, 'electron-builder.yml');
const GPUS = ['cpu', 'vulkan', 'cuda', 'metal'];

/** The CUDA runtime libraries a CUDA build of the addon loads (CUDA 12), per platform. */
const CUDA_RUNTIME = {
  linux: ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12'],
  win32: ['cudart64_12.dll', 'cublas64_12.dll', 'cublasLt64_12.dll'],
};
/** Where a CUDA toolkit keeps them, relative to its root (CUDA_PATH). */
const CUDA_LIB_DIRS = {
  linux: ['lib64', path.join('targets', 'x86_64-linux', 'lib'), path.join('targets', 'sbsa-linux', 'lib'), 'lib'],
  win32: ['bin', path.join('bin', 'x64')],
};

/** The CUDA toolkit's root: CUDA_PATH, else the platform's usual place. */
function cudaRoot(platform, env = process.env) {
  return env.CUDA_PATH || (platform === 'win32' ? undefined : '/usr/local/cuda');
}

/**
 * The CUDA runtime files a CUDA build of `platform` carries, found under the toolkit at `cudaDir`
 * (the first library folder holding each). Throws naming every one that is missing.
 */
function cudaRuntimeFiles(platform, cudaDir, exists = fs.existsSync) {
  const names = CUDA_RUNTIME[platform];
  if (!names) throw new Error(`no CUDA build exists for ${platform}`);
  if (!cudaDir) throw new Error('CUDA_PATH is not set: the CUDA toolkit is needed to package a CUDA build');
  const found = [];
  const missing = [];
  for (const name of names) {
    const file = CUDA_LIB_DIRS[platform].map((d) => path.join(cudaDir, d, name)).find((f) => exists(f));
    if (file) found.push(file);
    else missing.push(name);
  }
  if (missing.length) throw new Error(`the CUDA runtime is incomplete under ${cudaDir}: ${missing.join(', ')} not found in ${CUDA_LIB_DIRS[platform].join(', ')}`);
  return found;
}

/** The Azure Trusted Signing variables (the service's own credentials are AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET). */
const AZURE_SIGN_ENV = { endpoint: 'AZURE_SIGNING_ENDPOINT', codeSigningAccountName: 'AZURE_SIGNING_ACCOUNT', certificateProfileName: 'AZURE_SIGNING_PROFILE', publisherName: 'AZURE_PUBLISHER_NAME' };
const AZURE_CREDENTIAL_ENV = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'];
/** The notarization credentials electron-builder 26 reads (app-builder-lib MacTargetHelper.getNotarizeOptions), in its order. */
const NOTARIZE_ENV = [
  ['APPLE_ID', 'APPLE_APP_SPECIFIC_PASSWORD', 'APPLE_TEAM_ID'],
  ['APPLE_API_KEY', 'APPLE_API_KEY_ID', 'APPLE_API_ISSUER'],
  ['APPLE_KEYCHAIN_PROFILE'],
];
/** Every variable the signing steps read: the release workflow passes exactly these secrets. */
const SIGNING_ENV = ['CSC_LINK', 'CSC_KEY_PASSWORD', 'WIN_CSC_LINK', 'WIN_CSC_KEY_PASSWORD', ...NOTARIZE_ENV.flat(), ...Object.values(AZURE_SIGN_ENV), ...AZURE_CREDENTIAL_ENV];

/**
 * What the environment adds to the configuration for `platform`: signing and notarization pieces,
 * and one line each saying what will be done (or why it is skipped).
 */
function signingPlan(platform, env = process.env) {
  const config = {};
  const lines = [];
  if (platform === 'darwin') {
    lines.push(env.CSC_LINK ? 'macOS code signing: the certificate in CSC_LINK' : 'macOS code signing: no CSC_LINK; electron-builder uses a Developer ID identity from the keychain if there is one, else the app is signed ad hoc (Gatekeeper will warn)');
    const set = NOTARIZE_ENV.find((group) => group.every((k) => env[k]));
    const partial = NOTARIZE_ENV.find((group) => group.some((k) => env[k]) && !group.every((k) => env[k]));
    if (set) lines.push(`macOS notarization: on (${set.join(', ')})`);
    else {
      config.mac = { notarize: false };
      lines.push(partial ? `macOS notarization skipped: ${partial.filter((k) => !env[k]).join(', ')} not set (${partial.join(', ')} go together)` : `macOS notarization skipped: none of ${NOTARIZE_ENV.map((g) => g.join('+')).join(' / ')} is set`);
    }
  } else if (platform === 'win32') {
    const certificate = env.WIN_CSC_LINK ? 'WIN_CSC_LINK' : env.CSC_LINK ? 'CSC_LINK' : undefined;
    const azure = Object.values(AZURE_SIGN_ENV).every((k) => env[k]);
    if (certificate) lines.push(`Windows code signing: the certificate in ${certificate}`);
    else if (azure) {
      config.win = { azureSignOptions: Object.fromEntries(Object.entries(AZURE_SIGN_ENV).map(([field, k]) => [field, env[k]])) };
      lines.push(`Windows code signing: Azure Trusted Signing (${Object.values(AZURE_SIGN_ENV).join(', ')}; credentials from ${AZURE_CREDENTIAL_ENV.join(', ')})`);
    } else lines.push(`Windows code signing skipped: neither WIN_CSC_LINK/CSC_LINK nor ${Object.values(AZURE_SIGN_ENV).join('+')} is set (SmartScreen will warn)`);
  } else {
    lines.push('Linux packages: not signed (the update feed is, by scripts/release)');
  }
  return { config, lines };
}

/** The ggml backend module names (main/engine/addon.ts MODULE_NAME, backendModules: test/shipping/installers.test.ts checks they agree). */
const MODULE_NAME = /^(?:lib)?ggml-([a-z0-9]+)(?:-([a-z0-9_.]+))?\.(?:so|dll|dylib)$/;
/** The GPU backends a build may carry (the rest of GPUS is cpu). */
const GPU_BACKENDS = ['cuda', 'vulkan', 'metal'];

/** The GPU backends a release build of `gpu` for `platform` carries: its own, and Metal on every macOS build (CMakeLists.txt turns it on for APPLE). */
function expectedBackends(gpu, platform) {
  const set = new Set(gpu === 'cpu' || gpu === 'metal' ? [] : [gpu]);
  if (platform === 'darwin') set.add('metal');
  return [...set].sort();
}

/** How to build the release set for `gpu`. */
function buildHint(gpu) {
  return `HEARTH_CPU_ALL_VARIANTS=ON HEARTH_VULKAN=${gpu === 'vulkan' ? 'ON' : 'OFF'} HEARTH_CUDA=${gpu === 'cuda' ? 'ON' : 'OFF'} node scripts/build-native.js`;
}

/**
 * Why the native folder's `files` are not the release set of a `gpu` build for `platform` (null when
 * they are): hearth.node, llama.cpp's rpc-server, every CPU variant (more than one ggml-cpu-<variant> module), and exactly
 * the GPU backends expectedBackends names.
 */
function nativeSetProblem(files, gpu, platform) {
  if (gpu === 'metal' && platform !== 'darwin') return `a metal build is for macOS, not ${platform}`;
  if (gpu === 'cuda' && !CUDA_RUNTIME[platform]) return `no CUDA build exists for ${platform}`;
  const problems = [];
  if (!files.includes('hearth.node')) problems.push('hearth.node is missing');
  const rpcServer = platform === 'win32' ? 'ggml-rpc-server.exe' : 'ggml-rpc-server';
  if (!files.includes(rpcServer)) problems.push(`${rpcServer} is missing (hearth rpc-server runs it)`);
  const modules = files.map((f) => MODULE_NAME.exec(f)).filter((m) => m && m[1] !== 'base');
  const cpuVariants = modules.filter((m) => m[1] === 'cpu' && m[2]).map((m) => m[2]);
  if (cpuVariants.length < 2) problems.push(`it has ${cpuVariants.length ? `one CPU variant (${cpuVariants[0]})` : 'no CPU variants'}, not the all-CPU-variants set`);
  const backends = [...new Set(modules.map((m) => m[1]).filter((b) => GPU_BACKENDS.includes(b)))].sort();
  const wanted = expectedBackends(gpu, platform);
  const extra = backends.filter((b) => !wanted.includes(b));
  const missing = wanted.filter((b) => !backends.includes(b));
  if (missing.length) problems.push(`${missing.map((b) => `ggml-${b}`).join(', ')} missing`);
  if (extra.length) problems.push(`it has ${extra.map((b) => `ggml-${b}`).join(', ')}, which a ${gpu} build does not ship`);
  return problems.length ? problems.join('; ') : null;
}

/** Throws unless `dir` holds the release set for `gpu` on `platform`, saying how to build it. */
function checkNativeSet(dir, gpu, platform) {
  let files = [];
  try {
    files = fs.readdirSync(dir);
  } catch {
    /* reported as missing below */
  }
  const problem = nativeSetProblem(files, gpu, platform);
  if (problem) throw new Error(`${dir} is not the release set of a ${gpu} build for ${platform}: ${problem}. Build it first: ${buildHint(gpu)}`);
}

/** package.json's dependencies that compile native code (binding.gyp): what electron-builder's npmRebuild rebuilds for Electron. */
function nativeDependencies(project) {
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
  return Object.keys(pkg.dependencies ?? {}).filter((d) => fs.existsSync(path.join(project, 'node_modules', d, 'binding.gyp'))).sort();
}

/** The npm command that rebuilds for this Node what a build with `config` rebuilt for Electron, or null (npmRebuild off). */
function restoreCommand(config, project) {
  if (config.npmRebuild === false) return null;
  const deps = nativeDependencies(project);
  return deps.length ? ['rebuild', ...deps] : null;
}

/** Rebuilds the native dependencies for this Node after a build that rebuilt them for Electron. */
function restoreNativeModules(args, project) {
  console.log(`restoring ${args.slice(1).join(', ')} for Node (npm ${args.join(' ')}): electron-builder rebuilt it for Electron in node_modules`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = require('child_process').spawnSync(npm, args, { cwd: project, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) console.error(`could not restore them: run \`npm ${args.join(' ')}\` before npm test or npm start`);
}

function loadYaml(file) {
  return require('js-yaml').load(fs.readFileSync(file, 'utf8'));
}

/** A deep merge where `b` wins and arrays are replaced (electron-builder's own merge concatenates them). */
function merge(a, b) {
  if (!b || typeof b !== 'object' || Array.isArray(b) || !a || typeof a !== 'object' || Array.isArray(a)) return b === undefined ? a : b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
  return out;
}

/** The platform key electron-builder uses in folder names. */
const BUILDER_PLATFORM = { linux: 'linux', win32: 'win', darwin: 'mac' };

/**
 * The whole configuration for one build: electron-builder.yml, the native folder (`nativeDir`, plus
 * `stagedDir` with the CUDA runtime), the artifacts named with the GPU backend, the version, the
 * environment's signing pieces, then `builder` (merged last).
 */
function builderConfig(o) {
  const base = loadYaml(o.configFile ?? CONFIG_FILE);
  const native = base.extraResources[0];
  const project = o.project ?? root;
  const extraResources = [{ ...native, from: path.relative(project, o.nativeDir ?? path.join(project, native.from)) || '.' }];
  if (o.stagedDir) extraResources.push({ from: o.stagedDir, to: native.to });
  let config = merge(base, {
    extraResources,
    artifactName: `\${productName}-\${version}-\${os}-\${arch}-${o.gpu}.\${ext}`,
    directories: { output: o.out ?? base.directories.output },
    // the packaged package.json says which GPU build it is (main/updates/build-info.ts: its feed folder)
    extraMetadata: { ...(o.version ? { version: o.version } : {}), hearthBuild: { gpu: o.gpu } },
  });
  config = merge(config, o.signing ?? {});
  config = merge(config, onlyArch(config, o.platform, o.arch));
  return merge(config, o.builder ?? {});
}

/**
 * The platform's targets restricted to `arch`: electron-builder builds every arch a target lists
 * (computeArchToTargetNamesMap) whatever arch it is asked for, and the native folder is one arch's.
 */
function onlyArch(config, platform, arch) {
  const key = BUILDER_PLATFORM[platform];
  const targets = key && config[key] && config[key].target;
  if (!arch || !Array.isArray(targets)) return {};
  return { [key]: { target: targets.map((t) => (typeof t === 'object' && t.arch ? { ...t, arch: [arch] } : t)) } };
}

/** electron-builder's unpacked app folder (its PlatformPackager.computeAppOutDir). */
function appOutDir(out, platform, arch) {
  return path.join(out, `${BUILDER_PLATFORM[platform]}${arch === 'x64' ? '' : `-${arch}`}${platform === 'darwin' ? '' : '-unpacked'}`);
}

async function packageApp(o = {}) {
  const platform = o.platform ?? process.platform;
  const arch = o.arch ?? process.arch;
  const gpu = o.gpu ?? 'cpu';
  if (!BUILDER_PLATFORM[platform]) throw new Error(`no installer for platform ${platform}`);
  if (!GPUS.includes(gpu)) throw new Error(`gpu is one of ${GPUS.join(', ')}, not ${gpu}`);
  const project = path.resolve(o.dir ?? root);
  const nativeDir = o.nativeDir ?? path.join(project, 'build', 'bin');
  checkNativeSet(nativeDir, gpu, platform);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-package-'));
  let restore = null;
  try {
    let stagedDir;
    if (gpu === 'cuda') {
      stagedDir = path.join(tmp, 'cuda');
      fs.mkdirSync(stagedDir);
      for (const f of cudaRuntimeFiles(platform, cudaRoot(platform))) fs.copyFileSync(f, path.join(stagedDir, path.basename(f))); // copyFile follows the toolkit's symlinks
      console.log(`CUDA runtime staged into resources/native: ${fs.readdirSync(stagedDir).join(', ')}`);
    }
    const signing = signingPlan(platform);
    for (const line of signing.lines) console.log(line);
    const config = builderConfig({ ...o, platform, arch, project, configFile: path.join(project, 'electron-builder.yml'), gpu, nativeDir, stagedDir, signing: signing.config });
    restore = restoreCommand(config, project);
    const out = path.resolve(project, config.directories.output);
    const configFile = path.join(tmp, 'electron-builder.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const { build, Platform, Arch } = require('electron-builder');
    const target = Platform[{ linux: 'LINUX', win32: 'WINDOWS', darwin: 'MAC' }[platform]].createTarget(o.unpacked ? ['dir'] : null, Arch[arch]);
    const artifacts = await build({ projectDir: project, config: configFile, targets: target, publish: 'never' });
    return o.unpacked ? [appOutDir(out, platform, arch)] : artifacts;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (restore) restoreNativeModules(restore, project);
  }
}

const USAGE = `usage: node scripts/package-app.js [--platform linux|win32|darwin] [--arch x64|arm64|universal]
                                 [--gpu ${GPUS.join('|')}] [--version V] [--out DIR] [--unpacked]
       node scripts/package-app.js --help

Builds the installers from build/bin, which must be the release set for --gpu (every CPU variant and
that GPU backend): build it first with
  ${buildHint('<gpu>').replace('HEARTH_VULKAN=OFF HEARTH_CUDA=OFF', 'HEARTH_VULKAN=ON|OFF HEARTH_CUDA=ON|OFF')}
and the bundles with node scripts/build-ts.js (npm run dist does both for a cpu build).
  --platform P  the installers' platform (default: this machine's; build each platform on that platform)
  --arch A      the installers' arch (default: this machine's)
  --gpu G       the backend build/bin was built with: names the artifacts and the update feed folder (default: cpu)
  --version V   the version to stamp (default: package.json's)
  --out DIR     the output folder (default: release)
  --unpacked    only the unpacked app folder
electron-builder rebuilds better-sqlite3 for Electron in node_modules; afterwards this script
rebuilds it for Node (npm rebuild better-sqlite3) so npm test and npm start keep working.`;

/** The CLI's options (util.parseArgs, strict: an unknown flag is a usage error). */
function parseCli(argv) {
  const { parseArgs } = require('util');
  const { values, positionals } = parseArgs({
    args: argv,
    options: { platform: { type: 'string' }, arch: { type: 'string' }, gpu: { type: 'string' }, version: { type: 'string' }, out: { type: 'string' }, unpacked: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  return { ...values, positionals };
}

module.exports = { GPUS, packageApp, builderConfig, signingPlan, cudaRuntimeFiles, cudaRoot, appOutDir, nativeSetProblem, checkNativeSet, expectedBackends, nativeDependencies, restoreCommand, parseCli, USAGE, CUDA_RUNTIME, SIGNING_ENV, NOTARIZE_ENV, AZURE_SIGN_ENV, CONFIG_FILE };

if (require.main === module) {
  let args;
  try {
    args = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`package-app: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  packageApp({ platform: args.platform, arch: args.arch, gpu: args.gpu, version: args.version, out: args.out, unpacked: args.unpacked }).then(
    (files) => console.log(files.join('\n')),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
