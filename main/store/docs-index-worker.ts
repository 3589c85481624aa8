/**
 * Entry of the vector index's builder thread (bundled to dist/docs-index-worker.js; docs-index-build.ts starts it):
 * opens its own read-only connection to the store's file (WAL: it reads beside the main connection's writes), loads
 * sqlite-vec from the file the store loaded, and in one read transaction reads which chunks of the space have a
 * vector (doc_embedded), their count and highest chunk id, and every vector from the space's vec0 table into a
 * BinaryIndex (docs-binary.ts). It says when its snapshot is taken, then posts the index's typed arrays, moved
 * (transferred, not copied), or the error's message; the caller then terminates it.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'worker_threads';
import { BinaryIndex } from './docs-binary';
import type { IndexBuildMessage, IndexBuildRequest } from './docs-index-build';

const { dbFile, extensionFile, spaceId, dims } = workerData as IndexBuildRequest;
// the thread stays until the caller, having the answer, ends it: an exit of its own could reach the caller first
parentPort?.on('message', () => undefined);
const post = (reply: IndexBuildMessage, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(reply, transfer);

try {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    db.loadExtension(extensionFile);
    const read = db.transaction(() => {
      const extent = db.prepare('SELECT count(*) AS n, coalesce(max(chunk_id), 0) AS hi FROM doc_embedded WHERE space_id = ?').get(spaceId) as { n: number; hi: number };
      post({ kind: 'snapshot' });
      // the vectors doc_embedded lists (a vec0 row left behind by a deletion without sqlite-vec is not one)
      const listed = new Set(db.prepare('SELECT chunk_id FROM doc_embedded WHERE space_id = ?').pluck().all(spaceId) as number[]);
      const index = new BinaryIndex(dims, listed.size);
      // (the table name is built from an integer the caller checked)
      const rows = db.prepare(`SELECT chunk_id, doc_id, embedding FROM doc_vec_${Number(spaceId)}`).iterate() as Iterable<{ chunk_id: number; doc_id: number; embedding: Buffer }>;
      for (const r of rows) {
        if (!listed.has(r.chunk_id)) continue;
        const b = r.embedding;
        // a Float32Array view needs a 4-byte aligned offset; copy otherwise
        const v = b.byteOffset % 4 === 0 ? new Float32Array(b.buffer, b.byteOffset, dims) : new Float32Array(Uint8Array.from(b.subarray(0, dims * 4)).buffer);
        index.put(r.chunk_id, r.doc_id, v);
      }
      return { extent, arrays: index.arrays() };
    });
    const { extent, arrays } = read();
    post({ kind: 'index', count: extent.n, maxChunkId: extent.hi, arrays }, BinaryIndex.buffers(arrays));
  } finally {
    db.close();
  }
} catch (e) {
  post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
}
