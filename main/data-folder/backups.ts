/**
 * The data folder's backups: `<data>/backups/hearth-YYYYMMDD-HHMMSS.db` (UTC; BackupName), each a
 * complete Hearth store in one file, made with SQLite's online backup API (better-sqlite3's
 * db.backup) from the app's own connection, so it is consistent while replies are written. The newest
 * `keep` stay; a daily one when the newest is a day old (checked at start and hourly). Never two at
 * once. A restore is staged here (a verified copy beside hearth.db) and swapped in by the restart.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { BackupName, BackupSettings, type BackupsDTO } from '../ipc/data';
import { IpcError } from '../ipc/contract';
import type { Logger } from '../logging';
import { LATEST_VERSION, readSchemaVersion } from '../store/migrations';
import { checkNobodyHas } from '../store/update-backup';
import { makeDirs } from '../dirs';
import { DATABASE_SIDE_SUFFIXES } from '../database-files';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const DAILY_CHECK_MS = 60 * 60 * 1000;
/** the verified copy of a backup waiting for the restart to put it in hearth.db's place */
export const RESTORE_SUFFIX = '.restore-from';

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface BackupsDeps {
  /** the store's open connection (the backup reads through it) */
  db: Database.Database;
  /** <data>/hearth.db */
  database: string;
  /** <data>/backups */
  dir: string;
  settings: { get(): BackupSettings; set(s: BackupSettings): void };
  logger: Logger;
  clock?: () => number;
  timers?: Timers;
}

