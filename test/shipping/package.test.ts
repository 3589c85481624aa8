/**
 * The packaging check that runs here: electron-builder builds the unpacked app (its `dir` target)
 * from electron-builder.yml through scripts/package-app.js, with the release CPU set
 * (build-variants/bin) as resources/native. Not here: the Electron binary (it cannot be downloaded
 * here; `electronDist` points at a stand-in file named like it, a double of that binary), flipping
 * the fuses (electronFuses off for the check: it rewrites the real binary), rebuilding better-sqlite3
 * for Electron's ABI (npmRebuild off: it needs Electron's headers from the network), and every
 * installer target (AppImage, deb, dmg, zip, NSIS) and signing.
 *
 * Then the packaged layout runs: app.asar extracted (plain Node cannot read an asar), the engine
 * host started under plain Node exactly as the packaged main starts it, from paths shellLayout
 * resolves for a packaged app, with development overrides in the environment that it must drop.
 */
import { readBuildInfo } from '../../main/updates/build-info';
import { PUBLIC_KEY_FILE } from '../../main/updates/signature';
import asar from '@electron/asar';
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import { builtinModules } from 'module';
import path from 'path';
import { backendModules, RPC_SERVER_FILE } from '../../main/engine/addon';
import { EngineClient } from '../../main/engine/client';
import { replaceEnv, shellLayout } from '../../main/app/security';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';
import { buildVariants, VARIANTS_BIN } from '../helpers/variants';

/**
 * scripts/package-app.js's packageApp in a child Node process: electron-builder imports ES modules
 * (@electron/asar) dynamically, which jest's module sandbox cannot load. Its log goes to test-output/.
 */
async function packageApp(o: Record<string, unknown>): Promise<string[]> {
  const log = path.join(REPO_ROOT, 'test-output', 'package-app.log');
  const result = path.join(REPO_ROOT, 'test-output', 'package-app.json');
  fs.rmSync(result, { force: true });
  const script = `require(${JSON.stringify(path.join(REPO_ROOT, 'scripts', 'package-app.js'))}).packageApp(${JSON.stringify(o)}).then((r) => require('fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify(r)), (e) => { console.error(e); process.exit(1); })`;
  const fd = fs.openSync(log, 'w');
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', resolve);
  });
  fs.closeSync(fd);
  if (code !== 0 || !fs.existsSync(result)) throw new Error(`packageApp failed (exit ${code}); the end of ${log}:\n${fs.readFileSync(log, 'utf8').slice(-4000)}`);
  return JSON.parse(fs.readFileSync(result, 'utf8')) as string[];
}
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string };
const LOCK = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
const NATIVE_FILE = /^hearth\.node$|^ggml-rpc-server(\.exe)?$|\.(so(\.\d+)*|dll|dylib)$/;

function walk(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() && !e.isSymbolicLink() ? walk(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]));
}
const bytes = (dir: string, files: string[]) => files.reduce((n, f) => n + fs.lstatSync(path.join(dir, f)).size, 0);

let tmp: string;
let resources: string;
let asarFiles: string[];

