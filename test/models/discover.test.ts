/**
 * Discovery (issue 14) on fixture trees shaped like LM Studio's, Ollama's, Jan's and GPT4All's
 * folders on Linux, macOS and Windows, built under a temp dir with a fake home (the real home is
 * never read), with real generated GGUF files and an Ollama manifest + blob named by the file's
 * real SHA-256. Windows trees are read on this OS with its path module (DiscoverEnv.path); the
 * Windows folder strings themselves are checked with path.win32.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { discover, DiscoverEnv, peerFolders } from '../../main/models/discover';
import { groupByIdentity, IDENTITY_HEAD_BYTES, modelIdentity } from '../../main/models/identity';
import { writeTestModel } from '../../scripts/make-test-model';
import { tempDir } from '../helpers/engine';

let dir: string;
/** two different real models: A (Llama 2 vocab) and B (another seed and name) */
let A: string;
let B: string;
let shaA: string;
let shaB: string;

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  dir = tempDir('hearth-discover-');
  A = (await writeTestModel({ out: path.join(dir, 'src', 'a.gguf'), size: 'tiny', vocab: 'llama-spm', seed: 1, name: 'model-a' })).path;
  B = (await writeTestModel({ out: path.join(dir, 'src', 'b.gguf'), size: 'tiny', vocab: 'llama-spm', seed: 2, name: 'model-b' })).path;
  shaA = sha256(A);
  shaB = sha256(B);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function put(file: string, from: string | Buffer): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (typeof from === 'string') fs.copyFileSync(from, file);
  else fs.writeFileSync(file, from);
  return file;
}

/** An Ollama models folder holding `model` under manifests/<registry>/<ns>/<name>/<tag> and blobs/sha256-<hex>. */
function ollama(folder: string, model: string, sha: string, [registry, ns, name, tag]: string[]): { blob: string; manifest: string } {
  const blob = put(path.join(folder, 'blobs', `sha256-${sha}`), model);
  const config = put(path.join(folder, 'blobs', `sha256-${'c'.repeat(64)}`), Buffer.from('{}'));
  const manifest = put(
    path.join(folder, 'manifests', registry, ns, name, tag),
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
        layers: [
          { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${sha}`, size: fs.statSync(model).size },
          { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'d'.repeat(64)}`, size: 10 },
        ],
      }),
    ),
  );
  void config;
  return { blob, manifest };
}

function janModel(data: string, id: string, yml: string): string {
  return put(path.join(data, 'llamacpp', 'models', id, 'model.yml'), Buffer.from(yml));
}

/** Where each app's folders are on each OS, written out by hand (not derived with the code under test). */
const LAYOUTS = {
  linux: { jan: ['.local', 'share', 'Jan'], gpt4all: ['.local', 'share', 'nomic.ai', 'GPT4All'] },
  darwin: { jan: ['Library', 'Application Support', 'Jan'], gpt4all: ['Library', 'Application Support', 'nomic.ai', 'GPT4All'] },
  win32: { jan: ['AppData', 'Roaming', 'Jan'], gpt4all: ['AppData', 'Local', 'nomic.ai', 'GPT4All'] },
} as const;

function envFor(platform: keyof typeof LAYOUTS, home: string, extra: DiscoverEnv['env'] = {}): DiscoverEnv {
  const env: DiscoverEnv['env'] =
    platform === 'win32' ? { APPDATA: path.join(home, 'AppData', 'Roaming'), LOCALAPPDATA: path.join(home, 'AppData', 'Local'), ...extra } : { ...extra };
  return { platform, home, env, root: path.join(home, '..', 'root'), path };
}

