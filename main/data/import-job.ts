/**
 * Imports of other apps' chats as jobs: a preview reads the whole file once and says what an import
 * would do (new conversations and messages, those imported before, the time they span, what is left
 * out by reason) without writing; the import reads it again and writes each new conversation in its
 * own transaction, telling its progress (at most every `progressIntervalMs`, and at its end). One
 * import runs at a time. Cancelling stops between conversations: those written stay. A Hearth JSON file
 * is then read again for the documents the written chats attach (their own step, with the bytes read as
 * progress, whether or not the chats were cancelled); cancelling that read keeps the documents found before. A conversation
 * imported before (same format and id, or a Hearth JSON or Jan thread whose id is already here) is
 * skipped, so importing the same file twice adds nothing.
 */
import { randomUUID } from 'crypto';
import fs from 'fs';
import path from 'path';
import {
  IMPORT_OTHER_REASONS, IMPORT_REASON_CHARS, IMPORT_SKIP_REASONS, IpcError, UNREAD_DOCUMENT, type ImportPreviewDTO, type ImportProgressDTO, type ImportSource,
} from '../ipc/contract';
import type { Logger } from '../logging';
import type { Store } from '../store';
import type { ImportFormat, ImportFormatChoice, SkipNote } from './imported';
import { openSource, type ImportSourceOpen, type ReaderFactory } from './import-sources';
import {
  adoptDocuments, attachedDocumentsOf, unreadDocument, type DocumentsAdopted, type ImportedDocumentsDeps, type WrittenThread,
} from './import-documents';
import type { Uploads } from './uploads';
import { PROGRESS_EVERY_MS } from '../progress-pace';
import { withBusyAdvice } from '../store/busy';

export interface ImportJobsDeps {
  store: Store;
  /** opens the formats main/data/formats reads (Hearth JSON and Jan are read here) */
  readers: ReaderFactory;
  uploads: Uploads;
  emit: (p: ImportProgressDTO) => void;
  logger: Logger;
  /** the clock progress is paced by (tests move it) */
  now?: () => number;
  progressIntervalMs?: number;
  /** lets other work in between conversations (default: the next macrotask) */
  yieldTurn?: () => Promise<void>;
  /** where the documents a Hearth bundle carries are kept, and who indexes them (without it they are left out) */
  documents?: Omit<ImportedDocumentsDeps, 'store' | 'logger'>;
}

type State = ImportProgressDTO['state'];

interface Job {
  id: string;
  path: string;
  uploadId: string | null;
  format: ImportFormat;
  total: number;
  state: State;
  done: number;
  imported: number;
  messages: number;
  duplicates: number;
  error: string | null;
  documents: DocumentsAdopted | null;
  /** what it is doing: writing the chats, reading the file again for their documents, or keeping those found */
  step: 'chats' | 'documents' | 'keeping';
  /** stops the chats' step */
  abort: AbortController;
  /** stops the documents' read (those found are still kept) */
  abortDocuments: AbortController;
  /** stops the keeping of the documents found, between documents */
  abortKeeping: AbortController;
  /** the documents' read: bytes read of the file's */
  readingDocuments: { bytes: number; total: number } | null;
}

/** A reason within IMPORT_REASON_CHARS (a note can quote the file: a title, an id), cut with "…". */
function shortReason(reason: string): string {
  return reason.length > IMPORT_REASON_CHARS ? `${reason.slice(0, IMPORT_REASON_CHARS).replace(/[\uD800-\uDBFF]$/, '')}…` : reason;
}

/** Previews kept waiting for their import (the oldest is forgotten past this). */
const MAX_PREVIEWS = 20;
/** the least time between two data.importProgress events of one import */
export const IMPORT_PROGRESS_MS = PROGRESS_EVERY_MS;

