/**
 * Entry of the keyword search's thread (bundled to dist/docs-text-worker.js; docs-text-remote.ts starts it): its own
 * read-only connection to the store's file (WAL: it reads beside the main connection's writes, what they committed)
 * and a DocText over it (docs-text.ts: the same search the main connection runs). Answers each request
 * `{id, terms, docIds, k}` with `{id, rows}` or `{id, error}`, or says `{fatal}` once when its connection does not
 * open; it stays until its caller ends it.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'worker_threads';
import { DocText } from './docs-text';
import type { TextSearchReply, TextSearchRequest } from './docs-text-remote';

const { dbFile } = workerData as { dbFile: string };
const post = (reply: TextSearchReply) => parentPort?.postMessage(reply);

let text: DocText | null = null;
try {
  text = new DocText(new Database(dbFile, { readonly: true, fileMustExist: true, timeout: 5000 }));
} catch (e) {
  // the caller ends the thread and searches on its own connection
  parentPort?.postMessage({ fatal: e instanceof Error ? e.message : String(e) } satisfies TextSearchReply);
}

parentPort?.on('message', (m: TextSearchRequest) => {
  const id = typeof m?.id === 'number' ? m.id : -1;
  try {
    if (!text) throw new Error('the search thread cannot read the store');
    post({ id, rows: text.search(m.terms, m.docIds, m.k) });
  } catch (e) {
    post({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