describe.each(Object.keys(LAYOUTS) as (keyof typeof LAYOUTS)[])('the %s layout', (platform) => {
  test('each app\'s models are found with their names; an Ollama blob and LM Studio\'s copy of the same GGUF are one model with two locations', async () => {
    const base = path.join(dir, platform);
    const home = path.join(base, 'home');
    const lm = put(path.join(home, '.lmstudio', 'models', 'lmstudio-community', 'Model-A-GGUF', 'model-a-F16.gguf'), A);
    const { blob } = ollama(path.join(home, '.ollama', 'models'), A, shaA, ['registry.ollama.ai', 'library', 'model-a', 'latest']);
    const data = path.join(home, ...LAYOUTS[platform].jan, 'data');
    const janFile = put(path.join(data, 'llamacpp', 'models', 'model-b', 'model.gguf'), B);
    janModel(data, 'model-b', `model_path: llamacpp/models/model-b/model.gguf\nname: Model B\nsize_bytes: ${fs.statSync(B).size}\nmodel_sha256: ${shaB}\n`);
    const g4a = put(path.join(home, ...LAYOUTS[platform].gpt4all, 'model-b.gguf'), B);

    const d = await discover(envFor(platform, home));
    expect(d.skipped).toEqual([]);
    expect(d.models.map((m) => m.name)).toEqual(['lmstudio-community/Model-A-GGUF/model-a-F16', 'Model B']);
    const a = d.models.find((m) => m.locations.some((l) => l.app === 'ollama'))!;
    expect(a.locations).toEqual([
      { app: 'lmstudio', path: lm, name: 'lmstudio-community/Model-A-GGUF/model-a-F16', projector: null },
      { app: 'ollama', path: blob, name: 'model-a:latest', projector: null },
    ]);
    expect(a).toMatchObject({ size: fs.statSync(A).size, sha256: shaA, facts: { architecture: 'llama', name: 'model-a', fileType: 'F16', hasChatTemplate: true, projector: false } });
    expect(a.facts.parameters).toBeGreaterThan(1000);
    const b = d.models.find((m) => m !== a)!;
    expect(b.locations).toEqual([
      { app: 'jan', path: janFile, name: 'Model B', projector: null },
      { app: 'gpt4all', path: g4a, name: 'model-b', projector: null },
    ]);
    expect(b).toMatchObject({ sha256: shaB, facts: { name: 'model-b', layers: 2, trainedContext: 2048 } });
    expect(d.searched.filter((s) => s.exists).map((s) => [s.app, s.from])).toEqual([
      ['lmstudio', 'default'],
      ['ollama', 'default'],
      ['jan', 'default'],
      ['gpt4all', 'default'],
    ]);
  });
});

