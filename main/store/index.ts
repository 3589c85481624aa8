/**
 * Hearth's store: one SQLite database in the user data folder holding threads, messages, assistants and settings.
 *
 *   const store = Store.open(path.join(userData, 'hearth.db'), { logger });
 *   const t = store.threads.create({ title: 'Trip' });
 *   store.messages.add({ threadId: t.id, role: 'user', content: 'Hi' });
 *   const w = store.messages.beginReply({ threadId: t.id, model });   // row created, status 'streaming'
 *   w.append(piece) ... w.finish({ status: 'done', metrics });
 *
 * One connection, owned by the main process (and, while a space's vector index is built, a read-only one in a worker
 * thread: docs-index-build.ts). Temporary chats (store.temporary) have the same API and stay in memory.
 */
import fs from 'fs';
import type Database from 'better-sqlite3';
import { Assistants, DEFAULT_ASSISTANT_ID } from './assistants';
import { storedAttachmentRefs } from './attachment-refs';
import { backupDatabase, openDatabase } from './db';
import { DocsStore } from './docs';
import { defaultIndexWorkerFile } from './docs-index-build';
import { defaultTextWorkerFile } from './docs-text-remote';
import { Downloads } from './downloads';
import { ToolGrants } from './tool-grants';
import { StoreError } from './errors';
import { exportThreadJson, exportThreadMarkdown, type ExportSource, type ThreadExport } from './export';
import { importHearthJson, type ImportContext, type ImportResult } from './import';
import { importJanFolder } from './import-jan';
import { ImportedThreads } from './imported-threads';
import { SqliteMessages } from './messages';
import { LATEST_VERSION, type Migration } from './migrations';
import { Search, type SearchOptions, type SearchRequest, type SearchResult } from './search';
import { ModelRefs } from './model-refs';
import { ModelSettings, Settings } from './settings';
import type { WriterOptions } from './stream-writer';
import { TemporaryChats } from './temporary';
import { releaseUpdateLock, restoreAfterFailedUpdate } from './update-backup';
import { SqliteThreads } from './threads';
import { silentLogger, type Logger } from '../logging';
import type { Clock, Thread } from './types';

export interface StoreOptions {
  logger?: Logger;
  clock?: Clock;
  /** Streaming reply batching (default: flush every 250 ms or 4096 buffered characters). */
  writer?: Partial<WriterOptions>;
  search?: Partial<SearchOptions>;
  busyTimeoutMs?: number;
  /**
   * The WAL is checkpointed on a timer while no reply is streaming (default every 5000 ms; 0: only at close), so a
   * streaming flush never pays for a checkpoint. SQLite's automatic checkpoint is turned off.
   */
  checkpointIntervalMs?: number;
  /** The Hearth version opening the store, recorded with the backup made before an update's migrations. */
  appVersion?: string;
  /** Tests only: the schema's migrations instead of MIGRATIONS (to make one fail). */
  migrations?: readonly Migration[];
  /** Tests only: the sqlite-vec file to load instead of the installed one's (a missing one: vectors unavailable). */
  vectorExtension?: string;
  /**
   * The bundled worker that builds a space's vector index off the main thread (default dist/docs-index-worker.js:
   * docs-index-build.ts); null builds it on the calling thread, as a search waits (tests, measurements).
   */
  vectorIndexWorker?: string | null;
  /**
   * The bundled worker the keyword search runs in (default dist/docs-text-worker.js: docs-text-remote.ts); null: on
   * the calling thread only.
   */
  textSearchWorker?: string | null;
}

/** A checkpoint runs even while replies stream once the WAL file is this large. */
const WAL_FORCE_CHECKPOINT_BYTES = 32 * 1024 * 1024;

export class Store {
  readonly path: string;
  readonly db: Database.Database;
  /** Schema version of the open database. */
  readonly schemaVersion: number;
  /** Version found in the file before migrating (0: new file). */
  readonly migratedFrom: number;
  /** The update backup (`<db>.before-update`) made before migrating at this open, if any. */
  readonly backupPath: string | null;
  /** Replies found still 'streaming' at open (a crash) and marked 'interrupted'. */
  readonly recoveredReplies: number;

