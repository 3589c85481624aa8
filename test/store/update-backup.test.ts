/**
 * Updates that change the schema: the one rotated backup of hearth.db made before the migrations,
 * restored when this version fails to open the file; settings written by an older version. Real
 * better-sqlite3 on real files in temp folders; a failing migration is injected through the store's
 * tests-only `migrations` option.
 */
import { thrownBy } from '../helpers/engine';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { startErrorBox } from '../../main/app/start-error';
import { DEFAULT_SETTINGS, LATEST_VERSION, Store, type StoreError } from '../../main/store';
import { openDatabase } from '../../main/store/db';
import { MIGRATIONS, type Migration } from '../../main/store/migrations';
import { readUpdateBackupInfo, updateBackupPath } from '../../main/store/update-backup';
import { REPO_ROOT } from '../helpers/models';
import { cleanupDirs, closeStores, fakeClock, FIXTURES, openStore, recordingLogger, tmpDir } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const N = LATEST_VERSION;
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A database at schema `version` (the targetVersion option) holding a thread with two messages, closed. */
function dbAt(version: number, file = path.join(tmpDir(), 'hearth.db')): string {
  const { db } = openDatabase(file, { logger: recordingLogger(), clock: fakeClock(), targetVersion: version });
  db.exec(`INSERT INTO assistants (id, name, created_at, updated_at) VALUES ('default', 'Assistant', 1, 1);
    INSERT INTO threads (id, title, assistant_id, created_at, updated_at) VALUES ('t1', 'Kept', 'default', 1, 1);
    INSERT INTO messages (id, thread_id, parent_id, role, content, status, created_at, updated_at) VALUES
      ('m1', 't1', NULL, 'user', 'hello', 'done', 1, 1), ('m2', 't1', 'm1', 'assistant', 'hi there', 'done', 2, 2);`);
  db.close();
  return file;
}

/** What a file holds: its schema versions, user_version, messages and settings rows. */
function contents(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      versions: db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all(),
      userVersion: db.pragma('user_version', { simple: true }),
      tables: db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all(),
      messages: db.prepare('SELECT id, thread_id, content FROM messages ORDER BY id').all(),
      settings: db.prepare('SELECT key, value FROM settings ORDER BY key').all(),
    };
  } finally {
    db.close();
  }
}

/** The latest migration replaced by `last` (so a database at N-1 runs it as its update). */
const withLast = (last: Omit<Migration, 'version'>): Migration[] => [...MIGRATIONS.slice(0, -1), { version: N, ...last }];

const openError = (fn: () => unknown): StoreError => thrownBy<StoreError>(fn);

function expectRestored(err: StoreError, file: string): void {
  expect(err.name).toBe('StoreError');
  expect(err.code).toBe('migration_failed');
  expect(err.message).toContain(`restored to its state before the update from the backup ${updateBackupPath(file)}`);
  expect(err.message).toContain('the previous version of Hearth can still open it');
  expect(err.message.split('\n')).toHaveLength(1);
  expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: true });
}

/** After a failed update: hearth.db is the backup byte for byte, at the older schema, with nothing beside it of the failed file. */
function expectFileIsBackup(file: string, before: ReturnType<typeof contents>): void {
  expect(sha(file)).toBe(sha(updateBackupPath(file)));
  expect(contents(file)).toEqual(before);
  expect(contents(updateBackupPath(file))).toEqual(before);
  expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['hearth.db', 'hearth.db.before-update', 'hearth.db.before-update.json']);
}

