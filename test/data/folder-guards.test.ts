/**
 * What guards a restore, a move and an erase of the data folder (main/data-folder/): another process
 * with the store open (a second `hearth serve`, a `hearth chats import`) refuses them, at the request
 * and again in the restart's work, nothing changed; a second restore while one is prepared is busy;
 * the backup made before restoring prunes nothing; erasing the threads stops a running import; a move
 * back to the folder it came from, and what appears in the folder after the move was planned. Real
 * SQLite in temporary folders, the App as composeApp builds it, browser mode's restart host.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import type { EngineClient } from '../../main/engine/client';
import type { BackupsDTO, ImportProgressDTO } from '../../main/ipc/contract';
import { MOVED_TO_FILE, resolveDataDir } from '../../main/paths';
import { OTHER_USER_MESSAGE } from '../../main/store/update-backup';
import { errorOf, makeEngine } from '../helpers/engine';
import { cleanupDirs, tmpDir } from '../store/helpers';
import { addThread, host as hostOf, janFolder, record, restarted, titles } from './folder-helpers';

jest.setTimeout(60_000);

let engine: EngineClient;
const host = (dir: string) => hostOf(dir, engine);
/** connections standing for another process: closed after each test */
let others: Database.Database[] = [];
/** Another process's connection to `dir`'s store, as another Hearth keeps it (WAL, read once, then idle). */
const otherProcess = (dir: string) => {
  const db = new Database(path.join(dir, 'hearth.db'));
  db.pragma('journal_mode = WAL');
  db.prepare('SELECT count(*) FROM threads').get();
  others.push(db);
  return db;
};

beforeAll(() => {
  engine = makeEngine();
});
afterAll(async () => {
  await engine.close();
});
afterEach(() => {
  for (const db of others) if (db.open) db.close();
  others = [];
  cleanupDirs();
});

const backupNames = (dir: string) => fs.readdirSync(path.join(dir, 'backups')).sort();

describe('another process has the store open', () => {
  test('a restore, a move and an erase of everything are refused at the request (busy, saying so); nothing changes; once it is closed they go', async () => {
    const dir = tmpDir();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'kept');
      const name = await app.backups.create();
      addThread(app, 'after the backup');
      const other = otherProcess(dir);
      const target = path.join(tmpDir(), 'moved');
      const events = record(app);
      const before = fs.readdirSync(dir).sort();
      for (const [channel, payload] of [['data.backups.restore', { name }], ['data.move', { to: target }], ['data.erase', { scope: 'everything' }]] as const) {
        expect(await errorOf(app.services.handle(channel, payload))).toEqual({ code: 'busy', message: OTHER_USER_MESSAGE });
      }
      expect(events.of('app.restarting')).toEqual([]);
      expect(events.of('data.moveProgress')).toEqual([]);
      expect(fs.existsSync(target)).toBe(false);
      expect(fs.readdirSync(dir).sort()).toEqual(before);
      expect(backupNames(dir)).toEqual([name]);
      // the App's own connection goes on as before
      addThread(app, 'still written');
      expect(titles(app)).toEqual(['after the backup', 'kept', 'still written']);
      other.close();
      await app.services.handle('data.backups.restore', { name });
      app = await restarted(h);
      expect(titles(app)).toEqual(['kept']);
    } finally {
      await h.current().close();
    }
  });

  test('one that opens it after the request: the restart\'s work refuses and Hearth starts again on its data unchanged', async () => {
    const dir = tmpDir();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'kept');
      const name = await app.backups.create();
      addThread(app, 'after the backup');
      await app.services.handle('data.backups.restore', { name });
      let other = otherProcess(dir);
      app = await restarted(h);
      expect(titles(app)).toEqual(['after the backup', 'kept']);
      expect(fs.readdirSync(dir).filter((n) => n.includes('restore-from'))).toEqual([]);
      other.close();
      const to = path.join(tmpDir(), 'moved');
      await app.services.handle('data.move', { to });
      other = otherProcess(dir);
      app = await restarted(h);
      expect(app.services.paths.root).toBe(dir);
      expect(fs.existsSync(path.join(dir, MOVED_TO_FILE))).toBe(false);
      expect(titles(app)).toEqual(['after the backup', 'kept']);
      other.close();
      await app.services.handle('data.erase', { scope: 'everything' });
      other = otherProcess(dir);
      app = await restarted(h);
      expect(titles(app)).toEqual(['after the backup', 'kept']);
      expect(backupNames(dir)).toHaveLength(2);
      other.close();
    } finally {
      await h.current().close();
    }
  });
});