beforeAll(async () => {
  if (!fs.existsSync(path.join(REPO_ROOT, PKG.main))) throw new Error('dist/ is missing: run node scripts/build-ts.js (npm test does)');
  await buildVariants();
  tmp = tempDir('hearth-package-');
  // a double of the Electron binary, which cannot be downloaded here: electron-builder only copies it
  const electronDist = path.join(tmp, 'electron-dist');
  fs.mkdirSync(electronDist);
  fs.writeFileSync(path.join(electronDist, process.platform === 'win32' ? 'electron.exe' : 'electron'), '#!/bin/sh\necho "a stand-in for the Electron binary"\n', { mode: 0o755 });
  const [appDir] = await packageApp({ unpacked: true, dir: REPO_ROOT, out: path.join(tmp, 'out'), nativeDir: VARIANTS_BIN, builder: { electronDist, electronFuses: null, npmRebuild: false } });
  resources = process.platform === 'darwin' ? path.join(appDir, 'Hearth.app', 'Contents', 'Resources') : path.join(appDir, 'resources');
  // listPackage lists the unpacked entries too; paths come back rooted at the archive ("/dist/app/main.js")
  asarFiles = asar.listPackage(path.join(resources, 'app.asar'), { isPack: false }).map((f) => f.replace(/\\/g, '/').replace(/^\//, ''));
}, 60 * 60_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Where the packaged app looks, as main/app/main.ts asks shellLayout (the archive as appRoot). */
function layoutOf(appRoot: string, env: NodeJS.ProcessEnv = {}) {
  return shellLayout({ packaged: true, env, appRoot, resourcesPath: resources });
}

describe('the packaged app (electron-builder dir target, stand-in Electron binary)', () => {
  test('main, preload, the engine host and the renderer are in app.asar where the app looks for them', () => {
    const root = path.join(resources, 'app.asar');
    const l = layoutOf(root);
    const inAsar = (p: string) => path.relative(root, p).replace(/\\/g, '/');
    for (const f of [PKG.main, inAsar(l.hostScript), inAsar(l.preload), `${inAsar(l.rendererDir)}/index.html`, `${inAsar(l.rendererDir)}/app.js`]) expect(asarFiles).toContain(f);
    // the public key the updater checks the feed with, and the build the package is (its feed folder)
    expect(asarFiles).toContain(PUBLIC_KEY_FILE);
    const pkgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-pkg-'));
    try {
      fs.writeFileSync(path.join(pkgDir, 'package.json'), asar.extractFile(root, 'package.json'));
      expect(readBuildInfo(pkgDir)).toEqual({ gpu: 'cpu' });
    } finally {
      fs.rmSync(pkgDir, { recursive: true, force: true });
    }
  });

  test('the addon and every backend library are in resources/native, where the packaged app points HEARTH_ADDON', () => {
    const addon = layoutOf(path.join(resources, 'app.asar'), { HEARTH_ADDON: '/elsewhere/hearth.node' }).env.HEARTH_ADDON!;
    expect(fs.existsSync(addon)).toBe(true);
    const shipped = fs.readdirSync(path.dirname(addon)).sort();
    expect(shipped).toEqual(fs.readdirSync(VARIANTS_BIN).filter((f) => NATIVE_FILE.test(f) && !f.includes('bench')).sort());
    // the backends the engine finds next to the addon: the CPU variants, as in the release set
    expect([...backendModules(path.dirname(addon)).keys()]).toEqual(['cpu', 'rpc']);
    // llama.cpp's rpc-server, which hearth rpc-server runs (main/engine/addon.ts rpcServerPath), executable
    expect(fs.statSync(path.join(path.dirname(addon), RPC_SERVER_FILE)).mode & 0o111).not.toBe(0);
    expect(backendModules(path.dirname(addon)).get('cpu')!.length).toBeGreaterThan(1);
    // and nothing native inside the archive but better-sqlite3's module and sqlite-vec's loadable extension
    // for this platform, both unpacked (dlopen cannot read inside app.asar)
    const natives = asarFiles.filter((f) => /\.(node|so|dll|dylib)$/.test(f));
    expect(natives).toEqual(['node_modules/better-sqlite3/build/Release/better_sqlite3.node', expect.stringMatching(/^node_modules\/sqlite-vec-[a-z0-9]+-[a-z0-9]+\/vec0\.(so|dylib|dll)$/)]);
    for (const f of natives) expect(fs.existsSync(path.join(resources, 'app.asar.unpacked', f))).toBe(true);
    // the documents' worker threads' bundles (scripts/build-ts.js WORKERS), where the engine host's is
    for (const w of ['extract', 'index', 'text']) expect(asarFiles).toContain(`dist/docs-${w}-worker.js`);
  });

  test('nothing from tests, sources, build folders, maps or devDependencies is shipped', () => {
    const own = asarFiles.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => /\.(ts|tsx|map)$/.test(f) || /^(test|main|renderer\/src|native|scripts|build|build-variants|test-output|bench|\.cache)(\/|$)/.test(f))).toEqual([]);
    expect(asarFiles.filter((f) => /\.map$/.test(f) || /(^|\/)\.github\//.test(f))).toEqual([]);
    // (a scope's own folder, node_modules/@scope, is no package)
    const packages = [...new Set(asarFiles.map((f) => /^((?:node_modules\/(?:@[^/]+\/)?[^/]+)(?:\/|$))/.exec(f)?.[1]?.replace(/\/$/, '')).filter((p): p is string => !!p && p !== 'node_modules' && !/^node_modules\/@[^/]+$/.test(p)))];
    expect(packages.length).toBeGreaterThan(0);
    // electron-builder hoists a production copy nested in the lockfile (e.g. tar-fs's chownr) to the
    // archive's top level: each package is matched by name and version to a non-dev lockfile entry
    const prodInLock = (p: string) => {
      const { version } = JSON.parse(asar.extractFile(path.join(resources, 'app.asar'), `${p}/package.json`).toString('utf8')) as { version: string };
      return Object.entries(LOCK.packages).some(([k, e]) => (k === p || k.endsWith(`/${p}`)) && e.version === version && !e.dev);
    };
    expect(packages.filter((p) => !prodInLock(p))).toEqual([]);
  });

  test('every package the shipped bundles require at run time is in the archive', () => {
    const shipped = new Set(asarFiles.filter((f) => f.startsWith('node_modules/') && f.endsWith('/package.json')).map((f) => f.slice('node_modules/'.length, -'/package.json'.length)));
    const builtins = new Set([...builtinModules, 'electron']);
    for (const bundle of asarFiles.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !f.startsWith('dist/renderer/'))) {
      const text = asar.extractFile(path.join(resources, 'app.asar'), bundle).toString('utf8');
      const requires = [...text.matchAll(/\brequire\("([^"./][^"]*)"\)/g)].map((m) => m[1].replace(/^node:/, ''));
      const missing = [...new Set(requires)].filter((r) => !builtins.has(r) && !builtins.has(r.split('/')[0]) && !shipped.has(r.startsWith('@') ? r.split('/').slice(0, 2).join('/') : r.split('/')[0]));
      expect({ bundle, missing }).toEqual({ bundle, missing: [] });
    }
  });

  test('the summary', () => {
    const native = fs.readdirSync(path.join(resources, 'native'));
    const unpacked = walk(path.join(resources, 'app.asar.unpacked'));
    const summary = {
      asarFiles: asarFiles.length,
      asarBytes: fs.statSync(path.join(resources, 'app.asar')).size,
      asarPackages: new Set(asarFiles.filter((f) => /^node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(f))).size,
      unpackedFiles: unpacked.length,
      unpackedBytes: bytes(path.join(resources, 'app.asar.unpacked'), unpacked),
      nativeFiles: native.length,
      nativeBytes: bytes(path.join(resources, 'native'), native),
    };
    fs.writeFileSync(path.join(REPO_ROOT, 'test-output', 'package-summary.json'), JSON.stringify(summary) + '\n');
    process.stdout.write(`packaging summary: ${JSON.stringify(summary)}\n`);
    expect(summary.asarFiles).toBeGreaterThan(0);
  });
});

describe('the packaged layout runs (plain Node, paths from the packaged resources folder)', () => {
  let engine: EngineClient | undefined;
  let appRoot: string;
  const saved = { ...process.env };

  beforeAll(() => {
    appRoot = path.join(tmp, 'app');
    asar.extractAll(path.join(resources, 'app.asar'), appRoot);
  });

  afterAll(async () => {
    await engine?.close();
    replaceEnv(process.env, saved);
  });

  test('development overrides are dropped and a generation runs on the packaged engine host and addon', async () => {
    // what main/app/main.ts does first: the layout, then the process's environment replaced by it
    const layout = layoutOf(appRoot, { ...process.env, HEARTH_ADDON: path.join(tmp, 'bogus', 'hearth.node'), HEARTH_HOST_SCRIPT: path.join(tmp, 'bogus.js'), HEARTH_BACKENDS: 'vulkan' });
    expect(layout.env.HEARTH_ADDON).toBe(path.join(resources, 'native', 'hearth.node'));
    expect(layout.env.HEARTH_BACKENDS).toBeUndefined();
    expect(layout.hostScript.startsWith(appRoot)).toBe(true);
    replaceEnv(process.env, layout.env);
    engine = new EngineClient({ hostScript: layout.hostScript });
    await engine.start();
    const v = await engine.version();
    expect(v.backends).toEqual(['CPU']);
    expect(v.modules.every((m) => m.path.startsWith(path.join(resources, 'native')))).toBe(true);
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const r = await engine.complete('m', { prompt: 'a packaged build', maxTokens: 4, ignoreEos: true, sampling: { seed: 1 } });
    expect(r.timings.generatedTokens).toBe(4);
  });
});
