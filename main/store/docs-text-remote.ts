/**
 * The keyword search (docs-text.ts) in a thread of its own: scoring every match of a question's common words takes
 * tens of milliseconds at 100,000 chunks, which the main thread then spends on other work (the vector search, IPC).
 * One long-lived worker (docs-text-worker.ts, bundled to dist/docs-text-worker.js) with its own read-only
 * connection answers requests in order. Its answers are checked at the thread boundary. When it cannot answer (its
 * file missing, an error, an exit) `search` rejects and the caller searches on its own connection; a worker that
 * stopped is started again at the next search, no sooner than RESTART_MS after. The worker is unref'd: it never
 * keeps a command-line process alive.
 */
import fs from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import { z } from 'zod';
import type { Logger } from '../logging';
import { projectRoot } from '../paths';
import type { TextRow } from './docs-text';

export interface TextSearchRequest { id: number; terms: string[]; docIds: number[]; k: number }
const TextSearchReply = z.union([
  z.object({ id: z.number(), rows: z.array(z.object({ chunk_id: z.number(), score: z.number() }).strict()) }).strict(),
  z.object({ id: z.number(), error: z.string() }).strict(),
  // the thread cannot search at all (its connection did not open)
  z.object({ fatal: z.string() }).strict(),
]);
export type TextSearchReply = z.infer<typeof TextSearchReply>;

/** A worker that stopped is started again no sooner than this after. */
export const RESTART_MS = 60_000;
/** A search not answered within this is given up, and the thread (busy with it) ended. */
export const SEARCH_TIMEOUT_MS = 10_000;

/** The bundled worker: dist/docs-text-worker.js next to the project's other bundles. */
export function defaultTextWorkerFile(): string {
  return path.join(projectRoot(), 'dist', 'docs-text-worker.js');
}

interface Waiting { resolve: (rows: TextRow[]) => void; reject: (e: Error) => void }

/** What an aborted search rejects with (as fetch's). */
const abortError = () => Object.assign(new Error('the search was stopped'), { name: 'AbortError' });

export class TextSearchWorker {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private next = 1;
  private stoppedAt = -Infinity;
  private closed = false;

  constructor(private readonly workerFile: string, private readonly dbFile: string, private readonly logger: Logger,
    private readonly now: () => number = Date.now) {}

  /**
   * The best `k` chunks of `docIds` matching any of `terms` (DocText.search), from the thread; rejects when it cannot
   * answer, when `signal` aborts (the thread's answer is then dropped) and after `timeoutMs` (the thread, stuck on
   * it, is ended: the requests after it would wait behind it).
   */
  search(terms: string[], docIds: number[], k: number, signal?: AbortSignal, timeoutMs = SEARCH_TIMEOUT_MS): Promise<TextRow[]> {
    if (signal?.aborted) return Promise.reject(abortError());
    const worker = this.started();
    if (!worker) return Promise.reject(new Error('the keyword search thread is not running'));
    const id = this.next++;
    return new Promise<TextRow[]>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiting.delete(id);
      };
      const onAbort = () => {
        done();
        reject(abortError());
      };
      // (a TimeoutError: the caller does not run the same search on its own thread, which it would hold as long)
      const timer = setTimeout(() => this.stop(worker, Object.assign(new Error(`the keyword search thread did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
      timer.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(id, {
        resolve: (rows) => (done(), resolve(rows)),
        reject: (e) => (done(), reject(e)),
      });
      worker.postMessage({ id, terms, docIds, k } satisfies TextSearchRequest);
    });
  }

  close(): void {
    this.closed = true;
    this.stop(this.worker, new Error('the store was closed'));
  }

  private started(): Worker | null {
    if (this.worker) return this.worker;
    if (this.closed || this.now() - this.stoppedAt < RESTART_MS) return null;
    if (!fs.existsSync(this.workerFile)) {
      this.stoppedAt = this.now();
      this.logger.warn(`store: the keyword search thread ${this.workerFile} is missing (build it: node scripts/build-ts.js); searching on the main thread`);
      return null;
    }
    const worker = new Worker(this.workerFile, { workerData: { dbFile: this.dbFile } });
    // unref'd, and its output not piped here (a piped stream would keep the process alive)
    worker.unref();
    worker.on('message', (m: unknown) => {
      const reply = TextSearchReply.safeParse(m);
      if (!reply.success) return this.stop(worker, new Error(`the keyword search thread answered with a malformed message: ${reply.error.message}`));
      if ('fatal' in reply.data) return this.stop(worker, new Error(`the keyword search thread cannot search: ${reply.data.fatal}`));
      const w = this.waiting.get(reply.data.id);
      if (!w) return;
      this.waiting.delete(reply.data.id);
      if ('error' in reply.data) w.reject(new Error(reply.data.error));
      else w.resolve(reply.data.rows);
    });
    worker.on('error', (e: Error) => this.stop(worker, new Error(`the keyword search thread failed: ${e.message}`)));
    worker.on('exit', (code) => this.stop(worker, new Error(`the keyword search thread stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Ends `worker` if it is the running one (an old one's exit changes nothing); what waits on it rejects with `why`. */
  private stop(worker: Worker | null, why: Error): void {
    if (!worker || worker !== this.worker) return;
    this.worker = null;
    this.stoppedAt = this.now();
    void worker.terminate().catch(() => undefined);
    if (!this.closed) this.logger.warn(`store: ${why.message}; searching on the main thread for a while`);
    for (const w of [...this.waiting.values()]) w.reject(why);
    this.waiting.clear();
  }
}