type Entry = BackupsDTO['backups'][number];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** hearth-YYYYMMDD-HHMMSS (UTC) of `ms`. */
export function backupStem(ms: number): string {
  const d = new Date(ms);
  return `hearth-${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** When a backup named `name` was made (its name's UTC time). */
export function backupTime(name: string): number {
  const m = /^hearth-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(name)!;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/**
 * Opens `file` (a copy Hearth owns), checks it is a Hearth store this version can open, and leaves it
 * a single file (rollback journal). Throws IpcError invalid_input saying why not.
 */
export function checkStoreFile(file: string): void {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (e) {
    throw new IpcError('invalid_input', `${path.basename(file)} cannot be opened: ${(e as Error).message}`);
  }
  try {
    let version: number | null;
    try {
      version = readSchemaVersion(db);
    } catch (e) {
      throw new IpcError('invalid_input', `${path.basename(file)} is not a SQLite database Hearth can read (${(e as Error).message})`);
    }
    if (version === null || version === 0) throw new IpcError('invalid_input', `${path.basename(file)} is not a Hearth store`);
    if (version > LATEST_VERSION) throw new IpcError('invalid_input', `${path.basename(file)} was written by a newer version of Hearth (schema ${version}; this one reads up to ${LATEST_VERSION}): update Hearth to restore it`);
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new IpcError('invalid_input', `${path.basename(file)} is damaged (${String(check)})`);
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

export class Backups {
  private readonly clock: () => number;
  private readonly timers: Timers;
  private timer: unknown = null;
  /** the backup under way: a second waits for it */
  private running: Promise<unknown> = Promise.resolve();
  /** backups asked for and not done (the daily check makes none while one is) */
  private pending = 0;
  private closed = false;

  constructor(private readonly deps: BackupsDeps) {
    this.clock = deps.clock ?? Date.now;
    this.timers = deps.timers ?? { setInterval: (fn, ms) => setInterval(fn, ms).unref(), clearInterval: (h) => clearInterval(h as NodeJS.Timeout) };
    // a restore staged before a crash (the restart never came) is not applied: the copy goes
    fs.rmSync(`${deps.database}${RESTORE_SUFFIX}`, { force: true });
  }

  get folder(): string {
    return this.deps.dir;
  }

  /** Newest first. */
  list(): BackupsDTO {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.deps.dir).filter((n) => BackupName.safeParse(n).success);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const backups: Entry[] = [];
    for (const name of names) {
      try {
        const st = fs.statSync(path.join(this.deps.dir, name));
        if (st.isFile()) backups.push({ name, bytes: st.size, createdAt: backupTime(name) });
      } catch {
        // deleted meanwhile
      }
    }
    backups.sort((a, b) => b.createdAt - a.createdAt || suffixOf(b.name) - suffixOf(a.name));
    return { folder: this.deps.dir, settings: this.deps.settings.get(), backups };
  }

  /**
   * Makes a backup now (after the one under way, if any), then keeps the newest `keep` unless `prune`
   * is false (the backup before a restore: the one restored may be among the older ones); its name.
   */
  create(why = 'manual', prune = true): Promise<string> {
    this.pending++;
    const next = this.running.catch(() => undefined).then(() => this.make(why, prune)).finally(() => this.pending--);
    this.running = next;
    return next;
  }

  private async make(why: string, prune: boolean): Promise<string> {
    if (this.closed) throw new IpcError('invalid_input', 'Hearth is closing: no backup was made');
    {
      makeDirs(this.deps.dir);
      const stem = backupStem(this.clock());
      let name = `${stem}.db`;
      for (let i = 2; fs.existsSync(path.join(this.deps.dir, name)); i++) name = `${stem}-${i}.db`;
      const file = path.join(this.deps.dir, name);
      const tmp = `${file}.tmp`;
      fs.rmSync(tmp, { force: true });
      try {
        await this.deps.db.backup(tmp);
        // one self-contained file (the copy keeps the source's WAL mode otherwise)
        const copy = new Database(tmp, { fileMustExist: true });
        try {
          copy.pragma('journal_mode = DELETE');
        } finally {
          copy.close();
        }
        fs.renameSync(tmp, file);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      this.deps.logger.info('backups: made a backup', { name, why });
      if (prune) this.prune();
      return name;
    }
  }

  /** Deletes all but the newest `keep`. */
  private prune(): void {
    const { keep } = this.deps.settings.get();
    for (const b of this.list().backups.slice(keep)) {
      try {
        fs.rmSync(path.join(this.deps.dir, b.name), { force: true });
      } catch (e) {
        this.deps.logger.warn('backups: could not delete an old backup', { name: b.name, error: (e as Error).message });
      }
    }
  }

  delete(name: string): BackupsDTO {
    const file = this.fileOf(name);
    fs.rmSync(file);
    return this.list();
  }

  updateSettings(patch: Partial<BackupSettings>): BackupsDTO {
    this.deps.settings.set(BackupSettings.parse({ ...this.deps.settings.get(), ...patch }));
    this.prune();
    return this.list();
  }

  /** The backup's file; not_found when there is no such backup. */
  private fileOf(name: string): string {
    const parsed = BackupName.safeParse(name);
    const file = path.join(this.deps.dir, parsed.success ? parsed.data : '');
    if (!parsed.success || !fs.existsSync(file) || !fs.statSync(file).isFile()) throw new IpcError('not_found', `there is no backup named ${name}`);
    return file;
  }

  /**
   * Copies backup `name` beside hearth.db (`hearth.db.restore-from`) and checks the copy is a Hearth
   * store this version opens; returns the swap to run once the store is closed (refused, nothing changed,
   * while another process has the store open): the old WAL files go,
   * then the copy is renamed over hearth.db (one atomic step: a crash leaves either store whole).
   */
  stageRestore(name: string): () => Promise<void> {
    const file = this.fileOf(name);
    const staged = `${this.deps.database}${RESTORE_SUFFIX}`;
    fs.rmSync(staged, { force: true });
    fs.copyFileSync(file, staged);
    try {
      checkStoreFile(staged);
    } catch (e) {
      fs.rmSync(staged, { force: true });
      throw e;
    }
    const db = this.deps.database;
    return async () => {
      // another process with the store open keeps it: nothing is swapped (the staged copy goes at the next start)
      checkNobodyHas(db);
      for (const f of [...DATABASE_SIDE_SUFFIXES.map((s) => `${db}${s}`), `${staged}-journal`]) fs.rmSync(f, { force: true });
      fs.renameSync(staged, db);
    };
  }

  /** The daily backup: now and every hour, one when daily is on and the newest is a day old. */
  start(): void {
    if (this.timer !== null || this.closed) return;
    this.tick();
    this.timer = this.timers.setInterval(() => this.tick(), DAILY_CHECK_MS);
  }

  /** One daily check; never throws (a failure is logged). Resolves when its backup (if any) is done. */
  tick(): Promise<void> {
    try {
      if (this.closed || this.pending > 0 || !this.deps.settings.get().daily) return Promise.resolve();
      const newest = this.list().backups[0];
      if (newest && this.clock() - newest.createdAt < DAY_MS) return Promise.resolve();
      return this.create('daily').then(
        () => undefined,
        (e: Error) => this.deps.logger.error('backups: the daily backup failed', { error: e.message }),
      );
    } catch (e) {
      this.deps.logger.error('backups: the daily check failed', { error: (e as Error).message });
      return Promise.resolve();
    }
  }

  /** Stops the timer and waits for a backup under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
    await this.running.catch(() => undefined);
  }
}

function suffixOf(name: string): number {
  const m = /-(\d+)\.db$/.exec(name.replace(/^hearth-\d{8}-\d{6}/, ''));
  return m ? Number(m[1]) : 1;
}
