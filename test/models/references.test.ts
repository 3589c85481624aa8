/**
 * Models added by reference (issue 14): kept in the real SQLite store (model_refs), accepted by the
 * library's known() (the rule every IPC channel naming a model goes through) while referenced and
 * present, refused again once removed or gone; a file that is not a usable model is refused with the
 * reason before anything is stored. The engine is never started (known() and references need none).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { silentLogger } from '../../main/logging';
import { ModelLibrary } from '../../main/models/library';
import { Store } from '../../main/store';
import { errorOf, tempDir } from '../helpers/engine';
import { copyModel, TINY_SPM } from '../helpers/models';

let dir: string;
let store: Store;
let library: ModelLibrary;
let engine: EngineClient;

beforeEach(() => {
  dir = tempDir('hearth-refs-');
  fs.mkdirSync(path.join(dir, 'models'));
  store = Store.open(path.join(dir, 'hearth.db'));
  engine = new EngineClient({ logger: silentLogger });
  library = new ModelLibrary({
    engine,
    modelsDir: path.join(dir, 'models'),
    logger: silentLogger,
    references: store.modelRefs,
    loadSettings: () => ({}),
    guardrail: () => ({ mode: 'off', marginMiB: 0 }),
    onState: () => undefined,
  });
});
afterEach(async () => {
  library.close();
  store.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a referenced model is in the library where it is: known() accepts it, entries() lists it, removing it leaves the file', async () => {
  const elsewhere = path.join(dir, 'other-app', 'model.gguf');
  fs.mkdirSync(path.dirname(elsewhere));
  fs.copyFileSync(TINY_SPM, elsewhere);
  expect((await errorOf(library.known(elsewhere))).code).toBe('model_unknown');

  const added = await library.addReference(elsewhere, { source: 'ollama' });
  // named by its file, as the models folder's models are (the header's general.name is every quantization's)
  expect(added).toEqual({ path: elsewhere, name: 'model', fileSize: fs.statSync(TINY_SPM).size, origin: 'reference', source: 'ollama', missing: false, pooling: 'none', role: 'model' });
  expect(await library.known(elsewhere)).toBe(elsewhere);
  expect(fs.readdirSync(path.join(dir, 'models'))).toEqual([]); // nothing copied
  expect(await library.entries()).toEqual([added]);
  expect(store.modelRefs.list()).toEqual([expect.objectContaining({ path: elsewhere, name: 'model', source: 'ollama' })]);

  // gone from disk: listed as missing, refused by known()
  fs.renameSync(elsewhere, `${elsewhere}.moved`);
  expect((await library.entries())[0]).toMatchObject({ missing: true, fileSize: 0 });
  expect((await errorOf(library.known(elsewhere))).code).toBe('model_unknown');
  fs.renameSync(`${elsewhere}.moved`, elsewhere);

  expect(library.removeReference(elsewhere)).toBe(true);
  expect(library.removeReference(elsewhere)).toBe(false);
  expect(fs.existsSync(elsewhere)).toBe(true);
  expect((await errorOf(library.known(elsewhere))).code).toBe('model_unknown');
  expect(await library.entries()).toEqual([]);
});

test('a file that is not a usable model, a missing one, or one in the models folder is refused with the reason and not stored', async () => {
  const notGguf = path.join(dir, 'fake.gguf');
  fs.writeFileSync(notGguf, 'not a model');
  const bad = await errorOf(library.addReference(notGguf, { source: 'file' }));
  expect(bad).toMatchObject({ code: 'invalid_model', message: expect.stringMatching(/bad_magic/) });
  expect((await errorOf(library.addReference(path.join(dir, 'none.gguf'), { source: 'file' }))).code).toBe('not_found');
  const inFolder = path.join(dir, 'models', 'm.gguf');
  copyModel(TINY_SPM, inFolder); // a finished copy: the models folder lists no file still being written
  expect((await errorOf(library.addReference(inFolder, { source: 'file' }))).code).toBe('invalid_input');
  expect(store.modelRefs.list()).toEqual([]);
  expect((await library.entries()).map((e) => [e.origin, e.path])).toEqual([['folder', inFolder]]);
});

test('references survive reopening the store', async () => {
  const file = path.join(dir, 'keep.gguf');
  fs.copyFileSync(TINY_SPM, file);
  await library.addReference(file, { source: 'file', name: 'Kept' });
  store.close();
  store = Store.open(path.join(dir, 'hearth.db'));
  expect(store.modelRefs.get(file)).toMatchObject({ path: file, name: 'Kept', source: 'file' });
});
