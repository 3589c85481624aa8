/**
 * Building a space's in-memory vector index (docs-binary.ts) off the main thread: a worker thread
 * (docs-index-worker.ts, bundled to dist/docs-index-worker.js) reads the space's vectors through its own read-only
 * connection and moves the index's typed arrays back (no copy). The caller (docs-vectors.ts) keeps searching with
 * vec0's exact KNN meanwhile and replays its own writes made since onto the index when it arrives. Whatever happens
 * to the worker (an error, an exit, a malformed answer) the promise rejects with an Error saying what; it never
 * crashes the process. The worker is unref'd: a build never keeps a command-line process alive.
 */
import fs from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import { z } from 'zod';
import { projectRoot } from '../paths';
import { BinaryIndex, type IndexArrays } from './docs-binary';

/** What the worker is given (workerData). */
export interface IndexBuildRequest {
  dbFile: string;
  /** the sqlite-vec file the store's connection loaded */
  extensionFile: string;
  spaceId: number;
  dims: number;
}

/**
 * A typed array of the given kind, told by its tag rather than instanceof: a message is read in the thread's main
 * realm, which is not the caller's where the caller runs in another (a vm context, as under jest).
 */
const typed = <T>(kind: string) => z.custom<T>((x) => Object.prototype.toString.call(x) === `[object ${kind}]`, `not a ${kind}`);
const arrays = z.object({
  bits: typed<Uint32Array>('Uint32Array'),
  codes: typed<Int8Array>('Int8Array'),
  norms: typed<Float64Array>('Float64Array'),
  chunkIds: typed<Float64Array>('Float64Array'),
  docIds: typed<Float64Array>('Float64Array'),
  used: z.number().int().min(0),
}).strict();

/** The worker's messages, checked at the thread boundary: its snapshot is taken; the index; or why not. */
const IndexBuildReply = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('snapshot') }),
  z.object({ kind: z.literal('index'), count: z.number().int().min(0), maxChunkId: z.number().int().min(0), arrays }),
  z.object({ kind: z.literal('error'), message: z.string() }),
]);
type IndexBuildReply = z.infer<typeof IndexBuildReply>;
/** What the worker posts (the index's arrays as docs-binary.ts types them). */
export type IndexBuildMessage = Exclude<IndexBuildReply, { kind: 'index' }> | { kind: 'index'; count: number; maxChunkId: number; arrays: IndexArrays };

/** The bundled worker: dist/docs-index-worker.js next to the project's other bundles (as the document reader's). */
export function defaultIndexWorkerFile(): string {
  return path.join(projectRoot(), 'dist', 'docs-index-worker.js');
}

/** A build under way. */
export interface IndexBuild {
  /** whether the worker holds its read snapshot (writes committed from now on are not in what it reads) */
  readonly snapshot: boolean;
  /** the index and doc_embedded's count and highest chunk id in the worker's snapshot */
  readonly done: Promise<{ index: BinaryIndex; count: number; maxChunkId: number }>;
  /** stops the worker (the promise then rejects) */
  stop(): void;
}

/** Starts building space `req.spaceId`'s index in `workerFile` (which must exist). */
export function buildIndexInWorker(workerFile: string, req: IndexBuildRequest): IndexBuild {
  let snapshot = false;
  let stop = () => undefined as void;
  const done = new Promise<{ index: BinaryIndex; count: number; maxChunkId: number }>((resolve, reject) => {
    if (!fs.existsSync(workerFile)) return reject(new Error(`the vector index builder ${workerFile} is missing (build it: node scripts/build-ts.js)`));
    const worker = new Worker(workerFile, { workerData: req });
    // unref'd, and its output not piped here (a piped stream would keep the process alive)
    worker.unref();
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      void worker.terminate().catch(() => undefined);
      settle();
    };
    stop = () => finish(() => reject(new Error('the vector index build was stopped')));
    worker.on('message', (m: unknown) => {
      const reply = IndexBuildReply.safeParse(m);
      if (!reply.success) return finish(() => reject(new Error(`the vector index builder answered with a malformed message: ${reply.error.message}`)));
      const r = reply.data;
      if (r.kind === 'snapshot') snapshot = true;
      else if (r.kind === 'error') finish(() => reject(new Error(`the vector index build failed: ${r.message}`)));
      else {
        try {
          const index = BinaryIndex.fromArrays(req.dims, r.arrays as IndexArrays);
          finish(() => resolve({ index, count: r.count, maxChunkId: r.maxChunkId }));
        } catch (e) {
          finish(() => reject(new Error(`the vector index builder's arrays are unusable: ${(e as Error).message}`)));
        }
      }
    });
    worker.on('error', (e: Error) => finish(() => reject(new Error(`the vector index build failed: ${e.message}`))));
    worker.on('exit', (code) => finish(() => reject(new Error(`the vector index builder stopped (exit code ${code}) before it answered`))));
  });
  return { get snapshot() { return snapshot; }, done, stop: () => stop() };
}