describe('the update backup', () => {
  test('before the migrations of an existing database, a copy at its schema is kept with what it came from; none for a new or current file', () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    expect(before.userVersion).toBe(N - 1);
    const s = openStore({ file, appVersion: '1.5.0-beta.2' });
    expect(s.migratedFrom).toBe(N - 1);
    expect(s.schemaVersion).toBe(N);
    expect(s.backupPath).toBe(updateBackupPath(file));
    expect(contents(s.backupPath!)).toEqual(before);
    const info = readUpdateBackupInfo(file)!;
    expect(info).toMatchObject({ schemaVersion: N - 1, toSchemaVersion: N, appVersion: '1.5.0-beta.2' });
    expect(typeof info.createdAt).toBe('number');
    expect(fs.existsSync(`${updateBackupPath(file)}.tmp`)).toBe(false);
    s.close();

    // the current schema: nothing to migrate, no new backup (the kept one is untouched)
    const kept = sha(updateBackupPath(file));
    const again = openStore({ file });
    expect(again.backupPath).toBeNull();
    expect(sha(updateBackupPath(file))).toBe(kept);
    // a new database: nothing to back up
    const fresh = openStore();
    expect(fresh.backupPath).toBeNull();
    expect(fs.existsSync(updateBackupPath(fresh.path))).toBe(false);
  });

  test('one is kept: the next update replaces it; an unfinished one from a crash is cleared; older backups by other names are left alone', () => {
    const dir = tmpDir();
    const file = dbAt(N - 2, path.join(dir, 'hearth.db'));
    // files earlier versions made (hearth.db.backup-v1-<stamp>) and a copy of the user's: never touched
    const oldBackup = path.join(dir, 'hearth.db.backup-v1-20250101-000000');
    fs.copyFileSync(file, oldBackup);
    const mine = path.join(dir, 'hearth.db.my-copy');
    fs.writeFileSync(mine, 'mine');
    const oldSha = sha(oldBackup);

    const { db } = openDatabase(file, { logger: recordingLogger(), clock: fakeClock(), targetVersion: N - 1, appVersion: '1.4.0' });
    db.close();
    expect(readUpdateBackupInfo(file)).toMatchObject({ schemaVersion: N - 2, toSchemaVersion: N - 1, appVersion: '1.4.0' });
    expect(contents(updateBackupPath(file)).versions).toHaveLength(N - 2);

    // a crash during an earlier backup left its temporary file: cleared, and the new copy is whole
    fs.writeFileSync(`${updateBackupPath(file)}.tmp`, 'half a backup');
    const atNMinus1 = contents(file);
    const s = openStore({ file, appVersion: '1.5.0' });
    expect(s.schemaVersion).toBe(N);
    expect(contents(updateBackupPath(file))).toEqual(atNMinus1);
    expect(readUpdateBackupInfo(file)).toMatchObject({ schemaVersion: N - 1, toSchemaVersion: N, appVersion: '1.5.0' });
    s.close();

    const names = fs.readdirSync(dir).sort();
    expect(names.filter((n) => n.includes('before-update'))).toEqual(['hearth.db.before-update', 'hearth.db.before-update.json']);
    expect(names).toContain('hearth.db.backup-v1-20250101-000000');
    expect(sha(oldBackup)).toBe(oldSha);
    expect(fs.readFileSync(mine, 'utf8')).toBe('mine');
  });

  test('info that is missing or does not parse reads as none (the copy itself is what counts)', () => {
    const file = dbAt(N - 1);
    openStore({ file }).close();
    expect(readUpdateBackupInfo(file)).toMatchObject({ appVersion: null });
    fs.writeFileSync(`${updateBackupPath(file)}.json`, '{"schemaVersion": "five"}');
    expect(readUpdateBackupInfo(file)).toBeNull();
    fs.rmSync(`${updateBackupPath(file)}.json`);
    expect(readUpdateBackupInfo(file)).toBeNull();
  });

  test('a backup that cannot be written stops the update before anything changes (write_failed)', () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    fs.mkdirSync(`${updateBackupPath(file)}.tmp`); // in the way, and not this module's file to remove
    fs.writeFileSync(path.join(`${updateBackupPath(file)}.tmp`, 'x'), 'x');
    const err = openError(() => Store.open(file));
    expect(err.code).toBe('write_failed');
    expect(err.message).toMatch(/could not back up .* before updating its data .*nothing was changed/);
    expect(contents(file)).toEqual(before);
  });
});