  readonly threads: SqliteThreads;
  readonly messages: SqliteMessages;
  readonly assistants: Assistants;
  readonly settings: Settings;
  readonly modelSettings: ModelSettings;
  /** model files in the library by reference (outside the models folder) */
  readonly modelRefs: ModelRefs;
  readonly temporary: TemporaryChats;
  /** Model downloads kept so they resume after a restart (main/models/downloads.ts drives them). */
  readonly downloads: Downloads;
  /** The tools allowed per saved thread ("Allow for this thread"). */
  readonly toolGrants: ToolGrants;
  /** Documents: their chunks, links to threads and knowledge folders, embedding spaces, keyword and vector search. */
  readonly docs: DocsStore;
  /** Where imported threads came from (a re-import skips them), and one imported thread written at a time. */
  readonly imported: ImportedThreads;

  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly searcher: Search;
  private readonly checkpointTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(dbPath: string, opts: StoreOptions) {
    this.path = dbPath;
    this.clock = opts.clock ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    const opened = openDatabase(dbPath, {
      logger: this.logger, clock: this.clock, busyTimeoutMs: opts.busyTimeoutMs, appVersion: opts.appVersion, migrations: opts.migrations,
      vectorExtension: opts.vectorExtension,
    });
    this.db = opened.db;
    this.schemaVersion = opened.version;
    this.migratedFrom = opened.fromVersion;
    this.backupPath = opened.backupPath;
    try {
      const { db, clock, logger } = this;
      this.settings = new Settings(db, clock, logger);
      this.modelSettings = new ModelSettings(db, clock, logger);
      this.downloads = new Downloads(db, clock, logger);
      this.toolGrants = new ToolGrants(db, clock);
      this.docs = new DocsStore(db, clock, logger, opened.vectors, { indexWorker: opts.vectorIndexWorker === undefined ? defaultIndexWorkerFile() : opts.vectorIndexWorker },
        opts.textSearchWorker === undefined ? defaultTextWorkerFile() : opts.textSearchWorker);
      this.modelRefs = new ModelRefs(db, clock, logger);
      this.assistants = new Assistants(db, clock, logger);
      if (this.assistants.ensureDefault()) logger.info('store: created the default assistant');
      const defaultAssistantId = () => this.defaultAssistantId();
      this.threads = new SqliteThreads({ db, clock, logger, defaultAssistantId });
      this.messages = new SqliteMessages({
        db, clock, logger, threads: this.threads,
        writer: { flushIntervalMs: this.settings.get('streamFlushMs'), ...opts.writer },
      });
      this.searcher = new Search(db, opts.search);
      this.imported = new ImportedThreads(this.importContext());
      this.temporary = new TemporaryChats({ clock, logger, defaultAssistantId });
      this.recoveredReplies = this.messages.recoverInterrupted();
      if (this.recoveredReplies > 0) logger.warn('store: replies interrupted by a crash were kept as interrupted', { count: this.recoveredReplies });
      // the update is done: others (`hearth serve`, a `hearth` command) may share the file again
      if (this.backupPath !== null) releaseUpdateLock(db);
      db.pragma('wal_autocheckpoint = 0');
      const every = opts.checkpointIntervalMs ?? 5000;
      if (every > 0) {
        this.checkpointTimer = setInterval(() => this.idleCheckpoint(), every);
        this.checkpointTimer.unref?.();
      }
    } catch (e) {
      if (this.checkpointTimer) clearInterval(this.checkpointTimer);
      // the update migrated the file but this version still cannot use it: the backup goes back, under the update's lock
      if (this.backupPath !== null) throw restoreAfterFailedUpdate(this.db, dbPath, this.backupPath, e, this.logger);
      this.db.close();
      throw e;
    }
  }

  /**
   * Opens (creating or migrating) the database at `dbPath`. Throws StoreError 'newer_schema' /
   * 'invalid_database', or 'migration_failed' when an update's migration or opening failed and the
   * file was restored from its update backup.
   */
  static open(dbPath: string, opts: StoreOptions = {}): Store {
    return new Store(dbPath, opts);
  }

  static readonly latestSchemaVersion = LATEST_VERSION;

  /** The assistant a new thread gets: the setting's, else the built-in one (null when neither exists). */
  defaultAssistantId(): string | null {
    const id = this.settings.get('defaultAssistantId');
    if (this.assistants.exists(id)) return id;
    return this.assistants.exists(DEFAULT_ASSISTANT_ID) ? DEFAULT_ASSISTANT_ID : null;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('closed', 'the store is closed');
  }

  /** Full-text search over messages and thread titles (saved chats only). */
  search(req: SearchRequest): SearchResult {
    this.ensureOpen();
    return this.searcher.search(req);
  }

  /**
   * The refs every message's attachments make: the saved chats' (one query over all threads) and the
   * open temporary chats' (in memory). An image a ref names is in use.
   */
  attachmentRefs(): Set<string> {
    this.ensureOpen();
    const refs = storedAttachmentRefs(this.db);
    for (const r of this.temporary.attachmentRefs()) refs.add(r);
    return refs;
  }

  private source(threadId: string): ExportSource {
    const assistant = (id: string) => (this.assistants.exists(id) ? this.assistants.get(id) : null);
    return this.temporary.has(threadId)
      ? { threads: this.temporary.threads, messages: this.temporary.messages, assistant }
      : {
        threads: this.threads, messages: this.messages, assistant,
        removedDocuments: (id: string) => this.docs.threadDocs(id, { includeRemoved: true }).filter((l) => l.removedAt !== null).map((l) => l.doc.hash),
      };
  }

