/**
 * A folder of files named by their content's hash (<data>/images, <data>/documents), swept of the files
 * nothing refers to: a stored file whose ref `referenced()` does not hold goes once it is older than
 * the grace period (a file stored and not yet referred to, as an image in a composer or a document whose
 * row is being written, survives); so does a write's temporary file a crash left. Refs named
 * `discarded` (a temporary chat's, or every chat's when all are erased) go as soon as the sweep is
 * asked, unless referred to.
 *
 * With `setAside`, a stored file nothing refers to (not discarded) is moved into STRAY_FOLDER (inside the
 * swept one) rather than deleted, and deleted from there once STRAY_KEEP_MS have passed since: a backup
 * of the database restored (a deleted chat's rows come back; or newer rows go, and the restore is undone)
 * finds the files it names again. Every sweep puts back a set-aside file a ref names again, and
 * `takeBack` does it for a read that finds the file gone (DocFiles.get, ImageStore.find); `dispose` sets
 * aside (or deletes) one file its owner let go (the documents' collector).
 *
 * It touches nothing but regular files (lstat: a link is left alone) directly in the folder whose names
 * `fileOf` knows, and never throws into its caller: a failure is logged and the next sweep tries again.
 * Its users: main/chat/image-sweep.ts, main/docs/garbage.ts.
 */
import { createHash, randomBytes } from 'crypto';
import { lstatSync, promises as fsp } from 'fs';
import path from 'path';
import type { Logger } from './logging';
import { readRegularFile } from './regular-file';

/** The random bytes in a write's temporary file name. */
const TEMPORARY_RANDOM_BYTES = 6;

/** The file content is written to before it is renamed into place as its hash: `.<sha256>.<random hex>.tmp`. */
export function temporaryName(ref: string): string {
  return `.${ref}.${randomBytes(TEMPORARY_RANDOM_BYTES).toString('hex')}.tmp`;
}

/** A write's temporary file name (what temporaryName makes), with the content's hash as its group 1. */
export const TEMPORARY_NAME = new RegExp(`^\\.([0-9a-f]{64})\\.[0-9a-f]{${TEMPORARY_RANDOM_BYTES * 2}}\\.tmp$`);

/** The folder inside a swept one where a stored file nothing refers to is set aside (`setAside`). */
export const STRAY_FOLDER = '.stray';
/**
 * A file set aside is deleted this long after: a backup restored and the restore undone within it finds
 * its files again.
 */
export const STRAY_KEEP_MS = 30 * 86_400_000;

/** What a name in the folder is: a stored file, or a write's temporary file; with the content's hash. */
export interface StoredFileName {
  kind: 'stored' | 'temporary';
  ref: string;
}

/** A regular file of the folder, as the sweep found it. */
export interface SweepFile extends StoredFileName {
  name: string;
  mtimeMs: number;
}

export interface SweepRules {
  now: number;
  graceMs: number;
  /** the refs something refers to: their files are kept */
  referenced: ReadonlySet<string>;
  /** files stored within the grace period (a store of content kept before: its file keeps its old time) */
  recent: ReadonlySet<string>;
  /** refs discarded (a temporary chat's images): deleted whatever their age, unless referenced (or, before close, stored again within the grace period) */
  discarded: ReadonlySet<string>;
  /** Hearth is closing: no composer outlives it, so discarded refs go even if stored again lately */
  closing?: boolean;
}

/**
 * The files to delete: a temporary file older than the grace period; a stored file nothing refers
 * to, when its ref was discarded or it is older than the grace period and was not stored again within it.
 */
export function filesToDelete(files: readonly SweepFile[], r: SweepRules): SweepFile[] {
  return files.filter((f) => {
    const old = r.now - f.mtimeMs >= r.graceMs;
    if (f.kind === 'temporary') return old;
    if (r.referenced.has(f.ref)) return false;
    const recent = r.recent.has(f.ref);
    return (r.discarded.has(f.ref) && (r.closing === true || !recent)) || (old && !recent);
  });
}

export interface SweepResult {
  /** the names of the files deleted */
  deleted: string[];
  /** the names of the files set aside (`setAside`) */
  setAside: string[];
  /** the folder's files left */
  kept: number;
}

const nothing = (): SweepResult => ({ deleted: [], setAside: [], kept: 0 });

/** The files set aside in a folder's STRAY_FOLDER, and their bytes. */
export interface StrayUsage {
  files: number;
  bytes: number;
}

