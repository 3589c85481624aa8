/**
 * An update that changes the schema runs only while its connection is the database's only user. The
 * app's single-instance lock does not cover `hearth serve` or a `hearth` command, so another Hearth
 * (this version or an older one) may have hearth.db open: the update is then refused before its
 * backup and nothing changes; while it runs nobody else gets in; its restore writes into the same
 * file under that lock; afterwards the file is shared as usual. Real better-sqlite3 connections on
 * real files, and real second processes (locks between processes are the case that matters).
 */
import { thrownBy } from '../helpers/engine';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { startErrorBox } from '../../main/app/start-error';
import { LATEST_VERSION, Store, type StoreError } from '../../main/store';
import { openDatabase } from '../../main/store/db';
import { MIGRATIONS, type Migration } from '../../main/store/migrations';
import { lockForUpdate, restoreAfterFailedUpdate, updateBackupPath } from '../../main/store/update-backup';
import { cleanupDirs, closeStores, fakeClock, openStore, recordingLogger, tmpDir } from './helpers';

/** Second processes still running (a failed test's): ended after each test. */
const children = new Set<ChildProcessWithoutNullStreams>();
afterEach(() => {
  for (const c of children) c.kill();
  children.clear();
  closeStores();
  cleanupDirs();
});

const N = LATEST_VERSION;
const BUSY_MS = 50; // the updating connection's busy timeout: short, so a refusal is quick
const SQLITE = require.resolve('better-sqlite3');
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A database at schema N-1 holding thread t1 with message m1, closed (as the previous Hearth left it). */
function olderDb(): string {
  const file = path.join(tmpDir(), 'hearth.db');
  const { db } = openDatabase(file, { logger: recordingLogger(), clock: fakeClock(), targetVersion: N - 1 });
  db.exec(`INSERT INTO assistants (id, name, created_at, updated_at) VALUES ('default', 'Assistant', 1, 1);
    INSERT INTO threads (id, title, assistant_id, created_at, updated_at) VALUES ('t1', 'Kept', 'default', 1, 1);
    INSERT INTO messages (id, thread_id, parent_id, role, content, status, created_at, updated_at) VALUES ('m1', 't1', NULL, 'user', 'hello', 'done', 1, 1);`);
  db.close();
  return file;
}

const messageIds = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id FROM messages ORDER BY id').pluck().all();
  } finally {
    db.close();
  }
};

/** Every file in the folder with its hash: what "nothing was changed" compares. */
const folder = (file: string) => Object.fromEntries(fs.readdirSync(path.dirname(file)).sort().map((n) => [n, sha(path.join(path.dirname(file), n))]));

const insertMessage = (id: string) =>
  `INSERT INTO messages (id, thread_id, parent_id, role, content, status, created_at, updated_at) VALUES ('${id}', 't1', NULL, 'user', '${id}', 'done', 5, 5)`;

/**
 * A second process with the file open as another Hearth keeps it (WAL, read once, then idle). Lines
 * on its stdin are SQL it runs, answering "ok" or the error's code; it exits when stdin closes.
 */
class OtherProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private waiting: ((line: string) => void)[] = [];

  constructor(file: string) {
    const script = `
      const Database = require(${JSON.stringify(SQLITE)});
      const db = new Database(${JSON.stringify(file)}, { timeout: 50 });
      db.pragma('journal_mode = WAL');
      db.prepare('SELECT count(*) FROM messages').get();
      process.stdout.write('ready\\n');
      require('readline').createInterface({ input: process.stdin }).on('line', (sql) => {
        try { db.exec(sql); process.stdout.write('ok\\n'); } catch (e) { process.stdout.write((e.code || e.message) + '\\n'); }
      }).on('close', () => { db.close(); process.exit(0); });`;
    this.child = spawn(process.execPath, ['-e', script]);
    children.add(this.child);
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buffered += d;
      let i;
      while ((i = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  ready(): Promise<string> {
    return this.next();
  }

  run(sql: string): Promise<string> {
    const answer = this.next();
    this.child.stdin.write(`${sql.replace(/\n/g, ' ')}\n`);
    return answer;
  }

  exit(): Promise<number | null> {
    return new Promise((resolve) => {
      this.child.on('exit', (code) => { children.delete(this.child); resolve(code); });
      this.child.stdin.end();
    });
  }
}

/** In a separate process, opening the file and reading it: "ok" or the error's code. */
function readFromAnotherProcess(file: string): string {
  const script = `
    const Database = require(${JSON.stringify(SQLITE)});
    const db = new Database(${JSON.stringify(file)}, { timeout: 50 });
    try { db.prepare('SELECT count(*) FROM messages').get(); console.log('ok'); } catch (e) { console.log(e.code); } finally { db.close(); }`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 }).stdout.trim();
}

