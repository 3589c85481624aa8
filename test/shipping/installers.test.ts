/**
 * The installers' configuration: the icon containers, what the environment adds (signing,
 * notarization, the CUDA runtime), and the release workflow's consistency with the update channels
 * and the scripts it runs. The installers themselves need the Electron binary and each platform's
 * tools: test/shipping/package.test.ts builds what can be built here.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import yaml from 'js-yaml';
import path from 'path';
import zlib from 'zlib';
import { UPDATE_FEED_URL } from '../../main/app/updater';
import { backendModules } from '../../main/engine/addon';
import { CHANNELS, channelOfVersion, feedFileName } from '../../main/updates/channels';
import { SIGNING_KEY_ENV } from '../../main/updates/signature';
import { releaseOf } from '../../scripts/release-version';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

/* eslint-disable @typescript-eslint/no-var-requires */
const icons = require('../../scripts/make-icons.js');
const pack = require('../../scripts/package-app.js');
/* eslint-enable @typescript-eslint/no-var-requires */

const RESOURCES = path.join(REPO_ROOT, 'resources');

/** The PNGs an ICO holds, with the size its directory declares for each (0 means 256). */
function icoEntries(ico: Buffer): { size: number; png: Buffer }[] {
  expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1]);
  return Array.from({ length: ico.readUInt16LE(4) }, (_, i) => {
    const at = 6 + 16 * i;
    expect(ico[at]).toBe(ico[at + 1]);
    const [length, offset] = [ico.readUInt32LE(at + 8), ico.readUInt32LE(at + 12)];
    return { size: ico[at] || 256, png: ico.subarray(offset, offset + length) };
  });
}

/** An ICNS file's elements in order; their lengths must add up to the file's. */
function icnsElements(icns: Buffer): { type: string; png: Buffer }[] {
  expect(icns.toString('latin1', 0, 4)).toBe('icns');
  expect(icns.readUInt32BE(4)).toBe(icns.length);
  const out: { type: string; png: Buffer }[] = [];
  for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) out.push({ type: icns.toString('latin1', at, at + 4), png: icns.subarray(at + 8, at + icns.readUInt32BE(at + 4)) });
  return out;
}

/** The alpha of each pixel of an 8-bit RGBA, non-interlaced PNG (what Chromium's screenshots are), row by row. */
function pngAlpha(png: Buffer): Uint8Array {
  const { width, height } = icons.pngSize(png);
  expect([png[24], png[25], png[28]]).toEqual([8, 6, 0]); // bit depth, colour type RGBA, not interlaced
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + png.readUInt32BE(at)));
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  let prev = new Uint8Array(stride);
  const alpha = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const [a, b, c] = [x >= 4 ? row[x - 4] : 0, prev[x], x >= 4 ? prev[x - 4] : 0];
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      row[x] = (line[x] + [0, a, b, (a + b) >> 1, paeth][filter]) & 0xff;
    }
    for (let x = 0; x < width; x++) alpha[y * width + x] = row[x * 4 + 3];
    prev = row;
  }
  return alpha;
}

