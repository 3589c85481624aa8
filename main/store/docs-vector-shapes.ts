/**
 * The documents' vectors' shapes and bounds (docs-vectors.ts stores them): an embedding space as a row
 * gives it, a vector to store, a search's neighbour, a chunk to embed, and the zod bounds the store
 * checks them with.
 */
import { z } from 'zod';

/** sqlite-vec's most neighbours per KNN query. */
export const MAX_KNN = 4096;
/** The widest vector a space holds. */
export const MAX_DIMS = 8192;
/** Candidates of the sign-bit stage per neighbour asked for, and their least number. */
export const OVERSAMPLE = 8;
export const MIN_CANDIDATES = 64;
/** After a failed index build, searches of the space use the exact KNN this long before a build is tried again. */
export const INDEX_RETRY_MS = 60_000;

export interface EmbeddingSpace {
  id: number;
  /** the indexer's fingerprint of the embedding model */
  modelKey: string;
  modelName: string | null;
  dims: number;
  createdAt: number;
  /**
   * The chunks (ids in (from, to]) still to be checked for special-token text embedded as that token, in a
   * space made before such text was embedded as text (migration 11); null: none.
   */
  specialPass: { from: number; to: number } | null;
}

export interface VectorRow {
  chunkId: number;
  docId: number;
  vector: Float32Array;
}

/** A KNN neighbour: rank 1 is the nearest; distance is cosine distance (0: same direction, 2: opposite). */
export interface VectorHit {
  chunkId: number;
  rank: number;
  distance: number;
}

export const rowId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const spaceSchema = z.object({
  modelKey: z.string().min(1).max(1000),
  modelName: z.string().max(1000).nullable(),
  dims: z.number().int().min(1).max(MAX_DIMS),
}).strict();
/** A place in a space's pass over its chunks (EmbeddingSpace.specialPass): a chunk id, or 0 before the first. */
export const passPlace = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const docIdsSchema = z.array(rowId).max(1_000_000);
export const kSchema = z.number().int().min(1).max(MAX_KNN);
export const limitSchema = z.number().int().min(1).max(100_000);

export interface SpaceDbRow { id: number; model_key: string; model_name: string | null; dims: number; created_at: number; special_from: number | null; special_to: number | null }
export const toSpace = (r: SpaceDbRow): EmbeddingSpace => ({
  id: r.id, modelKey: r.model_key, modelName: r.model_name, dims: r.dims, createdAt: r.created_at,
  specialPass: r.special_from == null || r.special_to == null ? null : { from: r.special_from, to: r.special_to },
});

/** A chunk to embed: the indexer embeds "heading\ntext". */
export interface ChunkToEmbed {
  id: number;
  docId: number;
  text: string;
  heading: string | null;
}

/** A chunk's row as the queries for chunks to embed read it. */
export interface ChunkDbRow {
  id: number;
  doc_id: number;
  text: string;
  heading: string | null;
}
export const toChunkToEmbed = (r: ChunkDbRow): ChunkToEmbed => ({ id: r.id, docId: r.doc_id, text: r.text, heading: r.heading });
