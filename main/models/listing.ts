/**
 * The listing of the models folder (<data>/models): an asynchronous walk, bounded in entries visited
 * and in depth, cached and checked against the disk cheaply, so a model-naming call never walks the
 * folder on main's thread and rarely walks it at all.
 *
 * - The walk reads folders breadth-first through the thread pool (`opendir`, DIR_BUFFER entries per
 *   call), skipping hidden names. Symlinks are followed as users expect (a model linked in from
 *   another disk): a linked file counts only when it starts with GGUF's magic, a linked folder is
 *   walked once. Past MODEL_WALK_LIMITS it stops and says where (`Listing.truncated`).
 * - The cache is trusted while nothing says otherwise: a path in the listing is accepted when its
 *   lstat identity (device, inode, mtime) is unchanged; anything else (a miss, a changed file, a
 *   change seen by fs.watch) asks for a listing checked after the call began. That check stats the
 *   listed folders (their mtimes change when an entry is added, removed or renamed) and walks only
 *   when one changed. One check or walk runs at a time; callers arriving meanwhile share the next.
 * - A model is a file named .gguf that starts with GGUF's fixed header (checked once per file new to
 *   the listing) and is not being written: one written in the last SETTLE_MS is stat'ed again
 *   SETTLE_PROBE_MS after the walk, and one whose size or mtime changed meanwhile (a download or copy
 *   in progress) is left out of `models` (it stays in `index`: a path named exactly may still be
 *   tried, and the engine checks it). Such recent files are stat'ed by every staleness check: a
 *   change, or a file left out that has since settled, makes the next walk.
 * - A followed folder (onModels) is checked periodically, less often the longer its last walk took
 *   (WALK_COST_FACTOR), its watch set up again when the folder itself is replaced (device/inode),
 *   and onModels is told at most once per PUSH_MIN_MS (the first change at once, the latest later).
 */
import fs from 'fs';
import path from 'path';
import type { ModelDTO } from '../ipc/contract';
import { openModelFile } from '../gguf/cache';
import { GGUF_FIXED_HEADER_BYTES, GGUF_MAGIC } from '../gguf/types';

/** How far a walk goes: entries visited (every file, folder and link counts) and folder levels below the models folder. */
export const MODEL_WALK_LIMITS = { entries: 200_000, depth: 6 } as const;
export interface WalkLimits {
  entries: number;
  depth: number;
}

/** Entries read per call into the thread pool: what main handles between two turns of its event loop. */
const DIR_BUFFER = 256;
/** Folders stat'ed at once by a staleness check. */
const STAT_BATCH = 32;
/**
 * A folder whose mtime is this close to the moment it was read could change again within the same
 * timestamp tick (FAT keeps 2 s, HFS+ 1 s): it counts as changed until a later walk reads it settled.
 */
const RACY_MS = 2000;
/** Followed folder (ModelFolderOptions.onModels): changes seen by fs.watch are listed once this long after the last one. */
const FOLLOW_DEBOUNCE_MS = 300;
/**
 * Followed folder: how often the listing is checked anyway (the cheap staleness check: one stat per
 * listed folder), for what fs.watch does not see (subfolders on Linux, a watch that failed).
 */
const FOLLOW_CHECK_MS = 5000;
/** Followed folder: the periodic check waits at least this many times the last walk's duration (a huge linked folder that keeps changing is not walked back to back). */
const WALK_COST_FACTOR = 20;
/** Followed folder: onModels is told at most once per this many ms while changes keep coming (each push goes to every window). */
export const PUSH_MIN_MS = 2000;
/** A .gguf whose mtime is this recent may still be being written (a download, a copy): it is probed (SETTLE_PROBE_MS). */
export const SETTLE_MS = 3000;
/** A recent .gguf that changes size or mtime within this long after the walk is being written: left out for now. */
export const SETTLE_PROBE_MS = 500;

