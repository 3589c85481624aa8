/**
 * Space kept by deleted vectors, given back a little at a time. sqlite-vec's vec0 (0.1) stores a table's vectors in
 * chunks of slots (1,024 by default) and frees a chunk only when every vector in it is deleted: a document indexed
 * again (a knowledge folder's file that changed) leaves holes in chunks that other documents' vectors keep, and
 * hearth.db grows with each change. When a table's holes outnumber its vectors (and are at least MIN_WASTED_SLOTS),
 * the vectors of its sparse chunks (at most half full; not the newest, which takes new vectors) are moved — read,
 * then deleted and inserted again, which puts them in the newest chunks — until those chunks are empty and freed.
 * The work goes in steps of a few milliseconds (VectorCompactor.step, through docs-vectors.ts `compactStep`, driven by
 * the documents' service), each whole in one transaction, so the main thread is never held for long. The table's layout is read from vec0's own
 * tables (`<table>_chunks`, `<table>_rowids`), as sqlite-vec 0.1 makes them: with another version (COMPACTS_VEC)
 * nothing is done.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../logging';
import type { VectorRow } from './docs-vectors';

/** Holes worth moving vectors for, at least (4 chunks of 1,024 slots). */
export const MIN_WASTED_SLOTS = 4096;
/** The sqlite-vec versions whose vec0 tables this reads (`vec_version()`). */
export const COMPACTS_VEC = /^v0\.1\./;

/** A vec0 table's slots (its chunks' sizes summed) and the vectors it holds. */
export function vecSlots(db: Database.Database, table: string): { slots: number; vectors: number } {
  const slots = db.prepare(`SELECT coalesce(sum(size), 0) FROM ${table}_chunks`).pluck().get() as number;
  const vectors = db.prepare(`SELECT count(*) FROM ${table}_rowids`).pluck().get() as number;
  return { slots, vectors };
}

/** Whether a table with these slots and vectors is worth compacting. */
export function worthCompacting(t: { slots: number; vectors: number }): boolean {
  const wasted = t.slots - t.vectors;
  return wasted >= MIN_WASTED_SLOTS && wasted > t.vectors;
}

/** The vectors (chunk ids, which are vec0's rowids) in a table's sparse chunks, the oldest chunk's first. */
export function vectorsToMove(db: Database.Database, table: string): number[] {
  const chunks = db.prepare(`SELECT c.chunk_id AS id, c.size AS size, coalesce(r.n, 0) AS live FROM ${table}_chunks c
    LEFT JOIN (SELECT chunk_id, count(*) AS n FROM ${table}_rowids GROUP BY chunk_id) r ON r.chunk_id = c.chunk_id
    ORDER BY c.chunk_id`).all() as { id: number; size: number; live: number }[];
  const newest = chunks.length > 0 ? chunks[chunks.length - 1].id : null;
  const sparse = new Set(chunks.filter((c) => c.id !== newest && c.live * 2 <= c.size).map((c) => c.id));
  if (sparse.size === 0) return [];
  const rows = db.prepare(`SELECT rowid AS id, chunk_id AS chunk FROM ${table}_rowids ORDER BY chunk_id, chunk_offset`).all() as { id: number; chunk: number }[];
  return rows.filter((r) => sparse.has(r.chunk)).map((r) => r.id);
}

/** What a compactor works on: the spaces with a vec0 table, and how vectors are put again (docs-vectors.ts putVectors). */
export interface CompactTarget {
  db: Database.Database;
  logger: Logger;
  tables: () => { spaceId: number; dims: number; table: string }[];
  /** stores vectors again (a chunk no longer stored is skipped) */
  put: (spaceId: number, rows: VectorRow[]) => void;
}

export class VectorCompactor {
  /** the space being compacted, the vectors to move and how many are done */
  private plan: { spaceId: number; dims: number; table: string; ids: number[]; at: number; read: Database.Statement } | null = null;
  /** sqlite-vec's vec_version(), asked once */
  private version: string | undefined;

  constructor(private readonly t: CompactTarget) {}

  /**
   * A few vectors of a sparse chunk moved (read, then put again) for about `budgetMs`; the first step plans (the
   * first space worth compacting). Returns whether there is more to do.
   */
  step(budgetMs: number): boolean {
    this.version ??= String(this.t.db.prepare('SELECT vec_version()').pluck().get());
    if (!COMPACTS_VEC.test(this.version)) return false;
    if (!this.plan) {
      const next = this.next();
      if (!next) return false;
      const ids = vectorsToMove(this.t.db, next.table);
      if (ids.length === 0) return false;
      this.plan = { ...next, ids, at: 0, read: this.t.db.prepare(`SELECT doc_id, embedding FROM ${next.table} WHERE chunk_id = ?`) };
      this.t.logger.info('store: giving back the space of deleted vectors', { space: next.spaceId, vectors: ids.length });
    }
    const p = this.plan;
    const stillThere = this.t.tables().some((x) => x.spaceId === p.spaceId);
    // (reading takes about half the step; putting them again the other half)
    const end = performance.now() + budgetMs / 2;
    const rows: VectorRow[] = [];
    while (stillThere && p.at < p.ids.length && (rows.length === 0 || performance.now() < end)) {
      const id = p.ids[p.at++];
      const r = p.read.get(BigInt(id)) as { doc_id: number; embedding: Buffer } | undefined;
      if (!r) continue;
      rows.push({ chunkId: id, docId: r.doc_id, vector: new Float32Array(Uint8Array.from(r.embedding.subarray(0, p.dims * 4)).buffer) });
    }
    if (rows.length > 0) this.t.put(p.spaceId, rows);
    if (stillThere && p.at < p.ids.length) return true;
    this.plan = null;
    // another space may be next
    return this.next() !== null;
  }

  /** The first space whose holes outnumber its vectors. */
  private next(): { spaceId: number; dims: number; table: string } | null {
    return this.t.tables().find((x) => worthCompacting(vecSlots(this.t.db, x.table))) ?? null;
  }
}