describe('a failed update is restored', () => {
  test('a migration that throws: hearth.db is put back from the backup, at the older schema, and a later normal open migrates', () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    const logger = recordingLogger();
    const failing = withLast({ name: 'test: fails half-way', up(db) { db.exec('CREATE TABLE half_done (x)'); throw new Error('boom in the migration'); } });
    const err = openError(() => Store.open(file, { logger, migrations: failing }));
    expectRestored(err, file);
    expect(err.message).toContain('boom in the migration');
    expectFileIsBackup(file, before);
    expect(before.tables).not.toContain('half_done');
    expect(logger.warnings.map((w) => w.msg)).toContain('store: the update could not open the database; it was restored from the backup made before the update');

    // the older version's schema opens it as it was (no migration: it is that version's file)
    const older = openDatabase(file, { logger: recordingLogger(), clock: fakeClock(), targetVersion: N - 1 });
    expect(older.fromVersion).toBe(N - 1);
    expect(older.backupPath).toBeNull();
    older.db.close();
    expect(contents(file)).toEqual(before);

    // and this version, with its real migrations, updates it with every message kept
    const s = openStore({ file });
    expect(s.migratedFrom).toBe(N - 1);
    expect(s.schemaVersion).toBe(N);
    expect(s.messages.list('t1').map((m) => m.content)).toEqual(['hello', 'hi there']);
    expect(s.integrityCheck()).toEqual(['ok']);
  });

  test('a migration that leaves foreign key violations is refused and restored', () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    const orphan = withLast({
      name: 'test: orphans a message',
      up(db) {
        db.pragma('defer_foreign_keys = ON');
        db.exec(`INSERT INTO messages (id, thread_id, role, content, status, created_at, updated_at) VALUES ('m9', 'no-such-thread', 'user', 'x', 'done', 3, 3)`);
      },
    });
    const err = openError(() => Store.open(file, { migrations: orphan }));
    expectRestored(err, file);
    expect(err.message).toMatch(/foreign key violations/);
    expectFileIsBackup(file, before);
  });

  test("the store's own opening steps failing after the migrations committed: the migrated file is replaced by the backup", () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    // migrates to N + 1 and commits, but leaves no settings table for the store to open
    const breaks: Migration[] = [...MIGRATIONS, { version: N + 1, name: 'test: drops settings', up(db) { db.exec('DROP TABLE settings'); } }];
    const err = openError(() => Store.open(file, { migrations: breaks }));
    expectRestored(err, file);
    expect(err.message).toMatch(/no such table: settings/);
    expectFileIsBackup(file, before);
    expect(contents(file).userVersion).toBe(N - 1);
    expect(openStore({ file }).schemaVersion).toBe(N);
  });

  test('when restoring fails too, the error says where the copy from before the update is, and it is whole', () => {
    const file = dbAt(N - 1);
    const before = contents(file);
    const blocks = withLast({
      name: 'test: fails, with the restore blocked',
      up() {
        fs.mkdirSync(`${file}.restoring`);
        fs.writeFileSync(path.join(`${file}.restoring`, 'x'), 'x');
        throw new Error('boom');
      },
    });
    const err = openError(() => Store.open(file, { migrations: blocks }));
    expect(err.code).toBe('migration_failed');
    expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: false });
    expect(err.message).toContain(`restoring the backup failed`);
    expect(err.message).toContain(`Your data as it was before the update is in ${updateBackupPath(file)}`);
    expect(contents(updateBackupPath(file))).toEqual(before);
    expect(startErrorBox(err).title).toBe('Hearth could not update your data');
  });

  test("the app's error box names the restore; other failures keep the plain title", () => {
    const file = dbAt(N - 1);
    const err = openError(() => Store.open(file, { migrations: withLast({ name: 'test: fails', up() { throw new Error('boom'); } }) }));
    const box = startErrorBox(err);
    expect(box.title).toBe('Hearth restored your data after a failed update');
    expect(box.content).toBe(err.message);
    expect(box.content).toMatch(/restored to its state before the update .* the previous version of Hearth can still open it\.$/);
    expect(startErrorBox(new Error('disk on fire'))).toEqual({ title: 'Hearth could not start', content: 'disk on fire' });
  });

  test('the hearth command prints the same one line and exits 1 (a real v1 file its real migration 2 cannot update)', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'hearth.db');
    fs.copyFileSync(path.join(FIXTURES, 'store-v1.db'), file);
    const raw = new Database(file);
    raw.exec('ALTER TABLE messages ADD COLUMN active TEXT'); // migration 2 adds this column: it fails
    raw.close();
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'hearth.js'), 'models', '--data-dir', dir], { encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hearth: This version of Hearth could not open its data after the update \(.*\)\. The database was restored to its state before the update from the backup .*hearth\.db\.before-update; the previous version of Hearth can still open it\.$/);
    expect(sha(file)).toBe(sha(updateBackupPath(file)));
    expect(contents(file).versions).toEqual([1]);
  });
});