export interface FileSweepDeps {
  /** the folder swept */
  dir: string;
  /** the log's prefix ('images', 'docs') and what refers to the files, for the log's line ('no message refers to') */
  label: string;
  refersTo: string;
  /** what a name in the folder is; null: not the folder's (never touched) */
  fileOf: (name: string) => StoredFileName | null;
  /** the refs kept now; may throw (the sweep then deletes nothing) */
  referenced: () => ReadonlySet<string>;
  /** whether one ref is kept now (dispose asks, once a file: cheaper than `referenced` when there are many); default: `referenced` */
  refers?: (ref: string) => boolean;
  logger: Logger;
  graceMs: number;
  /** a stored file nothing refers to (not discarded) waits in STRAY_FOLDER for STRAY_KEEP_MS before it is deleted */
  setAside?: boolean;
  /** the most bytes a stored file has (a set-aside one larger is never read to be taken back: takeBack) */
  maxBytes: number;
  clock?: () => number;
}

export class FileSweep {
  private chain: Promise<unknown> = Promise.resolve();
  /** ref → when it was last stored (dropped past the grace period) */
  private readonly stored = new Map<string, number>();
  /**
   * refs discarded whose files a sweep kept (stored again lately: a composer may hold the same image) and
   * nothing refers to: discarded again by every sweep after, so they go at close at the latest (never set aside)
   */
  private discardedKept = new Set<string>();
  /** the stray folder's absence was logged (once a process) */
  private strayMissingSaid = false;
  protected readonly clock: () => number;

