/**
 * Space kept by deleted vectors, given back. sqlite-vec's vec0 (0.1) stores a table's vectors in chunks of
 * slots (1,024 by default) and frees a chunk only when every vector in it is deleted: a document indexed again
 * (a knowledge folder's file that changed) leaves holes in chunks that other documents' vectors keep, and
 * hearth.db grows with each change. A table whose holes outnumber its vectors (and hold at least
 * MIN_WASTED_SLOTS) is written again whole: its vectors copied out, the table made anew, the vectors put back,
 * in one transaction (the same rows: searches and the in-memory index are unchanged). The store does it when the
 * documents start (docs/service.ts), not while a chat waits.
 */
import type Database from 'better-sqlite3';

/** Holes worth a rewrite, at least (4 chunks of 1,024 slots). */
export const MIN_WASTED_SLOTS = 4096;

/** A vec0 table's slots (its chunks' sizes summed) and the vectors it holds. */
export function vecSlots(db: Database.Database, table: string): { slots: number; vectors: number } {
  const slots = db.prepare(`SELECT coalesce(sum(size), 0) FROM ${table}_chunks`).pluck().get() as number;
  const vectors = db.prepare(`SELECT count(*) FROM ${table}_rowids`).pluck().get() as number;
  return { slots, vectors };
}

/** Whether a table with these slots and vectors is worth writing again. */
export function worthCompacting(t: { slots: number; vectors: number }): boolean {
  const wasted = t.slots - t.vectors;
  return wasted >= MIN_WASTED_SLOTS && wasted > t.vectors;
}

/**
 * Writes a vec0 table again with only its vectors (`create` makes it anew, empty); returns the slots freed. The
 * caller runs it in a transaction and forgets statements prepared on the table.
 */
export function rewriteVecTable(db: Database.Database, table: string, create: () => void): number {
  const before = vecSlots(db, table).slots;
  db.exec(`CREATE TEMP TABLE hearth_vec_keep AS SELECT chunk_id, embedding, doc_id FROM ${table}`);
  try {
    db.exec(`DROP TABLE ${table}`);
    create();
    db.exec(`INSERT INTO ${table} (chunk_id, embedding, doc_id) SELECT chunk_id, embedding, doc_id FROM temp.hearth_vec_keep ORDER BY chunk_id`);
  } finally {
    db.exec('DROP TABLE temp.hearth_vec_keep');
  }
  return before - vecSlots(db, table).slots;
}
