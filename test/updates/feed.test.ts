/**
 * The release feed (main/updates/feed.ts) and the release CLI's refusals (the real `node scripts/release`):
 * what publishRelease writes is what electron-updater's own parser reads, feeds merge by version,
 * every file is signed, and a wrong version for the channel or a signing key the app does not carry
 * is refused with nothing written.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import zlib from 'zlib';
import { parseUpdateInfo, resolveFiles } from 'electron-updater/out/providers/Provider';
import { feedFileName } from '../../main/updates/channels';
import { describeFile, embeddedBlockMapSize, parseFeed, publishRelease, releaseFiles, replaces, updateArtifacts } from '../../main/updates/feed';
import { ARTIFACT_SIGNATURE_DOMAIN, artifactMessage, fileSha512, PUBLIC_KEY_FILE, publicKeyOf, signArtifact, SIGNING_KEY_ENV, signBytes, verifyArtifact, verifyBytes } from '../../main/updates/signature';
import { REPO_ROOT } from '../helpers/models';
import { feedUrlOf, readBuildInfo } from '../../main/updates/build-info';
import { linuxPackageKind, unsupportedReason, updaterKind } from '../../main/app/updater';
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
  for (const f of ['latest-linux.yml', 'beta-linux.yml', 'alpha-linux.yml']) {
    expect(verifyBytes(f, read(out, f), read(out, `${f}.sig`).toString(), keys.publicKeyPem)).toBe(true);
    // a channel file's signature never passes for an artifact's (another domain)
    expect(await verifyArtifact(f, path.join(out, f), read(out, `${f}.sig`).toString(), keys.publicKeyPem)).toBe(false);
  }
  // an artifact's signature is over its name and streamed SHA-512 (hearth-update-artifact-v1), not its bytes
  for (const f of ['Hearth-1.4.0.AppImage', 'Hearth-1.4.0.AppImage.blockmap']) {
    expect(await verifyArtifact(f, path.join(out, f), read(out, `${f}.sig`).toString(), keys.publicKeyPem)).toBe(true);
    expect(verifyBytes(f, read(out, f), read(out, `${f}.sig`).toString(), keys.publicKeyPem)).toBe(false);
  }
  expect(await verifyArtifact('Hearth-1.4.1.AppImage', path.join(out, 'Hearth-1.4.0.AppImage'), read(out, 'Hearth-1.4.0.AppImage.sig').toString(), keys.publicKeyPem)).toBe(false);
  expect(verifyBytes('latest-linux.yml', Buffer.from(text + ' '), read(out, 'latest-linux.yml.sig').toString(), keys.publicKeyPem)).toBe(false);
  // a signature binds the file's name: the same bytes under another feed's name do not verify
  expect(read(out, 'alpha-linux.yml')).toEqual(read(out, 'latest-linux.yml'));
  expect(verifyBytes('latest-linux.yml', read(out, 'alpha-linux.yml'), read(out, 'alpha-linux.yml.sig').toString(), keys.publicKeyPem)).toBe(false);
  expect(verifyBytes('latest-linux.yml', read(out, 'latest-linux.yml'), read(out, 'latest-linux.yml.sig').toString(), keys.publicKeyPem)).toBe(true);
});

test('an artifact signature: its message is the domain, the name and the streamed SHA-512; a changed byte or another name does not verify', async () => {
  const keys = testKeys(root);
  const file = path.join(root, 'big.AppImage');
  // several read-stream chunks (64 KiB each): the hash is streamed, never the whole file in one buffer
  fs.writeFileSync(file, Buffer.alloc(300 * 1024, 7));
  const { sha512, size } = await fileSha512(file);
  expect(size).toBe(300 * 1024);
  expect(artifactMessage('big.AppImage', sha512).toString()).toBe(`${ARTIFACT_SIGNATURE_DOMAIN}\nbig.AppImage\n${sha512}`);
  expect(() => artifactMessage('a/b', sha512)).toThrow(/plain file name/);
  const sig = await signArtifact('big.AppImage', file, keys.privateKeyPem);
  expect(await verifyArtifact('big.AppImage', file, sig, keys.publicKeyPem)).toBe(true);
  expect(await verifyArtifact('other.AppImage', file, sig, keys.publicKeyPem)).toBe(false);
  const changed = Buffer.alloc(300 * 1024, 7);
  changed[200 * 1024] = 8;
  fs.writeFileSync(file, changed);
  expect(await verifyArtifact('big.AppImage', file, sig, keys.publicKeyPem)).toBe(false);
});

test('a channel file says its GPU build (gpu); a release into a folder holding another build\'s channel file is refused', async () => {
  const keys = testKeys(root);
  const out = path.join(root, 'out');
  const art = fakeInstaller(path.join(root, 'a'), '1.4.0');
  await publishRelease({ channel: 'stable', version: '1.4.0', platform: 'linux', arch: 'x64', artifacts: [art], out, privateKeyPem: keys.privateKeyPem, gpu: 'cuda' });
  expect(parseFeed(read(out, 'latest-linux.yml').toString()).gpu).toBe('cuda');
  expect(read(out, 'latest-linux.yml').toString()).toMatch(/^gpu: cuda$/m);
  const next = fakeInstaller(path.join(root, 'b'), '1.4.1');
  await expect(publishRelease({ channel: 'stable', version: '1.4.1', platform: 'linux', arch: 'x64', artifacts: [next], out, privateKeyPem: keys.privateKeyPem, gpu: 'cpu' })).rejects.toThrow(/is the cuda build's feed, not the cpu build's/);
  expect(parseFeed(read(out, 'latest-linux.yml').toString()).version).toBe('1.4.0');
  expect(() => parseFeed(read(out, 'latest-linux.yml').toString().replace('gpu: cuda', 'gpu: ../x'))).toThrow();
});

test('an AppImage with an embedded blockmap lists its size (electron-updater downloads only the changed blocks); one without lists none', async () => {
  const keys = testKeys(root);
  const blockmap = zlib.deflateRawSync(Buffer.from(JSON.stringify({ version: '2', files: [{ name: 'file', offset: 0, checksums: ['x'], sizes: [1] }] })));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(blockmap.length, 0);
  const dir = path.join(root, 'a');
  fs.mkdirSync(dir);
  const withMap = path.join(dir, 'Hearth-1.4.0.AppImage');
  fs.writeFileSync(withMap, Buffer.concat([Buffer.from('#!/bin/sh\nexit 0\n'), blockmap, len]));
  expect(await embeddedBlockMapSize(withMap)).toBe(blockmap.length);
  const out = path.join(root, 'out');
  await publishRelease({ channel: 'stable', version: '1.4.0', platform: 'linux', arch: 'x64', artifacts: [withMap], out, privateKeyPem: keys.privateKeyPem });
  const info = parseUpdateInfo(read(out, 'latest-linux.yml').toString(), 'latest-linux.yml', new URL('http://h/latest-linux.yml')) as unknown as { files: { size: number; blockMapSize?: number }[] };
  expect(info.files[0].blockMapSize).toBe(blockmap.length);
  // where electron-updater's FileWithEmbeddedBlockMapDifferentialDownloader reads it: size - (blockMapSize + 4)
  const bytes = read(out, 'Hearth-1.4.0.AppImage');
  const at = info.files[0].size - (info.files[0].blockMapSize! + 4);
  expect(JSON.parse(zlib.inflateRawSync(bytes.subarray(at, bytes.length - 4)).toString()).version).toBe('2');
  // no blockmap, or a tail that is not one
  const plain = fakeInstaller(path.join(root, 'b'), '1.4.1');
  expect(await embeddedBlockMapSize(plain)).toBeNull();
  const odd = path.join(root, 'b', 'Odd.AppImage');
  fs.writeFileSync(odd, Buffer.concat([Buffer.from('not deflated at all'), Buffer.from([0, 0, 0, 5])]));
  expect(await embeddedBlockMapSize(odd)).toBeNull();
  expect((await describeFile(plain)).blockMapSize).toBeUndefined();
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

test('only installers and their blockmaps are published: electron-builder\'s own channel files, config and .sig files among build()\'s artifacts are ignored, never signed', async () => {
  const keys = testKeys(root);
  const build = path.join(root, 'build');
  fs.mkdirSync(build);
  // what electron-builder's build() returns (and leaves in its output folder) for a macOS build with a
  // publish configuration: the installers, their blockmaps, its own channel file, and more
  const stale = 'version: 9.9.9-alpha.20991231\nfiles: []\n';
  const names = ['Hearth-1.4.0-mac-arm64-metal.zip', 'Hearth-1.4.0-mac-arm64-metal.zip.blockmap', 'Hearth-1.4.0-mac-arm64-metal.dmg', 'Hearth-1.4.0-mac-arm64-metal.dmg.blockmap',
    'latest-mac.yml', 'beta-mac.yml', 'alpha-mac.yml', 'builder-effective-config.yaml', 'Hearth-1.4.0-mac.json', 'Hearth-1.4.0-mac-arm64-metal.zip.sig', 'stray.blockmap'];
  for (const n of names) fs.writeFileSync(path.join(build, n), n.endsWith('-mac.yml') ? stale : n);
  const artifacts = names.map((n) => path.join(build, n));
  expect(releaseFiles(artifacts, 'darwin')).toEqual({
    installers: ['Hearth-1.4.0-mac-arm64-metal.zip', 'Hearth-1.4.0-mac-arm64-metal.dmg'],
    blockmaps: ['Hearth-1.4.0-mac-arm64-metal.zip.blockmap', 'Hearth-1.4.0-mac-arm64-metal.dmg.blockmap'],
    ignored: ['latest-mac.yml', 'beta-mac.yml', 'alpha-mac.yml', 'builder-effective-config.yaml', 'Hearth-1.4.0-mac.json', 'Hearth-1.4.0-mac-arm64-metal.zip.sig', 'stray.blockmap'],
  });
  const out = path.join(root, 'out');
  const r = await publishRelease({ channel: 'stable', version: '1.4.0', platform: 'darwin', arch: 'arm64', artifacts, out, privateKeyPem: keys.privateKeyPem });
  expect(r.ignored).toEqual(releaseFiles(artifacts, 'darwin').ignored);
  expect(r.written).toEqual(['latest-mac.yml', 'beta-mac.yml', 'alpha-mac.yml']);
  const published = ['Hearth-1.4.0-mac-arm64-metal.zip', 'Hearth-1.4.0-mac-arm64-metal.zip.blockmap', 'Hearth-1.4.0-mac-arm64-metal.dmg', 'Hearth-1.4.0-mac-arm64-metal.dmg.blockmap'];
  expect(fs.readdirSync(out).sort()).toEqual([...published, 'latest-mac.yml', 'beta-mac.yml', 'alpha-mac.yml'].flatMap((f) => [f, `${f}.sig`]).sort());
  // the channel files are ours (the release's version), not electron-builder's stale nightly
  for (const f of ['latest-mac.yml', 'alpha-mac.yml']) expect(parseFeed(read(out, f).toString()).version).toBe('1.4.0');
  expect(parseFeed(read(out, 'latest-mac.yml').toString()).files.map((f) => f.url)).toEqual(['Hearth-1.4.0-mac-arm64-metal.zip', 'Hearth-1.4.0-mac-arm64-metal.dmg']);
  // the CLI takes the same folder and says what it left out
  const cli = await release(['--channel', 'stable', '--version', '1.4.0', '--platform', 'darwin', '--arch', 'arm64', '--gpu', 'metal', '--out', path.join(root, 'cli'), '--artifacts', build, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
  expect(cli.code).toBe(0);
  expect(cli.stdout).toContain('not published (neither an installer nor its blockmap): Hearth-1.4.0-mac-arm64-metal.zip.sig, Hearth-1.4.0-mac.json, alpha-mac.yml, beta-mac.yml, builder-effective-config.yaml, latest-mac.yml, stray.blockmap');
  expect(parseFeed(read(path.join(root, 'cli', 'metal'), 'alpha-mac.yml').toString()).version).toBe('1.4.0');
});

test('a release its own channel file would not take is refused before anything is written; more bleeding-edge feeds keeping a newer build is fine', async () => {
  const keys = testKeys(root);
  const feed = path.join(root, 'feed');
  await releaseInto(feed, root, keys, 'stable', '1.4.0');
  const linux = (c: 'stable' | 'beta' | 'nightly') => feedFileName(c, 'linux', process.arch);
  const before = fs.readdirSync(path.join(feed, 'cpu')).sort();
  // a nightly of the same base after the stable release: 1.4.0-alpha.… is older than 1.4.0
  const a = path.dirname(fakeInstaller(path.join(root, 'n'), '1.4.0-alpha.20261127'));
  const args = ['--channel', 'nightly', '--version', '1.4.0-alpha.20261127', '--platform', 'linux', '--arch', process.arch, '--out', feed, '--artifacts', a, '--public-key', keys.publicKeyFile];
  const r = await release(args, { [SIGNING_KEY_ENV]: keys.privateKeyPem });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`${linux('nightly')} already holds 1.4.0, not older than 1.4.0-alpha.20261127: this nightly release would reach nobody on its channel. Bump package.json's version`);
  expect(fs.readdirSync(path.join(feed, 'cpu')).sort()).toEqual(before);
  // the same version again on its own channel is refused too
  expect((await release(['--channel', 'stable', '--version', '1.4.0', '--platform', 'linux', '--arch', process.arch, '--out', feed, '--artifacts', a, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem })).code).toBe(1);
  // a beta after a newer nightly: the alpha feed keeps its nightly, the beta feed takes the beta (exit 0)
  await releaseInto(feed, root, keys, 'nightly', '1.6.0-alpha.20261127');
  const b = path.dirname(fakeInstaller(path.join(root, 'b'), '1.5.0-beta.1'));
  const ok = await release(['--channel', 'beta', '--version', '1.5.0-beta.1', '--platform', 'linux', '--arch', process.arch, '--out', feed, '--artifacts', b, '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain(`kept ${linux('nightly')}: it holds 1.6.0-alpha.20261127, not older than 1.5.0-beta.1`);
  expect(parseFeed(read(path.join(feed, 'cpu'), linux('beta')).toString()).version).toBe('1.5.0-beta.1');
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

describe('the release CLI explains itself', () => {
  test('--help prints every option and the key\'s environment variable (exit 0); a missing --artifacts folder is named', async () => {
    const help = await release(['--help']);
    expect(help.code).toBe(0);
    for (const o of ['--channel', '--version', '--base', '--out', '--feed-url', '--artifacts', '--notes', '--platform', '--arch', '--gpu', '--public-key', '--force', SIGNING_KEY_ENV]) expect(help.stdout).toContain(o);
    const keys = testKeys(root);
    const r = await release(['--channel', 'stable', '--version', '1.4.0', '--out', path.join(root, 'out'), '--artifacts', path.join(root, 'nope'), '--public-key', keys.publicKeyFile], { [SIGNING_KEY_ENV]: keys.privateKeyPem });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`release: --artifacts ${path.join(root, 'nope')}: no such folder (it holds the installers to publish)\n`);
  });

  test('keygen refuses to replace an existing public key unless --force, and writes a throwaway key where --public-key says', async () => {
    const committed = fs.readFileSync(path.join(REPO_ROOT, PUBLIC_KEY_FILE));
    const refused = await release(['keygen']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/resources\/update-signing\.pub exists: .* Pass --force/);
    expect(refused.stdout).toBe('');
    expect(fs.readFileSync(path.join(REPO_ROOT, PUBLIC_KEY_FILE)).equals(committed)).toBe(true);
    const trial = path.join(root, 'trial.pub');
    const made = await release(['keygen', '--public-key', trial]);
    expect(made.code).toBe(0);
    expect(publicKeyOf(made.stdout).trim()).toBe(fs.readFileSync(trial, 'utf8').trim());
    expect((await release(['keygen', '--public-key', trial])).code).toBe(1);
    const forced = await release(['keygen', '--public-key', trial, '--force']);
    expect(forced.code).toBe(0);
    expect(publicKeyOf(forced.stdout).trim()).toBe(fs.readFileSync(trial, 'utf8').trim());
    expect(forced.stdout).not.toBe(made.stdout);
    expect((await release(['keygen', '--bogus'])).code).toBe(2);
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
      expect(verifyBytes(linux('beta'), read(path.join(out, 'vulkan'), linux('beta')), read(path.join(out, 'vulkan'), `${linux('beta')}.sig`).toString(), keys.publicKeyPem)).toBe(true);
      // a published channel file whose signature is not the carried key's: nothing merged, nothing written
      fs.mkdirSync(path.join(root, 'other'));
      const other = testKeys(path.join(root, 'other'));
      server.replace.set(`/vulkan/${linux('beta')}.sig`, Buffer.from(signBytes(linux('beta'), read(path.join(published, 'vulkan'), linux('beta')), other.privateKeyPem)));
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

  test('an AppImage (APPIMAGE set) takes the AppImage updater even when resources/package-type says deb (app-builder-lib\'s shared linux-unpacked)', () => {
    const appImage = { APPIMAGE: '/opt/Hearth.AppImage' };
    expect(linuxPackageKind(appImage, 'deb')).toBe('appimage');
    expect(updaterKind('linux', appImage, 'deb')).toBe('AppImageUpdater');
    expect(updaterKind('linux', appImage, null)).toBe('AppImageUpdater');
    expect(updaterKind('linux', {}, 'deb')).toBe('DebUpdater');
    expect(linuxPackageKind({}, 'rpm')).toBeNull();
    expect(updaterKind('win32', appImage, 'deb')).toBe('NsisUpdater');
    expect(updaterKind('darwin', {}, null)).toBe('MacUpdater');
    expect(unsupportedReason({ packaged: true, platform: 'linux', env: appImage, packageType: 'deb', build: { gpu: 'cpu' } })).toBeNull();
    expect(unsupportedReason({ packaged: true, platform: 'linux', env: {}, packageType: 'rpm', build: { gpu: 'cpu' } })).toMatch(/^Only the AppImage and the deb/);
  });
});
