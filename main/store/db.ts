/**
 * Opens the store's SQLite database: checks the version, sets pragmas, backs up and migrates. Before
 * any pending migration of an existing database it takes the database alone (refusing with 'in_use'
 * when another connection has it open), keeps the update backup (update-backup.ts) and restores it
 * when migrating fails.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { StoreError } from './errors';
import { applyMigrations, latestOf, MIGRATIONS, readSchemaVersion, type Migration } from './migrations';
import { loadVectorExtension, type VectorSupport } from './vector-ext';
import { checkNoUnfinishedRestore, lockForUpdate, makeUpdateBackup, restoreAfterFailedUpdate, updateBackupPath } from './update-backup';
import type { Logger } from '../logging';
import type { Clock } from './types';
import { makeDirs } from '../dirs';

export interface OpenDatabaseOptions {
  logger: Logger;
  clock: Clock;
  /** Busy timeout in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Migrate no further than this version (fixture generation and tests only). */
  targetVersion?: number;
  /** The Hearth version opening the file, recorded with the update backup. */
  appVersion?: string;
  /** Tests only: the schema's migrations instead of MIGRATIONS (to make one fail). */
  migrations?: readonly Migration[];
  /** Tests only: the sqlite-vec file to load instead of the installed one's (vector-ext.ts). */
  vectorExtension?: string;
}

export interface OpenedDatabase {
  db: Database.Database;
  /** Schema version found in the file before migrating (0: new or empty file). */
  fromVersion: number;
  version: number;
  /**
   * The update backup made before migrating at this open (`<db>.before-update`), if one was made. Then
   * `db` still holds the database alone (lockForUpdate): the caller finishes its own opening steps,
   * then calls releaseUpdateLock(db), or on failure restoreAfterFailedUpdate(db, …).
   */
  backupPath: string | null;
  /** whether sqlite-vec loaded into `db` (documents' vector search), and if not why */
  vectors: VectorSupport;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

function checkHeader(dbPath: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dbPath, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreError('invalid_database', `cannot read database ${dbPath}: ${(e as Error).message}`, undefined, { cause: e });
  }
  try {
    const buf = Buffer.alloc(16);
    const n = fs.readSync(fd, buf, 0, 16, 0);
    if (n === 0) return; // empty file: a new database
    if (n < 16 || !buf.equals(SQLITE_MAGIC)) {
      throw new StoreError('invalid_database', `${dbPath} is not a SQLite database; Hearth will not open or change it`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Copies the database to a consistent backup file next to it (VACUUM INTO: a complete, compact copy); Store.backup's. */
export function backupDatabase(db: Database.Database, dbPath: string, label: string, now: number): string {
  let target = `${dbPath}.backup-${label}-${stamp(now)}`;
  for (let i = 2; fs.existsSync(target); i++) target = `${dbPath}.backup-${label}-${stamp(now)}-${i}`;
  db.prepare('VACUUM INTO ?').run(target);
  return target;
}

export function openDatabase(dbPath: string, opts: OpenDatabaseOptions): OpenedDatabase {
  const { logger, clock } = opts;
  const migrations = opts.migrations ?? MIGRATIONS;
  const latest = latestOf(migrations);
  const target = opts.targetVersion ?? latest;
  makeDirs(path.dirname(path.resolve(dbPath)));
  checkNoUnfinishedRestore(dbPath);
  checkHeader(dbPath);

  let db: Database.Database;
  try {
    db = new Database(dbPath, { timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (e) {
    throw new StoreError('invalid_database', `cannot open database ${dbPath}: ${(e as Error).message}`, undefined, { cause: e });
  }

  // sqlite-vec, before migrations (a later one may use it); a failure leaves vectors off, never the store
  const vectors = loadVectorExtension(db, logger, opts.vectorExtension);

  let backupPath: string | null = null;
  try {
    // Read the version before anything that writes (journal_mode=WAL changes the file header).
    let from: number | null;
    try {
      from = readSchemaVersion(db);
    } catch (e) {
      throw new StoreError('invalid_database', `cannot read database ${dbPath}: ${(e as Error).message}`, undefined, { cause: e });
    }
    if (from === null) {
      throw new StoreError('invalid_database', `${dbPath} is a SQLite database but not a Hearth store; it was not changed`);
    }
    if (from > latest) {
      const backup = updateBackupPath(dbPath);
      throw new StoreError('newer_schema',
        `This data file was written by a newer version of Hearth (schema ${from}; this version understands up to ${latest}). ` +
        'Update Hearth to open it. The file was not changed.' +
        (fs.existsSync(backup)
          ? ` ${backup} holds your data as it was before the update that changed how it is stored (changes made since are not in it).`
          : ''),
        { found: from, supported: latest });
    }

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') logger.warn('store: WAL mode unavailable', { mode });
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    db.pragma('journal_size_limit = 67108864');
    db.pragma('temp_store = MEMORY');

    const pending = migrations.filter((m) => m.version > from! && m.version <= target);
    if (pending.length > 0) {
      if (from > 0) {
        // only while no other connection (another Hearth, of this version or an older one) has the file open
        lockForUpdate(db, dbPath);
        const info = { schemaVersion: from, toSchemaVersion: target, appVersion: opts.appVersion ?? null, createdAt: clock() };
        try {
          backupPath = makeUpdateBackup(db, dbPath, info);
        } catch (e) {
          throw new StoreError('write_failed',
            `Hearth could not back up ${dbPath} before updating its data (${(e as Error).message}); nothing was changed. Free some space, then start Hearth again.`,
            undefined, { cause: e });
        }
        logger.info('store: backed up the database before the update', { backupPath, from, to: target });
      }
      const t0 = Date.now();
      db.transaction(() => {
        applyMigrations(db, from!, clock(), target, migrations);
        const violations = from! > 0 ? db.pragma('foreign_key_check') as unknown[] : [];
        if (violations.length > 0) {
          throw new StoreError('invalid_database', `migration left ${violations.length} foreign key violations; rolled back`);
        }
      })();
      db.pragma(`user_version = ${target}`);
      logger.info('store: migrated database', { from, to: target, ms: Date.now() - t0 });
    }
    return { db, fromVersion: from, version: pending.length > 0 ? target : from, backupPath, vectors };
  } catch (e) {
    if (backupPath !== null) throw restoreAfterFailedUpdate(db, dbPath, backupPath, e, logger);
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('invalid_database', `cannot open database ${dbPath}: ${(e as Error).message}`, undefined, { cause: e });
  }
}
