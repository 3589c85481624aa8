/**
 * Packaging config, checked with electron-builder's own schema validation (no Electron binary can be
 * downloaded here, so nothing is packaged): the fuses main/app/ relies on being off really are off.
 */
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from '../helpers/models';

// electron-builder's own modules: its YAML reader and its configuration validator
// eslint-disable-next-line @typescript-eslint/no-var-requires
const yaml = require('js-yaml') as { load(text: string): unknown };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  validateConfiguration(config: unknown, debug: { isEnabled: boolean; add(): void }): Promise<void>;
};
const noDebug = { isEnabled: false, add() {} };
const readConfig = () => yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, any>;

test('electron-builder.yml is valid for electron-builder 26, turns RunAsNode and the other risky fuses off and ASAR integrity on', async () => {
  const config = readConfig();
  await expect(validateConfiguration(config, noDebug)).resolves.toBeUndefined();
  expect(config.asar).toBe(true);
  expect(config.electronFuses).toEqual({
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  });
  // the validation is real: a misspelt fuse is refused
  const typo = readConfig();
  typo.electronFuses.runAsnode = false;
  await expect(validateConfiguration(typo, noDebug)).rejects.toThrow(/electronFuses/);
});

test("package.json's main is the bundle build-ts writes (what a packaged app starts)", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string };
  expect(pkg.main).toBe('dist/app/main.js');
  expect(fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'build-ts.js'), 'utf8')).toContain("'dist/app/main.js'");
});

test('the recommended models ship inside the app, where main/models/recommended.ts reads them (the app root)', () => {
  const config = readConfig();
  expect(config.files).toContain('resources/recommended.json');
  expect(fs.existsSync(path.join(REPO_ROOT, 'resources', 'recommended.json'))).toBe(true);
});

test('the configuration scripts/package-app.js builds (signing and notarization pieces, a CUDA folder) is valid too', async () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const pack = require('../../scripts/package-app.js');
  const env = { AZURE_SIGNING_ENDPOINT: 'https://eus.codesigning.azure.net', AZURE_SIGNING_ACCOUNT: 'a', AZURE_SIGNING_PROFILE: 'p', AZURE_PUBLISHER_NAME: 'Hearth' };
  const signing = { ...pack.signingPlan('win32', env).config, ...pack.signingPlan('darwin', {}).config };
  const config = pack.builderConfig({ gpu: 'cuda', version: '1.4.0', stagedDir: '/tmp/cuda', signing });
  expect(config.win.azureSignOptions.publisherName).toBe('Hearth');
  expect(config.mac.notarize).toBe(false);
  await expect(validateConfiguration(config, noDebug)).resolves.toBeUndefined();
});

test("sqlite-vec's loadable file is unpacked from app.asar (dlopen cannot read inside it), where vector-ext.ts looks for it", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { minimatch } = require('minimatch') as { minimatch(p: string, pattern: string, o?: { dot?: boolean }): boolean };
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { getLoadablePath } = require('sqlite-vec') as { getLoadablePath(): string };
  const { unpackedPath } = require('../../main/store/vector-ext') as typeof import('../../main/store/vector-ext');
  const file = path.relative(REPO_ROOT, fs.realpathSync(getLoadablePath())).split(path.sep).join('/');
  expect(file).toMatch(/^node_modules\/sqlite-vec-[a-z0-9]+-[a-z0-9]+\/vec0\.(so|dylib|dll)$/);
  const patterns = readConfig().asarUnpack as string[];
  expect(patterns.some((p) => minimatch(file, p, { dot: true }))).toBe(true);
  // the packaged path: resources/app.asar/<file> is read at resources/app.asar.unpacked/<file>
  expect(unpackedPath(path.join('/opt/Hearth/resources/app.asar', file))).toBe(path.join('/opt/Hearth/resources/app.asar.unpacked', file));
});
