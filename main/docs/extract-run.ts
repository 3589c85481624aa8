/**
 * Reading a document in a worker thread (extract-worker.ts, bundled to dist/docs-extract-worker.js):
 * the worker has an old-generation limit of EXTRACT_MEMORY_MB and EXTRACT_TIMEOUT_MS to answer; it is
 * terminated on timeout, abort, error or answer. Whatever happens to it (out of memory, an exception,
 * an exit), the caller gets a rejected promise with an Error that says what, never a crashed process.
 * The bytes are moved to the worker (transferred), not copied, when the caller's array owns its whole
 * buffer: the caller's array is then empty.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { z } from 'zod';
import { EXTRACT_MEMORY_MB, EXTRACT_TIMEOUT_MS } from '../params/docs';
import { projectRoot } from '../paths';
import { Extracted } from './extract';

/** What the worker is given (workerData). */
export interface ExtractRequest {
  name: string;
  bytes: Uint8Array;
  maxChars?: number;
}

/** The worker's answer, checked at the thread boundary. */
const ExtractReply = z.union([z.object({ ok: z.literal(true), result: Extracted }), z.object({ ok: z.literal(false), message: z.string() })]);
export type ExtractReply = z.infer<typeof ExtractReply>;

/** The bundled worker: dist/docs-extract-worker.js next to the project's other bundles (as the engine host's). */
export function defaultExtractWorkerFile(): string {
  return path.join(projectRoot(), 'dist', 'docs-extract-worker.js');
}

export interface ExtractInWorkerOptions {
  signal?: AbortSignal;
  /** EXTRACT_TIMEOUT_MS unless given */
  timeoutMs?: number;
  /** the bundled worker (defaultExtractWorkerFile unless given) */
  workerFile?: string;
  /** the most characters kept (MAX_DOC_TEXT_CHARS unless given; for tests) */
  maxChars?: number;
}

function workerFailure(name: string, e: Error & { code?: string }): Error {
  if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') return new Error(`reading "${name}" ran out of memory (the reader has ${EXTRACT_MEMORY_MB} MB); it was stopped`);
  return new Error(`reading "${name}" failed: ${e.message}`);
}

/** `extractDocument(name, bytes)` in a worker thread, bounded in time and memory. */
export function extractInWorker(name: string, bytes: Uint8Array, opts: ExtractInWorkerOptions = {}): Promise<Extracted> {
  const { signal } = opts;
  const timeoutMs = opts.timeoutMs ?? EXTRACT_TIMEOUT_MS;
  const file = opts.workerFile ?? defaultExtractWorkerFile();
  return new Promise<Extracted>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (!fs.existsSync(file)) return reject(new Error(`the document reader ${file} is missing (build it: node scripts/build-ts.js)`));
    // a view of part of a buffer (Node's pooled Buffers) is copied once; a whole buffer moves
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
    const request: ExtractRequest = { name, bytes: owned, maxChars: opts.maxChars };
    const resourceLimits = { maxOldGenerationSizeMb: EXTRACT_MEMORY_MB };
    let worker: Worker;
    try {
      // nothing to move in an empty array (and a detached one, already moved elsewhere, must not be listed)
      const transferList = owned.byteLength ? [owned.buffer as ArrayBuffer] : [];
      worker = new Worker(file, { workerData: request, transferList, resourceLimits, stdout: true, stderr: true });
    } catch {
      // a buffer that may not be moved (marked untransferable): copied instead
      worker = new Worker(file, { workerData: { ...request, bytes: bytes.slice() }, resourceLimits, stdout: true, stderr: true });
    }
    // what pdf.js and the others print is not the app's output: read and dropped
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate().catch(() => undefined);
      settle();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    const timer = setTimeout(() => finish(() => reject(new Error(`reading "${name}" took longer than ${timeoutMs} ms; it was stopped`))), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: unknown) => {
      const reply = ExtractReply.safeParse(m);
      if (!reply.success) finish(() => reject(new Error(`the document reader answered "${name}" with a malformed result: ${reply.error.message}`)));
      else if (reply.data.ok) {
        const result = reply.data.result;
        finish(() => resolve(result));
      } else {
        const message = reply.data.message;
        finish(() => reject(new Error(message)));
      }
    });
    worker.on('error', (e: Error) => finish(() => reject(workerFailure(name, e))));
    worker.on('exit', (code) => finish(() => reject(new Error(`the document reader stopped (exit code ${code}) before it had read "${name}"`))));
  });
}
