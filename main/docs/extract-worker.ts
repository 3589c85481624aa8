/**
 * Entry of the document reader's worker thread (bundled to dist/docs-extract-worker.js; extract-run.ts
 * starts it): reads the one file its workerData carries and posts the blocks, or the error's message; the caller
 * then terminates it.
 */
import { parentPort, workerData } from 'worker_threads';
import { extractDocument } from './extract';
import type { ExtractRequest, ExtractReply } from './extract-run';

const { name, bytes, maxChars } = workerData as ExtractRequest;
// the thread stays until the caller, having the answer, ends it: an exit of its own could reach the
// caller before the answer does
parentPort?.on('message', () => undefined);
const post = (reply: ExtractReply) => parentPort?.postMessage(reply);
extractDocument(name, bytes, { maxChars }).then(
  (result) => post({ ok: true, result }),
  (e: unknown) => post({ ok: false, message: e instanceof Error ? e.message : String(e) }),
);