  constructor(private readonly deps: FileSweepDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /**
   * This ref was stored now: the grace period counts from now (the same content stored before is not
   * written again, so its file keeps its old time).
   */
  noteStored(ref: string): void {
    this.stored.delete(ref);
    this.stored.set(ref, this.clock());
    this.forgetOld();
  }

  /**
   * Sweeps once, after any sweep under way. `discarded`: refs just discarded (their files go now unless
   * something refers to them). Never rejects: a failure is logged.
   */
  run(discarded: Iterable<string> = [], opts: { closing?: boolean; emptyStray?: boolean } = {}): Promise<SweepResult> {
    const gone = new Set(discarded);
    const closing = opts.closing === true;
    const next = this.chain.then(() => this.sweep(gone, closing, opts.emptyStray === true)).catch((e: unknown) => {
      this.deps.logger.warn(`${this.deps.label}: the sweep of ${this.deps.dir} failed: ${(e as Error | null)?.message ?? String(e)}`);
      return nothing();
    });
    this.chain = next;
    return next;
  }

  /**
   * A stored file its owner no longer keeps (the documents' collector), after any sweep under way: deleted
   * when `discard` (what the user deleted for good: a temporary chat's), else set aside as a sweep sets
   * aside. A link in its place is deleted (not its target); anything else is left. Never rejects: a failure is logged.
   */
  dispose(name: string, opts: { discard: boolean }): Promise<void> {
    const file = path.join(this.deps.dir, name);
    // its time as it was let go (read now: the step below may run after a store of the same content)
    let letGo: number | undefined;
    try { letGo = lstatSync(file).mtimeMs; } catch { /* gone already */ }
    const next = this.chain.then(async () => {
      const st = await fsp.lstat(file).catch(() => null);
      const what = this.deps.fileOf(name);
      // stored again since it was let go (its time restarted, or a ref names it again): kept
      const named = (ref: string) => (this.deps.refers ? this.deps.refers(ref) : this.deps.referenced().has(ref));
      if (st?.isFile() && (st.mtimeMs !== letGo || (what && named(what.ref)))) return;
      if (st?.isFile() && !opts.discard && this.deps.setAside) await this.setAsideOrDelete(name);
      else if (st?.isFile() || st?.isSymbolicLink()) await fsp.unlink(file);
    }).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.logger.warn(`${this.deps.label}: ${name} could not be ${opts.discard ? 'deleted' : 'set aside'}: ${(e as Error).message}`);
    });
    this.chain = next;
    return next;
  }

  /**
   * Deletes the files set aside now, after any sweep under way (Settings → Data): every one nothing names
   * and `keep` does not hold (the refs the asking page's message boxes hold, not yet sent); one a ref names
   * again, or `keep` holds, is put back (its grace period restarted). The folder's own files are left as they are (one a sweep would set aside now is set
   * aside by the next, not deleted: it may be another process's temporary chat's). Never rejects: a
   * failure is logged.
   */
  emptyStray(keep: Iterable<string> = []): Promise<void> {
    const next = this.chain.then(() => this.tendStray(new Set([...this.deps.referenced(), ...keep]), new Set(), true)).catch((e: unknown) => {
      this.deps.logger.warn(`${this.deps.label}: ${path.join(this.deps.dir, STRAY_FOLDER)} could not be emptied: ${(e as Error | null)?.message ?? String(e)}`);
    });
    this.chain = next;
    return next;
  }

  /**
   * What STRAY_FOLDER holds that nothing names nor `keep` holds (one a ref names is put back by the next sweep or read): its
   * regular files with the folder's names, and their bytes (nothing when it is not a folder, or this sweep
   * sets nothing aside). Read once the sweeps asked for so far have ended.
   */
  async strayUsage(keep: Iterable<string> = []): Promise<StrayUsage> {
    // (after the sweeps asked for so far: a count taken while the folder is emptied would be the one before)
    await this.idle().catch(() => undefined);
    const usage: StrayUsage = { files: 0, bytes: 0 };
    const into = this.deps.setAside ? await this.strayFolder(false) : null;
    if (!into) return usage;
    const referenced = new Set([...this.deps.referenced(), ...keep]);
    for (const name of await fsp.readdir(into).catch(() => [])) {
      const what = this.deps.fileOf(name);
      if (what?.kind !== 'stored' || referenced.has(what.ref)) continue;
      const st = await fsp.lstat(path.join(into, name)).catch(() => null);
      if (!st?.isFile()) continue;
      usage.files++;
      usage.bytes += st.size;
    }
    return usage;
  }

  /** Resolves once every sweep asked for so far has ended. */
  async idle(): Promise<void> {
    await this.chain;
  }

  private forgetOld(): void {
    const since = this.clock() - this.deps.graceMs;
    // in the order noted: the oldest first
    for (const [ref, at] of this.stored) {
      if (at > since) break;
      this.stored.delete(ref);
    }
  }

  private async sweep(asked: ReadonlySet<string>, closing: boolean, emptyStray: boolean): Promise<SweepResult> {
    const { dir, logger, label } = this.deps;
    const discarded = new Set([...asked, ...this.discardedKept]);
    const at = await fsp.lstat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // nothing stored yet
      throw e;
    });
    if (!at) return nothing();
    if (!at.isDirectory()) {
      logger.warn(`${label}: ${dir} is not a folder (a link?): not swept`);
      return nothing();
    }
    const files: SweepFile[] = [];
    for (const name of await fsp.readdir(dir)) {
      const what = this.deps.fileOf(name);
      if (!what) continue;
      const st = await fsp.lstat(path.join(dir, name)).catch(() => undefined);
      // a link, a folder, or gone meanwhile
      if (!st?.isFile()) continue;
      files.push({ name, ...what, mtimeMs: st.mtimeMs });
    }
    if (!files.length && !this.deps.setAside) return nothing();
    this.forgetOld();
    // the refs last, after the folder was read: a ref made meanwhile counts
    const referenced = this.deps.referenced();
    const doomed = filesToDelete(files, {
      now: this.clock(), graceMs: this.deps.graceMs, referenced, recent: new Set(this.stored.keys()), discarded, closing,
    });
    const deleted: string[] = [];
    const setAside: string[] = [];
    for (const f of doomed) {
      // stored again while the sweep ran: kept
      if (f.kind === 'stored' && this.stored.has(f.ref) && !(closing && discarded.has(f.ref))) continue;
      const file = path.join(dir, f.name);
      // stored again since it was listed (a store restarts its file's time; another process's too): kept
      const now = await fsp.lstat(file).catch(() => undefined);
      if (!now?.isFile() || now.mtimeMs !== f.mtimeMs) continue;
      // what the user deleted goes at once (everything, when every chat is erased); a file nothing claims waits aside, when asked
      const aside = f.kind === 'stored' && this.deps.setAside === true && !discarded.has(f.ref) && !emptyStray;
      try {
        if (aside) (await this.setAsideOrDelete(f.name) ? setAside : deleted).push(f.name);
        else {
          await fsp.unlink(file);
          deleted.push(f.name);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`${label}: ${f.name} could not be ${aside ? 'set aside' : 'deleted'}: ${(e as Error).message}`);
      }
    }
    const gone = new Set(deleted);
    this.discardedKept = new Set(files.filter((f) => f.kind === 'stored' && discarded.has(f.ref) && !referenced.has(f.ref) && !gone.has(f.name)).map((f) => f.ref));
    const kept = files.length - deleted.length - setAside.length;
    if (deleted.length) logger.info(`${label}: deleted the files ${this.deps.refersTo}`, { deleted: deleted.length, kept });
    if (setAside.length) logger.info(`${label}: set aside the files ${this.deps.refersTo}`, { setAside: setAside.length, kept });
    await this.tendStray(referenced, discarded, emptyStray);
    return { deleted, setAside, kept };
  }

  /** The stray folder (a folder, not a link or a file someone put there: then null, and nothing is set aside). */
  private async strayFolder(create: boolean): Promise<string | null> {
    const into = path.join(this.deps.dir, STRAY_FOLDER);
    let at = await fsp.lstat(into).catch(() => null);
    if (!at && create) {
      await fsp.mkdir(into).catch(() => undefined);
      at = await fsp.lstat(into).catch(() => null);
    }
    return at?.isDirectory() ? into : null;
  }

  /**
   * Moves a stored file into the stray folder, its time now (its keep period counts from the move): true.
   * Where the stray folder cannot be had (a file or a link planted in its place), the file is deleted, as
   * before there was a stray folder (logged once a process): false. Left in place if the move or the time fails.
   */
  private async setAsideOrDelete(name: string): Promise<boolean> {
    const into = await this.strayFolder(true);
    if (!into) {
      if (!this.strayMissingSaid) this.deps.logger.warn(`${this.deps.label}: ${path.join(this.deps.dir, STRAY_FOLDER)} is not a folder: the files nothing refers to are deleted, not set aside`);
      this.strayMissingSaid = true;
      await fsp.unlink(path.join(this.deps.dir, name));
      return false;
    }
    const from = path.join(this.deps.dir, name);
    const to = path.join(into, name);
    await fsp.rename(from, to);
    const now = new Date(this.clock());
    try {
      await fsp.lutimes(to, now, now);
    } catch (e) {
      // with its old time it would go at once: back into place
      await fsp.rename(to, from).catch(() => undefined);
      throw e;
    }
    return true;
  }

  /**
   * The stray folder's files: one a ref names again (a restore undone, a store that raced the sweep) goes
   * back into place; one set aside longer than the keep period, or whose ref was discarded, is deleted
   * (regular files with the folder's names only); with `empty` (every chat erased), every one nothing names.
   */
  private async tendStray(referenced: ReadonlySet<string>, discarded: ReadonlySet<string>, empty: boolean): Promise<void> {
    const { dir, logger, label } = this.deps;
    if (!this.deps.setAside) return;
    const into = await this.strayFolder(false);
    if (!into) return;
    let back = 0;
    let gone = 0;
    for (const name of await fsp.readdir(into)) {
      const what = this.deps.fileOf(name);
      if (what?.kind !== 'stored') continue;
      const file = path.join(into, name);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      try {
        if (referenced.has(what.ref)) {
          // (the same name holds the same content: one there already stays, and this copy goes; a copy
          // that is not what its name says stays aside until its time is up)
          const there = await fsp.lstat(path.join(dir, name)).catch(() => null);
          if (there?.isFile()) await fsp.unlink(file);
          else if ((await takeBack(dir, name, what.ref, this.deps.maxBytes))?.file === path.join(dir, name)) back++;
          else logger.warn(`${label}: ${name} is named again but could not be put back (not what its name says, or not movable): left aside until its time`);
        } else if (empty || discarded.has(what.ref) || this.clock() - st.mtimeMs >= STRAY_KEEP_MS) {
          await fsp.unlink(file);
          gone++;
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`${label}: ${name} could not be moved or deleted: ${(e as Error).message}`);
      }
    }
    if (back) logger.info(`${label}: took back files set aside that are named again`, { back });
    if (gone) logger.info(`${label}: deleted the files set aside longer than ${Math.round(STRAY_KEEP_MS / 86_400_000)} days, or discarded`, { deleted: gone });
  }
}

