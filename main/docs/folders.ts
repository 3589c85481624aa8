/**
 * Assistants' knowledge folders: each folder's files of a kind Hearth reads are documents of the
 * assistant's chats. A scan lists the folder (not following links, skipping hidden folders and
 * node_modules), hashes a file whose size or time changed since the last scan and links it (the same
 * content is one document, indexed once), and unlinks the files that are gone (their documents go
 * when nothing else links them). Each folder is watched and scanned again a moment after a change
 * (SETTLE_MS after the last event, at most SETTLE_MAX_MS after the first); where watching fails it is
 * scanned every RESCAN_MS. On Linux, where Node's recursive watch walks the whole tree synchronously
 * and watches every folder in it, each folder the scan read is watched on its own (hidden ones and
 * node_modules not), up to MAX_WATCHED_DIRS; elsewhere one recursive watch (the OS's). Events for
 * hidden names are ignored. A folder whose row is gone (its assistant deleted) stops being followed.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { KnowledgeFolderDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import { docKindOfName, MAX_DOC_BYTES } from '../params';
import type { DocsStore, KnowledgeFolder as FolderRow } from '../store/docs';
import { readRegularFile } from '../regular-file';

/** A change is scanned this long after the last event (editors write a file in several steps), at most SETTLE_MAX_MS after the first. */
export const SETTLE_MS = 1000;
export const SETTLE_MAX_MS = 10_000;
/** The most folders watched one by one (Linux); a larger tree is scanned every RESCAN_MS instead. */
export const MAX_WATCHED_DIRS = 1000;
/** Whether the OS watches a tree recursively itself (Node emulates it on Linux). */
const NATIVE_RECURSIVE = process.platform === 'darwin' || process.platform === 'win32';
/** A folder that cannot be watched is scanned this often. */
export const RESCAN_MS = 60_000;
/** The most files one folder contributes, and how deep a scan goes. */
export const MAX_FOLDER_FILES = 20_000;
const MAX_DEPTH = 24;
const SKIP_DIRS = new Set(['node_modules', '__pycache__']);

export interface FoldersDeps {
  store: DocsStore;
  /** a document to index (new content) */
  index: (doc: { id: number; hash: string }, name: string) => void;
  /** documents no longer linked may go */
  collect: () => void;
  changed: () => void;
  logger: Logger;
}

interface Live {
  state: KnowledgeFolderDTO['state'];
  error: string | null;
  /** the watches, by folder ('' : the recursive one) */
  watchers: Map<string, fs.FSWatcher>;
  /** scanned on a timer (watching failed or the tree is too large) */
  polling: boolean;
  /** when the first event not yet scanned came */
  firstEventAt: number | null;
  /** files past MAX_FOLDER_FILES were left out at the last scan */
  truncated: boolean;
  timer: NodeJS.Timeout | null;
  scanning: Promise<void> | null;
  again: boolean;
}

export class KnowledgeFolders {
  private readonly live = new Map<number, Live>();
  private closed = false;

  constructor(private readonly deps: FoldersDeps) {}

  /** Scans and watches every folder (at startup). */
  start(): void {
    for (const f of this.deps.store.folders()) this.follow(f);
  }

  async add(assistantId: string, folder: string): Promise<KnowledgeFolderDTO> {
    if (!path.isAbsolute(folder)) throw new IpcError('invalid_input', 'give the folder as an absolute path');
    const resolved = path.resolve(folder);
    if (path.parse(resolved).root === resolved) throw new IpcError('invalid_input', `${resolved} is a whole drive: pick the folder that holds the documents`);
    const st = await fs.promises.stat(resolved).catch(() => null);
    if (!st?.isDirectory()) throw new IpcError('not_found', `${resolved} is not a folder Hearth can read`);
    const row = this.deps.store.addFolder(assistantId, resolved);
    this.follow(row);
    await this.live.get(row.id)?.scanning;
    return this.dto(this.deps.store.folder(row.id)!);
  }

  remove(id: number): void {
    this.unfollow(id);
    this.deps.store.removeFolder(id);
    this.deps.collect();
    this.deps.changed();
  }