test('the folders are derived with each OS\'s path rules and home/app-data conventions', () => {
  const win = peerFolders({ platform: 'win32', home: 'C:\\Users\\ann', env: { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming', LOCALAPPDATA: 'D:\\Local' } });
  const of = (fs_: typeof win, app: string) => fs_.find((f) => f.app === app)!;
  expect(of(win, 'lmstudio').defaults[0]).toBe('C:\\Users\\ann\\.lmstudio\\models');
  expect(of(win, 'ollama').defaults).toEqual(['C:\\Users\\ann\\.ollama\\models']);
  expect(of(win, 'jan')).toMatchObject({ settingsFiles: ['C:\\Users\\ann\\AppData\\Roaming\\Jan\\settings.json'], defaults: ['C:\\Users\\ann\\AppData\\Roaming\\Jan\\data'] });
  expect(of(win, 'gpt4all')).toMatchObject({ settingsFiles: ['C:\\Users\\ann\\AppData\\Roaming\\nomic.ai\\GPT4All.ini'], defaults: ['D:\\Local\\nomic.ai\\GPT4All'] });
  const mac = peerFolders({ platform: 'darwin', home: '/Users/ann', env: {} });
  expect(of(mac, 'jan').defaults).toEqual(['/Users/ann/Library/Application Support/Jan/data']);
  // Qt's INI settings live under ~/.config on macOS too
  expect(of(mac, 'gpt4all')).toMatchObject({ settingsFiles: ['/Users/ann/.config/nomic.ai/GPT4All.ini'], defaults: ['/Users/ann/Library/Application Support/nomic.ai/GPT4All'] });
  expect(of(mac, 'ollama').defaults).toEqual(['/Users/ann/.ollama/models']);
  const linux = peerFolders({ platform: 'linux', home: '/home/ann', env: { XDG_DATA_HOME: '/data/ann', OLLAMA_MODELS: '/srv/ollama' } });
  expect(of(linux, 'jan').defaults).toEqual(['/data/ann/Jan/data']);
  expect(of(linux, 'gpt4all').defaults).toEqual(['/data/ann/nomic.ai/GPT4All']);
  expect(of(linux, 'gpt4all').settingsFiles).toEqual(['/home/ann/.config/nomic.ai/GPT4All.ini']);
  expect(peerFolders({ platform: 'linux', home: '/home/ann', env: { XDG_CONFIG_HOME: '/cfg' } }).find((f) => f.app === 'gpt4all')!.settingsFiles).toEqual(['/cfg/nomic.ai/GPT4All.ini']);
  expect(of(linux, 'ollama')).toMatchObject({ environment: '/srv/ollama', defaults: ['/home/ann/.ollama/models', '/usr/share/ollama/.ollama/models'] });
});

test('settings-file and environment folders win over the defaults', async () => {
  const home = path.join(dir, 'settings', 'home');
  const custom = path.join(dir, 'settings', 'elsewhere');
  // a model in each default folder that the app no longer uses
  put(path.join(home, '.lmstudio', 'models', 'old', 'repo', 'old.gguf'), A);
  ollama(path.join(home, '.ollama', 'models'), A, shaA, ['registry.ollama.ai', 'library', 'old', 'latest']);
  janModel(path.join(home, '.local', 'share', 'Jan', 'data'), 'old', `model_path: ${A}\n`);
  // the folders the settings name
  put(path.join(home, '.lmstudio', 'settings.json'), Buffer.from(JSON.stringify({ downloadsFolder: path.join(custom, 'lms'), otherSetting: true })));
  const lm = put(path.join(custom, 'lms', 'pub', 'repo', 'b.gguf'), B);
  const { blob } = ollama(path.join(custom, 'ollama'), B, shaB, ['hf.co', 'someone', 'model-b-gguf', 'Q4_K_M']);
  put(path.join(home, '.local', 'share', 'Jan', 'settings.json'), Buffer.from(JSON.stringify({ data_folder: path.join(custom, 'jan') })));
  janModel(path.join(custom, 'jan'), 'b', `model_path: ${B}\nname: B in Jan\n`);
  // GPT4All's Qt INI file, as it writes it (the folder with a trailing slash, other keys around it)
  put(path.join(home, '.local', 'share', 'nomic.ai', 'GPT4All', 'old.gguf'), A);
  put(path.join(home, '.config', 'nomic.ai', 'GPT4All.ini'), Buffer.from(`[General]\nchatTheme=Dark\nmodelPath=${path.join(custom, 'gpt4all')}/\nthreadCount=4\n\n[download]\nlastVersion=3.10.0\n`));
  const g4 = put(path.join(custom, 'gpt4all', 'b-copy.gguf'), B);

  const d = await discover(envFor('linux', home, { OLLAMA_MODELS: path.join(custom, 'ollama') }));
  expect(d.skipped).toEqual([]);
  expect(d.models).toHaveLength(1);
  expect(d.models[0].locations).toEqual([
    { app: 'lmstudio', path: lm, name: 'pub/repo/b', projector: null },
    { app: 'ollama', path: blob, name: 'hf.co/someone/model-b-gguf:Q4_K_M', projector: null },
    { app: 'jan', path: B, name: 'B in Jan', projector: null },
    { app: 'gpt4all', path: g4, name: 'b-copy', projector: null },
  ]);
  expect(d.searched.map((s) => [s.app, s.folder, s.from])).toEqual([
    ['lmstudio', path.join(custom, 'lms'), 'settings'],
    ['ollama', path.join(custom, 'ollama'), 'environment'],
    ['jan', path.join(custom, 'jan'), 'settings'],
    ['gpt4all', path.join(custom, 'gpt4all'), 'settings'],
  ]);
});

test('broken manifests, settings, model.yml and model files are skipped with a reason; a link loop ends', async () => {
  const home = path.join(dir, 'broken', 'home');
  const models = path.join(home, '.ollama', 'models');
  const good = ollama(models, A, shaA, ['registry.ollama.ai', 'library', 'good', 'latest']);
  const notJson = put(path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'bad', 'json'), Buffer.from('{"layers": ['));
  const badDigest = put(
    path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'bad', 'digest'),
    Buffer.from(JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: 'sha256:xyz', size: 1 }] })),
  );
  const missing = put(
    path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'bad', 'missing'),
    Buffer.from(JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${'e'.repeat(64)}`, size: 5 }] })),
  );
  const huge = put(path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'bad', 'huge'), Buffer.alloc(2 * 1024 * 1024, 0x20));
  const lmSettings = put(path.join(home, '.lmstudio', 'settings.json'), Buffer.from('{ downloadsFolder: nope'));
  const lm = put(path.join(home, '.lmstudio', 'models', 'p', 'r', 'a.gguf'), A);
  fs.symlinkSync(path.join(home, '.lmstudio', 'models'), path.join(home, '.lmstudio', 'models', 'p', 'loop'));
  const data = path.join(home, '.local', 'share', 'Jan', 'data');
  const yml = janModel(data, 'broken', 'model_path: [unclosed\n');
  const noPath = janModel(data, 'nopath', 'name: no file\n');
  const notGguf = put(path.join(home, '.local', 'share', 'nomic.ai', 'GPT4All', 'fake.gguf'), Buffer.from('not a model at all'));

  const d = await discover(envFor('linux', home));
  const reasons = Object.fromEntries(d.skipped.map((s) => [s.path, s.reason]));
  expect(reasons[notJson]).toMatch(/^is not valid JSON/);
  expect(reasons[badDigest]).toMatch(/^does not have the expected shape: layers\.0\.digest: is not a sha256 digest/);
  expect(reasons[missing]).toMatch(/blob sha256-e{64} is missing/);
  expect(reasons[huge]).toMatch(/is 2097152 bytes, more than the 1048576 read/);
  expect(reasons[lmSettings]).toMatch(/^is not valid JSON/);
  expect(reasons[yml]).toMatch(/^is not valid YAML/);
  expect(reasons[noPath]).toMatch(/model_path: Required/);
  expect(reasons[notGguf]).toMatch(/^not a usable GGUF file \(bad_magic\)/);
  expect(d.skipped).toHaveLength(8);
  // what is good is found all the same; the broken LM Studio settings leave its default folder in use
  expect(d.models).toHaveLength(1);
  expect(d.models[0].locations.map((l) => l.path)).toEqual([lm, good.blob]);
});

test('identity: a copy is the same model; the same size with other bytes, or another known SHA-256, is not', async () => {
  const copy = put(path.join(dir, 'id', 'copy.gguf'), A);
  const [a, c, b] = await Promise.all([modelIdentity(A, shaA), modelIdentity(copy), modelIdentity(B)]);
  expect(c.key).toBe(a.key);
  expect(b.key).not.toBe(a.key);
  // same size and head, but the owners state different whole-file hashes: two models
  const other = { ...c, sha256: 'f'.repeat(64) };
  const groups = groupByIdentity([{ identity: a, n: 1 }, { identity: c, n: 2 }, { identity: other, n: 3 }, { identity: b, n: 4 }]);
  expect(groups.map((g) => g.map((x) => x.n))).toEqual([[1, 2], [3], [4]]);
  // bytes past the head are not read: a file that differs only there has the same identity (the bound is the definition)
  expect(fs.statSync(A).size).toBeGreaterThan(IDENTITY_HEAD_BYTES);
  const tail = Buffer.from(fs.readFileSync(A));
  tail[tail.length - 1] ^= 0xff;
  const changed = put(path.join(dir, 'id', 'tail.gguf'), tail);
  expect((await modelIdentity(changed)).key).toBe(a.key);
});