const openError = (fn: () => unknown): StoreError => thrownBy<StoreError>(fn);

function expectRefused(err: StoreError, file: string): void {
  expect(err.name).toBe('StoreError');
  expect(err.code).toBe('in_use');
  expect(err.message).toBe(
    `Another Hearth (the app, \`hearth serve\` or a \`hearth\` command) has this data open (${file}), so this version cannot update it: close it, then start this version again. Nothing was changed.`,
  );
  expect(startErrorBox(err)).toEqual({ title: 'Hearth could not update your data', content: err.message });
}

describe('another Hearth has the file open', () => {
  test('another process: the update is refused before its backup, nothing changes, and that process keeps working; closed, the update runs', async () => {
    const file = olderDb();
    const other = new OtherProcess(file);
    expect(await other.ready()).toBe('ready');
    const before = folder(file);

    const err = openError(() => Store.open(file, { busyTimeoutMs: BUSY_MS }));
    expectRefused(err, file);
    expect(folder(file)).toEqual(before); // the same files, byte for byte: no backup, no migration
    expect(fs.existsSync(updateBackupPath(file))).toBe(false);

    // the older Hearth was not disturbed: what it writes stays in the file
    expect(await other.run(insertMessage('m2'))).toBe('ok');
    expect(await other.exit()).toBe(0);
    expect(messageIds(file)).toEqual(['m1', 'm2']);

    const s = openStore({ file, busyTimeoutMs: BUSY_MS });
    expect(s.migratedFrom).toBe(N - 1);
    expect(s.schemaVersion).toBe(N);
    expect(s.backupPath).toBe(updateBackupPath(file));
    expect(s.db.prepare('SELECT id FROM messages ORDER BY id').pluck().all()).toEqual(['m1', 'm2']);
  });

  test('another connection in this process: refused the same way; a file already at this schema opens beside it as today', () => {
    const file = olderDb();
    const other = new Database(file, { timeout: BUSY_MS });
    other.prepare('SELECT count(*) FROM messages').get();
    const before = folder(file);
    expectRefused(openError(() => Store.open(file, { busyTimeoutMs: BUSY_MS })), file);
    expect(folder(file)).toEqual(before);
    other.close();

    openStore({ file, busyTimeoutMs: BUSY_MS }).close(); // updates
    const again = new Database(file, { timeout: BUSY_MS });
    again.prepare('SELECT count(*) FROM messages').get();
    const s = openStore({ file, busyTimeoutMs: BUSY_MS }); // nothing to migrate: no lock needed, shares the file
    expect(s.backupPath).toBeNull();
    again.exec(insertMessage('m2'));
    expect(s.db.prepare('SELECT id FROM messages ORDER BY id').pluck().all()).toEqual(['m1', 'm2']);
    again.close();
  });
});

describe('while an update runs it has the file alone; afterwards the file is shared', () => {
  test('another process cannot read the file during the migrations; once the store is open, other processes and connections read and write beside it', async () => {
    const file = olderDb();
    const seenDuring: string[] = [];
    const watching: Migration[] = [...MIGRATIONS.slice(0, -1), {
      ...MIGRATIONS[MIGRATIONS.length - 1],
      up(db) {
        seenDuring.push(readFromAnotherProcess(file));
        MIGRATIONS[MIGRATIONS.length - 1].up(db);
      },
    }];
    const s = openStore({ file, busyTimeoutMs: BUSY_MS, migrations: watching });
    expect(s.schemaVersion).toBe(N);
    expect(seenDuring).toEqual(['SQLITE_BUSY']);

    // released: `hearth serve` or a `hearth` command (another process) and a second Store share it
    expect(s.db.pragma('locking_mode', { simple: true })).toBe('normal');
    expect(readFromAnotherProcess(file)).toBe('ok');
    const other = new OtherProcess(file);
    expect(await other.ready()).toBe('ready');
    expect(await other.run(insertMessage('m2'))).toBe('ok');
    s.threads.create({ title: 'from the app' });
    const second = openStore({ file, busyTimeoutMs: BUSY_MS });
    expect(second.db.prepare('SELECT id FROM messages ORDER BY id').pluck().all()).toEqual(['m1', 'm2']);
    expect(second.db.prepare('SELECT title FROM threads ORDER BY title').pluck().all()).toEqual(['Kept', 'from the app']);
    expect(await other.exit()).toBe(0);
  });
});