/**
 * A stored file a sweep set aside, for a read that found it gone from `dir`: when `<dir>/STRAY_FOLDER/<name>`
 * is a regular file of at most `maxBytes` whose SHA-256 is `ref`, it is moved back into place, its time
 * now (a sweep counts its grace period from then), and its bytes answered with where it is (still aside
 * when the move failed: a file another program holds open on Windows); otherwise null (nothing there, or
 * not what its name says). A STRAY_FOLDER that is not a folder (a link, a file) is not looked into.
 */
export async function takeBack(dir: string, name: string, ref: string, maxBytes: number): Promise<{ bytes: Buffer; file: string } | null> {
  const into = path.join(dir, STRAY_FOLDER);
  if (!(await fsp.lstat(into).catch(() => null))?.isDirectory()) return null;
  const aside = path.join(into, name);
  // (one that cannot be read, no permission, is as good as gone: the caller says the file is missing)
  const bytes = await readRegularFile(aside, maxBytes).catch(() => null);
  if (!bytes || createHash('sha256').update(bytes).digest('hex') !== ref) return null;
  const file = path.join(dir, name);
  const now = new Date();
  // (where it cannot be moved, its keep period restarts: it is in use)
  const moved = await fsp.rename(aside, file).then(() => true, () => false);
  await fsp.lutimes(moved ? file : aside, now, now).catch(() => undefined);
  return { bytes, file: moved ? file : aside };
}
