/**
 * The release feed (main/updates/feed.ts) and the release CLI's refusals (the real `node scripts/release`):
 * what publishRelease writes is what electron-updater's own parser reads, feeds merge by version,
 * every file is signed, and a wrong version for the channel or a signing key the app does not carry
 * is refused with nothing written.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { parseUpdateInfo, resolveFiles } from 'electron-updater/out/providers/Provider';
import { feedFileName } from '../../main/updates/channels';
import { describeFile, parseFeed, publishRelease, replaces, updateArtifacts } from '../../main/updates/feed';
import { SIGNING_KEY_ENV, signBytes, verifyBytes } from '../../main/updates/signature';
import { feedUrlOf, readBuildInfo } from '../../main/updates/build-info';
import { unsupportedReason } from '../../main/app/updater';
import { fakeInstaller, release, releaseInto, serveFeed, testKeys } from '../helpers/update-feed';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-feed-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f));

test('a stable release goes into the latest, beta and alpha feeds; electron-updater reads what was written; all signed', async () => {
  const keys = testKeys(root);
  const out = path.join(root, 'out');
  const art = fakeInstaller(path.join(root, 'a'), '1.4.0');
  fs.writeFileSync(path.join(root, 'a', 'Hearth-1.4.0.AppImage.blockmap'), 'map');
  const r = await publishRelease({ channel: 'stable', version: '1.4.0', platform: 'linux', arch: 'x64', artifacts: [art, path.join(root, 'a', 'Hearth-1.4.0.AppImage.blockmap')], out, privateKeyPem: keys.privateKeyPem, releaseNotes: 'Notes', releaseDate: new Date('2026-12-01T00:00:00Z') });
  expect(r.written).toEqual(['latest-linux.yml', 'beta-linux.yml', 'alpha-linux.yml']);
  const text = read(out, 'latest-linux.yml').toString();
  const info = parseUpdateInfo(text, 'latest-linux.yml', new URL('http://h/latest-linux.yml')) as unknown as Record<string, unknown>;
  const described = await describeFile(art);
  expect(info).toEqual({ version: '1.4.0', files: [described], path: 'Hearth-1.4.0.AppImage', sha512: described.sha512, releaseDate: '2026-12-01T00:00:00.000Z', releaseNotes: 'Notes' });
  expect(resolveFiles(info as never, new URL('http://h/feed/')).map((f) => f.url.href)).toEqual(['http://h/feed/Hearth-1.4.0.AppImage']);
  // base64 SHA-512, as electron-updater's DigestTransform expects when it is not 128 hex digits
  expect(Buffer.from(described.sha512, 'base64')).toHaveLength(64);
  for (const f of ['latest-linux.yml', 'beta-linux.yml', 'alpha-linux.yml', 'Hearth-1.4.0.AppImage', 'Hearth-1.4.0.AppImage.blockmap']) {
    expect(verifyBytes(read(out, f), read(out, `${f}.sig`).toString(), keys.publicKeyPem)).toBe(true);
  }
  expect(verifyBytes(Buffer.from(text + ' '), read(out, 'latest-linux.yml.sig').toString(), keys.publicKeyPem)).toBe(false);
});

test('a feed keeps a newer version: a beta after a newer stable leaves latest alone, a nightly goes into alpha only', async () => {
  const keys = testKeys(root);
  const out = path.join(root, 'out');
  const pub = (channel: 'stable' | 'beta' | 'nightly', version: string) =>
    publishRelease({ channel, version, platform: 'win32', arch: 'x64', artifacts: [path.join(root, `Hearth Setup ${version}.exe`)], out, privateKeyPem: keys.privateKeyPem });
  for (const v of ['1.5.0-beta.1', '1.4.0', '1.6.0-alpha.20261127', '1.5.0']) fs.writeFileSync(path.join(root, `Hearth Setup ${v}.exe`), v);
  expect((await pub('beta', '1.5.0-beta.1')).written).toEqual(['beta.yml', 'alpha.yml']);
  const r = await pub('stable', '1.4.0');
  expect(r.written).toEqual(['latest.yml']);
  expect(r.kept).toEqual([{ file: 'beta.yml', version: '1.5.0-beta.1' }, { file: 'alpha.yml', version: '1.5.0-beta.1' }]);
  expect((await pub('nightly', '1.6.0-alpha.20261127')).written).toEqual(['alpha.yml']);
  expect((await pub('stable', '1.5.0')).written).toEqual(['latest.yml', 'beta.yml']);
  const v = (f: string) => parseFeed(read(out, f).toString()).version;
  expect([v('latest.yml'), v('beta.yml'), v('alpha.yml')]).toEqual(['1.5.0', '1.5.0', '1.6.0-alpha.20261127']);
  expect(replaces(null, '1.0.0')).toBe(true);
  expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

test('feed file names and the installers each platform lists', () => {
  expect(feedFileName('nightly', 'linux', 'arm64')).toBe('alpha-linux-arm64.yml');
  expect(updateArtifacts(['a.dmg', 'a.zip', 'a.zip.blockmap', 'x.txt'], 'darwin')).toEqual(['a.zip', 'a.dmg']);
  expect(updateArtifacts(['a.deb', 'a.AppImage'], 'linux')).toEqual(['a.AppImage', 'a.deb']);
});

describe('the release CLI refuses', () => {
  test('a version that is not the channel’s, with nothing written', async () => {
    const keys = testKeys(root);
    const a = path.dirname(fakeInstaller(path.join(root, 'a'), '1.4.0'));
    const out = path.join(root, 'out');
    const r = await release(['--channel', 'beta', '--version', '1.4.0', '--out', out, '--artifacts', a, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a beta release's version looks like 1\.5\.0-beta\.2, not "1\.4\.0"/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a signing key whose public key the app does not carry (and the committed key is not a test key)', async () => {
    const keys = testKeys(root);
    const a = path.dirname(fakeInstaller(path.join(root, 'a'), '1.4.0'));
    const out = path.join(root, 'out');
    // without --public-key the app's own resources/update-signing.pub is the one: a test key is not it
    const r = await release(['--channel', 'stable', '--version', '1.4.0', '--platform', 'linux', '--out', out, '--artifacts', a], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not the one the app carries/);
    expect(fs.existsSync(out)).toBe(false);
    const none = await release(['--channel', 'stable', '--version', '1.4.0', '--out', out, '--artifacts', a], { [SIGNING_KEY_ENV]: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/HEARTH_UPDATE_SIGNING_KEY is not set/);
  });

  test('a usage error (exit 2), and a nightly gets its version from --base and the date', async () => {
    expect((await release(['--channel', 'weekly', '--version', '1.0.0', '--out', root])).code).toBe(2);
    const keys = testKeys(root);
    const a = path.dirname(fakeInstaller(path.join(root, 'a'), 'n'));
    const out = path.join(root, 'out');
    const r = await release(['--channel', 'nightly', '--base', '1.5.0', '--platform', 'linux', '--arch', 'x64', '--out', out, '--artifacts', a, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
    expect(r.code).toBe(0);
    // the CPU build's folder (no --gpu: cpu)
    expect(parseFeed(read(path.join(out, 'cpu'), 'alpha-linux.yml').toString()).version).toMatch(/^1\.5\.0-alpha\.20\d{6}$/);
    expect(fs.existsSync(path.join(out, 'cpu', 'latest-linux.yml'))).toBe(false);
  });
});

describe('GPU builds have their own feed folders', () => {
  test('each --gpu writes its own folder; an unknown one is a usage error', async () => {
    const keys = testKeys(root);
    const feed = path.join(root, 'feed');
    await releaseInto(feed, root, keys, 'stable', '1.4.0', undefined, 'cpu');
    await releaseInto(feed, root, keys, 'beta', '1.5.0-beta.1', undefined, 'cuda');
    const linux = (c: 'stable' | 'beta') => feedFileName(c, 'linux', process.arch);
    expect(parseFeed(read(path.join(feed, 'cpu'), linux('beta')).toString()).version).toBe('1.4.0');
    expect(parseFeed(read(path.join(feed, 'cuda'), linux('beta')).toString()).version).toBe('1.5.0-beta.1');
    expect(fs.existsSync(path.join(feed, 'cuda', linux('stable')))).toBe(false);
    const a = path.dirname(fakeInstaller(path.join(root, 'x'), '1.4.1'));
    const bad = await release(['--channel', 'stable', '--version', '1.4.1', '--gpu', 'cdua', '--out', feed, '--artifacts', a, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--gpu is one of cpu, vulkan, cuda, metal/);
  });

  test('--feed-url merges with the published feed (a stable release keeps its newer beta), and refuses one not signed with the carried key', async () => {
    const keys = testKeys(root);
    const published = path.join(root, 'published');
    await releaseInto(published, root, keys, 'beta', '1.5.0-beta.1', undefined, 'vulkan');
    const server = await serveFeed(published);
    try {
      const out = path.join(root, 'out');
      const a = path.dirname(fakeInstaller(path.join(root, 'a'), '1.4.0'));
      const args = ['--channel', 'stable', '--version', '1.4.0', '--platform', 'linux', '--arch', process.arch, '--gpu', 'vulkan', '--out', out, '--artifacts', a, '--public-key', keys.publicKeyFile, '--feed-url', server.url];
      const r = await release(args, { [SIGNING_KEY_ENV]: keys.privateKeyPem });
      expect(r.code).toBe(0);
      const linux = (c: 'stable' | 'beta' | 'nightly') => feedFileName(c, 'linux', process.arch);
      expect(r.stdout).toContain(`merging with the published ${linux('beta')}`);
      expect(server.requests).toContain(`/vulkan/${linux('beta')}`);
      const v = (c: 'stable' | 'beta' | 'nightly') => parseFeed(read(path.join(out, 'vulkan'), linux(c)).toString()).version;
      expect([v('stable'), v('beta'), v('nightly')]).toEqual(['1.4.0', '1.5.0-beta.1', '1.5.0-beta.1']);
      expect(verifyBytes(read(path.join(out, 'vulkan'), linux('beta')), read(path.join(out, 'vulkan'), `${linux('beta')}.sig`).toString(), keys.publicKeyPem)).toBe(true);
      // a published channel file whose signature is not the carried key's: nothing merged, nothing written
      fs.mkdirSync(path.join(root, 'other'));
      const other = testKeys(path.join(root, 'other'));
      server.replace.set(`/vulkan/${linux('beta')}.sig`, Buffer.from(signBytes(read(path.join(published, 'vulkan'), linux('beta')), other.privateKeyPem)));
      const out2 = path.join(root, 'out2');
      const refused = await release([...args.slice(0, args.indexOf('--out')), '--out', out2, ...args.slice(args.indexOf('--out') + 2)], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is not signed with the key the app carries/);
      expect(fs.existsSync(path.join(out2, 'vulkan', linux('stable')))).toBe(false);
    } finally {
      await server.close();
    }
  });

  test('the app reads its build from the packaged package.json and takes its updates from that build\'s folder', () => {
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'hearth', hearthBuild: { gpu: 'cuda' } }));
    expect(readBuildInfo(root)).toEqual({ gpu: 'cuda' });
    expect(feedUrlOf('https://updates.hearth.app/', 'cuda')).toBe('https://updates.hearth.app/cuda/');
    expect(feedUrlOf('https://updates.hearth.app', 'cpu')).toBe('https://updates.hearth.app/cpu/');
    expect(() => feedUrlOf('https://updates.hearth.app/', '../x')).toThrow();
    for (const bad of [{}, { hearthBuild: { gpu: '../cuda' } }, { hearthBuild: 'cuda' }]) {
      fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify(bad));
      expect(readBuildInfo(root)).toBeNull();
    }
    expect(readBuildInfo(path.join(root, 'none'))).toBeNull();
    const packaged = { packaged: true, platform: 'linux' as const, env: { APPIMAGE: '/x.AppImage' }, packageType: null };
    expect(unsupportedReason({ ...packaged, build: { gpu: 'cpu' } })).toBeNull();
    expect(unsupportedReason({ ...packaged, build: null })).toMatch(/does not say which build/);
    expect(unsupportedReason({ ...packaged, packaged: false, build: { gpu: 'cpu' } })).toMatch(/development run/);
    expect(unsupportedReason({ ...packaged, env: {}, build: { gpu: 'cpu' } })).toMatch(/^Only the AppImage and the deb .*\.$/);
    expect(unsupportedReason({ ...packaged, env: {}, packageType: 'deb', build: { gpu: 'cpu' } })).toBeNull();
  });
});
