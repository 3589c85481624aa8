/**
 * Documents across IPC: the attachment a message keeps for a document, a document's indexing state,
 * the knowledge folders of an assistant, the sources a reply was given (and cites), a passage opened
 * from a citation, and the indexer's progress. Defined once here, read by the contract, the store's
 * mapping, main/docs and the renderer. zod only: the renderer imports this file too.
 */
import { z } from 'zod';
import { DOC_KINDS, DOC_STATES, MAX_DOC_BYTES, MAX_MESSAGE_DOCS, SHA256_HEX } from '../params';
import { AttachmentDTO } from './images';

/** A document the app stored, named by its content: the SHA-256 of its bytes, 64 lowercase hex digits. */
export const DocumentRef = z.string().regex(SHA256_HEX, 'a document is named by its SHA-256: 64 hex digits');

/** A document the user attached to a message, as docs.store stored it. */
export const DocumentAttachment = AttachmentDTO.extend({
  type: z.literal('document'),
  ref: DocumentRef,
  name: z.string().min(1).max(1000),
  mimeType: z.string().min(1).max(255),
  size: z.number().int().min(1).max(MAX_DOC_BYTES),
});
export type DocumentAttachment = z.infer<typeof DocumentAttachment>;

/** The documents one message may carry. */
export const MessageDocuments = z.array(DocumentAttachment).max(MAX_MESSAGE_DOCS);

/** Where an indexing job is: extracting text, embedding chunks (done of total), or re-embedding for a new model. */
export const DocProgressDTO = z.object({
  ref: DocumentRef,
  name: z.string(),
  phase: z.enum(['extracting', 'embedding']),
  done: z.number().int().min(0),
  total: z.number().int().min(0),
});
export type DocProgressDTO = z.infer<typeof DocProgressDTO>;

/** A document as a thread or a folder holds it. */
export const DocumentDTO = z.object({
  ref: DocumentRef,
  /** the name it was attached under (a folder's file: its path under the folder) */
  name: z.string(),
  kind: z.enum(DOC_KINDS).nullable(),
  size: z.number().int().min(0),
  state: z.enum(DOC_STATES),
  /** why it failed (state failed) */
  error: z.string().nullable(),
  /** what the user should know (no text found, text cut short, keyword search only) */
  note: z.string().nullable(),
  pages: z.number().int().nullable(),
  chunks: z.number().int().min(0),
  /** its text's tokens as the chunker counted them */
  tokens: z.number().int().min(0),
  /** its chunks have vectors of the current embedding model */
  embedded: z.boolean(),
  /** removed from the thread by the user (its chip stays in the message, marked) */
  removed: z.boolean(),
  progress: DocProgressDTO.nullable(),
});
export type DocumentDTO = z.infer<typeof DocumentDTO>;

/** An assistant's knowledge folder (watched; its files indexed as they change). */
export const KnowledgeFolderDTO = z.object({
  id: z.number().int(),
  assistantId: z.string(),
  path: z.string(),
  /** scanning: listing and hashing its files; watching: up to date and watched; failed: cannot be read (error says why) */
  state: z.enum(['scanning', 'watching', 'failed']),
  error: z.string().nullable(),
  files: z.number().int().min(0),
  ready: z.number().int().min(0),
  /** files that yield no text or failed (their documents say why) */
  problems: z.number().int().min(0),
  scannedAt: z.number().nullable(),
});
export type KnowledgeFolderDTO = z.infer<typeof KnowledgeFolderDTO>;

/** The documents' state as Settings → Documents shows it. */
export const DocsStatusDTO = z.object({
  /** the embedding model in use (settings), and whether it can be used (a library model with pooling) */
  embeddingModel: z.string().nullable(),
  /** why vectors are not used (no model chosen, not an embedding model, sqlite-vec not available); null: they are */
  vectorsOff: z.string().nullable(),
  rerankModel: z.string().nullable(),
  documents: z.number().int().min(0),
  chunks: z.number().int().min(0),
  /** chunks with vectors of the current model */
  embedded: z.number().int().min(0),
  /** documents waiting or being indexed */
  queued: z.number().int().min(0),
  active: DocProgressDTO.nullable(),
  folders: z.array(KnowledgeFolderDTO),
});
export type DocsStatusDTO = z.infer<typeof DocsStatusDTO>;

/** How a source was found: the whole document went into the prompt, or its chunk was retrieved (ranks 1-based, null: not in that list). */
export const SourceScoreDTO = z.object({
  fused: z.number(),
  keywordRank: z.number().int().nullable(),
  vectorRank: z.number().int().nullable(),
  /** cosine distance of the chunk's vector to the question's */
  distance: z.number().nullable(),
  rerank: z.number().nullable(),
});

/** A source a reply was given, numbered as the prompt numbered it (the reply cites it as [n]). */
export const SourceDTO = z.object({
  n: z.number().int().min(1),
  ref: DocumentRef,
  name: z.string(),
  /** the chunk (null: the whole document went in) */
  chunkId: z.number().int().nullable(),
  page: z.number().int().nullable(),
  heading: z.string().nullable(),
  /** the text the prompt held */
  text: z.string(),
  mode: z.enum(['whole', 'retrieved']),
  score: SourceScoreDTO.nullable(),
});
export type SourceDTO = z.infer<typeof SourceDTO>;
export const Sources = z.array(SourceDTO).max(200);

/** A passage opened from a citation: the chunk with its neighbours, in its document. */
export const PassageDTO = z.object({
  ref: DocumentRef,
  name: z.string(),
  kind: z.enum(DOC_KINDS).nullable(),
  chunkId: z.number().int(),
  page: z.number().int().nullable(),
  heading: z.string().nullable(),
  before: z.array(z.string()),
  text: z.string(),
  after: z.array(z.string()),
});
export type PassageDTO = z.infer<typeof PassageDTO>;
