/**
 * Moving the models folder (library.moveFolder, main/models/folder-move.ts, folder-service.ts) through
 * the IPC entry point as composeApp builds the app: the real store, the real engine host loading a
 * tiny generated model, real files moved to another disk (/dev/shm is a tmpfs, another device than the
 * temp folder: the copy-then-delete path) and within one disk (rename), and the hearth command as a
 * user runs it afterwards. The one injected part: a freeBytes that reports a full disk (planMove).
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import type { EventOf } from '../../main/ipc/contract';
import { planMove } from '../../main/models/folder-move';
import { chatApp, type ChatApp } from '../helpers/chat';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_EMBED, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');
const SHM = fs.existsSync('/dev/shm') ? '/dev/shm' : null;
const apps: ChatApp[] = [];
const cleanup: string[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
  while (cleanup.length) fs.rmSync(cleanup.pop()!, { recursive: true, force: true });
});

/** An app whose models folder holds tiny.gguf (loadable), a split model's two parts and a model in a subfolder. */
function open(): ChatApp {
  const embed = fs.readFileSync(TINY_EMBED);
  const a = chatApp({
    prepare: (p) => {
      fs.writeFileSync(path.join(p.models, 'big-00001-of-00002.gguf'), embed.subarray(0, 1_000_000));
      fs.writeFileSync(path.join(p.models, 'big-00002-of-00002.gguf'), embed.subarray(1_000_000));
      fs.mkdirSync(path.join(p.models, 'family'));
      fs.copyFileSync(TINY_SPM, path.join(p.models, 'family', 'second.gguf'));
    },
  });
  apps.push(a);
  return a;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${(e as { code: string }).code}: ${(e as Error).message}`;
  }
  return 'no error';
}

const newFolder = (base: string) => {
  const d = fs.mkdtempSync(path.join(base, 'hearth-moved-'));
  cleanup.push(d);
  return path.join(d, 'models');
};

const filesIn = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath ?? d.path, d.name))).sort();

test.each([
  ['to another disk (copy, check, delete)', () => SHM ?? fs.realpathSync('/tmp')],
  ['on the same disk (rename)', () => fs.realpathSync(path.dirname(tempDir()))],
])('moves every file %s with progress; the loaded model is unloaded; the library, a load, settings.get and `hearth models` use the new folder', async (_, base) => {
  const a = open();
  const old = a.paths.models;
  const before = filesIn(old);
  const sizes = before.reduce((n, f) => n + fs.statSync(path.join(old, f)).size, 0);
  await a.call('models.load', { path: a.modelPath });
  const progress: EventOf<'library.moveProgress'>[] = [];
  const changed: EventOf<'models.changed'>[] = [];
  a.app.services.subscribe((name, payload) => {
    if (name === 'library.moveProgress') progress.push(payload as EventOf<'library.moveProgress'>);
    if (name === 'models.changed') changed.push(payload as EventOf<'models.changed'>);
  });
  const to = newFolder(base());
  const r = await a.call('library.moveFolder', { to });
  expect(r).toEqual({ folder: to, files: 4, bytes: sizes });
  // every file there, whole; none left behind
  expect(filesIn(to)).toEqual(before);
  // the old folder, emptied, is gone
  expect(fs.existsSync(old)).toBe(false);
  expect(fs.readFileSync(path.join(to, 'tiny.gguf')).equals(fs.readFileSync(TINY_SPM))).toBe(true);
  // progress: across the files (the split model's parts each named), never backwards, ending whole
  expect(new Set(progress.map((p) => p.file))).toEqual(new Set([...before, null]));
  for (let i = 1; i < progress.length; i++) expect(progress[i].bytes).toBeGreaterThanOrEqual(progress[i - 1].bytes);
  expect(progress[progress.length - 1]).toEqual({ bytes: sizes, total: sizes, file: null });
  expect((await a.call('models.state')).loaded).toBeNull();
  // the library lists the new folder's models (pushed too) and one loads from there
  const list = await a.call('models.list');
  expect(list.map((m: { path: string }) => m.path).sort()).toEqual([path.join(to, 'big-00001-of-00002.gguf'), path.join(to, 'family', 'second.gguf'), path.join(to, 'tiny.gguf')].sort());
  expect(changed.length).toBeGreaterThan(0);
  expect((await a.call('models.load', { path: path.join(to, 'tiny.gguf') })).loaded.path).toBe(path.join(to, 'tiny.gguf'));
  await expect(a.call('models.load', { path: a.modelPath })).rejects.toMatchObject({ code: 'model_unknown' });
  // the library follows the new folder: a file put there appears
  fs.copyFileSync(TINY_SPM, path.join(to, 'late.gguf'));
  for (let i = 0; i < 200 && !(await a.call('models.list')).some((m: { path: string }) => m.path === path.join(to, 'late.gguf')); i++) await new Promise((res) => setTimeout(res, 50));
  expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toContain(path.join(to, 'late.gguf'));
  // saved: settings.get says so, downloads go there, and the hearth command reads it
  expect((await a.call('settings.get')).modelsFolder).toBe(to);
  expect(a.app.store.settings.get('modelsFolder')).toBe(to);
  const cli = spawnSync(process.execPath, [BIN, 'models', '--json', '--data-dir', a.dir], { encoding: 'utf8', timeout: 60_000 });
  expect(cli.status).toBe(0);
  const out = JSON.parse(cli.stdout);
  expect(out.modelsFolder).toBe(to);
  expect(out.models.map((m: { path: string }) => m.path)).toContain(path.join(to, 'tiny.gguf'));
});

test('refuses a relative path, the folder itself or one inside it, names already there, a full disk, and a move while a download is kept', async () => {
  const a = open();
  const old = a.paths.models;
  expect(await codeOf(a.call('library.moveFolder', { to: 'relative/models' }))).toMatch(/^invalid_input: .*absolute path/);
  expect(await codeOf(a.call('library.moveFolder', { to: old }))).toMatch(/^invalid_input: .*the models folder already/);
  expect(await codeOf(a.call('library.moveFolder', { to: path.join(old, 'family', 'deeper') }))).toMatch(/^invalid_input: .*inside the models folder/);
  const clash = newFolder(fs.realpathSync('/tmp'));
  fs.mkdirSync(path.join(clash, 'family'), { recursive: true });
  fs.writeFileSync(path.join(clash, 'family', 'second.gguf'), 'someone else’s');
  expect(await codeOf(a.call('library.moveFolder', { to: clash }))).toMatch(/^invalid_input: .*already holds family\/second\.gguf/);
  // a disk without room for what must be copied (a freeBytes reporting a full disk)
  const far = newFolder(SHM ?? fs.realpathSync('/tmp'));
  await expect(planMove(old, far, { freeBytes: async () => 1000 })).rejects.toMatchObject({ code: SHM ? 'disk_full' : expect.any(String) });
  // a download kept (paused) in the store: its .part lies in the old folder
  const d = a.app.store.downloads.add({ repo: 'a/b', revision: 'main', file: 'x.gguf', target: path.join(old, 'x.gguf'), size: 10, sha256: 'a'.repeat(64) });
  expect(await codeOf(a.call('library.moveFolder', { to: far }))).toMatch(/^invalid_input: downloads are kept/);
  a.app.store.downloads.delete(d.id);
  // nothing moved by any refusal; the setting is unchanged
  expect(filesIn(old)).toHaveLength(4);
  expect(a.app.store.settings.get('modelsFolder')).toBeNull();
  expect((await a.call('settings.get')).modelsFolder).toBe(old);
});

test('only the library’s files move: an unrelated file, a hidden folder and its files stay, and so does the old folder', async () => {
  const a = open();
  const old = a.paths.models;
  fs.writeFileSync(path.join(old, 'thesis.docx'), 'chapter one');
  fs.mkdirSync(path.join(old, '.ssh'));
  fs.writeFileSync(path.join(old, '.ssh', 'id_ed25519'), 'secret');
  fs.writeFileSync(path.join(old, 'family', 'notes.txt'), 'notes');
  const to = newFolder(fs.realpathSync(path.dirname(tempDir())));
  const r = await a.call('library.moveFolder', { to });
  expect(r.files).toBe(4);
  expect(filesIn(to)).toEqual(['big-00001-of-00002.gguf', 'big-00002-of-00002.gguf', 'family/second.gguf', 'tiny.gguf']);
  expect(filesIn(old)).toEqual(['.ssh/id_ed25519', 'family/notes.txt', 'thesis.docx']);
  expect(fs.readFileSync(path.join(old, '.ssh', 'id_ed25519'), 'utf8')).toBe('secret');
});

test('refuses the home folder, a folder holding it, a disk’s root, the data folder’s parent, a link into the models folder, and a folder holding other files', async () => {
  const a = open();
  const old = a.paths.models;
  const home = newFolder(fs.realpathSync('/tmp'));
  fs.mkdirSync(home, { recursive: true });
  await expect(planMove(old, home, { home })).rejects.toThrow(/your home folder/);
  await expect(planMove(old, path.dirname(home), { home })).rejects.toThrow(/a folder holding your home folder/);
  expect(await codeOf(a.call('library.moveFolder', { to: '/' }))).toMatch(/^invalid_input: .*root of a disk/);
  expect(await codeOf(a.call('library.moveFolder', { to: path.dirname(a.dir) }))).toMatch(/^invalid_input: .*holds Hearth's data folder/);
  // a link whose real path is inside the models folder
  const link = path.join(newFolder(fs.realpathSync('/tmp')));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(path.join(old, 'family'), link);
  expect(await codeOf(a.call('library.moveFolder', { to: path.join(link, 'sub') }))).toMatch(/^invalid_input: .*inside the models folder/);
  // a folder that holds anything but model files
  const docs = newFolder(fs.realpathSync('/tmp'));
  fs.mkdirSync(docs, { recursive: true });
  fs.writeFileSync(path.join(docs, 'thesis.docx'), 'chapter one');
  expect(await codeOf(a.call('library.moveFolder', { to: docs }))).toMatch(/^invalid_input: .*holds other files \(thesis\.docx\)/);
  // what an interrupted move left (model files of other names) is accepted
  const half = newFolder(fs.realpathSync('/tmp'));
  fs.mkdirSync(half, { recursive: true });
  fs.copyFileSync(TINY_SPM, path.join(half, 'moved-before.gguf'));
  await expect(planMove(old, half, { home })).resolves.toMatchObject({ total: expect.any(Number) });
  expect(filesIn(old)).toHaveLength(4);
  expect(a.app.store.settings.get('modelsFolder')).toBeNull();
});
