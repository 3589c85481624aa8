/**
 * The documents' store (migration 8), `store.docs`: documents stored once per content (sha256 of the
 * file's bytes), their chunks with a full-text index, the links that keep them (a thread's attachment,
 * a file of an assistant's knowledge folder), the folders, the embedding spaces and their vectors
 * (docs-vectors.ts) and retrieval: keyword search (FTS5 bm25) and vector search (KNN) within a set of
 * documents, which main/docs/fuse.ts fuses. Synchronous; every write is one transaction.
 *
 * A document is kept while a live link (removed_at NULL) refers to it: collectGarbage() deletes the
 * rest, so link a document in the same synchronous step that ensures it.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { MAX_THREAD_DOCS, type DocKind, type DocState } from '../params/docs';
import type { Logger } from '../logging';
import { DocVectors, type DocVectorsOptions, type VectorIndexState, docIdsSchema, kSchema, limitSchema, rowId, type ChunkToEmbed, type EmbeddingSpace, type VectorHit, type VectorRow } from './docs-vectors';
import { DocsReports } from './docs-reports';
import { DocText, docQueryTerms, type TextRow } from './docs-text';
import { TextSearchWorker } from './docs-text-remote';
import { hashSchema, newDocSchema, stateSchema, stateInfoSchema, chunksSchema, nameSchema, relPathSchema, folderPathSchema, fileInfoSchema, neighboursSchema, readState, toDoc, toChunk, toLink, toFolder, type DocRow, type ChunkRow, type LinkedDoc, type KnowledgeFolder, type FolderCounts, type TextHit, type NewChunk, type DocDbRow, type ChunkDbRow, type LinkDbRow, type FolderDbRow } from './docs-rows';
import { StoreError } from './errors';
import type { Clock } from './types';
import { check, idSchema } from './validation';
import type { VectorSupport } from './vector-ext';

export type { ChunkToEmbed, EmbeddingSpace, VectorHit, VectorRow };
export type { DocRow, ChunkRow, DocLink, LinkedDoc, KnowledgeFolder, FolderCounts, TextHit, NewChunk } from './docs-rows';
export { MAX_CHUNK_CHARS } from './docs-rows';
export { docQueryTerms, MAX_QUERY_TERMS, STOP_WORDS, toDocFtsQuery } from './docs-text';

/** A keyword search's rows as hits, ranked from 1. */
const toTextHits = (rows: TextRow[]): TextHit[] => rows.map((r, i) => ({ chunkId: r.chunk_id, rank: i + 1, score: r.score }));

export class DocsStore {
  private readonly stmts;
  private readonly vectors: DocVectors;
  private readonly text: DocText;
  /** the keyword search's own thread (null: searched on this connection only) */
  private readonly textWorker: TextSearchWorker | null;
  /** reads across the tables for the documents' service (docs-reports.ts) */
  readonly reports: DocsReports;