/** What lstat says of a path: a different value means another file (or link) now stands there. */
interface Identity {
  dev: number;
  ino: number;
  mtimeMs: number;
}

interface FolderStamp {
  path: string;
  /** -1: the folder was missing */
  mtimeMs: number;
  readAt: number;
}

/** Where a walk stopped short: past the entries bound (the folder it was reading) or below the depth bound (the first such folder). */
export interface Truncation {
  reason: 'entries' | 'depth';
  limit: number;
  folder: string;
}

export interface Listing {
  models: ModelDTO[];
  truncated: Truncation | null;
  /** entries visited */
  entries: number;
  /** listed path → its identity when listed */
  index: Map<string, Identity>;
  folders: FolderStamp[];
  /** .gguf files left out of `models` because they were being written (see SETTLE_MS) */
  unsettled: string[];
  /** files written in the last SETTLE_MS as the walk saw them (listed or not): a staleness check stats them */
  recent: { path: string; size: number; mtimeMs: number }[];
}

const identity = (st: fs.Stats): Identity => ({ dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs });

/** Whether a file starts with GGUF's magic (a model, not any file named .gguf or linked as one). */
async function isGguf(file: string): Promise<boolean> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    // a scan: a file another program holds a lease on is passed over, not waited for
    fh = await openModelFile(file, { waitMs: 0 });
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return bytesRead === b.length && b.readUInt32LE(0) === GGUF_MAGIC;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

export interface WalkOptions {
  /** the previous listing's index: a file still the same there is not read again for its magic */
  known?: ReadonlyMap<string, Identity>;
  /**
   * false: every .gguf file is listed, whatever its header or age (a linked one still needs the
   * magic), for a caller that checks each file itself and says why one is refused (discovery)
   */
  modelsOnly?: boolean;
}