describe('icons', () => {
  const png = fs.readFileSync(path.join(RESOURCES, 'icon.png'));
  const ico = fs.readFileSync(path.join(RESOURCES, 'icon.ico'));
  const icns = fs.readFileSync(path.join(RESOURCES, 'icon.icns'));

  test('icon.png is the 1024 px rendering, transparent outside the rounded square and opaque inside', () => {
    expect(icons.pngSize(png)).toEqual({ width: 1024, height: 1024 });
    const alpha = pngAlpha(png);
    const at = (x: number, y: number) => alpha[y * 1024 + x];
    for (const [x, y] of [[0, 0], [1023, 0], [0, 1023], [1023, 1023], [512, 40], [40, 512], [110, 110]]) expect(at(x, y)).toBe(0);
    for (const [x, y] of [[512, 512], [512, 110], [110, 512], [300, 300], [820, 820]]) expect(at(x, y)).toBe(255);
  });

  test('the ICO holds a PNG of each size Windows asks for, each as large as its entry says', () => {
    const entries = icoEntries(ico);
    expect(entries.map((e) => e.size)).toEqual([16, 24, 32, 48, 64, 128, 256]);
    for (const { size, png: entry } of entries) expect(icons.pngSize(entry)).toEqual({ width: size, height: size });
    // byte for byte what make-icons' container writer makes of those renderings
    expect(icons.icoFromPngs(entries.map((e) => e.png)).equals(ico)).toBe(true);
  });

  test('the ICNS holds a PNG of each size macOS asks for under its Apple types, 1024 px being icon.png', () => {
    const elements = icnsElements(icns);
    expect(elements.map((e) => e.type)).toEqual(['icp4', 'icp5', 'ic11', 'icp6', 'ic12', 'ic07', 'ic08', 'ic13', 'ic09', 'ic14', 'ic10']);
    const sizeOf: Record<string, number> = { icp4: 16, icp5: 32, ic11: 32, icp6: 64, ic12: 64, ic07: 128, ic08: 256, ic13: 256, ic09: 512, ic14: 512, ic10: 1024 };
    for (const { type, png: element } of elements) expect(icons.pngSize(element)).toEqual({ width: sizeOf[type], height: sizeOf[type] });
    expect(elements.find((e) => e.type === 'ic10')!.png.equals(png)).toBe(true);
    // the sizes both containers hold are the same renderings
    const icoBySize = new Map(icoEntries(ico).map((e) => [e.size, e.png]));
    for (const { type, png: element } of elements) if (icoBySize.has(sizeOf[type])) expect(element.equals(icoBySize.get(sizeOf[type])!)).toBe(true);
    const distinct = elements.filter((e, i) => i === 0 || !e.png.equals(elements[i - 1].png)).map((e) => e.png);
    expect(icons.icnsFromPngs(distinct).equals(icns)).toBe(true);
  });

  test('make-icons renders every size the containers and icon.png take', () => {
    const wanted = [...icons.ICO_SIZES, ...Object.keys(icons.ICNS_TYPES).map(Number), icons.PNG_SIZE];
    expect(new Set(wanted)).toEqual(new Set([16, 24, 32, 48, 64, 128, 256, 512, 1024]));
    expect(fs.readFileSync(path.join(RESOURCES, 'icon.svg'), 'utf8')).toMatch(/^<svg [^>]*viewBox="0 0 1024 1024"/);
  });

  test('the ICO directory points at each PNG, 256 px written as 0', () => {
    const pngs = icoEntries(ico).map((e) => e.png);
    const built: Buffer = icons.icoFromPngs([pngs[0], pngs[pngs.length - 1]]);
    expect(built.readUInt16LE(4)).toBe(2);
    expect([built[6], built[7], built[6 + 16], built[6 + 17]]).toEqual([16, 16, 0, 0]);
    for (const [i, p] of [pngs[0], pngs[pngs.length - 1]].entries()) {
      const size = built.readUInt32LE(6 + 16 * i + 8);
      const offset = built.readUInt32LE(6 + 16 * i + 12);
      expect(built.subarray(offset, offset + size).equals(p)).toBe(true);
    }
  });

  test('the ICNS elements add up to its length and hold the PNG under every type its size fills', () => {
    const built: Buffer = icons.icnsFromPngs([png]);
    const elements = icnsElements(built);
    expect(elements.map((e) => e.type)).toEqual(['ic10']);
    expect(elements[0].png.equals(png)).toBe(true);
    const p256 = icoEntries(ico).find((e) => e.size === 256)!.png;
    expect(icnsElements(icons.icnsFromPngs([p256])).map((e) => e.type)).toEqual(['ic08', 'ic13']);
  });

  test('sizes no container holds are refused', () => {
    const big = Buffer.from(png.subarray(0, 33));
    big.writeUInt32BE(300, 16);
    big.writeUInt32BE(300, 20);
    expect(() => icons.icoFromPngs([big])).toThrow(/at most 256/);
    expect(() => icons.icoFromPngs([png])).toThrow(/at most 256/);
    expect(() => icons.icnsFromPngs([big])).toThrow(/no ICNS type/);
    expect(() => icons.pngSize(Buffer.from('not a png at all, not at all'))).toThrow(/not a PNG/);
  });

  test('electron-builder.yml names them for each platform', () => {
    const config = yaml.load(fs.readFileSync(pack.CONFIG_FILE, 'utf8')) as Record<string, Record<string, string>>;
    for (const icon of [config.linux.icon, config.mac.icon, config.win.icon, config.nsis.installerIcon]) expect(fs.existsSync(path.join(REPO_ROOT, icon))).toBe(true);
  });
});