describe('restore', () => {
  test('a second restore while the first is prepared is busy: the first one\'s backup is the one restored', async () => {
    const dir = tmpDir();
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'a');
      const first = await app.backups.create();
      addThread(app, 'b');
      const second = await app.backups.create();
      addThread(app, 'c');
      const one = app.services.handle('data.backups.restore', { name: first });
      const two = app.services.handle('data.backups.restore', { name: second });
      expect(await errorOf(two)).toMatchObject({ code: 'busy', message: expect.stringContaining('already preparing a restart') });
      await one;
      app = await restarted(h);
      expect(titles(app)).toEqual(['a']);
    } finally {
      await h.current().close();
    }
  });

  test('keep 1: the backup made before restoring deletes none, not the one restored', async () => {
    const dir = tmpDir();
    const h = host(dir);
    let app = h.current();
    try {
      await app.services.handle('data.backups.settings', { keep: 1 });
      addThread(app, 'kept');
      const name = await app.backups.create();
      addThread(app, 'after the backup');
      await app.services.handle('data.backups.restore', { name });
      app = await restarted(h);
      expect(titles(app)).toEqual(['kept']);
      const list = (await app.services.handle('data.backups.list', {})) as BackupsDTO;
      expect(list.backups.map((b) => b.name)).toContain(name);
      expect(list.backups).toHaveLength(2);
      // the next backup prunes to keep as usual
      await app.backups.create();
      expect(backupNames(dir)).toHaveLength(1);
    } finally {
      await h.current().close();
    }
  });
});

describe('erase threads', () => {
  test('stops a running import first: no imported thread comes after the erase', async () => {
    const dir = tmpDir();
    const h = host(dir);
    const app = h.current();
    try {
      addThread(app, 'mine');
      const preview = (await app.services.handle('data.import.preview', { source: { path: janFolder(200) }, from: 'jan' })) as { jobId: string };
      const events = record(app);
      await app.services.handle('data.import.start', { jobId: preview.jobId });
      await app.services.handle('data.erase', { scope: 'threads' });
      const last = events.of('data.importProgress').at(-1) as ImportProgressDTO;
      expect(last.state).toBe('cancelled');
      expect(last.imported).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(titles(app)).toEqual([]);
      // imports go on after
      const again = (await app.services.handle('data.import.preview', { source: { path: janFolder(2) }, from: 'jan' })) as { jobId: string };
      await app.services.handle('data.import.start', { jobId: again.jobId });
      await app.services.handle('data.erase', { scope: 'threads' });
      expect(titles(app)).toEqual([]);
    } finally {
      await h.current().close();
    }
  });
});

describe('move', () => {
  test('back to the folder it came from (which holds only its pointer): allowed, and the pointer goes', async () => {
    const dir = tmpDir();
    const away = path.join(tmpDir(), 'away');
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'travels');
      await app.services.handle('data.move', { to: away });
      app = await restarted(h);
      expect(app.services.paths.root).toBe(away);
      expect(fs.readdirSync(dir)).toEqual([MOVED_TO_FILE]);
      await app.services.handle('data.move', { to: dir });
      app = await restarted(h);
      expect(app.services.paths.root).toBe(dir);
      expect(titles(app)).toEqual(['travels']);
      expect(fs.existsSync(path.join(dir, MOVED_TO_FILE))).toBe(false);
      expect(fs.readdirSync(away)).toEqual([MOVED_TO_FILE]);
      expect(resolveDataDir(dir, {}, () => undefined)).toBe(dir);
      expect(resolveDataDir(away, {}, () => undefined)).toBe(dir);
      // a folder with anything else in it is still refused
      fs.writeFileSync(path.join(away, 'theirs.txt'), 'x');
      expect(await errorOf(app.services.handle('data.move', { to: away }))).toMatchObject({ code: 'invalid_input', message: expect.stringContaining('not empty') });
    } finally {
      await h.current().close();
    }
  });

  test('what appears in the folder after the move was planned (imports/, documents/) moves too, and goes from the old folder', async () => {
    const dir = tmpDir();
    const to = path.join(tmpDir(), 'moved');
    const h = host(dir);
    let app = h.current();
    try {
      addThread(app, 'moving');
      fs.rmSync(path.join(dir, 'documents'), { recursive: true, force: true });
      await app.services.handle('data.move', { to });
      fs.mkdirSync(path.join(dir, 'imports'));
      fs.writeFileSync(path.join(dir, 'imports', 'upload.json'), 'upload');
      fs.mkdirSync(path.join(dir, 'documents'));
      fs.writeFileSync(path.join(dir, 'documents', 'doc.txt'), 'doc');
      fs.writeFileSync(path.join(dir, 'hf-token'), 'token');
      app = await restarted(h);
      expect(app.services.paths.root).toBe(to);
      // (the new App sweeps the uploads it does not know; the folder stays)
      expect(fs.statSync(path.join(to, 'imports')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(to, 'documents', 'doc.txt'), 'utf8')).toBe('doc');
      expect(fs.readFileSync(path.join(to, 'hf-token'), 'utf8')).toBe('token');
      expect(fs.readdirSync(dir)).toEqual([MOVED_TO_FILE]);
    } finally {
      await h.current().close();
    }
  });
});
