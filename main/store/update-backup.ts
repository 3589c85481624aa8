/**
 * The one backup of the database kept across an update that changes the schema. Before any pending
 * migration of an existing database, openDatabase copies it (VACUUM INTO) to `<db>.before-update`,
 * replacing the previous one; if this version then fails to open the file (a migration, the foreign
 * key check, the version stamp, or the Store's own opening steps), the copy is put back over `<db>`
 * and the error says so. Beside it, `<db>.before-update.json` says what it came from.
 *
 * An update runs only while its connection is the database's only user: lockForUpdate takes SQLite's
 * own exclusive lock (locking_mode EXCLUSIVE and a write transaction) before the backup and holds it
 * through the migrations, the Store's opening steps and any restore; another connection (the app,
 * `hearth serve`, a `hearth` command, of this version or an older one) makes it refuse (StoreError
 * 'in_use') before anything is written. releaseUpdateLock returns the connection to normal locking so
 * others can share the file again. The restore writes the backup's bytes into the same file (its inode:
 * a process that opened the file by its name keeps seeing it) while the lock is held.
 *
 * Files written to a temporary name and renamed over the real one, so a crash never leaves no good
 * copy: `<db>.before-update.tmp` (an unfinished backup) is this module's own and removed when found.
 * `<db>.restoring` marks a restore under way; found at open, the restore did not finish and the open
 * is refused, naming the backup. Any other file (the timestamped `<db>.backup-<label>-<stamp>` files
 * earlier versions made, a user's own copies) is never touched.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError } from './errors';
import type { Logger } from '../logging';
import { isBusy } from './busy';

const BACKUP_SUFFIX = '.before-update';
const INFO_SUFFIX = '.json';
const TEMP_SUFFIX = '.tmp';
const RESTORING_SUFFIX = '.restoring';

/** What `<db>.before-update.json` records. */
export const updateBackupInfoSchema = z
  .object({
    /** the schema version of the copy: the one the previous Hearth wrote */
    schemaVersion: z.number().int().min(1),
    /** the schema version this update migrates to */
    toSchemaVersion: z.number().int().min(1),
    /** the Hearth version that made the copy while updating (null when its caller did not say) */
    appVersion: z.string().nullable(),
    /** when the copy was made (ms since the epoch) */
    createdAt: z.number().int(),
  })
  .strict();

export type UpdateBackupInfo = z.infer<typeof updateBackupInfoSchema>;

/** `<db>.before-update`: where the update backup of `dbPath` is kept. */
export function updateBackupPath(dbPath: string): string {
  return `${dbPath}${BACKUP_SUFFIX}`;
}

function flushFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a folder's entries (a rename) to disk; Windows cannot open a folder, and renames there are durable enough. */
function flushDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a folder
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes `tmp` and renames it over `dest` (atomic on one file system), then flushes the folder. */
function replaceWith(tmp: string, dest: string): void {
  flushFile(tmp);
  fs.renameSync(tmp, dest);
  flushDir(path.dirname(dest));
}

/**
 * Copies the open database to `<db>.before-update` (replacing the previous update backup) and writes
 * its info beside it. The old info goes before the new copy takes its place, so a crash in between
 * leaves a copy without info, never one with another copy's info.
 */
export function makeUpdateBackup(db: Database.Database, dbPath: string, info: UpdateBackupInfo): string {
  const dest = updateBackupPath(dbPath);
  const tmp = `${dest}${TEMP_SUFFIX}`;
  fs.rmSync(tmp, { force: true }); // an unfinished backup from a crash: VACUUM INTO refuses a file that exists
  db.prepare('VACUUM INTO ?').run(tmp);
  const infoFile = `${dest}${INFO_SUFFIX}`;
  fs.rmSync(infoFile, { force: true });
  replaceWith(tmp, dest);
  const infoTmp = `${infoFile}${TEMP_SUFFIX}`;
  fs.writeFileSync(infoTmp, JSON.stringify(updateBackupInfoSchema.parse(info), null, 2) + '\n');
  replaceWith(infoTmp, infoFile);
  return dest;
}

