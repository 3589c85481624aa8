/**
 * The models folder's writers kept apart (issue #14's review): a download and an import of one name,
 * a download or an import asked while the folder moves, a move of a file another app or the library
 * owns, a GGUF whose name is not .gguf, a delete inside a linked folder. Through the IPC entry point
 * as composeApp builds the app (real store, real engine checks, real files). The hub is a closed
 * loopback port: a download stays queued or retrying, holding its name, and never fetches.
 */
import fs from 'fs';
import path from 'path';
import { FileTransfer, realTimers } from '../../main/models/download-transfer';
import { DownloadManager } from '../../main/models/downloads';
import { FolderLock } from '../../main/models/folder-lock';
import { importModel } from '../../main/models/import';
import { useChatApps } from '../helpers/chat';
import { errorOf } from '../helpers/engine';
import { copyModel, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

const NOWHERE = 'http://127.0.0.1:9';
const { open, folder } = useChatApps((extra) => ({ model: null, ...extra, compose: { env: { HF_ENDPOINT: NOWHERE }, ...extra.compose } }));
const outside = () => folder('hearth-race-');
const download = (name: string) => ({ repo: 'someone/models', revision: 'main', file: name, size: 1000, sha256: 'a'.repeat(64) });


test('an import of a name a download is writing is refused and leaves the download’s .part as it was', async () => {
  const a = open();
  const d = await a.call('downloads.add', download('foo.gguf'));
  // the download's bytes so far (its .part)
  const part = path.join(a.paths.models, 'foo.gguf.part');
  fs.writeFileSync(part, 'downloaded so far');
  const src = path.join(outside(), 'foo.gguf');
  copyModel(TINY_SPM, src);
  const e = await errorOf(a.call('library.import', { path: src, mode: 'copy' }));
  expect(e).toEqual({ code: 'invalid_input', message: expect.stringMatching(/foo\.gguf is being downloaded/) });
  expect(fs.readFileSync(part, 'utf8')).toBe('downloaded so far');
  expect(fs.existsSync(path.join(a.paths.models, 'foo.gguf'))).toBe(false);
  // once the download is cancelled the import goes through, through a .part of its own
  await a.call('downloads.cancel', { id: d.id });
  const r = await a.call('library.import', { path: src, mode: 'copy' });
  expect(r.path).toBe(path.join(a.paths.models, 'foo.gguf'));
  expect(fs.readdirSync(a.paths.models)).toEqual(['foo.gguf']);
});

test('a download of a name an import is writing is refused', async () => {
  const a = open();
  const lock = new FolderLock();
  const dm = new DownloadManager({ downloads: a.app.store.downloads, modelsDir: a.paths.models, hub: { hubUrl: NOWHERE }, lock });
  const src = path.join(outside(), 'bar.gguf');
  copyModel(TINY_SPM, src);
  let refused: unknown = null;
  await importModel(src, 'copy', {
    library: a.app.library, modelsDir: a.paths.models, lock,
    onProgress: () => {
      if (refused) return;
      try {
        dm.add(download('bar.gguf'));
        refused = 'accepted';
      } catch (e) {
        refused = (e as Error).message;
      }
    },
  });
  await dm.close();
  expect(refused).toMatch(/bar\.gguf is being imported/);
  expect(a.app.store.downloads.list()).toEqual([]);
});

test('a .part deleted while it downloaded fails clearly instead of hashing an empty file', async () => {
  const dir = outside();
  const target = path.join(dir, 'gone.gguf');
  const t = new FileTransfer({ repo: 'r/x', revision: 'main', file: 'gone.gguf', target, size: 5, sha256: 'a'.repeat(64) }, {
    hub: { hubUrl: NOWHERE }, timers: realTimers, freeBytes: async () => 1e12, dir: () => dir,
    reserveBytes: 0, diskCheckBytes: 1e9, progressIntervalMs: 250, speedWindowMs: 5000, onProgress: () => undefined, onCommit: () => undefined,
  }, 5);
  await expect(t.digest()).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/gone\.gguf\.part was deleted or changed while it downloaded/) });
});

