/**
 * The documents' indexing, one job at a time in order: a document's text is extracted (in a worker
 * thread: a bad file ends the worker, never the app), chunked and stored (searchable by keywords at
 * once), then its chunks are embedded in batches into the current embedding model's space. A chat
 * reply keeps priority: each batch waits while one is being written. Progress is told (at most every
 * PROGRESS_MS per document, and at each phase's end); a job can be cancelled. When no job waits,
 * documents whose chunks lack vectors of the current model (a new model was chosen) are embedded, and
 * spaces of other models dropped; a space made before special-token text was embedded as text first
 * has its chunks that hold such text embedded again.
 */
import type { DocProgressDTO } from '../ipc/docs';
import type { Logger } from '../logging';
import type { DocKind, DocumentSettings } from '../params';
import type { DocsStore } from '../store/docs';
import type { ChunkToEmbed } from '../store/docs-vectors';
import { chunkBlocks } from './chunk';
import { type Extracted, NOTE_NO_TEXT } from './extract';

/** Progress of one document is told at most this often. */
export const PROGRESS_MS = 250;
/** Chunks embedded per engine call. */
export const EMBED_BATCH = 32;
/** The chunk ids one step of embedSpecialAgain reads at most (a space where few chunks have a < or a [ is read a window at a time). */
export const SPECIAL_WINDOW = 4096;

export interface IndexerDeps {
  store: DocsStore;
  settings: () => DocumentSettings;
  /** a document's bytes (its kept file, or its folder file); null: gone */
  read: (doc: { id: number; hash: string }) => Promise<Uint8Array | null>;
  extract: (name: string, bytes: Uint8Array, signal: AbortSignal) => Promise<Extracted>;
  /**
   * the current embedding space, how to embed into it, and which texts hold a special token's text of its
   * model (embedded as text since the space was made; embedSpecialAgain); null: keyword search only (`why`)
   */
  vectors: () => Promise<
    | { spaceId: number; embed: (texts: string[], signal: AbortSignal) => Promise<number[][]>; holdsSpecialText: (texts: string[], signal: AbortSignal) => Promise<boolean[]> }
    | { off: string }
  >;
  /** resolves when no chat reply is being written (a reply keeps priority over embedding) */
  chatIdle: (signal: AbortSignal) => Promise<void>;
  progress: (p: DocProgressDTO) => void;
  /** a document's state changed */
  changed: (hash: string) => void;
  logger: Logger;
  now?: () => number;
}

interface Job {
  docId: number;
  hash: string;
  name: string;
  /** chunk again (its text extracted anew): a new document, a retry */
  extract: boolean;
  abort: AbortController;
}

const aborted = (signal: AbortSignal) => signal.aborted;

/** What a chunk's vector is made of: its heading path, then its text (the chunk's text has no heading lines). */
const embedInput = (r: ChunkToEmbed): string => (r.heading ? `${r.heading}\n${r.text}` : r.text);

type Space = Exclude<Awaited<ReturnType<IndexerDeps['vectors']>>, { off: string }>;

export class Indexer {
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private running: Promise<void> | null = null;
  private progressOf = new Map<string, DocProgressDTO>();
  private closed = false;
  /** a catch-up pass (vectors of the current model for every document) is due */
  private catchUp = true;
  /** aborted by close: stops a pass of embedSpecialAgain */
  private readonly closing = new AbortController();
  /** where embedSpecialAgain failed last in a space (a second failure there passes that batch over) */
  private readonly specialFailedAt = new Map<number, number>();

  constructor(private readonly deps: IndexerDeps) {}

  /** Queues a document (extracted and chunked anew, then embedded); one queued or running already is left as it is. */
  add(doc: { id: number; hash: string }, name: string): void {
    if (this.closed || this.has(doc.id)) return;
    this.queue.push({ docId: doc.id, hash: doc.hash, name, extract: true, abort: new AbortController() });
    this.kick();
  }

  /** Whether a document is queued or being indexed. */
  has(docId: number): boolean {
    return this.current?.docId === docId || this.queue.some((j) => j.docId === docId);
  }

  /** Stops a document's indexing (queued or running): its state becomes cancelled. */
  cancel(docId: number): boolean {
    const i = this.queue.findIndex((j) => j.docId === docId);
    if (i >= 0) {
      const [job] = this.queue.splice(i, 1);
      this.finish(job, 'cancelled');
      return true;
    }
    if (this.current?.docId === docId) {
      this.current.abort.abort();
      return true;
    }
    return false;
  }

  /** Stops a document's indexing by its hash (it is gone). */
  cancelHash(hash: string): void {
    for (const j of this.queue.filter((x) => x.hash === hash)) this.queue.splice(this.queue.indexOf(j), 1);
    if (this.current?.hash === hash) this.current.abort.abort();
  }

  /** The progress of a document being indexed (null: none). */
  progress(hash: string): DocProgressDTO | null {
    return this.progressOf.get(hash) ?? null;
  }

  active(): DocProgressDTO | null {
    return this.current ? (this.progressOf.get(this.current.hash) ?? null) : null;
  }

