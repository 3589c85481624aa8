/**
 * The documents domain: documents attached to chats and assistants' knowledge folders, their
 * indexing (./indexer.ts), the sources a turn is given (./retrieve.ts) and the docs.* channels. A
 * document is its content (SHA-256): attached twice, or in a folder and a chat, it is stored and
 * indexed once; it goes (row, chunks, vectors, kept file) when nothing links it any more.
 */
import { createHash } from 'crypto';
import { IpcError } from '../ipc/contract';
import type { DocsStatusDTO, DocumentAttachment, DocumentDTO, PassageDTO, SourceDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import { DOC_MIME_TYPES, docKindOfName, type DocumentSettings, MAX_DOC_BYTES, MAX_THREAD_DOCS } from '../params';
import type { Handlers, Services } from '../services';
import type { Store } from '../store';
import type { DocRow } from '../store/docs';
import type { Extracted } from './extract';
import { readRegularFile } from '../regular-file';
import type { DocFiles } from './files';
import { DocGarbage } from './garbage';
import { KnowledgeFolders } from './folders';
import { Indexer, type IndexerDeps } from './indexer';
import { DocModelError, type DocModels } from './models';
import { retrieveSources, type ThreadDoc } from './retrieve';

/** docs.changed is told at most this often (the documents changed meanwhile together). */
export const CHANGE_MS = 250;
/** Chunks shown around a cited one in its passage. */
const PASSAGE_NEIGHBOURS = 2;
/** A turn waits for its documents' indexing at most this long (then goes on with what is searchable). */
const READY_WAIT_MS = 10 * 60_000;

export interface DocsServiceDeps {
  store: Store;
  files: DocFiles;
  models: DocModels;
  services: Services;
  logger: Logger;
  extract: (name: string, bytes: Uint8Array, signal: AbortSignal) => Promise<Extracted>;
  /** the chats' activity: a reply being written keeps priority over embedding */
  chat: { replying(): boolean; onActivity(listener: () => void): () => void };
  /** the library's model files (an embedding model must be one of them) */
  libraryPaths: () => Promise<string[]>;
}

const NO_MODEL = 'no embedding model is chosen (Settings → Documents): documents are found by keywords only';

/** The states of a document whose chunks are stored. */
const SEARCHABLE: ReadonlySet<DocRow['state']> = new Set(['ready', 'embedding', 'cancelled']);

const err = (code: 'invalid_input' | 'not_found' | 'too_large', message: string) => new IpcError(code, message);

export class DocsService {
  readonly indexer: Indexer;
  readonly folders: KnowledgeFolders;
  private readonly waiters = new Set<() => void>();
  private vectorsOff: string | null = null;
  private readonly changedRefs = new Set<string>();
  private changeTimer: NodeJS.Timeout | null = null;
  /** what goes when nothing keeps it: unlinked documents, stray files, deleted vectors' space */
  readonly garbage: DocGarbage;
  /** the embedding space last used, and its model's file */
  private space: { file: string; id: number } | null = null;

  constructor(private readonly deps: DocsServiceDeps) {
    const docs = deps.store.docs;
    this.indexer = new Indexer({
      store: docs,
      settings: () => this.settings(),
      read: (doc) => this.read(doc),
      extract: deps.extract,
      vectors: () => this.vectors(),
      chatIdle: (signal) => this.chatIdle(signal),
      progress: (p) => deps.services.emit('docs.progress', p),
      changed: (hash) => this.changed([hash]),
      logger: deps.logger,
    });
    this.garbage = new DocGarbage({ store: deps.store, files: deps.files, logger: deps.logger, cancelHash: (hash) => this.indexer.cancelHash(hash) });
    this.folders = new KnowledgeFolders({
      store: docs,
      index: (doc, name) => this.indexer.add(doc, name),
      collect: () => this.garbage.collect(),
      changed: () => this.changed([]),
      logger: deps.logger,
    });
    deps.services.subscribe((event, payload) => {
      if (event === 'threads.deleted') {
        const { id, temporary } = payload as { id: string; temporary?: boolean };
        // a temporary chat's documents go with it; a saved chat's are set aside (a backup may bring it back)
        const discard = temporary ? docs.threadsHashes([id]) : undefined;
        docs.dropThread(id);
        this.garbage.collect({ discard });
        // (and what was set aside 30 days ago goes)
        this.garbage.sweepSoon();
      }
    });
  }

  settings(): DocumentSettings {
    return this.deps.store.settings.get('documents');
  }

  /**
   * Picks up where the last run stopped: documents no longer linked go, and the folder's files no document
   * is; documents left queued or mid-way are indexed, folders scanned and watched.
   */
  start(): void {
    const docs = this.deps.store.docs;
    this.garbage.start();
    for (const d of docs.reports.unfinished()) this.indexer.add(d, d.name);
    this.folders.start();
    this.indexer.reembed();
    // the embedding model's space: its vector index is built (off the main thread) before the first question asks
    void this.vectors().catch(() => undefined);
  }

  /** The settings changed: a new embedding model embeds every document again (its own space). */
  settingsChanged(): void {
    this.indexer.reembed();
    // told once the chosen model is checked, so that the status says whether vectors are on with it (and why not)
    void this.vectors()
      .catch((e: Error) => this.deps.logger.warn(`docs: the embedding model could not be checked: ${e.message}`))
      .finally(() => this.changed([]));
  }

  private async read(doc: { id: number; hash: string }): Promise<Uint8Array | null> {
    const kept = await this.deps.files.get(doc.hash);
    if (kept) return kept;
    // a folder's file: read where it lies, if it still holds this content
    for (const file of this.deps.store.docs.reports.folderPathsOf(doc.id)) {
      const bytes = await readRegularFile(file, MAX_DOC_BYTES).catch(() => null);
      if (bytes && createHash('sha256').update(bytes).digest('hex') === doc.hash) return bytes;
    }
    return null;
  }

  /** The embedding space of the model the settings choose; off (with why) when there is none or it cannot be used. */
  private async vectors(): ReturnType<IndexerDeps['vectors']> {
    const file = this.settings().embeddingModel;
    const docs = this.deps.store.docs;
    const off = (why: string) => {
      this.vectorsOff = why;
      return { off: why };
    };
    if (!docs.vectorsAvailable) return off(this.noVectors());
    if (!file) return off(NO_MODEL);
    if (!(await this.deps.libraryPaths()).includes(file)) return off(`the embedding model ${file} is not in the library`);
    try {
      const space = await this.deps.models.check('embed', file);
      const spaceId = docs.ensureSpace(space.key, space.name, space.dims);
      this.warm(spaceId);
      this.vectorsOff = null;
      this.space = { file, id: spaceId };
      return {
        spaceId,
        embed: (texts, signal) => this.deps.models.embed(file, texts, 'document', signal),
        holdsSpecialText: (texts, signal) => this.deps.models.holdsSpecialText(file, texts, signal),
      };
    } catch (e) {
      if (e instanceof DocModelError) return off(e.message);
      return off(`the embedding model cannot be read: ${(e as Error).message}`);
    }
  }

  /** Starts building a space's vector index off the main thread (ready, or under way, it is left as it is); never throws. */
  private warm(spaceId: number): void {
    try {
      void this.deps.store.docs.warmVectors(spaceId);
    } catch (e) {
      this.deps.logger.debug(`docs: the vector index was not warmed: ${(e as Error).message}`);
    }
  }

  private noVectors(): string {
    return `vector search is not available on this system (${this.deps.store.docs.vectorsReason ?? 'sqlite-vec did not load'}): documents are found by keywords only`;
  }

  private chatIdle(signal: AbortSignal): Promise<void> {
    const chat = this.deps.chat;
    if (!chat.replying()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (chat.replying() && !signal.aborted) return;
        off();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const off = chat.onActivity(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Tells a change within CHANGE_MS, the documents named meanwhile together (a folder's indexing changes many). */
  private changed(refs: string[]): void {
    for (const r of refs) this.changedRefs.add(r);
    for (const w of [...this.waiters]) w();
    if (this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      const named = [...this.changedRefs];
      this.changedRefs.clear();
      this.tellChanged(named);
    }, CHANGE_MS);
    this.changeTimer.unref?.();
  }

  private tellChanged(refs: string[]): void {
    try {
      const docs = this.deps.store.docs;
      const space = this.currentSpace();
      const documents = refs.flatMap((ref) => {
        const row = docs.documentByHash(ref);
        return row ? [this.dto(row, docs.reports.nameOf(row.id) ?? ref.slice(0, 12), false, space)] : [];
      });
      this.deps.services.emit('docs.changed', { status: this.status(), refs, documents });
    } catch (e) {
      this.deps.logger.warn(`docs: a change could not be told: ${(e as Error).message}`);
    }
  }

  private dto(row: DocRow, name: string, removed: boolean, spaceId: number | null): DocumentDTO {
    return {
      ref: row.hash,
      name,
      kind: row.kind,
      size: row.size,
      state: row.state,
      error: row.error,
      note: row.note,
      pages: row.pages,
      chunks: row.chunkCount,
      tokens: row.tokens,
      embedded: spaceId !== null && row.chunkCount > 0 && this.deps.store.docs.vectorCount(spaceId, row.id) >= row.chunkCount,
      removed,
      progress: this.indexer.progress(row.hash),
    };
  }

  private currentSpace(): number | null {
    const file = this.settings().embeddingModel;
    return file && this.space?.file === file ? this.space.id : null;
  }

  /** Keeps a document the user attached and queues its indexing. */
  async storeDocument(name: string, base64: string): Promise<{ attachment: DocumentAttachment; document: DocumentDTO }> {
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length === 0) throw err('invalid_input', `${name} is empty`);
    if (bytes.length > MAX_DOC_BYTES) throw err('too_large', `${name} is ${bytes.length} bytes; a document may have at most ${MAX_DOC_BYTES}`);
    const kind = docKindOfName(name);
    const hash = await this.deps.files.put(bytes);
    const docs = this.deps.store.docs;
    const row = docs.ensureDocument({ hash, kind, size: bytes.length });
    // stored again (removed from another chat, attached anew): its grace before a send starts now
    docs.touchStored(row.id);
    if (row.state === 'queued' || row.state === 'failed' || row.state === 'cancelled') this.indexer.add(row, name);
    const attachment: DocumentAttachment = { type: 'document', ref: hash, name, mimeType: DOC_MIME_TYPES[kind ?? 'text'], size: bytes.length };
    this.changed([hash]);
    return { attachment, document: this.dto(docs.document(row.id)!, name, false, this.currentSpace()) };
  }

  /** Queues the indexing of documents an import kept (main/data/import-documents.ts): those still queued and not being indexed. */
  adoptImported(refs: readonly string[]): void {
    const docs = this.deps.store.docs;
    for (const ref of refs) {
      const row = docs.documentByHash(ref);
      if (row?.state === 'queued' && !this.indexer.has(row.id)) this.indexer.add(row, docs.reports.nameOf(row.id) ?? ref.slice(0, 12));
    }
    this.changed([...refs]);
  }

  /**
   * Links a message's documents to its thread (chat.send, chat.edit): each must be stored. `kept` (an
   * edit): the refs the message had before. A kept document the thread took out ("Remove from chat")
   * stays out: an edit never undoes a removal, only a document it brings (one the message did not
   * have) is linked again. Every other is linked (a live link stays as it was). The thread's limit
   * counts only the documents this adds (not live on the thread yet), so an edit keeping many of a
   * busy thread's documents is not refused for them.
   */
  attach(threadId: string, documents: readonly DocumentAttachment[], kept: ReadonlySet<string> = new Set()): DocumentAttachment[] {
    const docs = this.deps.store.docs;
    const rows = documents.map((a) => {
      const row = docs.documentByHash(a.ref);
      if (!row) throw err('not_found', `the document ${a.name} is not stored: attach it again`);
      return { a, row };
    });
    // the thread's links: live (true) or removed (false)
    const live = new Map(docs.threadDocs(threadId, { includeRemoved: true }).map((l) => [l.doc.id, l.removedAt === null]));
    const linked = rows.filter(({ a, row }) => !(kept.has(a.ref) && live.get(row.id) === false));
    const have = [...live.values()].filter(Boolean).length;
    const adds = new Set(linked.filter(({ row }) => live.get(row.id) !== true).map(({ row }) => row.id)).size;
    if (have + adds > MAX_THREAD_DOCS) throw err('invalid_input', `a chat may hold at most ${MAX_THREAD_DOCS} documents (this one has ${have})`);
    for (const { a, row } of linked) docs.linkThread(threadId, row.id, a.name);
    this.changed(linked.map((r) => r.row.hash));
    return rows.map(({ a, row }) => ({ ...a, size: row.size }));
  }

  list(threadId: string): DocumentDTO[] {
    const space = this.currentSpace();
    return this.deps.store.docs.threadDocs(threadId, { includeRemoved: true }).map((l) => this.dto(l.doc, l.name, l.removedAt !== null, space));
  }

  remove(threadId: string, ref: string): void {
    const docs = this.deps.store.docs;
    const row = docs.documentByHash(ref);
    if (!row || !docs.threadDocs(threadId, { includeRemoved: false }).some((l) => l.doc.id === row.id)) throw err('not_found', 'this chat holds no such document');
    docs.unlinkThread(threadId, row.id);
    this.changed([ref]);
  }

  cancel(ref: string): void {
    const row = this.deps.store.docs.documentByHash(ref);
    if (!row) throw err('not_found', 'no such document');
    if (!this.indexer.cancel(row.id)) throw err('invalid_input', `${ref.slice(0, 12)}… is not being indexed`);
  }

  retry(ref: string): void {
    const docs = this.deps.store.docs;
    const row = docs.documentByHash(ref);
    if (!row) throw err('not_found', 'no such document');
    if (this.indexer.has(row.id)) return;
    docs.setState(row.id, 'queued', { error: null });
    this.indexer.add(row, docs.reports.nameOf(row.id) ?? ref);
    this.changed([ref]);
  }

  status(): DocsStatusDTO {
    const s = this.settings();
    const docs = this.deps.store.docs;
    const space = this.currentSpace();
    const totals = docs.reports.totals(space);
    return {
      embeddingModel: s.embeddingModel,
      vectorsOff: !docs.vectorsAvailable ? this.noVectors() : !s.embeddingModel ? NO_MODEL : this.vectorsOff,
      rerankModel: s.rerankModel,
      documents: totals.documents,
      chunks: totals.chunks,
      embedded: totals.embedded,
      queued: this.indexer.queued(),
      active: this.indexer.active(),
      folders: this.folders.list(),
    };
  }

  passage(chunkId: number): PassageDTO {
    const docs = this.deps.store.docs;
    const c = docs.chunk(chunkId);
    if (!c) throw err('not_found', 'that passage is no longer stored (its document was removed or indexed again)');
    const doc = c.doc;
    const around = docs.neighbours(chunkId, PASSAGE_NEIGHBOURS);
    return {
      ref: doc.hash,
      name: docs.reports.nameOf(doc.id) ?? doc.hash.slice(0, 12),
      kind: doc.kind,
      chunkId,
      page: c.page,
      heading: c.heading,
      before: around.filter((x) => x.seq < c.seq).map((x) => x.text),
      text: c.text,
      after: around.filter((x) => x.seq > c.seq).map((x) => x.text),
    };
  }

  /** The documents a thread's turn searches: its own (not removed) and its assistant's folders'. */
  private threadDocs(threadId: string, assistantId: string | null): (ThreadDoc & { state: DocRow['state'] })[] {
    const docs = this.deps.store.docs;
    const own = docs.threadDocs(threadId, { includeRemoved: false }).map((l) => ({ id: l.doc.id, hash: l.doc.hash, name: l.name, tokens: l.doc.tokens, state: l.doc.state }));
    const folders = assistantId ? docs.folders(assistantId).flatMap((f) => docs.folderFiles(f.id).map((x) => ({ id: x.docId, hash: x.doc.hash, name: x.relPath ?? x.name, tokens: x.doc.tokens, state: x.doc.state }))) : [];
    const seen = new Set<number>();
    return [...own, ...folders].filter((d) => !seen.has(d.id) && !!seen.add(d.id));
  }

  /** Whether a thread (or its assistant) has documents: a turn then asks for its sources. */
  hasDocuments(threadId: string, assistantId: string | null): boolean {
    return this.threadDocs(threadId, assistantId).length > 0;
  }

  /**
   * The sources a turn's reply is given: waits (Stop ends the wait) for the thread's documents still
   * being indexed, then gives them whole or retrieves their best passages for `query`. Null: the
   * thread has no documents. Never throws for a model it cannot use: it searches by keywords then.
   */
  async sourcesFor(r: { threadId: string; assistantId: string | null; query: string; contextTokens: number; signal: AbortSignal }): Promise<SourceDTO[] | null> {
    // the chat's own attachments are waited for; an assistant's folder is searched as it is (it may be large and still indexing)
    const pending = () => this.threadDocs(r.threadId, null).filter((d) => this.indexer.has(d.id)).length;
    const until = Date.now() + READY_WAIT_MS;
    while (pending() > 0 && !r.signal.aborted && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          r.signal.removeEventListener('abort', wake);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(wake, 1000);
        this.waiters.add(wake);
        r.signal.addEventListener('abort', wake, { once: true });
      });
    }
    if (r.signal.aborted) return null;
    const all = this.threadDocs(r.threadId, r.assistantId);
    // chunked documents are searchable (a cancelled embedding keeps its chunks: found by keywords)
    const ready = all.filter((d) => SEARCHABLE.has(d.state));
    if (all.length === 0) return null;
    const s = this.settings();
    const space = this.currentSpace();
    // while the question is embedded, the space's vector index gets built if it is not yet
    if (space !== null) this.warm(space);
    const embedFile = s.embeddingModel;
    const rerankFile = s.rerankModel;
    const models = this.deps.models;
    const logger = this.deps.logger;
    return retrieveSources(
      {
        store: this.deps.store.docs,
        settings: s,
        vector:
          space !== null && embedFile
            ? async (text, signal) => {
                try {
                  const [v] = await models.embed(embedFile, [text], 'query', signal);
                  return { spaceId: space, vector: Float32Array.from(v) };
                } catch (e) {
                  logger.warn(`docs: the question could not be embedded (keyword search only): ${(e as Error).message}`);
                  return null;
                }
              }
            : null,
        rerank: rerankFile
          ? async (query, passages, signal) => {
              try {
                return await models.rerank(rerankFile, query, passages, signal);
              } catch (e) {
                logger.warn(`docs: reranking failed (fused order kept): ${(e as Error).message}`);
                return [];
              }
            }
          : null,
      },
      ready,
      r.query,
      r.contextTokens,
      r.signal,
    );
  }

  channels(): Handlers {
    return {
      'docs.store': (r) => this.storeDocument(r.name, r.data),
      'docs.list': (r) => this.list(r.threadId),
      'docs.remove': (r) => {
        this.remove(r.threadId, r.ref);
        return { ok: true as const };
      },
      'docs.cancel': (r) => {
        this.cancel(r.ref);
        return { ok: true as const };
      },
      'docs.retry': (r) => {
        this.retry(r.ref);
        return { ok: true as const };
      },
      'docs.status': () => this.status(),
      'docs.passage': (r) => this.passage(r.chunkId),
      'docs.folders.add': (r) => this.folders.add(r.assistantId, r.path),
      'docs.folders.remove': (r) => {
        if (!this.deps.store.docs.folder(r.id)) throw err('not_found', `there is no knowledge folder ${r.id}`);
        this.folders.remove(r.id);
        return { ok: true as const };
      },
      'docs.folders.rescan': (r) => this.folders.rescan(r.id),
    };
  }

  async close(): Promise<void> {
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.changeTimer = null;
    this.folders.close();
    await this.garbage.close();
    await this.indexer.close();
    await this.deps.models.close();
  }
}