export class ImportJobs {
  private readonly jobs = new Map<string, Job>();
  private running: { job: Job; finished: Promise<ImportProgressDTO> } | null = null;
  private previewing: AbortController | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: ImportJobsDeps) {
    this.now = deps.now ?? Date.now;
  }

  private pathOf(source: ImportSource): { path: string; uploadId: string | null } {
    return 'upload' in source ? { path: this.deps.uploads.fileOf(source.upload), uploadId: source.upload } : { path: source.path, uploadId: null };
  }

  /** Reads the source to the end and says what an import would do; writes nothing. */
  async preview(source: ImportSource, from: ImportFormatChoice): Promise<ImportPreviewDTO> {
    const { path: p, uploadId } = this.pathOf(source);
    // one preview reads at a time: a newer one (another file picked) stops the one still reading
    this.previewing?.abort();
    const reading = new AbortController();
    this.previewing = reading;
    try {
      return await this.read(p, uploadId, from, reading.signal);
    } catch (e) {
      if (reading.signal.aborted) throw new IpcError('superseded', 'another file was picked while this one was read');
      throw e;
    } finally {
      if (this.previewing === reading) this.previewing = null;
    }
  }

  private async read(p: string, uploadId: string | null, from: ImportFormatChoice, signal: AbortSignal): Promise<ImportPreviewDTO> {
    const src = await openSource(this.deps.store, this.deps.readers, p, from, this.now, signal);
    const seen = new Set<string>();
    const skipped = new Map<string, number>();
    const skip = (n: SkipNote) => {
      const reason = shortReason(n.reason);
      const row = skipped.has(reason) || skipped.size < IMPORT_SKIP_REASONS ? reason : IMPORT_OTHER_REASONS;
      skipped.set(row, (skipped.get(row) ?? 0) + 1);
    };
    let threads = 0;
    let messages = 0;
    let duplicates = 0;
    let firstAt: number | null = null;
    let lastAt: number | null = null;
    for await (const u of src.units(signal)) {
      if (signal.aborted) throw new IpcError('superseded', 'another file was picked while this one was read');
      if ('skipped' in u) {
        skip(u.skipped);
        continue;
      }
      if (seen.has(u.sourceId) || this.deps.store.imported.has(src.format, u.sourceId, u.keptId)) {
        duplicates++;
        continue;
      }
      seen.add(u.sourceId);
      threads++;
      messages += u.prepared.messages.length;
      u.notes.forEach(skip);
      const at = u.prepared.thread.createdAt;
      firstAt = firstAt === null ? at : Math.min(firstAt, at);
      lastAt = lastAt === null ? at : Math.max(lastAt, at);
    }
    const job: Job = {
      id: randomUUID(), path: p, uploadId, format: src.format, total: threads + duplicates, state: 'previewed',
      done: 0, imported: 0, messages: 0, duplicates: 0, error: null, documents: null,
      step: 'chats', abort: new AbortController(), abortDocuments: new AbortController(), abortKeeping: new AbortController(), readingDocuments: null,
    };
    this.keep(job);
    return {
      jobId: job.id, format: src.format, name: path.basename(p), threads, messages, duplicates, firstAt, lastAt,
      skipped: [...skipped].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    };
  }

  private keep(job: Job): void {
    this.jobs.set(job.id, job);
    const previews = [...this.jobs.values()].filter((j) => j.state === 'previewed');
    for (const old of previews.slice(0, Math.max(0, previews.length - MAX_PREVIEWS))) this.forget(old);
  }

  private forget(job: Job): void {
    this.jobs.delete(job.id);
    if (job.uploadId !== null && ![...this.jobs.values()].some((j) => j.uploadId === job.uploadId)) this.deps.uploads.remove(job.uploadId);
  }

  private progress(job: Job): ImportProgressDTO {
    const { id: jobId, state, done, total, imported, messages, duplicates, error } = job;
    return {
      jobId, state, done, total, imported, messages, duplicates, error,
      ...(job.readingDocuments ? { readingDocuments: { ...job.readingDocuments } } : {}), ...(job.documents ? { documents: job.documents } : {}),
    };
  }

  private emit(job: Job): void {
    try {
      this.deps.emit(this.progress(job));
    } catch (e) {
      this.deps.logger.warn(`imports: progress could not be sent: ${(e as Error).message}`);
    }
  }

  private job(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new IpcError('not_found', `import ${jobId} is not here (it ended, or Hearth restarted): preview the file again`);
    return job;
  }

  /** Starts the import a preview read; its progress as it begins (data.importProgress follows it). */
  start(jobId: string): ImportProgressDTO {
    const job = this.job(jobId);
    if (this.running) throw new IpcError('busy', 'another import is running: wait for it to finish, or cancel it');
    if (job.state !== 'previewed') throw new IpcError('invalid_input', `import ${jobId} was started already`);
    job.state = 'running';
    this.emit(job);
    const finished = this.run(job);
    this.running = { job, finished };
    return this.progress(job);
  }

  /**
   * Whether a cancelled chats' step had handled every chat its preview counted (it was reading past the
   * last one, through the documents): such an import is done, not cancelled.
   */
  private allHandled(job: Job): boolean {
    return job.total > 0 && job.done >= job.total;
  }

  /** The running import's end (its last progress), or null when none runs. */
  get finished(): Promise<ImportProgressDTO> | null {
    return this.running?.finished ?? null;
  }

  private async run(job: Job): Promise<ImportProgressDTO> {
    const { store } = this.deps;
    const interval = this.deps.progressIntervalMs ?? IMPORT_PROGRESS_MS;
    const yieldTurn = this.deps.yieldTurn ?? (() => new Promise<void>((r) => setImmediate(r)));
    let sentAt = this.now();
    const paced = () => {
      if (this.now() - sentAt < interval) return;
      sentAt = this.now();
      this.emit(job);
    };
    const written: WrittenThread[] = [];
    let carried: ImportSourceOpen['documents'];
    /** how it ends (the state stays 'running' until the documents' step is over too) */
    let outcome: State;
    try {
      await yieldTurn(); // the caller has its answer before the first write
      const src = await openSource(store, this.deps.readers, job.path, job.format, this.now, job.abort.signal);
      carried = src.documents;
      if (!job.abort.signal.aborted) await src.before();
      for await (const u of src.units(job.abort.signal)) {
        if (job.abort.signal.aborted) break;
        if ('skipped' in u) continue;
        // a chat imported before is left as it is, its documents too (one the user took out since, and the
        // garbage collector then deleted, would look like one never kept)
        // (asked again inside the write's transaction: another process may import it meanwhile)
        const r = store.imported.has(src.format, u.sourceId, u.keptId) ? null : await store.imported.write(src.format, u.sourceId, u.prepared, { keptId: u.keptId, signal: job.abort.signal });
        if (r === null) job.duplicates++;
        else {
          // only what the documents' adoption needs: the threads' document refs, not their messages
          const attached = attachedDocumentsOf(u.prepared.messages);
          if (attached.length > 0) written.push({ threadId: r.threadId, documents: attached, removed: new Set(u.removedDocuments ?? []) });
          job.imported++;
          job.messages += r.messages;
        }
        job.done++;
        paced();
        await yieldTurn();
      }
      outcome = job.abort.signal.aborted && !this.allHandled(job) ? 'cancelled' : 'done';
    } catch (e) {
      outcome = job.abort.signal.aborted ? (this.allHandled(job) ? 'done' : 'cancelled') : 'failed';
      job.error = outcome === 'failed' ? withBusyAdvice(e) : null;
      if (outcome === 'failed') this.deps.logger.warn('imports: an import failed', { format: job.format, imported: job.imported, error: job.error });
    }
    // the threads written (a cancelled import's too) get the documents they attach
    if (carried && this.deps.documents && written.length > 0) {
      job.step = 'documents';
      try {
        // read again after the threads (a bundle keeps them after its threads), whether or not the import was cancelled
        // only the documents the written threads attach are kept while the file is read again
        const wanted = new Set(written.flatMap((t) => t.documents.map((d) => d.ref)));
        const total = await fs.promises.stat(job.path).then((st) => st.size, () => 0);
        job.readingDocuments = { bytes: 0, total };
        this.emit(job); // the step shows at once: it may read a large file
        const read = await carried(wanted, {
          signal: job.abortDocuments.signal,
          onBytes: (bytes) => {
            job.readingDocuments = { bytes, total: Math.max(total, bytes) };
            paced();
          },
        });
        // a read stopped short keeps what it found; the others are named with why (the chats' outcome stands)
        const unread = read.whole ? null : read.stopped === 'cancelled' || read.stopped === undefined ? UNREAD_DOCUMENT : unreadDocument(read.stopped);
        if (!read.whole && read.stopped !== 'cancelled') this.deps.logger.warn(`imports: the file could not be read again for its documents: ${read.stopped}`);
        // a cancel during the read keeps the documents it found; one while they are kept stops the keeping
        job.step = 'keeping';
        const r = await adoptDocuments({ ...this.deps.documents, store, logger: this.deps.logger }, read.documents, written, unread, job.abortKeeping.signal);
        if (r.linked > 0 || r.skipped.length > 0) job.documents = r;
      } catch (e) {
        this.deps.logger.warn(`imports: the imported chats' documents could not be kept: ${(e as Error).message}`);
      }
      job.readingDocuments = null;
    }
    job.state = outcome;
    // more conversations than the preview counted (the file changed meanwhile): the total follows
    job.total = Math.max(job.total, job.done);
    this.running = null;
    this.forget(job);
    this.emit(job);
    this.deps.logger.info('imports: an import ended', { format: job.format, state: job.state, imported: job.imported, duplicates: job.duplicates });
    return this.progress(job);
  }

  /**
   * Stops a running import's step: its chats between conversations (those written stay; their documents
   * are still read), the read of their documents (those found are kept), or the keeping of those found
   * (between documents: those kept stay); forgets a preview.
   */
  cancel(jobId: string): void {
    const job = this.job(jobId);
    if (job.state === 'running') ({ chats: job.abort, documents: job.abortDocuments, keeping: job.abortKeeping })[job.step].abort();
    else this.forget(job);
  }

  /** Stops the running import and waits for it (at close, and before every thread is erased); imports can start again after. */
  async close(): Promise<void> {
    const r = this.running;
    if (!r) return;
    r.job.abort.abort();
    r.job.abortDocuments.abort();
    r.job.abortKeeping.abort();
    await r.finished;
  }
}