describe('signing and notarization from the environment', () => {
  test('macOS: notarization with a complete credential set, else skipped with the reason', () => {
    const api = pack.signingPlan('darwin', { APPLE_API_KEY: 'k.p8', APPLE_API_KEY_ID: 'id', APPLE_API_ISSUER: 'iss' });
    expect(api.config).toEqual({});
    expect(api.lines).toContain('macOS notarization: on (APPLE_API_KEY, APPLE_API_KEY_ID, APPLE_API_ISSUER)');
    const none = pack.signingPlan('darwin', {});
    expect(none.config).toEqual({ mac: { notarize: false } });
    expect(none.lines.join('\n')).toMatch(/macOS notarization skipped: none of APPLE_ID\+/);
    const partial = pack.signingPlan('darwin', { APPLE_ID: 'a@b.c' });
    expect(partial.lines.join('\n')).toMatch(/skipped: APPLE_APP_SPECIFIC_PASSWORD, APPLE_TEAM_ID not set/);
  });

  test('Windows: a certificate, else Azure Trusted Signing from AZURE_*, else skipped with a line', () => {
    expect(pack.signingPlan('win32', { WIN_CSC_LINK: 'c.pfx' })).toEqual({ config: {}, lines: ['Windows code signing: the certificate in WIN_CSC_LINK'] });
    const azure = pack.signingPlan('win32', { AZURE_SIGNING_ENDPOINT: 'https://eus.codesigning.azure.net', AZURE_SIGNING_ACCOUNT: 'acct', AZURE_SIGNING_PROFILE: 'prof', AZURE_PUBLISHER_NAME: 'Hearth' });
    expect(azure.config).toEqual({ win: { azureSignOptions: { endpoint: 'https://eus.codesigning.azure.net', codeSigningAccountName: 'acct', certificateProfileName: 'prof', publisherName: 'Hearth' } } });
    expect(pack.signingPlan('win32', {}).lines[0]).toMatch(/^Windows code signing skipped/);
  });

  test('the configuration is the yml with the environment pieces, the version and the GPU in the artifact names', () => {
    const c = pack.builderConfig({ gpu: 'vulkan', version: '1.5.0-beta.2', out: '/tmp/x', stagedDir: '/tmp/cuda', signing: { win: { azureSignOptions: { publisherName: 'p' } } } });
    expect(c.extraMetadata).toEqual({ version: '1.5.0-beta.2', hearthBuild: { gpu: 'vulkan' } });
    expect(c.artifactName).toBe('${productName}-${version}-${os}-${arch}-vulkan.${ext}');
    expect(c.extraResources.map((r: { from: string; to: string }) => [r.from, r.to])).toEqual([['build/bin', 'native'], ['/tmp/cuda', 'native']]);
    expect(c.win).toEqual({ target: ['nsis'], icon: 'resources/icon.ico', azureSignOptions: { publisherName: 'p' } });
    expect(c.electronFuses.enableEmbeddedAsarIntegrityValidation).toBe(true);
    expect(c.nsis).toMatchObject({ oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true });
  });
});