describe('a failed update restores under its lock', () => {
  test('a migration that fails: another process is kept out until the backup is back in the same file, then sees the older data and writes to it', async () => {
    const file = olderDb();
    const inode = fs.statSync(file).ino;
    const seenDuring: string[] = [];
    const failing: Migration[] = [...MIGRATIONS.slice(0, -1), {
      version: N,
      name: 'test: fails',
      up(db) {
        db.exec('CREATE TABLE half_done (x)');
        seenDuring.push(readFromAnotherProcess(file));
        throw new Error('boom');
      },
    }];
    const err = openError(() => Store.open(file, { busyTimeoutMs: BUSY_MS, migrations: failing }));
    expect(err.code).toBe('migration_failed');
    expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: true });
    expect(seenDuring).toEqual(['SQLITE_BUSY']);
    expect(sha(file)).toBe(sha(updateBackupPath(file)));
    expect(fs.statSync(file).ino).toBe(inode); // written into the same file: a process that had opened it by name sees the restore

    const other = new OtherProcess(file);
    expect(await other.ready()).toBe('ready');
    expect(await other.run(insertMessage('m2'))).toBe('ok');
    expect(await other.exit()).toBe(0);
    expect(messageIds(file)).toEqual(['m1', 'm2']);
  });

  test("the store's opening steps failing after the migrations committed: restored in place, the lock held until then", () => {
    const file = olderDb();
    const inode = fs.statSync(file).ino;
    const seenDuring: string[] = [];
    const breaks: Migration[] = [...MIGRATIONS, {
      version: N + 1,
      name: 'test: drops settings',
      up(db) {
        db.exec('DROP TABLE settings');
        seenDuring.push(readFromAnotherProcess(file));
      },
    }];
    const err = openError(() => Store.open(file, { busyTimeoutMs: BUSY_MS, migrations: breaks }));
    expect(err.code).toBe('migration_failed');
    expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: true });
    expect(seenDuring).toEqual(['SQLITE_BUSY']);
    expect(sha(file)).toBe(sha(updateBackupPath(file)));
    expect(fs.statSync(file).ino).toBe(inode);
    expect(messageIds(file)).toEqual(['m1']);
  });

  test('a connection that does not hold the file alone never restores: the file is left as it is and the error names the backup', () => {
    const file = olderDb();
    fs.copyFileSync(file, updateBackupPath(file));
    const db = new Database(file, { timeout: BUSY_MS });
    db.exec(insertMessage('m2')); // normal locking: another connection could be writing too
    const err = restoreAfterFailedUpdate(db, file, updateBackupPath(file), new Error('boom'), recordingLogger());
    expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: false });
    expect(err.message).toContain('no longer holds the database alone');
    expect(err.message).toContain(`Your data as it was before the update is in ${updateBackupPath(file)}`);
    expect(db.open).toBe(false);
    expect(messageIds(file)).toEqual(['m1', 'm2']); // not the backup's ['m1']
    expect(messageIds(updateBackupPath(file))).toEqual(['m1']);
  });

  test('a restore that did not finish (Hearth stopped during it) is found at the next open, which changes nothing and names the backup', () => {
    const file = olderDb();
    openStore({ file }).close();
    fs.writeFileSync(`${file}.restoring`, '{}\n');
    const before = folder(file);
    const err = openError(() => Store.open(file));
    expect(err.code).toBe('migration_failed');
    expect(err.details).toEqual({ backupPath: updateBackupPath(file), restored: false });
    expect(err.message).toBe(
      `Restoring ${file} from the backup made before an update did not finish. Your data as it was before the update is in ${updateBackupPath(file)}: copy it over ${file}, delete ${file}.restoring, then start Hearth again.`,
    );
    expect(folder(file)).toEqual(before);
  });
});

test('lockForUpdate refuses at once with in_use when another connection holds the file, and leaves this one in normal locking', () => {
  const file = olderDb();
  const other = new Database(file);
  other.prepare('SELECT 1 FROM messages').get();
  const db = new Database(file, { timeout: BUSY_MS });
  db.prepare('SELECT 1 FROM messages').get();
  expect(() => lockForUpdate(db, file)).toThrow(expect.objectContaining({ code: 'in_use' }));
  expect(db.pragma('locking_mode', { simple: true })).toBe('normal');
  other.exec(insertMessage('m2')); // the other connection was not held up
  other.close();
  lockForUpdate(db, file);
  const third = new Database(file, { timeout: BUSY_MS });
  expect(() => third.prepare('SELECT 1 FROM messages').get()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
  third.close();
  db.close();
});
