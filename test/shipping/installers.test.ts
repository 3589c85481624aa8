/**
 * The installers' configuration: the icon containers, what the environment adds (signing,
 * notarization, the CUDA runtime), and the release workflow's consistency with the update channels
 * and the scripts it runs. The installers themselves need the Electron binary and each platform's
 * tools: test/shipping/package.test.ts builds what can be built here.
 */
import fs from 'fs';
import yaml from 'js-yaml';
import path from 'path';
import { CHANNELS, channelOfVersion } from '../../main/updates/channels';
import { SIGNING_KEY_ENV } from '../../main/updates/signature';
import { releaseOf } from '../../scripts/release-version';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

/* eslint-disable @typescript-eslint/no-var-requires */
const icons = require('../../scripts/make-icons.js');
const pack = require('../../scripts/package-app.js');
/* eslint-enable @typescript-eslint/no-var-requires */

const RESOURCES = path.join(REPO_ROOT, 'resources');

describe('icons', () => {
  const png = fs.readFileSync(path.join(RESOURCES, 'icon.png'));

  test('the committed ICO and ICNS are what make-icons writes from icon.png', () => {
    expect(fs.readFileSync(path.join(RESOURCES, 'icon.ico')).equals(icons.icoFromPngs([png]))).toBe(true);
    expect(fs.readFileSync(path.join(RESOURCES, 'icon.icns')).equals(icons.icnsFromPngs([png]))).toBe(true);
  });

  test('the ICO directory points at the PNG, 256 px written as 0', () => {
    const ico: Buffer = icons.icoFromPngs([png]);
    expect([ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([1, 1]);
    expect([ico[6], ico[7]]).toEqual([0, 0]);
    const size = ico.readUInt32LE(6 + 8);
    const offset = ico.readUInt32LE(6 + 12);
    expect(ico.subarray(offset, offset + size).equals(png)).toBe(true);
  });

  test('the ICNS elements add up to its length and hold the PNG', () => {
    const icns: Buffer = icons.icnsFromPngs([png]);
    expect(icns.toString('latin1', 0, 4)).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const types: string[] = [];
    for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) {
      types.push(icns.toString('latin1', at, at + 4));
      expect(icns.subarray(at + 8, at + icns.readUInt32BE(at + 4)).equals(png)).toBe(true);
    }
    expect(types).toEqual(['ic08', 'ic13']);
  });

  test('sizes no container holds are refused', () => {
    const big = Buffer.from(png);
    big.writeUInt32BE(300, 16);
    expect(() => icons.icoFromPngs([big])).toThrow(/at most 256/);
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
    jobs: { build: { strategy: { matrix: { include: { platform: string; gpu: string; arch: string }[] } }; steps: Step[] } };
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

  test('the release step runs scripts/release with the channel and version, and names every secret the scripts read (by name only)', () => {
    const step = wf.jobs.build.steps.find((s) => s.run?.startsWith('node scripts/release '))!;
    expect(step.run).toMatch(/--channel \$\{\{ needs\.version\.outputs\.channel \}\} --version \$\{\{ needs\.version\.outputs\.version \}\} --platform \$\{\{ matrix\.platform \}\} --arch \$\{\{ matrix\.arch \}\} --gpu \$\{\{ matrix\.gpu \}\} --out /);
    expect(Object.keys(step.env!).sort()).toEqual([...pack.SIGNING_ENV, SIGNING_KEY_ENV].sort());
    for (const [k, v] of Object.entries(step.env!)) expect(v).toBe(`\${{ secrets.${k} }}`);
  });
});