describe('what a build packages', () => {
  test('macOS: only the requested arch is built, by electron-builder\'s own arch resolution (the yml lists arm64 and x64)', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { computeArchToTargetNamesMap } = require('app-builder-lib/out/targets/targetFactory');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Arch, Platform } = require('app-builder-lib');
    // what packageApp asks for: Platform.MAC.createTarget(null, Arch.arm64), i.e. arm64 with the configured targets
    const archs = (mac: unknown) => [...computeArchToTargetNamesMap(new Map([[Arch.arm64, []]]), { platformSpecificBuildOptions: mac }, Platform.MAC)].map(([a, names]: [number, string[]]) => [Arch[a], names]);
    expect(archs((yaml.load(fs.readFileSync(pack.CONFIG_FILE, 'utf8')) as { mac: unknown }).mac)).toEqual([['arm64', ['dmg', 'zip']], ['x64', ['dmg', 'zip']]]);
    expect(archs(pack.builderConfig({ gpu: 'metal', platform: 'darwin', arch: 'arm64' }).mac)).toEqual([['arm64', ['dmg', 'zip']]]);
    const x64 = computeArchToTargetNamesMap(new Map([[Arch.x64, []]]), { platformSpecificBuildOptions: pack.builderConfig({ gpu: 'cpu', platform: 'darwin', arch: 'x64' }).mac }, Platform.MAC);
    expect([...x64.keys()].map((a: number) => Arch[a])).toEqual(['x64']);
    expect(pack.builderConfig({ gpu: 'cpu', platform: 'linux', arch: 'x64' }).linux.target).toEqual(['AppImage', 'deb']);
  });

  test('the publish block is only what the package carries (deb package-type, app-update.yml): the app\'s feed URL, no files for every channel', () => {
    const c = pack.builderConfig({ gpu: 'cpu' });
    expect(c.publish).toEqual({ provider: 'generic', url: UPDATE_FEED_URL });
    expect(c.generateUpdatesFilesForAllChannels).toBeUndefined();
  });

  describe('the native folder must be the release set of the --gpu build', () => {
    const X86_VARIANTS = ['x64', 'sse42', 'haswell', 'skylakex'].map((v) => `libggml-cpu-${v}.so`);
    const BASE = ['hearth.node', 'ggml-rpc-server', 'libggml-base.so', 'libggml.so', 'libggml-rpc.so', 'libllama.so'];
    let dir: string;
    beforeEach(() => {
      dir = tempDir();
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const folder = (files: string[]) => {
      for (const f of files) fs.writeFileSync(path.join(dir, f), '');
      return dir;
    };

    test('the release sets pass, and agree with the engine\'s own reading of the folder (backendModules)', () => {
      expect(pack.nativeSetProblem([...BASE, ...X86_VARIANTS], 'cpu', 'linux')).toBeNull();
      expect(pack.nativeSetProblem([...BASE, ...X86_VARIANTS, 'libggml-vulkan.so'], 'vulkan', 'linux')).toBeNull();
      const win = (f: string) => (f === 'ggml-rpc-server' ? 'ggml-rpc-server.exe' : f.replace(/^lib(.*)\.so$/, '$1.dll'));
      expect(pack.nativeSetProblem([...BASE.map(win), ...X86_VARIANTS.map(win), 'ggml-cuda.dll'], 'cuda', 'win32')).toBeNull();
      // the rpc-server program ships with every build (hearth rpc-server)
      expect(pack.nativeSetProblem([...BASE.filter((f) => f !== 'ggml-rpc-server'), ...X86_VARIANTS], 'cpu', 'linux')).toBe('ggml-rpc-server is missing (hearth rpc-server runs it)');
      expect(pack.nativeSetProblem([...BASE.filter((f) => f !== 'ggml-rpc-server'), ...X86_VARIANTS].map(win), 'cpu', 'win32')).toBe('ggml-rpc-server.exe is missing (hearth rpc-server runs it)');
      // every macOS build has Metal (CMakeLists.txt); a metal build has nothing else
      const mac = [...BASE, 'libggml-cpu-apple_m1.so', 'libggml-cpu-apple_m4.so', 'libggml-metal.so'];
      expect(pack.nativeSetProblem(mac, 'metal', 'darwin')).toBeNull();
      expect(pack.nativeSetProblem([...mac, 'libggml-vulkan.so'], 'vulkan', 'darwin')).toBeNull();
      const mods = backendModules(folder([...BASE, ...X86_VARIANTS, 'libggml-vulkan.so']));
      expect(mods.get('cpu')!.map((m) => m.variant).sort()).toEqual(['haswell', 'skylakex', 'sse42', 'x64']);
      expect([...mods.keys()].sort()).toEqual(['cpu', 'rpc', 'vulkan']);
      expect(() => pack.checkNativeSet(dir, 'vulkan', 'linux')).not.toThrow();
    });

    test('the development build (one CPU module, whatever GPU backend was found) is refused with how to build the release set', () => {
      folder(['hearth.node', 'ggml-rpc-server', 'libggml-base.so', 'libggml-cpu.so', 'libggml-vulkan.so']);
      expect(() => pack.checkNativeSet(dir, 'cpu', 'linux')).toThrow(
        `${dir} is not the release set of a cpu build for linux: it has no CPU variants, not the all-CPU-variants set; it has ggml-vulkan, which a cpu build does not ship. Build it first: HEARTH_CPU_ALL_VARIANTS=ON HEARTH_VULKAN=OFF HEARTH_CUDA=OFF node scripts/build-native.js`,
      );
      expect(() => pack.checkNativeSet(dir, 'cuda', 'linux')).toThrow(/no CPU variants.*ggml-cuda missing; it has ggml-vulkan, which a cuda build does not ship\. Build it first: HEARTH_CPU_ALL_VARIANTS=ON HEARTH_VULKAN=OFF HEARTH_CUDA=ON/);
      expect(pack.nativeSetProblem([...BASE, 'libggml-cpu-haswell.so'], 'cpu', 'linux')).toMatch(/one CPU variant \(haswell\)/);
      expect(pack.nativeSetProblem([...BASE, ...X86_VARIANTS], 'vulkan', 'linux')).toBe('ggml-vulkan missing');
      expect(pack.nativeSetProblem([...BASE, ...X86_VARIANTS], 'metal', 'linux')).toMatch(/a metal build is for macOS/);
      expect(pack.nativeSetProblem([...BASE.slice(1), ...X86_VARIANTS], 'cpu', 'linux')).toBe('hearth.node is missing');
      expect(() => pack.checkNativeSet(path.join(dir, 'none'), 'cpu', 'linux')).toThrow(/hearth\.node is missing; ggml-rpc-server is missing \(hearth rpc-server runs it\); it has no CPU variants/);
    });
  });

  test('after a build that rebuilt native modules for Electron they are rebuilt for Node (npm rebuild better-sqlite3); the packaging check rebuilds nothing', () => {
    expect(pack.nativeDependencies(REPO_ROOT)).toEqual(['better-sqlite3']);
    expect(pack.restoreCommand(pack.builderConfig({ gpu: 'cpu' }), REPO_ROOT)).toEqual(['rebuild', 'better-sqlite3']);
    expect(pack.restoreCommand(pack.builderConfig({ gpu: 'cpu', builder: { npmRebuild: false } }), REPO_ROOT)).toBeNull();
  });

  test('the CLI: --help prints the usage and builds nothing; an unknown flag or argument is a usage error (exit 2)', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'package-app.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: node scripts/package-app.js');
    expect(help.stdout).toContain('HEARTH_CPU_ALL_VARIANTS=ON');
    expect(help.stdout).not.toMatch(/electron-builder\s+version=/);
    for (const bad of [['--bogus'], ['--gpu'], ['release']]) {
      const r = cli(...bad);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^package-app: .*\nusage: node scripts\/package-app\.js/);
    }
    expect(pack.parseCli(['--gpu', 'cuda', '--unpacked'])).toMatchObject({ gpu: 'cuda', unpacked: true });
  });
});