/** Walks `dir` for .gguf files within `limits`, off main's thread (see the file's comment). */
export async function walkModels(dir: string, limits: WalkLimits = MODEL_WALK_LIMITS, opts: WalkOptions = {}): Promise<Listing> {
  const { known, modelsOnly = true } = opts;
  const models: ModelDTO[] = [];
  const index = new Map<string, Identity>();
  const folders: FolderStamp[] = [];
  const unsettled: string[] = [];
  const recentFiles: { path: string; name: string; size: number; mtimeMs: number }[] = [];
  const startedAt = Date.now();
  const seen = new Set<string>();
  let entries = 0;
  let truncated: Truncation | null = null;

  const addModel = async (p: string, name: string, st: fs.Stats, own: fs.Stats) => {
    const linked = own.isSymbolicLink();
    if (modelsOnly && st.size < GGUF_FIXED_HEADER_BYTES) return;
    const id = identity(own);
    const was = known?.get(p);
    const same = was !== undefined && was.dev === id.dev && was.ino === id.ino && was.mtimeMs === id.mtimeMs && !linked;
    if ((modelsOnly || linked) && !same && !(await isGguf(p))) return;
    index.set(p, id);
    if (modelsOnly && st.mtimeMs > startedAt - SETTLE_MS) recentFiles.push({ path: p, name: name.replace(/\.gguf$/i, ''), size: st.size, mtimeMs: st.mtimeMs });
    else models.push({ path: p, name: name.replace(/\.gguf$/i, ''), fileSize: st.size });
  };

  /** Reads one folder; its subfolders go to `next`. False once the entries bound is reached. */
  const readFolder = async (d: string, depth: number, next: string[]): Promise<boolean> => {
    const readAt = Date.now();
    let real: string;
    let st: fs.Stats;
    try {
      real = await fs.promises.realpath(d);
      st = await fs.promises.stat(real);
    } catch {
      if (depth === 0) folders.push({ path: d, mtimeMs: -1, readAt }); // created later: the check sees it
      return true;
    }
    if (seen.has(real)) return true; // a link back into the tree
    seen.add(real);
    if (depth > limits.depth) {
      truncated ??= { reason: 'depth', limit: limits.depth, folder: d };
      return true;
    }
    folders.push({ path: d, mtimeMs: st.mtimeMs, readAt });
    let handle: fs.Dir;
    try {
      handle = await fs.promises.opendir(d, { bufferSize: DIR_BUFFER });
    } catch {
      return true; // unreadable: skipped
    }
    try {
      for await (const e of handle) {
        if (++entries > limits.entries) {
          entries = limits.entries;
          truncated = { reason: 'entries', limit: limits.entries, folder: d };
          return false; // leaving the loop closes the handle
        }
        if (e.name.startsWith('.')) continue;
        const p = path.join(d, e.name);
        const gguf = e.name.toLowerCase().endsWith('.gguf');
        if (e.isDirectory()) next.push(p);
        else if (e.isFile()) {
          if (gguf) {
            const own = await fs.promises.lstat(p).catch(() => undefined); // gone while listing: skipped
            if (own?.isFile()) await addModel(p, e.name, own, own);
          }
        } else if (e.isSymbolicLink() || !(e.isFIFO() || e.isSocket() || e.isBlockDevice() || e.isCharacterDevice())) {
          // a link, or a file system that does not tell the type: ask it
          const own = await fs.promises.lstat(p).catch(() => undefined);
          const linked = own?.isSymbolicLink() ?? false;
          const target = linked ? await fs.promises.stat(p).catch(() => undefined) : own; // a dangling link: skipped
          if (!own || !target) continue;
          if (target.isDirectory()) next.push(p);
          else if (target.isFile() && gguf) await addModel(p, e.name, target, own);
        }
      }
    } catch {
      // the folder vanished or failed while being read: what was read counts
    }
    return true;
  };

  let level = [dir];
  for (let depth = 0; level.length > 0; depth++) {
    const next: string[] = [];
    let more = true;
    for (const d of level) if (!(more = await readFolder(d, depth, next))) break;
    if (!more) break;
    level = next;
  }
  if (recentFiles.length) {
    // written lately: listed only when they stay the same for SETTLE_PROBE_MS
    await new Promise((r) => setTimeout(r, SETTLE_PROBE_MS));
    await Promise.all(
      recentFiles.map(async (f) => {
        const now = await fs.promises.stat(f.path).catch(() => undefined);
        if (now && now.size === f.size && now.mtimeMs === f.mtimeMs) models.push({ path: f.path, name: f.name, fileSize: f.size });
        else unsettled.push(f.path);
      }),
    );
  }
  models.sort((a, b) => a.name.localeCompare(b.name));
  const recent = recentFiles.map(({ path: p, size, mtimeMs }) => ({ path: p, size, mtimeMs }));
  return { models, truncated, entries, index, folders, unsettled, recent };
}

/** Whether any listed folder changed (or may have: read too soon after a change) since the walk. */
async function changedSince(l: Listing): Promise<boolean> {
  // a recent file that changed since (or is gone), or one left out that is no longer written
  for (const f of l.recent) {
    const st = await fs.promises.stat(f.path).catch(() => undefined);
    if (!st || st.size !== f.size || st.mtimeMs !== f.mtimeMs) return true;
    if (l.unsettled.includes(f.path)) return true;
  }
  for (let i = 0; i < l.folders.length; i += STAT_BATCH) {
    const batch = l.folders.slice(i, i + STAT_BATCH);
    const changed = await Promise.all(
      batch.map(async (f) => {
        if (f.mtimeMs >= f.readAt - RACY_MS) return true;
        const now = await fs.promises.stat(f.path).catch(() => undefined);
        return (now?.mtimeMs ?? -1) !== f.mtimeMs;
      }),
    );
    if (changed.includes(true)) return true;
  }
  return false;
}

async function sameFile(file: string, id: Identity): Promise<boolean> {
  const now = await fs.promises.lstat(file).catch(() => undefined);
  return now !== undefined && now.dev === id.dev && now.ino === id.ino && now.mtimeMs === id.mtimeMs;
}

