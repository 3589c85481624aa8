/**
 * Moving the data folder: checks the target (absolute, not inside the current folder, empty or new,
 * or holding only the pointer of a folder moved from there: moving back; room for everything), copies
 * every file there while the app runs (hearth.db through SQLite's online backup, consistent while
 * replies are written) with throttled progress, and returns the finish the restart runs once the store
 * is closed (refused while another process has it open): the folder listed again, what changed or
 * appeared since copied, the store copied from its closed file, the target's old pointer removed, the
 * pointer `moved-to.json` written in the old folder (resolveDataDir follows it), then the old folder's
 * entries deleted.
 */
import fs from 'fs';
import path from 'path';
import { pipeline } from 'stream/promises';
import { Transform } from 'stream';
import Database from 'better-sqlite3';
import { IpcError } from '../ipc/contract';
import type { Logger } from '../logging';
import { type DataPaths, MOVED_TO_FILE, writeMovedTo } from '../paths';
import { makeDirs } from '../dirs';
import { checkNobodyHas } from '../store/update-backup';
import { DATABASE_FILE, DATABASE_FILES } from '../database-files';
import { PROGRESS_EVERY_MS } from '../progress-pace';

const DB_ENTRIES = DATABASE_FILES;
/** room kept free beyond what is copied */
const SPARE_BYTES = 64 * 1024 * 1024;

export interface MoveProgress {
  bytes: number;
  total: number;
  file: string | null;
}

export interface MovePlan {
  from: string;
  to: string;
  /** whether the models folder (<data>/models) moves too */
  includeModels: boolean;
  /** the data folder's entries (top level) that are copied, and deleted after the move (listed again at the finish) */
  entries: string[];
  /** the files (relative to `from`), links among them */
  files: string[];
  total: number;
}

/** The nearest folder of `p` that exists (for statfs of a target not made yet). */
function existingAncestor(p: string): string {
  let dir = p;
  while (!fs.existsSync(dir)) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
}

/** Whether `inner` is `outer` or inside it. */
export function isWithin(outer: string, inner: string, p: Pick<typeof path, 'relative' | 'isAbsolute' | 'sep'> = path): boolean {
  const rel = p.relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${p.sep}`) && rel !== '..' && !p.isAbsolute(rel));
}

function walk(root: string, rel: string, out: string[]): void {
  const abs = path.join(root, rel);
  const st = fs.lstatSync(abs);
  if (st.isDirectory()) {
    for (const n of fs.readdirSync(abs)) walk(root, path.join(rel, n), out);
  } else if (st.isFile() || st.isSymbolicLink()) {
    out.push(rel);
  }
}

/** The data folder's entries (top level) a move copies besides the store: all but the store, the pointer, a staged restore and (unless they move) the models. */
function entriesToMove(from: string, includeModels: boolean): string[] {
  const skip = new Set<string>([...DB_ENTRIES, MOVED_TO_FILE, ...(includeModels ? [] : ['models'])]);
  return fs.readdirSync(from).filter((n) => !skip.has(n) && !n.endsWith('.restore-from'));
}

/**
 * Checks `toRaw` and lists what will be copied. `includeModels`: the models folder is the default
 * <data>/models (a folder chosen elsewhere stays where it is). Throws IpcError invalid_input, nothing changed.
 */
export async function planMove(paths: DataPaths, toRaw: string, opts: { includeModels: boolean; statfs?: (p: string) => Promise<{ bavail: number; bsize: number }> }): Promise<MovePlan> {
  if (!path.isAbsolute(toRaw)) throw new IpcError('invalid_input', `${toRaw} is not a full path: give the folder's whole path`);
  const to = path.resolve(toRaw);
  const from = path.resolve(paths.root);
  if (isWithin(from, to)) throw new IpcError('invalid_input', `${to} is inside the data folder ${from}: choose a folder outside it`);
  if (isWithin(to, from)) throw new IpcError('invalid_input', `${to} holds the data folder ${from}: choose an empty folder`);
  if (fs.existsSync(to)) {
    if (!fs.statSync(to).isDirectory()) throw new IpcError('invalid_input', `${to} is a file: choose an empty folder`);
    // only a pointer: the data was moved from there (to here, perhaps through others); moving back replaces it
    if (fs.readdirSync(to).some((n) => n !== MOVED_TO_FILE)) throw new IpcError('invalid_input', `${to} is not empty: choose an empty or new folder`);
  }
  const entries = entriesToMove(from, opts.includeModels);
  const files: string[] = [];
  for (const e of entries) walk(from, e, files);
  let total = 0;
  for (const f of files) total += fs.lstatSync(path.join(from, f)).size;
  for (const f of DB_ENTRIES) if (fs.existsSync(path.join(from, f))) total += fs.statSync(path.join(from, f)).size;
  const statfs = opts.statfs ?? ((p: string) => fs.promises.statfs(p));
  const st = await statfs(existingAncestor(to));
  const free = st.bavail * st.bsize;
  if (free < total + SPARE_BYTES) {
    throw new IpcError('invalid_input', `${to} has ${mb(free)} free; the data folder needs ${mb(total + SPARE_BYTES)}: free some space or choose another disk`);
  }
  return { from, to, includeModels: opts.includeModels, entries: [...entries, ...DB_ENTRIES.filter((f) => fs.existsSync(path.join(from, f)))], files, total };
}

