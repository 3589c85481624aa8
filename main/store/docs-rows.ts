/**
 * The documents' store's rows (docs.ts): what its calls answer (documents, chunks, links, folders,
 * counts, keyword hits), the zod schemas its inputs are checked with, and the mapping of its tables'
 * rows to them.
 */
import path from 'path';
import { z } from 'zod';
import { DOC_KINDS, DOC_STATES, MAX_CHUNK_TOKENS, SHA256_HEX, type DocKind, type DocState } from '../params/docs';
import { LIMITS } from './validation';

export interface DocRow {
  id: number;
  /** sha256 (hex) of the file's bytes */
  hash: string;
  /** null: a kind this version does not know (written by a newer one) */
  kind: DocKind | null;
  size: number;
  state: DocState;
  error: string | null;
  note: string | null;
  pages: number | null;
  chars: number | null;
  chunkCount: number;
  tokens: number;
  createdAt: number;
  /** when its content was last stored for a message (insert, touchStored): garbage collection's grace runs from here */
  storedAt: number;
  /** when it last became ready (or empty) */
  indexedAt: number | null;
}

export interface ChunkRow {
  id: number;
  docId: number;
  seq: number;
  text: string;
  page: number | null;
  heading: string | null;
  tokens: number;
}

export interface DocLink {
  id: number;
  docId: number;
  /** a thread's attachment (saved or temporary chat) … */
  threadId: string | null;
  /** … or a knowledge folder's file, at relPath under the folder */
  folderId: number | null;
  relPath: string | null;
  name: string;
  fileSize: number | null;
  fileMtimeMs: number | null;
  addedAt: number;
  removedAt: number | null;
}

export interface LinkedDoc extends DocLink {
  doc: DocRow;
}

export interface KnowledgeFolder {
  id: number;
  assistantId: string;
  path: string;
  addedAt: number;
  scannedAt: number | null;
}

/** A knowledge folder's files by their documents' state (problems: failed or empty). */
export interface FolderCounts {
  files: number;
  ready: number;
  problems: number;
}

/** A keyword match: rank 1 is the best; score is bm25 (lower is better). */
export interface TextHit {
  chunkId: number;
  rank: number;
  score: number;
}

/** The longest chunk text stored (characters): far above what MAX_CHUNK_TOKENS of any text makes. */
export const MAX_CHUNK_CHARS = MAX_CHUNK_TOKENS * 64;

export const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const hashSchema = z.string().regex(SHA256_HEX, 'not a sha256 hex digest');
export const newDocSchema = z.object({ hash: hashSchema, kind: z.enum(DOC_KINDS).nullable(), size: count }).strict();
export const stateSchema = z.enum(DOC_STATES);
export const stateInfoSchema = z.object({
  error: z.string().max(LIMITS.errorChars).nullable(),
  note: z.string().max(LIMITS.errorChars).nullable(),
  pages: count.nullable(),
  chars: count.nullable(),
  kind: z.enum(DOC_KINDS),
}).partial().strict();
export const chunkSchema = z.object({
  seq: count,
  text: z.string().max(MAX_CHUNK_CHARS),
  page: count.nullable().optional(),
  heading: z.string().max(LIMITS.titleChars).nullable().optional(),
  tokens: count,
}).strict();
export const chunksSchema = z.array(chunkSchema).refine((cs) => new Set(cs.map((c) => c.seq)).size === cs.length, 'chunk seq numbers repeat');
export type NewChunk = z.input<typeof chunkSchema>;
export const nameSchema = z.string().min(1).max(1024);
/** A folder file's path under its folder: '/'-separated, relative, no '.' or '..' parts. */
export const relPathSchema = z.string().min(1).max(4096)
  .refine((p) => p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'not a relative path under the folder');
export const folderPathSchema = z.string().min(1).max(LIMITS.modelRefChars).refine((p) => path.isAbsolute(p), 'not an absolute path');
export const fileInfoSchema = z.object({ size: count, mtimeMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();
export const neighboursSchema = z.number().int().min(0).max(1000);

export interface DocDbRow {
  id: number; hash: string; kind: string | null; size: number; state: string; error: string | null; note: string | null;
  pages: number | null; chars: number | null; chunk_count: number; tokens: number; created_at: number; stored_at: number; indexed_at: number | null;
}
export interface ChunkDbRow { id: number; doc_id: number; seq: number; text: string; page: number | null; heading: string | null; tokens: number }
export interface LinkDbRow {
  id: number; doc_id: number; thread_id: string | null; folder_id: number | null; name: string; rel_path: string | null;
  file_size: number | null; file_mtime_ms: number | null; added_at: number; removed_at: number | null;
}
export interface FolderDbRow { id: number; assistant_id: string; path: string; added_at: number; scanned_at: number | null }

export const isKind = (k: string | null): k is DocKind => (DOC_KINDS as readonly (string | null)[]).includes(k);
export const isState = (s: string): s is DocState => (DOC_STATES as readonly string[]).includes(s);

/** A state a newer version wrote reads as failed (no CHECK on the column, see migration 8). */
export const readState = (s: string): DocState => (isState(s) ? s : 'failed');

export function toDoc(r: DocDbRow): DocRow {
  const state = readState(r.state);
  return {
    id: r.id, hash: r.hash, kind: isKind(r.kind) ? r.kind : null, size: r.size, state,
    error: state === r.state ? r.error : (r.error ?? `unknown state ${r.state}`), note: r.note, pages: r.pages, chars: r.chars,
    chunkCount: r.chunk_count, tokens: r.tokens, createdAt: r.created_at, storedAt: r.stored_at, indexedAt: r.indexed_at,
  };
}
export const toChunk = (r: ChunkDbRow): ChunkRow => ({ id: r.id, docId: r.doc_id, seq: r.seq, text: r.text, page: r.page, heading: r.heading, tokens: r.tokens });
export const toLink = (r: LinkDbRow): DocLink => ({
  id: r.id, docId: r.doc_id, threadId: r.thread_id, folderId: r.folder_id, relPath: r.rel_path, name: r.name,
  fileSize: r.file_size, fileMtimeMs: r.file_mtime_ms, addedAt: r.added_at, removedAt: r.removed_at,
});
export const toFolder = (r: FolderDbRow): KnowledgeFolder => ({ id: r.id, assistantId: r.assistant_id, path: r.path, addedAt: r.added_at, scannedAt: r.scanned_at });
