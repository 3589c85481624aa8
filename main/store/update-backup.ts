/**
 * The one backup of the database kept across an update that changes the schema. Before any pending
 * migration of an existing database, openDatabase copies it (VACUUM INTO) to `<db>.before-update`,
 * replacing the previous one; if this version then fails to open the file (a migration, the foreign
 * key check, the version stamp, or the Store's own opening steps), the copy is put back over `<db>`
 * and the error says so. Beside it, `<db>.before-update.json` says what it came from.
 *
 * Files written to a temporary name and renamed over the real one, so a crash never leaves no good
 * copy: `<db>.before-update.tmp` (an unfinished backup) and `<db>.restoring` (an unfinished
 * restore) are this module's own and removed when found. Any other file (the timestamped
 * `<db>.backup-<label>-<stamp>` files earlier versions made, a user's own copies) is never touched.
 */
import fs from 'fs';
import path from 'path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError } from './errors';
import type { Logger } from '../logging';

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

/**
 * Puts `backup` back over `dbPath` (whose connection the caller has closed): a copy under a temporary
 * name, flushed; the failed file's -wal, -shm and -journal removed (a WAL left beside the restored
 * file would be replayed into it); then the rename. The backup itself stays.
 */
function restore(dbPath: string, backup: string): void {
  const tmp = `${dbPath}${RESTORING_SUFFIX}`;
  fs.rmSync(tmp, { force: true });
  fs.copyFileSync(backup, tmp);
  for (const side of ['-wal', '-shm', '-journal']) fs.rmSync(`${dbPath}${side}`, { force: true });
  replaceWith(tmp, dbPath);
}

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();

/**
 * After this version failed to open `dbPath` that it had backed up to `backup` at this start (the
 * connection closed): restores the backup and returns the error to throw, StoreError
 * 'migration_failed', whose one-line message says what failed, that the data was restored to its
 * state before the update (naming the backup) and that the previous Hearth can still open it — or,
 * when the restore itself failed, where the copy is.
 */
export function restoreAfterFailedUpdate(dbPath: string, backup: string, cause: unknown, logger: Logger): StoreError {
  const what = `This version of Hearth could not open its data after the update (${oneLine(cause)})`;
  try {
    restore(dbPath, backup);
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
