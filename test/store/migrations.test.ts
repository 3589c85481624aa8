import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { DEFAULT_SETTINGS, LATEST_VERSION, Store } from '../../main/store';
import { MIGRATIONS } from '../../main/store/migrations';
import { cleanupDirs, closeStores, expectCode, FIXTURES, openStore, recordingLogger, tmpDir } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function copyFixture(version: number): string {
  const src = path.join(FIXTURES, `store-v${version}.db`);
  const dst = path.join(tmpDir(), 'hearth.db');
  fs.copyFileSync(src, dst);
  return dst;
}

describe('open and migrate', () => {
  test('a new file gets the latest schema, WAL, foreign keys, busy timeout and the default assistant', () => {
    const s = openStore();
    expect(s.schemaVersion).toBe(LATEST_VERSION);
    expect(s.migratedFrom).toBe(0);
    expect(s.backupPath).toBeNull();
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(s.db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    const versions = s.db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    expect(s.assistants.list().map((a) => a.id)).toEqual(['default']);
    expect(s.integrityCheck()).toEqual(['ok']);
  });

  test('an empty (0-byte) file is treated as a new database', () => {
    const file = path.join(tmpDir(), 'empty.db');
    fs.writeFileSync(file, '');
    const s = openStore({ file });
    expect(s.schemaVersion).toBe(LATEST_VERSION);
    expect(s.threads.list().items).toEqual([]);
  });

  test('reopening does not migrate again or duplicate the default assistant', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'h.db');
    Store.open(file).close();
    const s = openStore({ file });
    expect(s.migratedFrom).toBe(LATEST_VERSION);
    expect(s.assistants.list()).toHaveLength(1);
    expect(s.db.prepare('SELECT count(*) FROM schema_version').pluck().get()).toBe(MIGRATIONS.length);
  });

  test('there is a fixture database for every earlier schema version', () => {
    for (let v = 1; v < LATEST_VERSION; v++) {
      expect(fs.existsSync(path.join(FIXTURES, `store-v${v}.db`))).toBe(true);
      expect(fs.statSync(path.join(FIXTURES, `store-v${v}.db`)).size).toBeLessThan(100 * 1024);
    }
  });

  test.each(Array.from({ length: LATEST_VERSION - 1 }, (_, i) => i + 1))('migrates the v%i fixture to the latest version', (v) => {
    const file = copyFixture(v);
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(v);
    const messageCount = raw.prepare('SELECT count(*) FROM messages').pluck().get();
    raw.close();

    const logger = recordingLogger();
    const s = openStore({ file, logger });
    expect(s.migratedFrom).toBe(v);
    expect(s.schemaVersion).toBe(LATEST_VERSION);
    expect(s.integrityCheck()).toEqual(['ok']);
    expect(s.db.pragma('foreign_key_check')).toEqual([]);

    // an update that changes the schema: the old file was backed up first (the one update backup)
    expect(s.backupPath).toBe(`${file}.before-update`);
    const backup = new Database(s.backupPath!, { readonly: true });
    expect(backup.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(v);
    expect(backup.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(messageCount);
    backup.close();

    // threads, pinned first, archived separate
    const list = s.threads.list().items;
    expect(list.map((t) => t.title)).toEqual(['Fixture: pasta recipes', 'Fixture: rust lifetimes']);
    expect(s.threads.list({ archived: true }).items.map((t) => t.id)).toEqual(['thread-old']);
    const rust = s.threads.get('thread-rust');
    expect(rust.assistantId).toBe('coder');
    expect(rust.overrides).toEqual({ instructions: 'Answer briefly.', sampling: { temperature: 0.1 }, load: { contextSize: 8192 } });

    // messages: parent chain, tool calls, metrics, the streaming reply now interrupted with its text kept
    const pasta = s.messages.list('thread-pasta');
    if (v === 1) {
      expect(pasta.map((m) => m.id)).toEqual(['m-pasta-1', 'm-pasta-2', 'm-pasta-3', 'm-pasta-4']);
      expect(pasta.map((m) => m.parentId)).toEqual([null, 'm-pasta-1', 'm-pasta-2', 'm-pasta-3']);
    } else {
      expect(pasta.map((m) => m.id)).toEqual(['m-pasta-1', 'm-pasta-2', 'm-pasta-3b', 'm-pasta-4b']);
      expect(pasta[2].alternatives).toEqual({ index: 1, count: 2, ids: ['m-pasta-3', 'm-pasta-3b'] });
      expect(pasta[0].attachments).toEqual([{ type: 'image', ref: 'file:///tmp/plate.jpg', name: 'plate.jpg' }]);
    }
    expect(s.recoveredReplies).toBe(1);
    const interrupted = s.messages.get('m-pasta-4');
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.content).toBe('Toast the pepper first, then');
    expect(pasta[1].metrics).toEqual({ promptTokens: 24, generatedTokens: 12, ttftMs: 180, genTps: 41.5 });
    expect(pasta[1].reasoning).toBe('Traditional recipe.');
    expect(pasta.map((m) => m.finishReason)).toEqual([null, null, null, null]); // not known for replies written before v4
    const rustMsgs = s.messages.list('thread-rust');
    expect(rustMsgs.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant']);
    expect(rustMsgs[2].toolCalls).toEqual([{ id: 'call-1', name: 'run_code', arguments: { code: 'fn main() {}' } }]);
    expect(rustMsgs[3].toolCallId).toBe('call-1');

    // search covers migrated rows (and the interrupted reply)
    expect(s.search({ query: 'guanciale' }).hits.map((h) => h.messageId)).toContain('m-pasta-2');
    expect(s.search({ query: 'pepper' }).hits.map((h) => h.messageId)).toEqual(['m-pasta-4']);
    expect(s.search({ query: 'lifetimes' }).hits.map((h) => [h.kind, h.threadId])).toEqual([['thread', 'thread-rust']]);

    // settings: valid values kept, corrupt ones fall back with a warning
    expect(s.settings.get('theme')).toBe('dark');
    expect(s.settings.get('chatDefaults').topK).toBe(30);
    expect(s.settings.get('fontSize')).toBe(DEFAULT_SETTINGS.fontSize);
    expect(s.settings.get('guardrail')).toBe('warn');
    expect(logger.warnings.length).toBeGreaterThanOrEqual(2);
    expect(s.modelSettings.get('llama-3.1-8b')).toEqual({ contextSize: 16384, gpuLayers: 33 });

    // v10: where imported threads came from (the v10 fixture's one: Jan's jan-thread-1); deleting a thread forgets its record
    expect(s.imported.has('jan', 'jan-thread-1', undefined)).toBe(v === 10);
    expect(s.imported.has('jan', 'thread-rust', undefined)).toBe(false);
    expect(s.imported.has('hearth', 'thread-rust', 'thread-rust')).toBe(true);

    // v11: a space made before has the chunks there were then checked for special-token text embedded as that
    // token (main/docs/indexer.ts); a space made now has none to check
    expect(s.docs.spaces().map((sp) => [sp.modelName, sp.specialPass])).toEqual(v === 10 ? [['nomic-embed', { from: 0, to: 2 }]] : []);
    expect(s.docs.space(s.docs.ensureSpace('new-model', 'new', 8))!.specialPass).toBeNull();

    // still fully usable: new messages continue the current path
    const added = s.messages.add({ threadId: 'thread-pasta', role: 'user', content: 'Thanks!' });
    expect(added.parentId).toBe(pasta[pasta.length - 1].id);
  });
});

describe('failed migrations', () => {
  test('a migration that fails is rolled back entirely; the file is restored from the update backup, which is kept', () => {
    const file = copyFixture(1);
    // damage the v1 file so that migration 2 cannot add its column
    const raw = new Database(file);
    raw.exec('ALTER TABLE messages ADD COLUMN active TEXT');
    raw.close();
    let err: unknown;
    try { Store.open(file); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe('migration_failed');
    expect((err as Error).message).toContain(`restored to its state before the update from the backup ${file}.before-update`);
    const after = new Database(file, { readonly: true });
    expect(after.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(1);
    const cols = (after.prepare('PRAGMA table_info(messages)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).not.toContain('parent_id');
    expect(after.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'`).pluck().get()).toBe(0);
    expect(after.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(11);
    after.close();
    expect(sha(file)).toBe(sha(`${file}.before-update`));
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['hearth.db', 'hearth.db.before-update', 'hearth.db.before-update.json']);
  });
});

describe('refusals', () => {
  test('a database from a newer Hearth is refused with a clear message and left unchanged', () => {
    const file = path.join(tmpDir(), 'newer.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
      INSERT INTO schema_version VALUES (${LATEST_VERSION + 5}, 'future', 0);
      CREATE TABLE threads (id TEXT); INSERT INTO threads VALUES ('x');`);
    db.close();
    const before = sha(file);
    let err: unknown;
    try { Store.open(file); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe('newer_schema');
    expect((err as Error).message).toMatch(/newer version of Hearth/);
    expect((err as Error).message).toMatch(/not changed/);
    expect(sha(file)).toBe(before);
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['newer.db']);
    expect((err as Error).message).not.toMatch(/before-update/);
  });

  test('after a downgrade, the newer_schema refusal names the update backup and what it holds', () => {
    const file = path.join(tmpDir(), 'hearth.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
      INSERT INTO schema_version VALUES (${LATEST_VERSION + 1}, 'future', 0);`);
    db.close();
    // the update backup the newer version made when it migrated this file
    fs.copyFileSync(file, `${file}.before-update`);
    let err: unknown;
    try { Store.open(file); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe('newer_schema');
    expect((err as Error).message).toContain(`${file}.before-update holds your data as it was before the update`);
    expect((err as Error).message).toMatch(/changes made since are not in it/);
  });

  test('a file that is not SQLite is refused and left unchanged', () => {
    const file = path.join(tmpDir(), 'notes.db');
    fs.writeFileSync(file, 'these are my notes, not a database\n'.repeat(10));
    const before = sha(file);
    expectCode(() => Store.open(file), 'invalid_database');
    expect(sha(file)).toBe(before);
  });

  test('a SQLite file from another app is refused', () => {
    const file = path.join(tmpDir(), 'other.db');
    const db = new Database(file);
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    db.close();
    expectCode(() => Store.open(file), 'invalid_database');
  });
});
