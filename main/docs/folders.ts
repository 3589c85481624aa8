/**
 * Assistants' knowledge folders: each folder's files of a kind Hearth reads are documents of the
 * assistant's chats. A scan lists the folder (not following links, skipping hidden folders and
 * node_modules), hashes a file whose size or time changed since the last scan and links it (the same
 * content is one document, indexed once), and unlinks the files that are gone (their documents go
 * when nothing else links them). Each folder is watched (fs.watch, recursive) and scanned again a
 * moment after a change; where watching fails it is scanned every RESCAN_MS.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import type { KnowledgeFolderDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import { docKindOfName, MAX_DOC_BYTES } from '../params';
import type { DocsStore, KnowledgeFolder as FolderRow } from '../store/docs';

/** A change is scanned this long after the last event (editors write a file in several steps). */
export const SETTLE_MS = 1000;
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
  watcher: fs.FSWatcher | null;
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
    if (!path.isAbsolute(folder)) throw Object.assign(new Error('give the folder as an absolute path'), { code: 'invalid_input' });
    const resolved = path.resolve(folder);
    if (path.parse(resolved).root === resolved) throw Object.assign(new Error(`${resolved} is a whole drive: pick the folder that holds the documents`), { code: 'invalid_input' });
    const st = await fs.promises.stat(resolved).catch(() => null);
    if (!st?.isDirectory()) throw Object.assign(new Error(`${resolved} is not a folder Hearth can read`), { code: 'not_found' });
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
    if (!row) throw Object.assign(new Error(`there is no knowledge folder ${id}`), { code: 'not_found' });
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
    const files = this.deps.store.folderFiles(f.id);
    return {
      id: f.id,
      assistantId: f.assistantId,
      path: f.path,
      state: l?.state ?? 'watching',
      error: l?.error ?? null,
      files: files.length,
      ready: files.filter((x) => x.doc.state === 'ready').length,
      problems: files.filter((x) => x.doc.state === 'failed' || x.doc.state === 'empty').length,
      scannedAt: f.scannedAt,
    };
  }

  private follow(f: FolderRow): void {
    if (this.closed) return;
    const l: Live = { state: 'scanning', error: null, watcher: null, timer: null, scanning: null, again: false };
    this.live.set(f.id, l);
    try {
      l.watcher = fs.watch(f.path, { recursive: true, persistent: false }, () => this.soon(f.id));
      l.watcher.on('error', (e) => {
        this.deps.logger.warn(`docs: watching ${f.path} failed: ${e.message}; it is scanned every ${RESCAN_MS / 1000} s`);
        l.watcher?.close();
        l.watcher = null;
        this.poll(f.id);
      });
    } catch (e) {
      this.deps.logger.warn(`docs: ${f.path} cannot be watched (${(e as Error).message}); it is scanned every ${RESCAN_MS / 1000} s`);
      this.poll(f.id);
    }
    this.scan(f);
  }

  private poll(id: number): void {
    const l = this.live.get(id);
    if (!l || this.closed) return;
    if (l.timer) clearTimeout(l.timer);
    l.timer = setTimeout(() => {
      l.timer = null;
      const row = this.deps.store.folder(id);
      if (row) this.scan(row);
      if (!l.watcher) this.poll(id);
    }, RESCAN_MS);
    l.timer.unref?.();
  }

  private soon(id: number): void {
    const l = this.live.get(id);
    if (!l || this.closed) return;
    if (l.timer) clearTimeout(l.timer);
    l.timer = setTimeout(() => {
      l.timer = null;
      const row = this.deps.store.folder(id);
      if (row) this.scan(row);
    }, SETTLE_MS);
    l.timer.unref?.();
  }

  private unfollow(id: number): void {
    const l = this.live.get(id);
    if (!l) return;
    l.watcher?.close();
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
      .then(() => {
        l.state = 'watching';
        l.error = null;
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

  private async scanOnce(f: FolderRow): Promise<void> {
    const { store } = this.deps;
    const st = await fs.promises.stat(f.path).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`${f.path} is no longer a folder Hearth can read`);
    const known = new Map(store.folderFiles(f.id).map((x) => [x.relPath ?? '', x]));
    const seen = new Set<string>();
    let count = 0;
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH || this.closed) return;
      const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (count >= MAX_FOLDER_FILES || this.closed) return;
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
        const bytes = await fs.promises.readFile(full).catch(() => null);
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
  }
}
