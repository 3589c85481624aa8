/**
 * The Data page's backups, restore, move and erase (main/data-folder/): real SQLite in temporary folders,
 * the app as composeApp builds it, and browser mode's restart host (main/cli/restartable.ts)
 * recomposing it after a restore, a move or an erase of everything.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { composeApp } from '../../main/compose';
import { Backups, backupStem, DAY_MS, DAILY_CHECK_MS } from '../../main/data-folder/backups';
import { eraseSummary, ERASED_EVERYTHING } from '../../main/data-folder/erase-scope';
import { NO_RESTART_MESSAGE } from '../../main/data-folder/restart';
import type { EngineClient } from '../../main/engine/client';
import { BackupsDTO, DataFolderDTO } from '../../main/ipc/data';
import { silentLogger } from '../../main/logging';
import { ensureDataDir, MOVED_TO_FILE, resolveDataDir } from '../../main/paths';
import { openDatabase } from '../../main/store/db';
import { Store } from '../../main/store';
import { collectingLogger, errorOf, makeEngine, tempDir } from '../helpers/engine';
import { addThread, host as hostOf, linkedDocument, pngUrl, record, restarted, swept, threadWithImage, titles } from './folder-helpers';
import { copyModel, TINY_BPE } from '../helpers/models';
import type { ModelState } from '../../main/ipc/contract';
import { STRAY_FOLDER } from '../../main/file-sweep';
import { testPng } from '../helpers/images';
import { CHAT_MODEL_ID } from '../../main/models/library';

jest.setTimeout(60_000);

let dirs: string[] = [];
let engine: EngineClient;
const host = (dir: string) => hostOf(dir, engine);
const fresh = () => {
  const d = tempDir('hearth-data-');
  dirs.push(d);
  return d;
};

beforeAll(() => {
  engine = makeEngine();
});
afterAll(async () => {
  await engine.close();
});
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const counts = (db: Database.Database) => ({
  messages: db.prepare('SELECT count(*) FROM messages').pluck().get() as number,
  fts: db.prepare('SELECT count(*) FROM messages_fts').pluck().get() as number,
});

describe('backups', () => {
  test('a backup made while another connection writes, and while messages are appended, is a complete, consistent Hearth store', async () => {
    const dir = fresh();
    const h = host(dir);
    const app = h.current();
    try {
      const threadId = addThread(app, 'big', 3000); // several MB: the backup takes many steps
      // another connection holds a write transaction open through the backup: none of it is in the copy
      const other = new Database(app.store.path);
      other.exec('BEGIN IMMEDIATE');
      other.prepare('UPDATE threads SET title = ? WHERE id = ?').run('uncommitted', threadId);
      const first = (await app.services.handle('data.backups.create', {})) as BackupsDTO;
      other.exec('ROLLBACK');
      // then the app's connection appends messages, and the other one commits some, while a second runs
      let appended = 0;
      let done = false;
      const backup = (app.services.handle('data.backups.create', {}) as Promise<BackupsDTO>).finally(() => (done = true));
      const appender = (async () => {
        while (!done) {
          await new Promise((r) => setImmediate(r));
          app.store.messages.add({ threadId, role: 'user', content: 'during' });
          if (appended < 3) other.prepare("INSERT INTO settings (key, value, updated_at) VALUES (?, '1', 0)").run(`other-${appended}`);
          appended++;
        }
      })();
      const list = await backup;
      await appender;
      other.close();
      expect(appended).toBeGreaterThan(1); // it did run alongside
      expect(list.backups).toHaveLength(2);
      const check = (name: string, expected: (c: { messages: number; fts: number }) => void) => {
        const file = path.join(list.folder, name);
        expect(list.backups.find((b) => b.name === name)!.bytes).toBe(fs.statSync(file).size);
        // a single file (no WAL beside it), opened as Hearth opens its store
        const opened = openDatabase(file, { logger: silentLogger, clock: Date.now });
        try {
          expect(opened.db.pragma('integrity_check', { simple: true })).toBe('ok');
          const c = counts(opened.db);
          expect(c.fts).toBe(c.messages);
          expect(opened.db.prepare('SELECT title FROM threads WHERE id = ?').pluck().get(threadId)).toBe('big');
          expected(c);
        } finally {
          opened.db.close();
        }
        expect(fs.existsSync(`${file}-wal`)).toBe(false);
      };
      check(first.backups[0].name, (c) => expect(c.messages).toBe(3000));
      check(list.backups[0].name, (c) => {
        expect(c.messages).toBeGreaterThanOrEqual(3000);
        expect(c.messages).toBeLessThanOrEqual(3000 + appended);
      });
    } finally {
      await h.current().close();
    }
  });

  test('keeps the newest N, lists newest first, deletes one; an unknown name is not_found', async () => {
    const dir = fresh();
    const app = composeApp({ paths: ensureDataDir(dir), engine, appVersion: '0.0.0-test', logger: silentLogger });
    try {
      let list = (await app.services.handle('data.backups.settings', { keep: 2 })) as BackupsDTO;
      expect(list.settings).toEqual({ daily: true, keep: 2 });
      const made: string[] = [];
      for (let i = 0; i < 3; i++) made.push(await app.backups.create());
      list = (await app.services.handle('data.backups.list', {})) as BackupsDTO;
      // names made in the same second are numbered: newest first all the same
      expect(list.backups.map((b) => b.name)).toEqual([made[2], made[1]]);
      expect(fs.existsSync(path.join(list.folder, made[0]))).toBe(false);
      list = (await app.services.handle('data.backups.delete', { name: made[2] })) as BackupsDTO;
      expect(list.backups.map((b) => b.name)).toEqual([made[1]]);
      expect(await errorOf(app.services.handle('data.backups.delete', { name: made[2] }))).toMatchObject({ code: 'not_found' });
      expect(await errorOf(app.services.handle('data.backups.delete', { name: '../hearth.db' }))).toMatchObject({ code: 'invalid_input' });
      expect(await errorOf(app.services.handle('data.backups.settings', { keep: 0 }))).toMatchObject({ code: 'invalid_input' });
      // the settings are kept in the store
      expect(app.store.settings.get('backups')).toEqual({ daily: true, keep: 2 });
    } finally {
      await app.close();
    }
  });

  test('daily: at start and at each hourly check, one when the newest is a day old; never two at once; a failure is logged', async () => {
    const dir = fresh();
    const store = Store.open(path.join(dir, 'hearth.db'));
    let now = Date.UTC(2026, 0, 10, 12, 0, 0);
    let tick: (() => void) | null = null;
    let settings = { daily: true, keep: 7 };
    const logger = collectingLogger();
    const backups = new Backups({
      db: store.db, database: store.path, dir: path.join(dir, 'backups'), logger, clock: () => now,
      settings: { get: () => settings, set: (s) => (settings = s) },
      timers: { setInterval: (fn, ms) => { expect(ms).toBe(DAILY_CHECK_MS); tick = fn; return 1; }, clearInterval: () => (tick = null) },
    });
    const names = () => backups.list().backups.map((b) => b.name);
    try {
      backups.start();
      await backups.create().catch(() => undefined); // waits for the start's backup
      // the start's and this one
      expect(names()).toHaveLength(2);
      fs.rmSync(path.join(dir, 'backups', names()[0]));
      expect(names()).toEqual([`${backupStem(now)}.db`]);
      now += DAILY_CHECK_MS;
      tick!();
      await backups.tick();
      expect(names()).toHaveLength(1);
      now += DAY_MS;
      // two checks at once make one backup
      tick!();
      await backups.tick();
      await backups.create().then((n) => fs.rmSync(path.join(dir, 'backups', n)));
      expect(names()).toEqual([`${backupStem(now)}.db`, `${backupStem(now - DAY_MS - DAILY_CHECK_MS)}.db`]);
      // off: none
      settings = { daily: false, keep: 7 };
      now += 2 * DAY_MS;
      await backups.tick();
      expect(names()).toHaveLength(2);
      // a failure (the folder is a file) is logged, never thrown
      settings = { daily: true, keep: 7 };
      fs.rmSync(path.join(dir, 'backups'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'backups'), 'not a folder');
      await expect(backups.tick()).resolves.toBeUndefined();
      expect(logger.lines.some((l) => l.includes('daily'))).toBe(true);
      await backups.close();
      expect(tick).toBeNull();
    } finally {
      store.close();
    }
  });
});

describe('restore', () => {
  test('round trip: the data after the restart is the backup\'s; the data before was backed up first', async () => {
    const dir = fresh();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'kept');
      const name = await app.backups.create();
      addThread(app, 'after the backup');
      const events = record(app);
      await app.services.handle('data.backups.restore', { name });
      expect(events.of('app.restarting')).toHaveLength(1);
      app = await restarted(h);
      expect(titles(app)).toEqual(['kept']);
      const list = (await app.services.handle('data.backups.list', {})) as BackupsDTO;
      expect(list.backups).toHaveLength(2);
      // the backup made before restoring holds the data as it was
      const before = list.backups.find((b) => b.name !== name)!;
      const db = new Database(path.join(list.folder, before.name), { readonly: true });
      expect(db.prepare('SELECT title FROM threads ORDER BY title').pluck().all()).toEqual(['after the backup', 'kept']);
      db.close();
      expect(fs.readdirSync(dir).filter((n) => n.includes('restore-from'))).toEqual([]);
    } finally {
      await h.current().close();
    }
  });

  test('a restore undone: the images attached after the backup wait aside while the older store runs, and are back in place after the undo', async () => {
    const dir = fresh();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'kept');
      const name = await app.backups.create();
      const { image, file } = await threadWithImage(app, dir, 'after the backup', 1);
      await app.services.handle('data.backups.restore', { name });
      app = await swept(await restarted(h));
      expect(titles(app)).toEqual(['kept']);
      // no message of the restored store names it: set aside at start, not deleted
      expect(fs.existsSync(file)).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER))).toEqual([path.basename(file)]);
      // the restore undone: the backup made before it
      const before = ((await app.services.handle('data.backups.list', {})) as BackupsDTO).backups.find((b) => b.name !== name)!;
      await app.services.handle('data.backups.restore', { name: before.name });
      app = await swept(await restarted(h));
      expect(titles(app)).toEqual(['after the backup', 'kept']);
      expect(fs.readFileSync(file)).toEqual(testPng(1));
      expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER))).toEqual([]);
      expect(await app.services.handle('images.read', { ref: image.ref })).toEqual(pngUrl(1));
    } finally {
      await h.current().close();
    }
  });

  test('a chat deleted by mistake and brought back by a restore: its image and document come back; a temporary chat\'s go at once', async () => {
    const dir = fresh();
    let h = host(dir);
    let app = h.current();
    try {
      const { image, file, threadId } = await threadWithImage(app, dir, 'deleted by mistake', 1);
      const doc = await linkedDocument(app, dir, threadId, 'notes kept with the chat');
      const name = await app.backups.create();
      await app.services.handle('threads.delete', { id: threadId });
      await swept(app);
      // set aside, not deleted
      expect([fs.existsSync(file), fs.existsSync(doc)]).toEqual([false, false]);
      expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER))).toEqual([path.basename(file)]);
      expect(fs.readdirSync(path.join(dir, 'documents', STRAY_FOLDER))).toEqual([path.basename(doc)]);
      // a temporary chat's go at once (deleted, not set aside); one attached within the hour (a composer may
      // hold the same file) goes when Hearth closes; one a saved chat shares stays
      const tmp = app.store.temporary.threads.create({});
      const tmpDoc = await linkedDocument(app, dir, tmp.id, 'notes of a temporary chat');
      const young = await linkedDocument(app, dir, tmp.id, 'notes attached a minute ago', { young: true });
      const kept = app.store.threads.create({ title: 'kept' });
      const shared = await linkedDocument(app, dir, kept.id, 'notes of two chats');
      app.store.docs.linkThread(tmp.id, app.store.docs.documentByHash(path.basename(shared))!.id, 'notes.txt');
      await app.services.handle('threads.delete', { id: tmp.id });
      await swept(app);
      expect(fs.existsSync(tmpDoc)).toBe(false);
      expect(app.store.docs.documentByHash(path.basename(tmpDoc))).toBeNull();
      expect(fs.existsSync(young)).toBe(true);
      expect(fs.existsSync(shared)).toBe(true);
      expect(fs.readdirSync(path.join(dir, 'documents', STRAY_FOLDER))).toEqual([path.basename(doc)]);
      // the shared one, once its saved chat is deleted too, is set aside as a saved chat's is (not deleted)
      await app.services.handle('threads.delete', { id: kept.id });
      await swept(app);
      const aside = () => fs.readdirSync(path.join(dir, 'documents', STRAY_FOLDER)).sort();
      expect(aside()).toEqual([path.basename(doc), path.basename(shared)].sort());

      // a temporary chat open when Hearth closes: its document is deleted as it closes, not set aside; so is
      // the deleted one's young document
      const open = app.store.temporary.threads.create({});
      const openDoc = await linkedDocument(app, dir, open.id, 'notes of a temporary chat left open', { young: true });
      await app.close();
      expect([fs.existsSync(openDoc), fs.existsSync(young)]).toEqual([false, false]);
      expect(aside()).toEqual([path.basename(doc), path.basename(shared)].sort());
      h = host(dir);
      app = await swept(h.current());
      expect(aside()).toEqual([path.basename(doc), path.basename(shared)].sort());

      await app.services.handle('data.backups.restore', { name });
      app = await swept(await restarted(h));
      expect(titles(app)).toEqual(['deleted by mistake']);
      expect(fs.readFileSync(file)).toEqual(testPng(1));
      expect(fs.readFileSync(doc, 'utf8')).toBe('notes kept with the chat');
      expect(await app.services.handle('images.read', { ref: image.ref })).toEqual(pngUrl(1));
    } finally {
      await h.current().close();
    }
  });

  test('the model the closed App had loaded is unloaded from the engine; the new App starts with none loaded', async () => {
    const dir = fresh();
    fs.mkdirSync(path.join(dir, 'models'), { recursive: true });
    copyModel(TINY_BPE, path.join(dir, 'models', 'tiny.gguf'));
    const h = host(dir);
    let app = h.current();
    try {
      const name = await app.backups.create();
      const state = (await app.services.handle('models.load', { path: path.join(dir, 'models', 'tiny.gguf') })) as ModelState;
      expect(state.loaded?.path).toBe(path.join(dir, 'models', 'tiny.gguf'));
      expect(engine.loadedIds()).toEqual([CHAT_MODEL_ID]);
      await app.services.handle('data.backups.restore', { name });
      app = await restarted(h);
      expect(engine.loadedIds()).toEqual([]);
      expect(((await app.services.handle('models.state', {})) as ModelState).loaded).toBeNull();
    } finally {
      await h.current().close();
    }
  });

  test('refuses a file that is not a Hearth store or is newer, and any restore without a restart port; nothing changes', async () => {
    const dir = fresh();
    const app = composeApp({ paths: ensureDataDir(dir), engine, appVersion: '0.0.0-test', logger: silentLogger });
    let name = '';
    try {
      addThread(app, 'mine');
      expect(await app.services.handle('data.folder', {})).toEqual(DataFolderDTO.parse({ folder: dir, canRestart: false }));
      name = await app.backups.create();
      expect(await errorOf(app.services.handle('data.backups.restore', { name }))).toEqual({ code: 'invalid_input', message: NO_RESTART_MESSAGE });
      expect(await errorOf(app.services.handle('data.move', { to: path.join(fresh(), 'x') }))).toMatchObject({ code: 'invalid_input', message: NO_RESTART_MESSAGE });
      expect(await errorOf(app.services.handle('data.erase', { scope: 'everything' }))).toMatchObject({ code: 'invalid_input', message: NO_RESTART_MESSAGE });
    } finally {
      await app.close();
    }
    const h = host(dir);
    try {
      const folder = path.join(dir, 'backups');
      const other = new Database(path.join(folder, 'hearth-20200101-000000.db'));
      other.exec('CREATE TABLE t (x)');
      other.close();
      fs.copyFileSync(path.join(folder, name), path.join(folder, 'hearth-20200102-000000.db'));
      const newer = new Database(path.join(folder, 'hearth-20200102-000000.db'));
      newer.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (9999, 'future', 0)").run();
      newer.close();
      const events = record(h.current());
      expect(await errorOf(h.current().services.handle('data.backups.restore', { name: 'hearth-20200101-000000.db' }))).toMatchObject({ code: 'invalid_input', message: expect.stringContaining('not a Hearth store') });
      expect(await errorOf(h.current().services.handle('data.backups.restore', { name: 'hearth-20200102-000000.db' }))).toMatchObject({ code: 'invalid_input', message: expect.stringContaining('newer version') });
      expect(await errorOf(h.current().services.handle('data.backups.restore', { name: 'hearth-20200103-000000.db' }))).toMatchObject({ code: 'not_found' });
      expect(events.of('app.restarting')).toEqual([]);
      expect(titles(h.current())).toEqual(['mine']);
      expect(fs.readdirSync(dir).filter((n) => n.includes('restore-from'))).toEqual([]);
    } finally {
      await h.current().close();
    }
  });
});

describe('move', () => {
  test('copies everything with progress, restarts in the new folder, and the old one points there', async () => {
    const dir = fresh();
    const to = path.join(fresh(), 'moved', 'Hearth');
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'moving', 50);
      fs.writeFileSync(path.join(dir, 'images', 'a.png'), Buffer.alloc(300_000, 1));
      fs.writeFileSync(path.join(dir, 'models', 'm.gguf'), Buffer.alloc(200_000, 2));
      fs.writeFileSync(path.join(dir, 'provider-secrets.json'), '{}');
      const events = record(app);
      await app.services.handle('data.move', { to });
      const progress = events.of('data.moveProgress');
      expect(progress.length).toBeGreaterThanOrEqual(2);
      const last = progress[progress.length - 1];
      expect(last.bytes).toBe(last.total);
      expect(last.total).toBeGreaterThan(500_000);
      for (let i = 1; i < progress.length; i++) expect(progress[i].bytes).toBeGreaterThanOrEqual(progress[i - 1].bytes);
      expect(events.of('app.restarting')).toHaveLength(1);
      // written after the copy and before the restart: copied again when the store closes
      addThread(app, 'written during the move');
      app = await restarted(h);
      expect(app.services.paths.root).toBe(to);
      expect(titles(app)).toEqual(['moving', 'written during the move']);
      expect(fs.readFileSync(path.join(to, 'images', 'a.png'))).toEqual(Buffer.alloc(300_000, 1));
      expect(fs.statSync(path.join(to, 'models', 'm.gguf')).size).toBe(200_000);
      expect(fs.existsSync(path.join(to, 'provider-secrets.json'))).toBe(true);
      expect(fs.readdirSync(dir)).toEqual([MOVED_TO_FILE]);
      expect(resolveDataDir(dir, {}, () => undefined)).toBe(to);
      expect(await app.services.handle('data.folder', {})).toEqual({ folder: to, canRestart: true });
    } finally {
      await h.current().close();
    }
  });

  test('refuses a relative path, a folder inside the data folder, a non-empty target; nothing changes', async () => {
    const dir = fresh();
    const h = host(dir);
    try {
      const app = h.current();
      addThread(app, 'stays');
      const full = fresh();
      fs.writeFileSync(path.join(full, 'theirs.txt'), 'x');
      const before = fs.readdirSync(dir).sort();
      const events = record(app);
      for (const to of ['relative/folder', path.join(dir, 'inside'), full]) {
        expect(await errorOf(app.services.handle('data.move', { to }))).toMatchObject({ code: 'invalid_input' });
      }
      expect(fs.readdirSync(full)).toEqual(['theirs.txt']);
      expect(fs.readdirSync(dir).sort()).toEqual(before);
      expect(events.of('app.restarting')).toEqual([]);
      expect(titles(app)).toEqual(['stays']);
    } finally {
      await h.current().close();
    }
  });
});

describe('erase', () => {
  test('threads: every thread, its messages and search entries go, live, with threads.deleted for each', async () => {
    const dir = fresh();
    const app = composeApp({ paths: ensureDataDir(dir), engine, appVersion: '0.0.0-test', logger: silentLogger });
    try {
      const ids = [addThread(app, 'one', 3), addThread(app, 'two', 2)];
      // the threads' images go with them, at once and not set aside; an open temporary chat's stays
      const [a, b] = [await threadWithImage(app, dir, 'a', 1), await threadWithImage(app, dir, 'b', 2)];
      // (attached a minute ago: past the collector's grace or not, it goes)
      const doc = await linkedDocument(app, dir, a.threadId, 'notes of chat a', { young: true });
      // and what a chat deleted before left aside
      const c = await threadWithImage(app, dir, 'deleted before', 3);
      const docC = await linkedDocument(app, dir, c.threadId, 'notes of a chat deleted before');
      await app.services.handle('threads.delete', { id: c.threadId });
      await swept(app);
      expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER))).toEqual([path.basename(c.file)]);
      expect(fs.readdirSync(path.join(dir, 'documents', STRAY_FOLDER))).toEqual([path.basename(docC)]);
      ids.push(...app.store.threads.list({ limit: 10 }).items.filter((t) => !ids.includes(t.id)).map((t) => t.id));
      const tmp = app.store.temporary.threads.create({});
      app.store.temporary.messages.add({ threadId: tmp.id, role: 'user', content: '', attachments: [b.image] });
      const events = record(app);
      await app.services.handle('data.erase', { scope: 'threads' });
      expect(events.of('threads.deleted').map((e) => e.id).sort()).toEqual([...ids].sort());
      expect(titles(app)).toEqual([]);
      expect(fs.existsSync(a.file)).toBe(false);
      expect(fs.existsSync(b.file)).toBe(true);
      expect(fs.existsSync(doc)).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER))).toEqual([]);
      expect(fs.readdirSync(path.join(dir, 'documents', STRAY_FOLDER))).toEqual([]);
      expect(counts(app.store.db)).toEqual({ messages: 0, fts: 0 });
      // the rest stays: the store goes on
      expect(app.store.settings.get('backups')).toEqual({ daily: true, keep: 7 });
      addThread(app, 'new');
      expect(titles(app)).toEqual(['new']);
    } finally {
      await app.close();
    }
  });

  test('everything: after the restart a fresh store; the models stay', async () => {
    const dir = fresh();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'gone');
      await app.backups.create();
      fs.writeFileSync(path.join(dir, 'models', 'm.gguf'), 'model');
      fs.writeFileSync(path.join(dir, 'provider-secrets.json'), '{}');
      fs.writeFileSync(path.join(dir, 'images', 'a.png'), 'png');
      await app.services.handle('data.erase', { scope: 'everything' });
      app = await restarted(h);
      expect(titles(app)).toEqual([]);
      expect(fs.readFileSync(path.join(dir, 'models', 'm.gguf'), 'utf8')).toBe('model');
      for (const gone of ['provider-secrets.json', 'backups', path.join('images', 'a.png')]) expect(fs.existsSync(path.join(dir, gone))).toBe(false);
      expect(eraseSummary('everything').goes).toEqual(ERASED_EVERYTHING.map((i) => i.says));
      expect(eraseSummary('everything').restarts).toBe(true);
      expect(eraseSummary('threads').restarts).toBe(false);
    } finally {
      await h.current().close();
    }
  });
});