/** The info of the update backup of `dbPath`; null when there is none or it does not parse. */
export function readUpdateBackupInfo(dbPath: string): UpdateBackupInfo | null {
  try {
    const parsed = updateBackupInfoSchema.safeParse(JSON.parse(fs.readFileSync(`${updateBackupPath(dbPath)}${INFO_SUFFIX}`, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The message of an update refused because another connection has the database open. */
function inUseMessage(dbPath: string): string {
  return `Another Hearth (the app, \`hearth serve\` or a \`hearth\` command) has this data open (${dbPath}), so this version cannot update it: close it, then start this version again. Nothing was changed.`;
}

/** What a restore, a move or an erase of the data folder says when another Hearth has its database open. */
export const OTHER_USER_MESSAGE = 'another Hearth process (the app, `hearth serve` or a `hearth` command) has this data open: close it first. Nothing was changed.';


/**
 * Makes `db` the only user of its database until releaseUpdateLock or close: exclusive locking mode
 * and a write transaction, which takes an exclusive lock on the file after waiting the connection's
 * busy timeout. The database must already be in its journal mode (WAL entered in normal locking mode
 * keeps its shared-memory index, so the connection can later return to normal locking). Throws
 * StoreError 'in_use' when another connection holds the file; nothing was written then.
 */
export function lockForUpdate(db: Database.Database, dbPath: string, message: string = inUseMessage(dbPath)): void {
  db.pragma('locking_mode = EXCLUSIVE');
  try {
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.pragma('locking_mode = NORMAL');
    if (isBusy(e)) throw new StoreError('in_use', message, { dbPath }, { cause: e });
    throw e;
  }
}

/**
 * Throws StoreError 'in_use' (OTHER_USER_MESSAGE) when a connection other than `db` has `dbPath` open:
 * lockForUpdate's lock taken, waiting at most `waitMs`, and given back at once.
 */
export function checkSoleUser(db: Database.Database, dbPath: string, waitMs = 100): void {
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${waitMs}`);
  try {
    lockForUpdate(db, dbPath, OTHER_USER_MESSAGE);
    releaseUpdateLock(db);
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}

/** checkSoleUser for a database this process has closed: nothing to check when `dbPath` is not there. */
export function checkNobodyHas(dbPath: string, waitMs = 100): void {
  if (!fs.existsSync(dbPath)) return;
  const db = new Database(dbPath, { fileMustExist: true, timeout: waitMs });
  try {
    // read once in normal locking mode first: a WAL database keeps its shared-memory index (lockForUpdate's premise)
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    checkSoleUser(db, dbPath, waitMs);
  } finally {
    db.close();
  }
}

/** Whether `db` is in exclusive locking mode (holding its database alone once it has accessed it). */
function holdsAlone(db: Database.Database): boolean {
  return db.open && String(db.pragma('locking_mode', { simple: true })).toLowerCase() === 'exclusive';
}

/** Returns `db` from lockForUpdate to normal locking: the next access drops the exclusive lock. */
export function releaseUpdateLock(db: Database.Database): void {
  db.pragma('locking_mode = NORMAL');
  db.prepare('SELECT count(*) FROM sqlite_master').get();
}

/** `<db>.restoring`: present while a restore is under way. */
const restoringMarker = (dbPath: string) => `${dbPath}${RESTORING_SUFFIX}`;

/**
 * Refuses to open `dbPath` when a restore of its update backup did not finish (Hearth stopped during
 * it): the file may be half written; the backup is whole. StoreError 'migration_failed', restored false.
 */
export function checkNoUnfinishedRestore(dbPath: string): void {
  const marker = restoringMarker(dbPath);
  if (!fs.existsSync(marker)) return;
  const backup = updateBackupPath(dbPath);
  throw new StoreError(
    'migration_failed',
    `Restoring ${dbPath} from the backup made before an update did not finish. Your data as it was before the update is in ${backup}: copy it over ${dbPath}, delete ${marker}, then start Hearth again.`,
    { backupPath: backup, restored: false },
  );
}

/** SQLite's lock bytes (PENDING_BYTE and the shared range after it): never data, and locked on Windows while a connection holds a lock. */
const LOCK_BYTES_START = 0x40000000;
const LOCK_BYTES_END = LOCK_BYTES_START + 512;

/** Writes `src`'s bytes over `dest` in place (same file, same inode), truncated to `src`'s size and flushed; skips SQLite's lock bytes. */
function overwriteInPlace(src: string, dest: string): void {
  const from = fs.openSync(src, 'r');
  try {
    const to = fs.openSync(dest, 'r+');
    try {
      const size = fs.fstatSync(from).size;
      const buf = Buffer.alloc(1 << 20);
      for (let pos = 0; pos < size;) {
        const n = fs.readSync(from, buf, 0, Math.min(buf.length, size - pos), pos);
        if (n <= 0) throw new Error(`${src} ended early`);
        // the part of [pos, pos + n) outside the lock bytes
        const a = Math.max(pos, LOCK_BYTES_START), b = Math.min(pos + n, LOCK_BYTES_END);
        if (a < b) {
          if (a > pos) fs.writeSync(to, buf, 0, a - pos, pos);
          if (pos + n > b) fs.writeSync(to, buf, b - pos, pos + n - b, b);
        } else {
          fs.writeSync(to, buf, 0, n, pos);
        }
        pos += n;
      }
      fs.ftruncateSync(to, size);
      fs.fsyncSync(to);
    } finally {
      fs.closeSync(to);
    }
  } finally {
    fs.closeSync(from);
  }
}

/**
 * Puts `backup` back into `dbPath` through `db`'s exclusive lock (lockForUpdate), then closes `db`:
 * any open transaction rolled back, the WAL checkpointed and emptied, `<db>.restoring` written, the
 * backup's bytes written over the file in place, the marker removed. Refuses (throws) when the
 * connection no longer holds the database alone or the backup is not a SQLite file.
 */
function restore(db: Database.Database, dbPath: string, backup: string): void {
  if (db.inTransaction) db.exec('ROLLBACK');
  if (!holdsAlone(db)) throw new Error('this connection no longer holds the database alone');
  const head = Buffer.alloc(16);
  const fd = fs.openSync(backup, 'r');
  try {
    fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('latin1') !== 'SQLite format 3\0') throw new Error(`${backup} is not a SQLite database`);
  const [ck] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  if (ck.busy !== 0) throw new Error('the database stayed busy');
  const marker = restoringMarker(dbPath);
  fs.writeFileSync(marker, JSON.stringify({ backup }) + '\n');
  flushDir(path.dirname(dbPath));
  overwriteInPlace(backup, dbPath);
  fs.rmSync(marker);
  flushDir(path.dirname(dbPath));
}

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();

/**
 * After this version failed to open `dbPath` that it had backed up to `backup` at this start, with
 * `db` still holding it alone (lockForUpdate): restores the backup, closes `db` and returns the error to throw, StoreError
 * 'migration_failed', whose one-line message says what failed, that the data was restored to its
 * state before the update (naming the backup) and that the previous Hearth can still open it — or,
 * when the restore itself failed, where the copy is.
 */
export function restoreAfterFailedUpdate(db: Database.Database, dbPath: string, backup: string, cause: unknown, logger: Logger): StoreError {
  const what = `This version of Hearth could not open its data after the update (${oneLine(cause)})`;
  try {
    try {
      restore(db, dbPath, backup);
    } finally {
      if (db.open) db.close();
    }
  } catch (e) {
    logger.error('store: restoring the backup made before the update failed', { dbPath, backup, error: oneLine(e), cause: oneLine(cause) });
    return new StoreError(
      'migration_failed',
      `${what}, and restoring the backup failed (${oneLine(e)}). Your data as it was before the update is in ${backup}: copy it over ${dbPath} to use it with the previous version of Hearth.`,
      { backupPath: backup, restored: false },
      { cause },
    );
  }
  logger.error('store: the update could not open the database; it was restored from the backup made before the update', { dbPath, backup, cause: oneLine(cause) });
  return new StoreError(
    'migration_failed',
    `${what}. The database was restored to its state before the update from the backup ${backup}; the previous version of Hearth can still open it.`,
    { backupPath: backup, restored: true },
    { cause },
  );
}
