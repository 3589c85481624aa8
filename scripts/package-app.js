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
  return merge(config, o.builder ?? {});
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
  if (!fs.existsSync(path.join(nativeDir, 'hearth.node'))) throw new Error(`no native addon in ${nativeDir}: build it first (node scripts/build-native.js)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-package-'));
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
    const config = builderConfig({ ...o, project, configFile: path.join(project, 'electron-builder.yml'), gpu, nativeDir, stagedDir, signing: signing.config });
    const out = path.resolve(project, config.directories.output);
    const configFile = path.join(tmp, 'electron-builder.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const { build, Platform, Arch } = require('electron-builder');
    const target = Platform[{ linux: 'LINUX', win32: 'WINDOWS', darwin: 'MAC' }[platform]].createTarget(o.unpacked ? ['dir'] : null, Arch[arch]);
    const artifacts = await build({ projectDir: project, config: configFile, targets: target, publish: 'never' });
    return o.unpacked ? [appOutDir(out, platform, arch)] : artifacts;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { GPUS, packageApp, builderConfig, signingPlan, cudaRuntimeFiles, cudaRoot, appOutDir, CUDA_RUNTIME, SIGNING_ENV, NOTARIZE_ENV, AZURE_SIGN_ENV, CONFIG_FILE };

if (require.main === module) {
  const arg = (name) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  packageApp({ platform: arg('platform'), arch: arg('arch'), gpu: arg('gpu'), version: arg('version'), out: arg('out'), unpacked: process.argv.includes('--unpacked') }).then(
    (files) => console.log(files.join('\n')),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