  async rescan(id: number): Promise<KnowledgeFolderDTO> {
    const row = this.deps.store.folder(id);
    if (!row) throw new IpcError('not_found', `there is no knowledge folder ${id}`);
    if (!this.live.has(id)) this.follow(row);
    else this.scan(row);
    await this.live.get(id)?.scanning;
    return this.dto(this.deps.store.folder(id)!);
  }

  list(): KnowledgeFolderDTO[] {
    return this.deps.store.folders().map((f) => this.dto(f));
  }

  /** Resolves when no scan runs (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.live.values()].map((l) => l.scanning).filter((p): p is Promise<void> => p !== null);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.live.keys()]) this.unfollow(id);
  }

  private dto(f: FolderRow): KnowledgeFolderDTO {
    const l = this.live.get(f.id);
    const counts = this.deps.store.folderCounts(f.id);
    return {
      id: f.id,
      assistantId: f.assistantId,
      path: f.path,
      state: l?.state ?? 'watching',
      error: l?.error ?? null,
      ...counts,
      scannedAt: f.scannedAt,
    };
  }

  private follow(f: FolderRow): void {
    if (this.closed) return;
    const l: Live = { state: 'scanning', error: null, watchers: new Map(), polling: false, firstEventAt: null, truncated: false, timer: null, scanning: null, again: false };
    this.live.set(f.id, l);
    if (NATIVE_RECURSIVE) this.watch(f, l, '', true);
    this.scan(f);
  }

  /** Watches `dir` (relative to the folder; recursive: the whole tree, where the OS does it). */
  private watch(f: FolderRow, l: Live, dir: string, recursive: boolean): void {
    if (l.watchers.has(dir) || l.polling) return;
    try {
      const w = fs.watch(path.join(f.path, dir), { recursive, persistent: false }, (_event, name) => {
        const rel = name ? path.join(dir, name.toString()) : dir;
        if (rel.split(/[\\/]/).some((part) => part.startsWith('.') || SKIP_DIRS.has(part))) return;
        this.soon(f.id);
      });
      w.on('error', (e) => this.unwatchable(f, l, e as Error));
      l.watchers.set(dir, w);
    } catch (e) {
      this.unwatchable(f, l, e as Error);
    }
  }

  private unwatchable(f: FolderRow, l: Live, e: Error): void {
    if (l.polling) return;
    this.deps.logger.warn(`docs: ${f.path} cannot be watched (${e.message}); it is scanned every ${RESCAN_MS / 1000} s`);
    this.stopWatching(l);
    l.polling = true;
    this.poll(f.id);
  }

  private stopWatching(l: Live): void {
    for (const w of l.watchers.values()) w.close();
    l.watchers.clear();
  }

  /** After a scan (Linux): each folder it read watched, those gone unwatched; too many: scanned on a timer. */
  private watchDirs(f: FolderRow, l: Live, dirs: readonly string[]): void {
    if (NATIVE_RECURSIVE || l.polling || this.live.get(f.id) !== l) return;
    if (dirs.length > MAX_WATCHED_DIRS) return this.unwatchable(f, l, new Error(`it holds more than ${MAX_WATCHED_DIRS} folders`));
    const keep = new Set(dirs);
    for (const [dir, w] of l.watchers) {
      if (!keep.has(dir)) {
        w.close();
        l.watchers.delete(dir);
      }
    }
    for (const dir of dirs) this.watch(f, l, dir, false);
  }

  /** The folder's row, or null when it is gone (its assistant deleted): then it is no longer followed. */
  private rowOf(id: number): FolderRow | null {
    const row = this.deps.store.folder(id);
    if (!row) this.unfollow(id);
    return row;
  }

  private poll(id: number): void {
    const l = this.live.get(id);
    if (!l || this.closed) return;
    if (l.timer) clearTimeout(l.timer);
    l.timer = setTimeout(() => {
      l.timer = null;
      const row = this.rowOf(id);
      if (!row) return;
      this.scan(row);
      this.poll(id);
    }, RESCAN_MS);
    l.timer.unref?.();
  }