  constructor(private readonly db: Database.Database, private readonly clock: Clock, private readonly logger: Logger, support: VectorSupport,
    vectorOpts?: DocVectorsOptions, textWorkerFile: string | null = null) {
    this.vectors = new DocVectors(db, clock, logger, support, vectorOpts);
    this.text = new DocText(db);
    // (an in-memory database cannot be opened by another connection)
    this.textWorker = textWorkerFile && !db.memory ? new TextSearchWorker(textWorkerFile, db.name, logger) : null;
    this.reports = new DocsReports(db, (spaceId) => this.vectorCount(spaceId));
    const linkCols = 'l.id, l.doc_id, l.thread_id, l.folder_id, l.name, l.rel_path, l.file_size, l.file_mtime_ms, l.added_at, l.removed_at';
    this.stmts = {
      insertDoc: db.prepare(`INSERT INTO documents (hash, kind, size, state, created_at, stored_at) VALUES (@hash, @kind, @size, 'queued', @now, @now)
        ON CONFLICT (hash) DO NOTHING`),
      doc: db.prepare('SELECT * FROM documents WHERE id = ?'),
      touchStored: db.prepare('UPDATE documents SET stored_at = ? WHERE id = ?'),
      docByHash: db.prepare('SELECT * FROM documents WHERE hash = ?'),
      hashes: db.prepare('SELECT hash FROM documents').pluck(),
      setState: db.prepare(`UPDATE documents SET state = @state, error = @error, kind = coalesce(@kind, kind),
          note = CASE WHEN @setNote THEN @note ELSE note END,
          pages = CASE WHEN @setPages THEN @pages ELSE pages END,
          chars = CASE WHEN @setChars THEN @chars ELSE chars END,
          indexed_at = CASE WHEN @state IN ('ready', 'empty') THEN @now ELSE indexed_at END
        WHERE id = @id`),
      chunkIds: db.prepare('SELECT id FROM doc_chunks WHERE doc_id = ?').pluck(),
      deleteChunks: db.prepare('DELETE FROM doc_chunks WHERE doc_id = ?'),
      insertChunk: db.prepare('INSERT INTO doc_chunks (doc_id, seq, text, page, heading, tokens) VALUES (?, ?, ?, ?, ?, ?)'),
      setCounts: db.prepare('UPDATE documents SET chunk_count = ?, tokens = ? WHERE id = ?'),
      chunks: db.prepare('SELECT * FROM doc_chunks WHERE doc_id = ? ORDER BY seq'),
      chunk: db.prepare('SELECT * FROM doc_chunks WHERE id = ?'),
      before: db.prepare('SELECT * FROM doc_chunks WHERE doc_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
      after: db.prepare('SELECT * FROM doc_chunks WHERE doc_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      // the first chunks in (given document order, seq): ids picked on the (doc_id, seq) index, then only those rows read
      fallback: db.prepare(`WITH picked AS (
          SELECT c.id, j.key AS pos, c.seq FROM json_each(@docs) j JOIN doc_chunks c ON c.doc_id = j.value ORDER BY j.key, c.seq LIMIT @limit
        ) SELECT c.* FROM picked p JOIN doc_chunks c ON c.id = p.id ORDER BY p.pos, p.seq`),
      liveThreadLinks: db.prepare('SELECT count(*) FROM doc_links WHERE thread_id = ? AND removed_at IS NULL').pluck(),
      threadLink: db.prepare('SELECT removed_at FROM doc_links WHERE thread_id = ? AND doc_id = ?'),
      linkThread: db.prepare(`INSERT INTO doc_links (doc_id, thread_id, name, added_at) VALUES (@doc, @thread, @name, @now)
        ON CONFLICT (thread_id, doc_id) DO UPDATE SET name = excluded.name, removed_at = NULL,
          added_at = CASE WHEN removed_at IS NULL THEN added_at ELSE excluded.added_at END`),
      unlinkThread: db.prepare('UPDATE doc_links SET removed_at = ? WHERE thread_id = ? AND doc_id = ? AND removed_at IS NULL'),
      threadDocs: db.prepare(`SELECT ${linkCols} FROM doc_links l WHERE l.thread_id = ? AND (? OR l.removed_at IS NULL) ORDER BY l.added_at, l.id`),
      threadDoc: db.prepare(`SELECT ${linkCols} FROM doc_links l WHERE l.thread_id = ? AND l.doc_id = ?`),
      dropThread: db.prepare('DELETE FROM doc_links WHERE thread_id = ?'),
      linkFile: db.prepare(`INSERT INTO doc_links (doc_id, folder_id, rel_path, name, file_size, file_mtime_ms, added_at)
          VALUES (@doc, @folder, @rel, @name, @size, @mtime, @now)
        ON CONFLICT (folder_id, rel_path) DO UPDATE SET doc_id = excluded.doc_id, name = excluded.name, file_size = excluded.file_size,
          file_mtime_ms = excluded.file_mtime_ms, removed_at = NULL,
          added_at = CASE WHEN doc_id = excluded.doc_id THEN added_at ELSE excluded.added_at END`),
      unlinkFile: db.prepare('DELETE FROM doc_links WHERE folder_id = ? AND rel_path = ?'),
      folderFiles: db.prepare(`SELECT ${linkCols} FROM doc_links l WHERE l.folder_id = ? ORDER BY l.rel_path`),
      folderStates: db.prepare(`SELECT d.state, count(*) AS n FROM doc_links l JOIN documents d ON d.id = l.doc_id
        WHERE l.folder_id = ? AND l.removed_at IS NULL GROUP BY d.state`),
      folderFile: db.prepare(`SELECT ${linkCols} FROM doc_links l WHERE l.folder_id = ? AND l.rel_path = ?`),
      assistant: db.prepare('SELECT 1 FROM assistants WHERE id = ?'),
      insertFolder: db.prepare('INSERT INTO knowledge_folders (assistant_id, path, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      folder: db.prepare('SELECT * FROM knowledge_folders WHERE id = ?'),
      folderByPath: db.prepare('SELECT * FROM knowledge_folders WHERE assistant_id = ? AND path = ?'),
      folders: db.prepare('SELECT * FROM knowledge_folders ORDER BY assistant_id, added_at, id'),
      foldersOf: db.prepare('SELECT * FROM knowledge_folders WHERE assistant_id = ? ORDER BY added_at, id'),
      removeFolder: db.prepare('DELETE FROM knowledge_folders WHERE id = ?'),
      markScanned: db.prepare('UPDATE knowledge_folders SET scanned_at = ? WHERE id = ?'),
      liveDocIds: db.prepare(`SELECT DISTINCT l.doc_id FROM doc_links l LEFT JOIN knowledge_folders f ON f.id = l.folder_id
        WHERE l.removed_at IS NULL AND (l.thread_id = @thread OR f.assistant_id = @assistant) ORDER BY l.doc_id`).pluck(),
      dropDeadThreadLinks: db.prepare(`DELETE FROM doc_links WHERE thread_id IS NOT NULL
        AND thread_id NOT IN (SELECT id FROM threads) AND thread_id NOT IN (SELECT value FROM json_each(?))`),
      deadLinkDocs: db.prepare(`SELECT DISTINCT doc_id FROM doc_links WHERE thread_id IS NOT NULL
        AND thread_id NOT IN (SELECT id FROM threads) AND thread_id NOT IN (SELECT value FROM json_each(?))`).pluck(),
      unlinked: db.prepare(`SELECT hash FROM documents d WHERE hash IN (SELECT value FROM json_each(?))
        AND NOT EXISTS (SELECT 1 FROM doc_links l WHERE l.doc_id = d.id AND l.removed_at IS NULL)`).pluck(),
      unreferenced: db.prepare(`SELECT id, hash FROM documents d
        WHERE (stored_at < @before OR (@now AND hash IN (SELECT value FROM json_each(@discard))))
        AND NOT EXISTS (SELECT 1 FROM doc_links l WHERE l.doc_id = d.id AND l.removed_at IS NULL) ORDER BY id`),
      threadsHashes: db.prepare(`SELECT DISTINCT d.hash FROM doc_links l JOIN documents d ON d.id = l.doc_id
        WHERE l.thread_id IN (SELECT value FROM json_each(?))`).pluck(),
      deleteDoc: db.prepare('DELETE FROM documents WHERE id = ?'),
    };
  }

  /** Whether vector search works here (sqlite-vec loaded); without it documents use keyword search only. */
  get vectorsAvailable(): boolean {
    return this.vectors.available;
  }

  /** Why vectors are unavailable (null when they are). */
  get vectorsReason(): string | null {
    return this.vectors.support.reason;
  }

  // ---- documents --------------------------------------------------------------------------------

  /** The document of this content: a new one is 'queued'; an existing one is returned as it is. */
  ensureDocument(input: { hash: string; kind: DocKind | null; size: number }): DocRow {
    const v = check(newDocSchema, input, 'document');
    return this.db.transaction(() => {
      this.stmts.insertDoc.run({ ...v, now: this.clock() });
      return toDoc(this.stmts.docByHash.get(v.hash) as DocDbRow);
    })();
  }

  /** Marks a document's content as stored now (stored again for a message): collectGarbage's grace starts again. */
  touchStored(id: number): void {
    const docId = check(rowId, id, 'document id');
    if (this.stmts.touchStored.run(this.clock(), docId).changes === 0) throw new StoreError('not_found', `no document ${docId}`);
  }

  document(id: number): DocRow | null {
    const r = this.stmts.doc.get(check(rowId, id, 'document id')) as DocDbRow | undefined;
    return r ? toDoc(r) : null;
  }

  /** Every kept document's hash (the documents' folder's sweep keeps their files). */
  hashes(): Set<string> {
    return new Set(this.stmts.hashes.all() as string[]);
  }

  documentByHash(hash: string): DocRow | null {
    const r = this.stmts.docByHash.get(check(hashSchema, hash, 'document hash')) as DocDbRow | undefined;
    return r ? toDoc(r) : null;
  }

  /**
   * Sets a document's state. `error` is the new state's (null unless given); note, pages and chars are kept unless
   * given (null clears). Becoming 'ready' or 'empty' stamps indexedAt.
   */
  setState(id: number, state: DocState, info: { error?: string | null; note?: string | null; pages?: number | null; chars?: number | null; kind?: DocKind } = {}): DocRow {
    const docId = check(rowId, id, 'document id');
    const s = check(stateSchema, state, 'document state');
    const v = check(stateInfoSchema, info, 'document state info');
    const changed = this.stmts.setState.run({
      id: docId, state: s, error: v.error ?? null, now: this.clock(), kind: v.kind ?? null,
      setNote: v.note !== undefined ? 1 : 0, note: v.note ?? null,
      setPages: v.pages !== undefined ? 1 : 0, pages: v.pages ?? null,
      setChars: v.chars !== undefined ? 1 : 0, chars: v.chars ?? null,
    }).changes;
    if (changed === 0) throw new StoreError('not_found', `no document ${docId}`);
    return this.document(docId)!;
  }

  /** Replaces a document's chunks (the old ones' search rows and vectors in every space go too); sets chunkCount and tokens. */
  replaceChunks(docId: number, chunks: NewChunk[]): DocRow {
    const id = check(rowId, docId, 'document id');
    const cs = check(chunksSchema, chunks, 'chunks');
    this.db.transaction(() => {
      if (!this.stmts.doc.get(id)) throw new StoreError('not_found', `no document ${id}`);
      this.vectors.deleteChunks(this.stmts.chunkIds.all(id) as number[]);
      this.stmts.deleteChunks.run(id);
      let tokens = 0;
      for (const c of cs) {
        this.stmts.insertChunk.run(id, c.seq, c.text, c.page ?? null, c.heading ?? null, c.tokens);
        tokens += c.tokens;
      }
      this.stmts.setCounts.run(cs.length, tokens, id);
    })();
    return this.document(id)!;
  }

  chunks(docId: number): ChunkRow[] {
    return (this.stmts.chunks.all(check(rowId, docId, 'document id')) as ChunkDbRow[]).map(toChunk);
  }

  /** A chunk with its document; null when it is no longer stored. */
  chunk(id: number): (ChunkRow & { doc: DocRow }) | null {
    const r = this.stmts.chunk.get(check(rowId, id, 'chunk id')) as ChunkDbRow | undefined;
    if (!r) return null;
    return { ...toChunk(r), doc: toDoc(this.stmts.doc.get(r.doc_id) as DocDbRow) };
  }

  /** The chunk with up to `n` chunks before and `n` after it in its document, in order; [] when it is gone. */
  neighbours(chunkId: number, n: number): ChunkRow[] {
    const r = this.stmts.chunk.get(check(rowId, chunkId, 'chunk id')) as ChunkDbRow | undefined;
    const m = check(neighboursSchema, n, 'neighbours');
    if (!r) return [];
    const before = (this.stmts.before.all(r.doc_id, r.seq, m) as ChunkDbRow[]).reverse();
    const after = this.stmts.after.all(r.doc_id, r.seq, m) as ChunkDbRow[];
    return [...before, r, ...after].map(toChunk);
  }

  /** The first `limit` chunks of `docIds`, in the order given then by seq (retrieval's fallback when nothing matched). */
  chunksForFallback(docIds: number[], limit: number): ChunkRow[] {
    const ids = [...new Set(check(docIdsSchema, docIds, 'document ids'))];
    const n = check(limitSchema, limit, 'limit');
    if (ids.length === 0) return [];
    return (this.stmts.fallback.all({ docs: JSON.stringify(ids), limit: n }) as ChunkDbRow[]).map(toChunk);
  }

  // ---- links ------------------------------------------------------------------------------------

  /** Attaches a document to a thread (saved or temporary); a removed link comes back. At most MAX_THREAD_DOCS live ones. */
  linkThread(threadId: string, docId: number, name: string): LinkedDoc {
    const thread = check(idSchema, threadId, 'thread id');
    const doc = check(rowId, docId, 'document id');
    const n = check(nameSchema, name, 'document name');
    return this.db.transaction(() => {
      this.requireDoc(doc);
      const existing = this.stmts.threadLink.get(thread, doc) as { removed_at: number | null } | undefined;
      if ((!existing || existing.removed_at !== null) && (this.stmts.liveThreadLinks.get(thread) as number) >= MAX_THREAD_DOCS) {
        throw new StoreError('too_large', `a thread holds at most ${MAX_THREAD_DOCS} documents`);
      }
      this.stmts.linkThread.run({ doc, thread, name: n, now: this.clock() });
      return this.linked(this.stmts.threadDoc.get(thread, doc) as LinkDbRow);
    })();
  }

  /** Removes a document from a thread (the link stays, marked removed, until the thread goes); false if it was not attached. */
  unlinkThread(threadId: string, docId: number): boolean {
    return this.stmts.unlinkThread.run(this.clock(), check(idSchema, threadId, 'thread id'), check(rowId, docId, 'document id')).changes > 0;
  }

  /** A thread's documents, oldest first (with `includeRemoved`, those removed too). */
  threadDocs(threadId: string, opts: { includeRemoved?: boolean } = {}): LinkedDoc[] {
    const rows = this.stmts.threadDocs.all(check(idSchema, threadId, 'thread id'), opts.includeRemoved ? 1 : 0) as LinkDbRow[];
    return rows.map((r) => this.linked(r));
  }

  /** Deletes a thread's links (a deleted thread, a closed temporary chat); returns how many. */
  dropThread(threadId: string): number {
    return this.stmts.dropThread.run(check(idSchema, threadId, 'thread id')).changes;
  }

  /** Records a knowledge folder's file (relPath: '/'-separated under the folder) as this document, replacing the path's previous one. */
  linkFolderFile(folderId: number, relPath: string, docId: number, file: { size: number; mtimeMs: number }): LinkedDoc {
    const folder = check(rowId, folderId, 'folder id');
    const rel = check(relPathSchema, relPath, 'folder file path');
    const doc = check(rowId, docId, 'document id');
    const f = check(fileInfoSchema, file, 'folder file');
    return this.db.transaction(() => {
      this.requireDoc(doc);
      if (!this.stmts.folder.get(folder)) throw new StoreError('not_found', `no knowledge folder ${folder}`);
      this.stmts.linkFile.run({ doc, folder, rel, name: rel.split('/').pop()!, size: f.size, mtime: Math.floor(f.mtimeMs), now: this.clock() });
      return this.linked(this.stmts.folderFile.get(folder, rel) as LinkDbRow);
    })();
  }

  /** Forgets a folder file (gone from the folder); false if it was not recorded. */
  unlinkFolderFile(folderId: number, relPath: string): boolean {
    return this.stmts.unlinkFile.run(check(rowId, folderId, 'folder id'), check(relPathSchema, relPath, 'folder file path')).changes > 0;
  }

  /** A folder's files, by path. */
  folderFiles(folderId: number): LinkedDoc[] {
    return (this.stmts.folderFiles.all(check(rowId, folderId, 'folder id')) as LinkDbRow[]).map((r) => this.linked(r));
  }

  /** How many files a folder has, how many are ready, and how many failed or are empty (one query, no rows loaded). */
  folderCounts(folderId: number): FolderCounts {
    const rows = this.stmts.folderStates.all(check(rowId, folderId, 'folder id')) as { state: string; n: number }[];
    const counts: FolderCounts = { files: 0, ready: 0, problems: 0 };
    for (const r of rows) {
      const state = readState(r.state);
      counts.files += r.n;
      if (state === 'ready') counts.ready += r.n;
      else if (state === 'failed' || state === 'empty') counts.problems += r.n;
    }
    return counts;
  }

  /** The documents a turn searches: the thread's attached ones and the files of its assistant's folders (live links). */
  liveDocIds(scope: { threadId?: string | null; assistantId?: string | null }): number[] {
    const thread = scope.threadId == null ? null : check(idSchema, scope.threadId, 'thread id');
    const assistant = scope.assistantId == null ? null : check(idSchema, scope.assistantId, 'assistant id');
    return this.stmts.liveDocIds.all({ thread, assistant }) as number[];
  }

  // ---- knowledge folders ------------------------------------------------------------------------

  /** Adds a folder (an absolute path) to an assistant's knowledge; the same folder again returns the one recorded. */
  addFolder(assistantId: string, folderPath: string): KnowledgeFolder {
    const a = check(idSchema, assistantId, 'assistant id');
    const p = check(folderPathSchema, folderPath, 'folder path');
    return this.db.transaction(() => {
      if (!this.stmts.assistant.get(a)) throw new StoreError('not_found', `assistant ${a} not found`);
      this.stmts.insertFolder.run(a, p, this.clock());
      return toFolder(this.stmts.folderByPath.get(a, p) as FolderDbRow);
    })();
  }

  /** Removes a folder and its files' links (their documents go at the next collectGarbage). */
  removeFolder(id: number): boolean {
    return this.stmts.removeFolder.run(check(rowId, id, 'folder id')).changes > 0;
  }

  folder(id: number): KnowledgeFolder | null {
    const r = this.stmts.folder.get(check(rowId, id, 'folder id')) as FolderDbRow | undefined;
    return r ? toFolder(r) : null;
  }

  folders(assistantId?: string): KnowledgeFolder[] {
    const rows = assistantId === undefined ? this.stmts.folders.all() : this.stmts.foldersOf.all(check(idSchema, assistantId, 'assistant id'));
    return (rows as FolderDbRow[]).map(toFolder);
  }

  markScanned(id: number): void {
    if (this.stmts.markScanned.run(this.clock(), check(rowId, id, 'folder id')).changes === 0) {
      throw new StoreError('not_found', `no knowledge folder ${id}`);
    }
  }

  // ---- garbage ----------------------------------------------------------------------------------

  /**
   * Drops the links of threads that no longer exist (except `keepThreads`: the open temporary chats), then deletes
   * the documents no live link refers to (stored before `storedBefore`: a document stored for a message not yet sent,
   * or stored again by touchStored, is kept a while), with their chunks, search rows and vectors. Returns the deleted
   * documents' hashes, each with `discard`: what the user deleted for good (`opts.discard`: a temporary chat
   * deleted or closed, every chat erased; threadsHashes), its file to be deleted rather than set aside — unless
   * a thread this process does not know linked it (another process's temporary chat: its file is set aside).
   * With `now`, those of `discard` are collected whatever `storedBefore` says (Hearth closing, every chat
   * erased: no composer's unsent attachment outlives it). `createdBefore`: the former name of `storedBefore`.
   */
  collectGarbage(
    keepThreads: ReadonlySet<string> = new Set(), opts: { storedBefore?: number; createdBefore?: number; discard?: Iterable<string>; now?: boolean } = {},
  ): { hash: string; discard: boolean }[] {
    const keep = JSON.stringify([...keepThreads]);
    const discard = new Set(opts.discard ?? []);
    return this.db.transaction(() => {
      const foreign = new Set(this.stmts.deadLinkDocs.all(keep) as number[]);
      this.stmts.dropDeadThreadLinks.run(keep);
      const gone = this.stmts.unreferenced.all({
        before: opts.storedBefore ?? opts.createdBefore ?? Number.MAX_SAFE_INTEGER, discard: JSON.stringify([...discard]), now: opts.now ? 1 : 0,
      }) as { id: number; hash: string }[];
      for (const d of gone) {
        this.vectors.deleteChunks(this.stmts.chunkIds.all(d.id) as number[]);
        this.stmts.deleteDoc.run(d.id);
      }
      this.vectors.dropOrphanTables();
      if (gone.length > 0) this.logger.info('store: deleted documents no chat or folder refers to', { count: gone.length });
      return gone.map((d) => ({ hash: d.hash, discard: discard.has(d.hash) && !foreign.has(d.id) }));
    })();
  }

  /** The hashes of the documents these threads link (live or removed): what goes with them when they are deleted for good (collectGarbage's `discard`). */
  threadsHashes(threadIds: Iterable<string>): Set<string> {
    return new Set(this.stmts.threadsHashes.all(JSON.stringify([...threadIds])) as string[]);
  }

  /** Of these hashes, the documents kept that no live link refers to. */
  unlinkedHashes(hashes: Iterable<string>): Set<string> {
    return new Set(this.stmts.unlinked.all(JSON.stringify([...hashes])) as string[]);
  }

  // ---- embedding spaces and vectors (docs-vectors.ts) ---------------------------------------------

  /** One step (about `budgetMs`) of giving back the space of deleted vectors (docs-compact.ts); whether more remains. */
  compactVectors(budgetMs: number): boolean {
    return this.vectors.compactStep(budgetMs);
  }

  ensureSpace(modelKey: string, modelName: string | null, dims: number): number {
    return this.vectors.ensureSpace(modelKey, modelName, dims);
  }

  space(id: number): EmbeddingSpace | null {
    return this.vectors.space(id);
  }

  spaces(): EmbeddingSpace[] {
    return this.vectors.spaces();
  }

  moveSpecialPass(id: number, from: number | null): void {
    this.vectors.moveSpecialPass(id, from);
  }

  dropSpace(id: number): boolean {
    return this.vectors.dropSpace(id);
  }

  chunksWithoutVectors(spaceId: number, opts: { docId?: number; limit: number }): ChunkToEmbed[] {
    return this.vectors.chunksWithoutVectors(spaceId, opts);
  }

  putVectors(spaceId: number, rows: VectorRow[]): number {
    return this.vectors.putVectors(spaceId, rows);
  }

  vectorCount(spaceId: number, docId?: number): number {
    return this.vectors.vectorCount(spaceId, docId);
  }

  // ---- retrieval --------------------------------------------------------------------------------

  /**
   * Keyword search over the chunks of `docIds` (text and heading, bm25): any of the query's words or "phrases"
   * (search.ts's parsing: FTS syntax in user text is only text; very common English words left out unless nothing
   * else is left: docs-text.ts). Best first; [] for nothing searchable.
   */
  searchText(docIds: number[], query: string, k: number): TextHit[] {
    const args = this.textArgs(docIds, query, k);
    return args ? toTextHits(this.text.search(args.terms, args.ids, args.n)) : [];
  }

  /**
   * searchText in the keyword search's own thread (docs-text-remote.ts), so the main thread does other work (the
   * vector search) meanwhile; on this connection when that thread cannot answer (not for a search that outran its
   * time limit: none then). The same hits. `signal` aborting rejects it (an AbortError).
   */
  async searchTextOffThread(docIds: number[], query: string, k: number, signal?: AbortSignal): Promise<TextHit[]> {
    const args = this.textArgs(docIds, query, k);
    if (!args) return [];
    const rows = this.textWorker
      ? await this.textWorker.search(args.terms, args.ids, args.n, signal).catch((e: Error) => {
        if (e.name === 'AbortError') throw e;
        // a search that outran the thread's limit is not run again here (it would hold main as long): no keyword hits
        if (e.name === 'TimeoutError') return [];
        return null;
      })
      : null;
    return toTextHits(rows ?? this.text.search(args.terms, args.ids, args.n));
  }

  /** A keyword search's arguments checked, with the query's terms; null: nothing to search. */
  private textArgs(docIds: number[], query: string, k: number): { ids: number[]; n: number; terms: string[] } | null {
    const ids = check(docIdsSchema, docIds, 'document ids');
    const n = check(kSchema, k, 'k');
    const terms = docQueryTerms(check(z.string(), query, 'query'));
    return terms.length === 0 || ids.length === 0 ? null : { ids, n, terms };
  }

  /** Vector search (KNN, cosine; approximate: docs-vectors.ts) over the chunks of `docIds` in one space; [] without sqlite-vec. */
  searchVectors(spaceId: number, docIds: number[], vector: Float32Array, k: number): VectorHit[] {
    return this.vectors.searchVectors(spaceId, docIds, vector, k);
  }

  /** The exact KNN that searchVectors approximates (every vector of the space read), and answers with while its index is built. */
  searchVectorsExact(spaceId: number, docIds: number[], vector: Float32Array, k: number): VectorHit[] {
    return this.vectors.searchVectorsExact(spaceId, docIds, vector, k);
  }

  /** Starts building a space's vector index off the main thread (docs-vectors.ts); true once it is ready, false when it cannot be. */
  warmVectors(spaceId: number): Promise<boolean> {
    return this.vectors.warmIndex(spaceId);
  }

  /** Where a space's vector index stands (bench, tests). */
  vectorIndexState(spaceId: number): VectorIndexState {
    return this.vectors.indexState(spaceId);
  }

  /** Stops the vector index builds under way (Store.close). */
  close(): void {
    this.vectors.close();
    this.textWorker?.close();
  }

  private requireDoc(id: number): void {
    if (!this.stmts.doc.get(id)) throw new StoreError('not_found', `no document ${id}`);
  }

  private linked(r: LinkDbRow): LinkedDoc {
    return { ...toLink(r), doc: toDoc(this.stmts.doc.get(r.doc_id) as DocDbRow) };
  }
}