describe('settings written by an older version', () => {
  /** Settings rows as an older Hearth left them: a key since removed, values of an older shape, keys it never had. */
  const OLD_ROWS: [string, string][] = [
    ['theme', '"dark"'],
    ['guardrail', '"strict"'],
    ['sendOnEnter', 'false'],
    ['fitMarginMiB', '768'],
    ['defaultModel', '"/models/old.gguf"'],
    ['chatDefaults', '{"temperature":0.4,"topK":30}'],
    ['fontSize', '"15px"'], // an older shape: a CSS string, now a number
    ['backend', '{"pin":"cpu"}'], // an older shape: an object, now a name
    ['legacySidebarWidth', '280'], // a key this version no longer has
  ];

  test('open with the current schema: every valid value kept, older shapes fall back to their defaults with a warning, missing keys default, unknown rows left for the older version', () => {
    const file = dbAt(N - 1);
    const db = new Database(file);
    const put = db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 1)');
    for (const [k, v] of OLD_ROWS) put.run(k, v);
    db.close();

    const logger = recordingLogger();
    const s = openStore({ file, logger });
    expect(s.migratedFrom).toBe(N - 1);
    const all = s.settings.getAll();
    expect(all).toEqual({
      ...DEFAULT_SETTINGS,
      theme: 'dark',
      guardrail: 'strict',
      sendOnEnter: false,
      fitMarginMiB: 768,
      defaultModel: '/models/old.gguf',
      chatDefaults: { ...DEFAULT_SETTINGS.chatDefaults, temperature: 0.4, topK: 30 },
    });
    // the two older shapes, and only they, were warned about
    const warned = logger.warnings.map((w) => w.meta?.key).filter((k) => k !== undefined);
    expect(new Set(warned)).toEqual(new Set(['fontSize', 'backend']));
    // nothing was rewritten: the older version still finds its rows as it left them
    expect(contents(file).settings).toEqual(OLD_ROWS.map(([key, value]) => ({ key, value })).sort((a, b) => a.key.localeCompare(b.key)));
    // and the settings are writable as usual; a new value replaces the old shape
    expect(s.settings.update({ fontSize: 18, updateMode: 'check' }).fontSize).toBe(18);
    s.close();
    const again = openStore({ file });
    expect(again.settings.getAll()).toEqual({ ...all, fontSize: 18, updateMode: 'check' });
  });

  test('a failed update leaves the older settings rows exactly as they were', () => {
    const file = dbAt(N - 1);
    const db = new Database(file);
    const put = db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 1)');
    for (const [k, v] of OLD_ROWS) put.run(k, v);
    db.close();
    const before = contents(file);
    const err = openError(() => Store.open(file, { migrations: withLast({ name: 'test: rewrites settings, then fails', up(d) { d.exec('DELETE FROM settings'); throw new Error('boom'); } }) }));
    expectRestored(err, file);
    expect(contents(file).settings).toEqual(before.settings);
    expect(contents(file).settings).toHaveLength(OLD_ROWS.length);
  });
});