  private soon(id: number): void {
    const l = this.live.get(id);
    if (!l || this.closed || l.polling) return;
    const now = Date.now();
    l.firstEventAt ??= now;
    // a file written on and on does not hold back the scan for ever
    if (l.timer && now - l.firstEventAt >= SETTLE_MAX_MS) return;
    if (l.timer) clearTimeout(l.timer);
    l.timer = setTimeout(() => {
      l.timer = null;
      l.firstEventAt = null;
      const row = this.rowOf(id);
      if (row) this.scan(row);
    }, SETTLE_MS);
    l.timer.unref?.();
  }

  private unfollow(id: number): void {
    const l = this.live.get(id);
    if (!l) return;
    this.stopWatching(l);
    if (l.timer) clearTimeout(l.timer);
    this.live.delete(id);
  }

  private scan(f: FolderRow): void {
    const l = this.live.get(f.id);
    if (!l) return;
    if (l.scanning) {
      l.again = true;
      return;
    }
    l.state = 'scanning';
    this.deps.changed();
    l.scanning = this.scanOnce(f)
      .then((r) => {
        l.state = 'watching';
        l.error = r.truncated ? `only the first ${MAX_FOLDER_FILES} files are read: give a smaller folder` : null;
        this.watchDirs(f, l, r.dirs);
      })
      .catch((e: Error) => {
        l.state = 'failed';
        l.error = e.message;
        this.deps.logger.warn(`docs: scanning ${f.path} failed: ${e.message}`);
      })
      .finally(() => {
        l.scanning = null;
        this.deps.changed();
        if (l.again && this.live.get(f.id) === l) {
          l.again = false;
          this.scan(f);
        }
      });
  }

  /** One scan; answers the folders it read (relative, '' the folder itself) and whether files were left out. */
  private async scanOnce(f: FolderRow): Promise<{ dirs: string[]; truncated: boolean }> {
    const { store } = this.deps;
    const st = await fs.promises.stat(f.path).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`${f.path} is no longer a folder Hearth can read`);
    const known = new Map(store.folderFiles(f.id).map((x) => [x.relPath ?? '', x]));
    const seen = new Set<string>();
    let count = 0;
    let truncated = false;
    const dirs: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH || this.closed) return;
      const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => null);
      if (!entries) return;
      dirs.push(path.relative(f.path, dir));
      for (const e of entries) {
        if (this.closed) return;
        if (count >= MAX_FOLDER_FILES) {
          truncated = true;
          return;
        }
        if (e.name.startsWith('.')) continue;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (!SKIP_DIRS.has(e.name)) await walk(full, depth + 1);
          continue;
        }
        if (!e.isFile() || docKindOfName(e.name) === null) continue;
        const s = await fs.promises.stat(full).catch(() => null);
        if (!s || s.size === 0 || s.size > MAX_DOC_BYTES) continue;
        count++;
        const rel = path.relative(f.path, full).split(path.sep).join('/');
        seen.add(rel);
        const was = known.get(rel);
        if (was && was.fileSize === s.size && was.fileMtimeMs === Math.floor(s.mtimeMs)) continue;
        // a file Hearth did not write: only a regular file of a document's size is read (a FIFO, a device, a link never)
        const bytes = await readRegularFile(full, MAX_DOC_BYTES).catch(() => null);
        if (!bytes) continue;
        const hash = createHash('sha256').update(bytes).digest('hex');
        const doc = store.ensureDocument({ hash, kind: docKindOfName(e.name), size: bytes.length });
        store.linkFolderFile(f.id, rel, doc.id, { size: s.size, mtimeMs: Math.floor(s.mtimeMs) });
        if (doc.state === 'queued') this.deps.index(doc, rel);
      }
    };
    await walk(f.path, 0);
    for (const rel of known.keys()) if (!seen.has(rel)) store.unlinkFolderFile(f.id, rel);
    store.markScanned(f.id);
    this.deps.collect();
    return { dirs, truncated };
  }
}