describe('the CUDA runtime a CUDA build carries', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    for (const f of ['lib64/libcudart.so.12', 'targets/x86_64-linux/lib/libcublas.so.12', 'lib64/libcublasLt.so.12', 'lib64/libcufft.so.11', 'bin/cudart64_12.dll', 'bin/cublas64_12.dll']) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), '');
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('Linux: cudart, cublas and cublasLt found in the toolkit\'s library folders, nothing else', () => {
    expect(pack.cudaRuntimeFiles('linux', dir)).toEqual([path.join(dir, 'lib64/libcudart.so.12'), path.join(dir, 'targets/x86_64-linux/lib/libcublas.so.12'), path.join(dir, 'lib64/libcublasLt.so.12')]);
  });

  test('a missing library is named; no toolkit and no CUDA build for macOS are errors', () => {
    expect(() => pack.cudaRuntimeFiles('win32', dir)).toThrow(/cublasLt64_12\.dll not found/);
    expect(() => pack.cudaRuntimeFiles('win32', undefined)).toThrow(/CUDA_PATH/);
    expect(() => pack.cudaRuntimeFiles('darwin', dir)).toThrow(/no CUDA build/);
    expect(pack.cudaRoot('win32', { CUDA_PATH: 'C:\\CUDA' })).toBe('C:\\CUDA');
  });
});