test('while the folder moves, downloads.add and library.import are refused; the move then switches everything', async () => {
  const a = open({ model: TINY_SPM });
  const src = path.join(outside(), 'late.gguf');
  copyModel(TINY_SPM, src);
  const refusals: string[] = [];
  let asked: Promise<void> | null = null;
  a.app.services.subscribe((name) => {
    if (name !== 'library.moveProgress' || asked) return;
    // both asked at once, from the move's first progress event
    const asks = [errorOf(a.call('library.import', { path: src, mode: 'copy' })), errorOf(a.call('downloads.add', download('mid.gguf')))];
    asked = Promise.all(asks).then((es) => void refusals.push(...es.map((e) => e.message)));
  });
  const to = path.join(outside(), 'moved');
  await a.call('library.moveFolder', { to });
  await asked;
  expect(refusals).toEqual([expect.stringMatching(/being moved/), expect.stringMatching(/being moved/)]);
  // setting, library and download manager all on the new folder
  expect(a.app.store.settings.get('modelsFolder')).toBe(to);
  expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toEqual([path.join(to, 'tiny.gguf')]);
  const d = await a.call('downloads.add', download('after.gguf'));
  expect(d.target).toBe(path.join(to, 'after.gguf'));
  await a.call('downloads.cancel', { id: d.id });
  const r = await a.call('library.import', { path: src, mode: 'copy' });
  expect(r.path).toBe(path.join(to, 'late.gguf'));
});

test('a GGUF whose name is not .gguf is imported as <name>.gguf and listed', async () => {
  const a = open();
  const blob = path.join(outside(), 'sha256-0123abcd');
  copyModel(TINY_SPM, blob);
  const r = await a.call('library.import', { path: blob, mode: 'copy' });
  expect(r.path).toBe(path.join(a.paths.models, 'sha256-0123abcd.gguf'));
  expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toEqual([r.path]);
});

test('move is refused for a file in another app’s models folder and for a file the library references; copy still works', async () => {
  const home = outside();
  const a = open({ compose: { env: { HF_ENDPOINT: NOWHERE }, discoverEnv: () => ({ platform: 'linux', home, env: {}, root: home }) } });
  const blob = path.join(home, '.ollama', 'models', 'blobs', 'sha256-feed');
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  copyModel(TINY_SPM, blob);
  const e = await errorOf(a.call('library.import', { path: blob, mode: 'move' }));
  expect(e).toEqual({ code: 'invalid_input', message: expect.stringMatching(/another app's models folder/) });
  expect(fs.existsSync(blob)).toBe(true);
  const ref = path.join(outside(), 'ref.gguf');
  copyModel(TINY_SPM, ref);
  await a.call('library.import', { path: ref, mode: 'link' });
  const e2 = await errorOf(a.call('library.import', { path: ref, mode: 'move' }));
  expect(e2).toEqual({ code: 'invalid_input', message: expect.stringMatching(/by reference/) });
  expect(fs.existsSync(ref)).toBe(true);
  const c = await a.call('library.import', { path: blob, mode: 'copy' });
  expect(c.path).toBe(path.join(a.paths.models, 'sha256-feed.gguf'));
  expect(fs.existsSync(blob)).toBe(true);
});

test('delete of a model in a linked subfolder is refused: the real file outside the models folder stays', async () => {
  const far = outside();
  const real = path.join(far, 'elsewhere.gguf');
  copyModel(TINY_SPM, real);
  const a = open({ prepare: (p) => fs.symlinkSync(far, path.join(p.models, 'linked')) });
  const listed = path.join(a.paths.models, 'linked', 'elsewhere.gguf');
  expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toContain(listed);
  const e = await errorOf(a.call('library.delete', { path: listed }));
  expect(e).toEqual({ code: 'invalid_input', message: expect.stringMatching(/linked folder/) });
  expect(fs.existsSync(real)).toBe(true);
});
