/**
 * Space kept by deleted vectors, given back a little at a time. sqlite-vec's vec0 (0.1) stores a table's vectors in
 * chunks of slots (1,024 by default) and frees a chunk only when every vector in it is deleted: a document indexed
 * again (a knowledge folder's file that changed) leaves holes in chunks that other documents' vectors keep, and
 * hearth.db grows with each change. When a table's holes outnumber its vectors (and are at least MIN_WASTED_SLOTS),
 * the vectors of its sparse chunks (at most half full; not the newest, which takes new vectors) are moved — read,
 * then deleted and inserted again, which puts them in the newest chunks — until those chunks are empty and freed.
 * The work goes in steps of a few milliseconds (docs-vectors.ts `compactStep`, driven by the documents' service), each
 * whole in one transaction, so the main thread is never held for long. The table's layout is read from vec0's own
 * tables (`<table>_chunks`, `<table>_rowids`), as sqlite-vec 0.1 makes them: with another version (COMPACTS_VEC)
 * nothing is done.
 */
import type Database from 'better-sqlite3';

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