  /** Lossless JSON of a thread (saved or temporary), with every alternative. */
  exportThreadJson(threadId: string): ThreadExport {
    this.ensureOpen();
    return exportThreadJson(this.source(threadId), threadId, this.clock());
  }

  /** Readable Markdown of a thread's current path. */
  exportThreadMarkdown(threadId: string): string {
    this.ensureOpen();
    return exportThreadMarkdown(this.source(threadId), threadId, this.clock());
  }

  /** What the importers write through (main/data's import job too). */
  importContext(): ImportContext {
    return { db: this.db, threads: this.threads, messages: this.messages, assistants: this.assistants, clock: this.clock };
  }

  /** Imports Hearth JSON (a string or parsed value). All or nothing; throws StoreError 'import_failed'. */
  importJson(input: string | object): ImportResult {
    this.ensureOpen();
    return importHearthJson(this.importContext(), input);
  }

  importJsonFile(file: string): ImportResult {
    this.ensureOpen();
    return importHearthJson(this.importContext(), file, { fromFile: true });
  }

  /** Imports Jan's threads (and assistants) from a Jan data folder, its threads folder, or one thread folder. */
  async importJan(folder: string): Promise<ImportResult> {
    this.ensureOpen();
    return importJanFolder(this.importContext(), folder, this.defaultAssistantId());
  }

  /** Saves a temporary chat to the database (it then stops being temporary). */
  saveTemporary(threadId: string): Thread {
    this.ensureOpen();
    const doc = exportThreadJson(this.source(threadId), threadId, this.clock());
    if (!this.temporary.has(threadId)) throw new StoreError('not_found', `temporary thread ${threadId} not found`);
    const r = importHearthJson(this.importContext(), doc);
    this.temporary.threads.delete(threadId);
    return this.threads.get(r.threadIds[0]);
  }

  private walBytes(): number {
    try {
      return fs.statSync(`${this.path}-wal`).size;
    } catch {
      return 0;
    }
  }

  private idleCheckpoint(): void {
    if (this.closed) return;
    if (this.messages.openReplies > 0 && this.walBytes() < WAL_FORCE_CHECKPOINT_BYTES) return;
    try {
      this.checkpoint();
    } catch (e) {
      this.logger.warn('store: checkpoint failed', { error: (e as Error).message });
    }
  }

  /** Copies committed pages from the WAL into the database file (PASSIVE: never waits for readers). */
  checkpoint(): { walFrames: number; checkpointed: number } {
    this.ensureOpen();
    const [r] = this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    return { walFrames: r.log, checkpointed: r.checkpointed };
  }

  /** Writes a consistent copy of the database next to it; returns its path. */
  backup(label = 'manual'): string {
    this.ensureOpen();
    return backupDatabase(this.db, this.path, label, this.clock());
  }

  /** PRAGMA integrity_check: ['ok'] when healthy. */
  integrityCheck(): string[] {
    this.ensureOpen();
    const rows = this.db.pragma('integrity_check') as Record<string, unknown>[];
    return rows.map((r) => String(Object.values(r)[0]));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Ends open replies as interrupted, checkpoints and closes. Temporary chats are dropped. */
  close(): void {
    if (this.closed) return;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.docs.close();
    this.messages.abandonAll();
    this.temporary.clear();
    try {
      this.db.pragma('optimize');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (e) {
      this.logger.warn('store: checkpoint at close failed', { error: (e as Error).message });
    }
    this.db.close();
    this.closed = true;
  }
}

export { StoreError, isStoreError, type StoreErrorCode } from './errors';
export * from './types';
export { DEFAULT_ASSISTANT_ID, type Assistant, type NewAssistant, type AssistantPatch } from './assistants';
export { DEFAULT_SETTINGS, SETTING_KEYS, type AppSettings, type SettingKey } from './settings';
export { HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE, splitHighlights, toFtsQuery, type SearchHit, type SearchRequest, type SearchResult } from './search';
export type { ThreadExport, BundleExport } from './export';
export { DOWNLOAD_STATES, Downloads, type DownloadErrorInfo, type DownloadRecord, type DownloadState, type NewDownload } from './downloads';
export type { ImportResult } from './import';
export { LIMITS } from './validation';
export { LATEST_VERSION } from './migrations';
export type { ModelRef, ModelRefInput } from './model-refs';
export { DocsStore, type ChunkRow, type DocLink, type DocRow, type EmbeddingSpace, type KnowledgeFolder, type LinkedDoc, type NewChunk,
  type TextHit, type VectorHit, type VectorRow } from './docs';
export type { VectorSupport } from './vector-ext';