  queued(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  /** Embeds what lacks vectors of the current model (after a change of model), once the queue is empty. */
  reembed(): void {
    this.catchUp = true;
    this.kick();
  }

  /** Resolves when no job is queued or running (tests, close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    for (const j of this.queue.splice(0)) j.abort.abort();
    this.current?.abort.abort();
    await this.idle();
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.loop()
      .catch((e: Error) => this.deps.logger.error(`docs: the indexer stopped: ${e.message}`))
      .finally(() => {
        this.running = null;
        if (!this.closed && (this.queue.length > 0 || this.catchUp)) this.kick();
      });
  }

  private async loop(): Promise<void> {
    for (;;) {
      const job = this.queue.shift();
      if (!job) {
        if (this.catchUp && !this.closed) {
          this.catchUp = false;
          await this.embedMissing();
          continue;
        }
        return;
      }
      this.current = job;
      try {
        await this.run(job);
      } finally {
        this.current = null;
        this.progressOf.delete(job.hash);
      }
    }
  }

  private tell(job: Job, phase: DocProgressDTO['phase'], done: number, total: number, force = false): void {
    const p: DocProgressDTO = { ref: job.hash, name: job.name, phase, done, total };
    const last = this.progressOf.get(job.hash) as (DocProgressDTO & { at?: number }) | undefined;
    const now = (this.deps.now ?? Date.now)();
    this.progressOf.set(job.hash, Object.assign(p, { at: force || !last?.at || now - last.at >= PROGRESS_MS ? now : last.at }));
    if (force || !last?.at || now - last.at >= PROGRESS_MS) {
      try {
        this.deps.progress({ ref: p.ref, name: p.name, phase, done, total });
      } catch (e) {
        this.deps.logger.warn(`docs: progress could not be told: ${(e as Error).message}`);
      }
    }
  }

  private finish(job: Job, state: 'ready' | 'empty' | 'failed' | 'cancelled', fields: { error?: string | null; note?: string | null } = {}): void {
    try {
      this.deps.store.setState(job.docId, state, fields);
    } catch (e) {
      this.deps.logger.warn(`docs: the state of ${job.name} could not be stored: ${(e as Error).message}`);
    }
    // done: the status told with the change no longer names it as the active job (nor counts it queued)
    if (this.current === job) {
      this.current = null;
      this.progressOf.delete(job.hash);
    }
    this.deps.changed(job.hash);
  }

  private async run(job: Job): Promise<void> {
    const { store } = this.deps;
    const signal = job.abort.signal;
    const doc = store.document(job.docId);
    if (!doc) return; // deleted meanwhile
    let note: string | null = null;
    try {
      if (job.extract) {
        store.setState(job.docId, 'extracting', { error: null, note: null });
        this.deps.changed(job.hash);
        this.tell(job, 'extracting', 0, 1, true);
        const bytes = await this.deps.read(doc);
        if (!bytes) throw new Error('the file is gone: attach it again');
        const extracted = await this.deps.extract(job.name, bytes, signal);
        if (aborted(signal)) return this.finish(job, 'cancelled');
        const s = this.deps.settings();
        const chunks = chunkBlocks(extracted.blocks, { targetTokens: s.chunkTokens, overlapTokens: s.chunkOverlapTokens });
        store.replaceChunks(job.docId, chunks);
        store.setState(job.docId, chunks.length ? 'embedding' : 'empty', { kind: extracted.kind as DocKind, pages: extracted.pages, chars: extracted.chars, note: extracted.note });
        note = extracted.note;
        this.tell(job, 'extracting', 1, 1, true);
        this.deps.changed(job.hash);
        if (!chunks.length) return this.finish(job, 'empty', { note: extracted.note ?? NOTE_NO_TEXT });
      }
      const v = await this.deps.vectors();
      // keyword search only (the status says why); a model chosen later embeds it (embedMissing)
      if ('off' in v) return this.finish(job, 'ready', { note });
      await this.embedDoc(job, v.spaceId, v.embed, signal);
      if (aborted(signal)) return this.finish(job, 'cancelled');
      this.finish(job, 'ready', { note });
    } catch (e) {
      if (aborted(signal) || (e as { code?: string }).code === 'aborted') return this.finish(job, 'cancelled');
      const message = (e as Error).message;
      this.deps.logger.warn(`docs: indexing ${job.name} failed: ${message}`);
      this.finish(job, 'failed', { error: message });
    }
  }

  private async embedDoc(job: Job, spaceId: number, embed: (texts: string[], signal: AbortSignal) => Promise<number[][]>, signal: AbortSignal): Promise<void> {
    const { store } = this.deps;
    const total = store.document(job.docId)?.chunkCount ?? 0;
    let done = store.vectorCount(spaceId, job.docId);
    this.tell(job, 'embedding', done, total, true);
    for (;;) {
      const rows = store.chunksWithoutVectors(spaceId, { docId: job.docId, limit: EMBED_BATCH });
      if (rows.length === 0 || aborted(signal)) break;
      await this.deps.chatIdle(signal);
      if (aborted(signal)) break;
      const vectors = await embed(rows.map(embedInput), signal);
      if (aborted(signal)) break;
      store.putVectors(spaceId, rows.map((r, i) => ({ chunkId: r.id, docId: r.docId, vector: Float32Array.from(vectors[i]) })));
      done += rows.length;
      this.tell(job, 'embedding', done, total);
    }
    this.tell(job, 'embedding', done, total, true);
  }

  /**
   * A space made before special-token text in the chunks was embedded as text ("</s>" read as the text it
   * is, not that token; migration 11): its chunks of then that hold a special token's text of its model
   * are embedded again (their vectors replaced), SPECIAL_WINDOW chunk ids at a time, each batch after any
   * chat reply being written, and the pass's place is stored as it goes: a pass stopped (new documents,
   * another model, closing) or failed goes on from there at the next catch-up; a batch that fails twice
   * in a row is passed over. Whether the catch-up goes on (false: new documents or another model first).
   */
  private async embedSpecialAgain(v: Space): Promise<boolean> {
    const { store } = this.deps;
    let pass = store.space(v.spaceId)?.specialPass ?? null;
    const signal = this.closing.signal;
    // stop for new documents, another model (a catch-up due) or closing
    const yields = () => {
      if (!this.closed && this.queue.length === 0 && !this.catchUp) return false;
      this.catchUp = true;
      return true;
    };
    while (pass) {
      if (yields()) return false;
      if (pass.from >= pass.to) {
        store.moveSpecialPass(v.spaceId, null);
        this.deps.logger.info('docs: the chunks holding special-token text were embedded again', { spaceId: v.spaceId });
        return true;
      }
      await this.deps.chatIdle(signal);
      // a turn of the event loop per window: a run of windows without markup never holds main's thread (nor an IPC call of add) back
      await new Promise<void>((r) => setImmediate(r));
      if (signal.aborted || yields()) return false;
      const end = Math.min(pass.to, pass.from + SPECIAL_WINDOW);
      const rows = store.reports.embeddedWithMarkup(v.spaceId, pass.from, end, EMBED_BATCH);
      const next = rows.length === EMBED_BATCH ? rows[rows.length - 1].id : end;
      try {
        const special = rows.length ? await v.holdsSpecialText(rows.map(embedInput), signal) : [];
        const again = rows.filter((_, i) => special[i]);
        if (again.length > 0) {
          const vectors = await v.embed(again.map(embedInput), signal);
          if (signal.aborted) return false;
          store.putVectors(v.spaceId, again.map((r, i) => ({ chunkId: r.id, docId: r.docId, vector: Float32Array.from(vectors[i]) })));
        }
      } catch (e) {
        if (signal.aborted) return false;
        // the missing vectors are still made; the pass goes on from here at the next catch-up, and past this
        // batch (its chunks keep their vectors) when it fails here again
        const again = this.specialFailedAt.get(v.spaceId) === pass.from;
        this.deps.logger.warn(`docs: chunks holding special-token text could not be embedded again${again ? ' (twice: passed over)' : ''}: ${(e as Error).message}`);
        if (!again) {
          this.specialFailedAt.set(v.spaceId, pass.from);
          return true;
        }
      }
      this.specialFailedAt.delete(v.spaceId);
      store.moveSpecialPass(v.spaceId, next);
      pass = { from: next, to: pass.to };
    }
    return true;
  }

  /** Every ready document's chunks without vectors of the current model get them; other models' spaces go. */
  private async embedMissing(): Promise<void> {
    const { store } = this.deps;
    let v: Awaited<ReturnType<IndexerDeps['vectors']>>;
    try {
      v = await this.deps.vectors();
    } catch (e) {
      this.deps.logger.warn(`docs: the embedding model cannot be used: ${(e as Error).message}`);
      return;
    }
    if ('off' in v) return;
    if (!(await this.embedSpecialAgain(v))) return;
    for (const doc of store.reports.documentsMissingVectors(v.spaceId)) {
      if (this.closed || this.queue.length > 0) {
        // new documents first; the catch-up goes on after them
        this.catchUp = true;
        return;
      }
      const job: Job = { docId: doc.id, hash: doc.hash, name: doc.name, extract: false, abort: new AbortController() };
      this.current = job;
      try {
        store.setState(doc.id, 'embedding', {});
        this.deps.changed(doc.hash);
        await this.embedDoc(job, v.spaceId, v.embed, job.abort.signal);
        this.finish(job, job.abort.signal.aborted ? 'cancelled' : 'ready', { note: doc.note });
      } catch (e) {
        this.finish(job, 'failed', { error: (e as Error).message });
      } finally {
        this.current = null;
        this.progressOf.delete(doc.hash);
      }
    }
    // the model may have changed while this pass embedded (its space is then another): that space is not dropped,
    // and a pass for it follows
    const now = await this.deps.vectors().catch(() => null);
    if (!now || 'off' in now || now.spaceId !== v.spaceId) {
      this.catchUp = true;
      return;
    }
    for (const s of store.spaces()) if (s.id !== v.spaceId) store.dropSpace(s.id);
  }
}