export interface ModelFolderOptions {
  limits?: WalkLimits;
  /** told after every walk whose truncation differs from the previous walk's (null: nothing left out any more) */
  onTruncated?: (t: Truncation | null) => void;
  /**
   * Follows the folder from construction on: told the models after every walk whose models (paths,
   * names, sizes) differ from the previous walk's. Changes seen by fs.watch are listed after
   * FOLLOW_DEBOUNCE_MS; the listing is also checked every FOLLOW_CHECK_MS. Never told from a walk of a closed folder.
   */
  onModels?: (models: ModelDTO[]) => void;
  /** told when following failed (a check or walk threw, or onModels did); the folder is followed on */
  onFollowError?: (e: Error) => void;
  /** the followed folder's periodic check, at the least (default FOLLOW_CHECK_MS; tests shorten it) */
  checkMs?: number;
}

/** The cached, self-refreshing listing of one models folder. */
export class ModelFolder {
  private cache: Listing | undefined;
  /** set by fs.watch: something in the folder changed since the last walk began */
  private dirty = true;
  private watcher: fs.FSWatcher | undefined;
  private running: Promise<Listing> | undefined;
  private queued: Promise<Listing> | undefined;
  private walkCount = 0;
  private closed = false;
  private reported: string = JSON.stringify(null);
  /** the models of the last walk, as onModels was told them */
  private reportedModels: string | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private checker: NodeJS.Timeout | undefined;
  /** how long the last walk took (the periodic check backs off by it) */
  private lastWalkMs = 0;
  /** the folder's identity when its watch was set up: another one there (removed and made again) needs a new watch */
  private watchedId: { dev: number; ino: number } | undefined;
  /** when onModels was last told, and the models waiting to be told (rate-limited) */
  private pushedAt = -Infinity;
  private pushTimer: NodeJS.Timeout | undefined;
  private pendingModels: ModelDTO[] | undefined;

  constructor(
    readonly dir: string,
    private readonly opts: ModelFolderOptions = {},
  ) {
    if (opts.onModels) {
      this.watch();
      this.scheduleCheck();
    }
  }

  /** The wait before the next periodic check: FOLLOW_CHECK_MS, or WALK_COST_FACTOR times the last walk if longer. */
  get checkDelayMs(): number {
    return Math.max(this.opts.checkMs ?? FOLLOW_CHECK_MS, WALK_COST_FACTOR * this.lastWalkMs);
  }

  /** The device and inode of the folder the watch is on (undefined: no watch). */
  get watchedFolder(): { dev: number; ino: number } | undefined {
    return this.watcher ? this.watchedId : undefined;
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    this.checker = setTimeout(() => {
      this.follow()
        .catch(() => undefined)
        .finally(() => this.scheduleCheck());
    }, this.checkDelayMs);
    this.checker.unref();
  }

  /** Walks done so far (a check that found nothing changed is not one). */
  get walks(): number {
    return this.walkCount;
  }

  /** The listing as of this call (see the file's comment). */
  listing(): Promise<Listing> {
    return this.fresh();
  }

  /**
   * Whether `file` (an absolute, resolved path) is a model in the folder. A listed file still the
   * same on disk is answered from the cache with one lstat; anything else from a listing checked
   * after this call began.
   */
  async has(file: string): Promise<boolean> {
    const id = this.dirty ? undefined : this.cache?.index.get(file);
    if (id && (await sameFile(file, id))) return true;
    return (await this.fresh()).index.has(file);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    clearTimeout(this.checker);
    clearTimeout(this.pushTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** A listing checked or walked after this call: the one queued next, or a new one when none runs. */
  private fresh(): Promise<Listing> {
    if (this.queued) return this.queued; // it starts after every call so far
    if (!this.running) return this.start();
    const q: Promise<Listing> = this.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        if (this.queued === q) this.queued = undefined;
        return this.start();
      });
    this.queued = q;
    return q;
  }

