/**
 * hearth discover and hearth models (issue 14) as a user runs them: the real bin/hearth.js in a child
 * process with a fake HOME (the real home is never read) holding an Ollama manifest + blob and LM
 * Studio's copy of the same generated GGUF, and a data folder whose store holds a reference.
 */
import crypto from 'crypto';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Store } from '../../main/store';
import { tempDir } from '../helpers/engine';
import { copyModel, REPO_ROOT, TINY_BPE, TINY_SPM } from '../helpers/models';
import { writeTestLora } from '../../scripts/make-test-adapter';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');

let dir: string;
let home: string;
let TINY_LORA: string;
beforeAll(async () => {
  dir = tempDir('hearth-cli-discover-');
  TINY_LORA = await writeTestLora({ out: path.join(dir, 'lora.gguf') });
  home = path.join(dir, 'home');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function hearth(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, USERPROFILE: home };
  for (const k of ['XDG_DATA_HOME', 'APPDATA', 'LOCALAPPDATA', 'OLLAMA_MODELS', 'HEARTH_DATA_DIR']) delete env[k];
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120000 });
}

function put(file: string, from: string | Buffer): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (typeof from === 'string') copyModel(from, file); // a finished copy (the models folder lists no file still being written)
  else fs.writeFileSync(file, from);
  return file;
}

test('hearth discover --json: one model with its Ollama and LM Studio locations; a broken manifest is a skipped entry', () => {
  const sha = crypto.createHash('sha256').update(fs.readFileSync(TINY_SPM)).digest('hex');
  const models = path.join(home, '.ollama', 'models');
  const blob = put(path.join(models, 'blobs', `sha256-${sha}`), TINY_SPM);
  put(
    path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'tiny', 'latest'),
    Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${sha}`, size: fs.statSync(TINY_SPM).size }] })),
  );
  const broken = put(path.join(models, 'manifests', 'registry.ollama.ai', 'library', 'tiny', 'broken'), Buffer.from('{'));
  const lm = put(path.join(home, '.lmstudio', 'models', 'me', 'tiny-GGUF', 'tiny.gguf'), TINY_SPM);
  // a LoRA adapter kept beside it is no model: skipped, saying what it is
  const lora = put(path.join(home, '.lmstudio', 'models', 'me', 'tiny-GGUF', 'tiny-lora.gguf'), fs.readFileSync(TINY_LORA));

  const r = hearth(['discover', '--json']);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const out = JSON.parse(r.stdout) as { models: { name: string; sha256: string; size: number; locations: { app: string; path: string; name: string }[] }[]; skipped: { path: string; reason: string }[] };
  const mine = out.models.filter((m) => m.locations.some((l) => l.path.startsWith(home)));
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ name: 'me/tiny-GGUF/tiny', sha256: sha, size: fs.statSync(TINY_SPM).size });
  expect(mine[0].locations.map((l) => [l.app, l.path, l.name])).toEqual([
    ['lmstudio', lm, 'me/tiny-GGUF/tiny'],
    ['ollama', blob, 'tiny:latest'],
  ]);
  expect(out.skipped).toEqual([
    { app: 'lmstudio', path: lora, reason: 'is a LoRA adapter, not a model' },
    { app: 'ollama', path: broken, reason: expect.stringMatching(/^is not valid JSON/) },
  ]);

  const text = hearth(['discover']);
  expect(text.status).toBe(0);
  expect(text.stdout).toContain(`  Ollama     tiny:latest  ${blob}`);
  expect(text.stdout).toContain(`skipped (Ollama): ${broken}: is not valid JSON`);
});

test('hearth models --json: the models folder and the references in the store', () => {
  const data = path.join(dir, 'data');
  const inFolder = put(path.join(data, 'models', 'bpe.gguf'), TINY_BPE);
  const ref = put(path.join(dir, 'elsewhere', 'spm.gguf'), TINY_SPM);
  const store = Store.open(path.join(data, 'hearth.db'));
  store.modelRefs.add({ path: ref, name: 'Tiny SPM', source: 'jan' });
  store.close();

  const r = hearth(['models', '--json', '--data-dir', data]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(r.stdout)).toEqual({
    modelsFolder: path.join(data, 'models'),
    models: [
      { path: inFolder, name: 'bpe', fileSize: fs.statSync(TINY_BPE).size, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' },
      { path: ref, name: 'Tiny SPM', fileSize: fs.statSync(TINY_SPM).size, origin: 'reference', source: 'jan', missing: false, pooling: 'none', role: 'model' },
    ],
    companions: [],
  });
  // a library model may be named by its file name: in the folder or by reference
  expect(JSON.parse(hearth(['info', 'bpe', '--json', '--data-dir', data]).stdout).path).toBe(inFolder);
  expect(JSON.parse(hearth(['info', 'spm', '--json', '--data-dir', data]).stdout).path).toBe(ref);
  const text = hearth(['models', '--data-dir', data]);
  expect(text.stdout).toContain('Tiny SPM  ');
  expect(text.stdout).toContain('[from Jan]');
});

test('their mistakes are one line on stderr', () => {
  for (const [args, line] of [
    [['discover', '--bogus'], /^hearth: hearth discover has no option --bogus/],
    [['models', '--data-dir', BIN], /^hearth: .*choose another folder with --data-dir$/],
  ] as const) {
    const r = hearth([...args]);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^hearth: [^\n]+\n$/);
    expect(r.stderr.trimEnd()).toMatch(line);
  }
});