describe('.github/workflows/release.yml', () => {
  type Step = { run?: string; env?: Record<string, string>; uses?: string };
  const wf = yaml.load(fs.readFileSync(path.join(REPO_ROOT, '.github/workflows/release.yml'), 'utf8')) as {
    on: { schedule: unknown[]; push: { tags: string[] } };
    jobs: {
      build: { strategy: { matrix: { include: { platform: string; gpu: string; arch: string }[] } }; steps: Step[] };
      publish: { needs: string[]; steps: (Step & { with?: Record<string, unknown> })[] };
    };
  };
  const glob = (g: string) => new RegExp(`^${g.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`);

  test('every tag it runs on is a stable or beta version, and each such version matches a tag pattern', () => {
    const tags = wf.on.push.tags.map(glob);
    for (const c of ['stable', 'beta'] as const) expect(tags.some((t) => t.test(`v${CHANNELS[c].example}`))).toBe(true);
    expect(wf.on.schedule.length).toBeGreaterThan(0);
    expect(releaseOf({ event: 'push', ref: `v${CHANNELS.stable.example}`, baseVersion: '0.1.0', date: new Date() })).toEqual({ channel: 'stable', version: CHANNELS.stable.example });
    expect(releaseOf({ event: 'push', ref: `v${CHANNELS.beta.example}`, baseVersion: '0.1.0', date: new Date() })).toEqual({ channel: 'beta', version: CHANNELS.beta.example });
    const nightly = releaseOf({ event: 'schedule', ref: 'main', baseVersion: '1.5.0', date: new Date('2026-11-27T03:00:00Z') });
    expect(nightly).toEqual({ channel: 'nightly', version: CHANNELS.nightly.example });
    expect(channelOfVersion(nightly.version)).toBe('nightly');
    expect(() => releaseOf({ event: 'push', ref: 'v1.5.0-rc.1', baseVersion: '0.1.0', date: new Date() })).toThrow(/neither a stable/);
    expect(() => releaseOf({ event: 'push', ref: `v${CHANNELS.nightly.example}`, baseVersion: '0.1.0', date: new Date() })).toThrow(/neither a stable/);
  });

  test('the matrix: cpu and vulkan on every OS, cuda on Linux and Windows, metal on macOS', () => {
    const m = wf.jobs.build.strategy.matrix.include;
    const gpus = (p: string) => new Set(m.filter((e) => e.platform === p).map((e) => e.gpu));
    for (const p of ['linux', 'win32', 'darwin']) expect(gpus(p).has('vulkan')).toBe(true);
    expect([...gpus('linux')].sort()).toEqual(['cpu', 'cuda', 'vulkan']);
    expect([...gpus('win32')].sort()).toEqual(['cpu', 'cuda', 'vulkan']);
    expect([...gpus('darwin')].sort()).toEqual(['cpu', 'metal', 'vulkan']);
    for (const e of m) expect(pack.CUDA_RUNTIME[e.platform] !== undefined || e.gpu !== 'cuda').toBe(true);
  });

  test('no two build jobs write the same channel file: each (GPU build folder, platform, arch) is one job', () => {
    const files = wf.jobs.build.strategy.matrix.include.map((e) => `${e.gpu}/${feedFileName('stable', e.platform as NodeJS.Platform, e.arch)}`);
    expect(new Set(files).size).toBe(files.length);
  });

  test('the publish job uploads every build job\'s release/ folder to the feed host, installers before channel files, secrets by name', () => {
    const job = wf.jobs.publish;
    expect(job.needs).toEqual(expect.arrayContaining(['build', 'version']));
    const download = job.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
    expect(download.with).toEqual({ pattern: 'hearth-${{ needs.version.outputs.version }}-*', 'merge-multiple': true, path: 'release' });
    // the upload-artifact names of the build jobs match the pattern
    const upload = wf.jobs.build.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@')) as Step & { with: { name: string; path: string } };
    expect(upload.with.name.startsWith('hearth-${{ needs.version.outputs.version }}-')).toBe(true);
    expect(upload.with.path).toBe('release/');
    const syncs = job.steps.filter((s) => s.run?.startsWith('aws s3 sync release/ '));
    expect(syncs).toHaveLength(2);
    expect(syncs[0].run).toContain('--exclude "*.yml" --exclude "*.yml.sig"');
    expect(syncs[1].run).toContain('--exclude "*" --include "*.yml" --include "*.yml.sig"');
    for (const s of syncs) for (const v of Object.values(s.env!)) expect(v).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$|^auto$/);
  });

  test('the release step runs scripts/release with the channel and version, and names every secret the scripts read (by name only)', () => {
    const step = wf.jobs.build.steps.find((s) => s.run?.startsWith('node scripts/release '))!;
    expect(step.run).toMatch(/--channel \$\{\{ needs\.version\.outputs\.channel \}\} --version \$\{\{ needs\.version\.outputs\.version \}\} --platform \$\{\{ matrix\.platform \}\} --arch \$\{\{ matrix\.arch \}\} --gpu \$\{\{ matrix\.gpu \}\} --out /);
    // channel files merge with what the app reads: the published feed at the app's own feed URL
    expect(step.run).toContain(` --out release --feed-url ${UPDATE_FEED_URL}`);
    // APPLE_API_KEY is a path for notarytool: a step before writes the secret to a file and exports its path
    const keyFile = wf.jobs.build.steps.find((st) => st.env?.APPLE_API_KEY_P8 !== undefined)!;
    expect(keyFile.env!.APPLE_API_KEY_P8).toBe('${{ secrets.APPLE_API_KEY }}');
    expect(keyFile.run).toContain('echo "APPLE_API_KEY=$f" >> "$GITHUB_ENV"');
    expect(wf.jobs.build.steps.indexOf(keyFile)).toBeLessThan(wf.jobs.build.steps.indexOf(step));
    expect(Object.keys(step.env!).sort()).toEqual([...pack.SIGNING_ENV, SIGNING_KEY_ENV].filter((k) => k !== 'APPLE_API_KEY').sort());
    // the macOS certificate only on macOS (on Windows electron-builder would sign with it before Azure)
    for (const [k, v] of Object.entries(step.env!)) {
      expect(v).toBe(k.startsWith('CSC_') ? `\${{ matrix.platform == 'darwin' && secrets.${k} || '' }}` : `\${{ secrets.${k} }}`);
    }
  });
});