  private start(): Promise<Listing> {
    const job = this.refresh();
    this.running = job;
    // registered before any caller's reaction, so `running` is clear when the queued job starts
    job.then(
      () => this.running === job && (this.running = undefined),
      () => this.running === job && (this.running = undefined),
    );
    return job;
  }

  private async refresh(): Promise<Listing> {
    const cached = this.cache;
    if (cached && !this.dirty && !(await changedSince(cached))) return cached;
    this.dirty = false; // a change during the walk sets it again
    this.watch();
    this.walkCount++;
    const t0 = Date.now();
    const l = await walkModels(this.dir, this.opts.limits ?? MODEL_WALK_LIMITS, { known: cached?.index });
    this.lastWalkMs = Date.now() - t0;
    if (!this.closed) this.cache = l;
    const report = JSON.stringify(l.truncated);
    if (report !== this.reported) {
      this.reported = report;
      this.opts.onTruncated?.(l.truncated);
    }
    const models = JSON.stringify(l.models);
    if (this.opts.onModels && !this.closed && models !== this.reportedModels) {
      this.reportedModels = models;
      this.push(l.models);
    }
    return l;
  }

  /** Tells onModels: at once when the last push was PUSH_MIN_MS ago or more, else the latest models then. */
  private push(models: ModelDTO[]): void {
    this.pendingModels = models;
    if (this.pushTimer) return;
    const wait = this.pushedAt + PUSH_MIN_MS - Date.now();
    const send = () => {
      this.pushTimer = undefined;
      const m = this.pendingModels;
      this.pendingModels = undefined;
      if (!m || this.closed) return;
      this.pushedAt = Date.now();
      try {
        this.opts.onModels?.(m);
      } catch (e) {
        this.opts.onFollowError?.(e as Error);
      }
    };
    if (wait <= 0) send();
    else {
      this.pushTimer = setTimeout(send, wait);
      this.pushTimer.unref();
    }
  }

  /**
   * A followed folder's listing brought up to date: the watch set up again if it had failed or the
   * folder was replaced (a watch on a removed folder may go quiet without an error); never throws.
   */
  private async follow(): Promise<void> {
    if (this.closed) return;
    if (this.watcher && this.watchedId) {
      const st = await fs.promises.stat(this.dir).catch(() => undefined);
      if (!st || st.dev !== this.watchedId.dev || st.ino !== this.watchedId.ino) {
        this.watcher.close();
        this.watcher = undefined;
        this.dirty = true;
      }
    }
    this.watch();
    await this.listing().then(
      () => undefined,
      (e: Error) => this.opts.onFollowError?.(e),
    );
  }

  /** fs.watch saw a change: a followed folder is listed once the changes settle. */
  private changed(): void {
    this.dirty = true;
    if (!this.opts.onModels || this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.follow(), FOLLOW_DEBOUNCE_MS);
    this.debounce.unref();
  }

  /**
   * fs.watch marks the cache dirty at once where it works: the folder itself everywhere, its whole
   * tree where the platform watches recursively natively (macOS, Windows; Node's recursive watch on
   * Linux walks the tree synchronously). Without it the staleness check still applies.
   */
  private watch(): void {
    if (this.watcher || this.closed) return;
    try {
      const recursive = process.platform === 'darwin' || process.platform === 'win32';
      const w = fs.watch(this.dir, { persistent: false, recursive }, () => this.changed());
      const st = fs.statSync(this.dir, { throwIfNoEntry: false });
      this.watchedId = st && { dev: st.dev, ino: st.ino };
      // (the folder removed, a watch error): dropped, set up again by the next walk or check
      w.on('error', () => {
        w.close();
        if (this.watcher === w) this.watcher = undefined;
        this.changed();
      });
      this.watcher = w;
    } catch {
      // no folder yet, or no watches left (inotify's limit): the staleness check covers it
    }
  }
}