const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;

/** Copies one file (or link) keeping its modification time; `onBytes` as it goes. */
async function copyOne(src: string, dest: string, onBytes: (n: number) => void): Promise<void> {
  makeDirs(path.dirname(dest));
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    fs.rmSync(dest, { force: true });
    fs.symlinkSync(fs.readlinkSync(src), dest);
    return;
  }
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  await pipeline(fs.createReadStream(src), count, fs.createWriteStream(dest));
  fs.utimesSync(dest, st.atime, st.mtime);
}

/** Whether `dest` already holds `src` as copied (same size and modification time). */
function sameFile(src: string, dest: string): boolean {
  try {
    const a = fs.lstatSync(src), b = fs.lstatSync(dest);
    if (a.isSymbolicLink()) return b.isSymbolicLink() && fs.readlinkSync(src) === fs.readlinkSync(dest);
    return a.size === b.size && Math.trunc(a.mtimeMs) === Math.trunc(b.mtimeMs);
  } catch {
    return false;
  }
}

/**
 * Copies the plan's files, then the store through `db` (the app's connection, online backup), to the
 * target, reporting progress at most every PROGRESS_EVERY_MS and once at the end.
 */
export async function copyForMove(plan: MovePlan, db: Database.Database, onProgress: (p: MoveProgress) => void, clock: () => number = Date.now): Promise<void> {
  makeDirs(plan.to);
  let bytes = 0;
  let last = 0;
  const report = (file: string | null, force = false) => {
    const now = clock();
    if (!force && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    onProgress({ bytes: Math.min(bytes, plan.total), total: plan.total, file });
  };
  report(null, true);
  for (const f of plan.files) {
    await copyOne(path.join(plan.from, f), path.join(plan.to, f), (n) => {
      bytes += n;
      report(f);
    });
  }
  const dbFile = path.join(plan.to, DATABASE_FILE);
  await db.backup(dbFile, {
    progress: ({ totalPages, remainingPages }) => {
      report(DATABASE_FILE);
      void totalPages;
      void remainingPages;
      return 100;
    },
  });
  bytes = plan.total;
  report(null, true);
}

/**
 * The move's finish, run by the restart once the store is closed: refused (nothing changed) while
 * another process has the store open; the folder listed again, the files changed or made since the
 * copy copied, the store copied from its closed file, the target's pointer (a move back) removed and
 * the old folder's written, the old entries deleted (a failure to delete one is logged: the data is
 * already in the new place).
 */
export function finishMove(plan: MovePlan, logger: Logger): () => Promise<void> {
  return async () => {
    const oldDb = path.join(plan.from, DATABASE_FILE);
    checkNobodyHas(oldDb);
    const entries = entriesToMove(plan.from, plan.includeModels);
    const now: string[] = [];
    for (const e of entries) walk(plan.from, e, now);
    for (const f of now) if (!sameFile(path.join(plan.from, f), path.join(plan.to, f))) await copyOne(path.join(plan.from, f), path.join(plan.to, f), () => undefined);
    if (fs.existsSync(oldDb)) {
      const tmp = path.join(plan.to, `${DATABASE_FILE}.tmp`);
      fs.rmSync(tmp, { force: true });
      const src = new Database(oldDb, { fileMustExist: true });
      try {
        await src.backup(tmp);
      } finally {
        src.close();
      }
      for (const f of DB_ENTRIES) fs.rmSync(path.join(plan.to, f), { force: true });
      fs.renameSync(tmp, path.join(plan.to, DATABASE_FILE));
    }
    fs.rmSync(path.join(plan.to, MOVED_TO_FILE), { force: true });
    writeMovedTo(plan.from, plan.to);
    for (const e of [...entries, ...DB_ENTRIES]) {
      try {
        fs.rmSync(path.join(plan.from, e), { recursive: true, force: true });
      } catch (err) {
        logger.warn('data move: could not delete from the old folder', { entry: e, error: (err as Error).message });
      }
    }
    logger.info('data move: the data folder moved', { from: plan.from, to: plan.to });
  };
}
