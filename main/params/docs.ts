/**
 * Documents (chat with files and folders), defined once: the kinds of file read and their extensions,
 * the bounds of a stored document, the states of its indexing, and the documents settings with their
 * bounds and defaults. main/docs runs them; the contract, the store and the renderer derive from here.
 * zod only, nothing of Node.
 */
import { z } from 'zod';
import { MAX_IMAGE_CHARS } from './chat';

/** A stored document's name: the SHA-256 of its bytes as 64 lowercase hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The kinds of document read, and the file extensions (lower case, no dot) each is known by. */
export const DOC_KINDS = ['text', 'markdown', 'code', 'csv', 'json', 'html', 'pdf', 'docx'] as const;
export type DocKind = (typeof DOC_KINDS)[number];

export const DOC_EXTENSIONS: Readonly<Record<DocKind, readonly string[]>> = {
  text: ['txt', 'text', 'log', 'rst', 'org', 'tex'],
  markdown: ['md', 'markdown', 'mdx'],
  code: [
    'js', 'mjs', 'cjs', 'jsx', 'ts', 'tsx', 'py', 'rb', 'go', 'rs', 'java', 'kt', 'kts', 'scala', 'c', 'h', 'cc', 'cpp', 'cxx', 'hpp',
    'cs', 'swift', 'm', 'mm', 'php', 'pl', 'lua', 'r', 'jl', 'sh', 'bash', 'zsh', 'fish', 'ps1', 'sql', 'css', 'scss', 'less',
    'vue', 'svelte', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'conf', 'xml', 'gradle', 'cmake', 'dockerfile', 'makefile', 'proto', 'graphql',
  ],
  csv: ['csv', 'tsv'],
  json: ['json', 'jsonl', 'ndjson', 'geojson'],
  html: ['html', 'htm', 'xhtml'],
  pdf: ['pdf'],
  docx: ['docx'],
};

/** The MIME type each kind is given when the file does not say. */
export const DOC_MIME_TYPES: Readonly<Record<DocKind, string>> = {
  text: 'text/plain',
  markdown: 'text/markdown',
  code: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  html: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

/** A file's kind by its name's extension (or whole name: Dockerfile, Makefile); null: not a kind Hearth reads. */
export function docKindOfName(name: string): DocKind | null {
  const base = name.split(/[\\/]/).pop()?.toLowerCase() ?? '';
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1) : base;
  for (const kind of DOC_KINDS) if (DOC_EXTENSIONS[kind].includes(ext)) return kind;
  return null;
}

/** The longest document stored through IPC, as base64 characters (what a WebSocket frame of images.store holds too), and its bytes. */
export const MAX_DOC_CHARS = MAX_IMAGE_CHARS;
export const MAX_DOC_BYTES = (MAX_DOC_CHARS / 4) * 3;
/** The most documents one message attaches, and one thread holds. */
export const MAX_MESSAGE_DOCS = 20;
export const MAX_THREAD_DOCS = 200;
/** The most text one document yields (characters); past it the rest is left out and the document says so. */
export const MAX_DOC_TEXT_CHARS = 20_000_000;
/** An extraction's time limit and memory limit (it runs in a worker thread: a bad file ends the worker, never the app). */
export const EXTRACT_TIMEOUT_MS = 120_000;
export const EXTRACT_MEMORY_MB = 1024;
/**
 * A Word document (a zip) is refused before it is unpacked when one entry would unpack to more than
 * MAX_DOCX_ENTRY_BYTES, or all of them to more than MAX_DOCX_TOTAL_BYTES: the unpacked bytes are
 * ArrayBuffers, which the worker's memory limit does not bound (a 1.5 MB zip can hold 1.5 GB).
 */
export const MAX_DOCX_ENTRY_BYTES = 64 * 1024 * 1024;
export const MAX_DOCX_TOTAL_BYTES = 256 * 1024 * 1024;

/**
 * A document's indexing: queued → extracting → embedding → ready; `empty`: the file yields no text
 * (a scanned PDF), `failed`: extraction or embedding failed (the error says why), `cancelled` by the
 * user. A document without an embedding model stops at `ready` with keyword search only.
 */
export const DOC_STATES = ['queued', 'extracting', 'embedding', 'ready', 'empty', 'failed', 'cancelled'] as const;
export type DocState = (typeof DOC_STATES)[number];

/** Chunking: a chunk's target size and overlap in tokens, and their bounds. */
export const DEFAULT_CHUNK_TOKENS = 256;
export const MIN_CHUNK_TOKENS = 32;
export const MAX_CHUNK_TOKENS = 2048;
export const DEFAULT_CHUNK_OVERLAP_TOKENS = 32;

/** Retrieval: how many chunks a turn is given at most, and their token budget. */
export const DEFAULT_TOP_K = 6;
export const MAX_TOP_K = 50;
export const DEFAULT_RETRIEVAL_TOKENS = 2048;
/** The reciprocal rank fusion's constant (Cormack et al.: 60). */
export const RRF_K = 60;

/** The documents settings (app settings' `documents`). */
export const DocumentSettings = z
  .object({
    /** the embedding model (a library model's path: a GGUF with pooling); null: keyword search only */
    embeddingModel: z.string().min(1).max(4096).nullable().default(null),
    /** a reranker (a GGUF with rank pooling) that reorders the fused results; null: none */
    rerankModel: z.string().min(1).max(4096).nullable().default(null),
    chunkTokens: z.number().int().min(MIN_CHUNK_TOKENS).max(MAX_CHUNK_TOKENS).default(DEFAULT_CHUNK_TOKENS),
    /** the chunker uses at most a third of the chunk's size, whatever is set here */
    chunkOverlapTokens: z.number().int().min(0).max(MAX_CHUNK_TOKENS / 2).default(DEFAULT_CHUNK_OVERLAP_TOKENS),
    /** the most chunks retrieved for a turn */
    topK: z.number().int().min(1).max(MAX_TOP_K).default(DEFAULT_TOP_K),
    /** the retrieved chunks' token budget in a turn's prompt */
    retrievalTokens: z.number().int().min(128).max(65_536).default(DEFAULT_RETRIEVAL_TOKENS),
    /** the share of the context a thread's documents may fill whole (no retrieval) */
    wholeDocumentShare: z.number().min(0).max(0.9).default(0.5),
  })
  .strict();
export type DocumentSettings = z.output<typeof DocumentSettings>;

/**
 * How a model pools its tokens' states into one output per sequence: llama.cpp's enum
 * llama_pooling_type by value (0 none … 4 rank), as its GGUF's `<arch>.pooling_type` says. none: a
 * model to chat with; mean, cls, last: an embedding model (a vector per text); rank: a reranker (a
 * score per query/document pair).
 */
export const POOLINGS = ['none', 'mean', 'cls', 'last', 'rank'] as const;
export const Pooling = z.enum(POOLINGS);
export type Pooling = z.infer<typeof Pooling>;

/**
 * The pooling llama.cpp runs a model with, from the value of its GGUF's `<arch>.pooling_type`: a key
 * that is absent, -1 (unspecified) or unknown pools none (llama.cpp's hparams default, the same for
 * every architecture). A name (the engine's ModelMetadata.pooling: 'unspecified' when absent) reads the same way.
 */
export function poolingOf(value: number | string | undefined): Pooling {
  const p = typeof value === 'number' ? POOLINGS[value] : POOLINGS.find((n) => n === value);
  return p ?? 'none';
}

/** The documents' models: the embedding model (settings' embeddingModel) and the reranker (rerankModel). */
export type DocModelRole = 'embed' | 'rerank';

/**
 * Why a model pooling `pooling` cannot serve `role`, in words ("not an embedding model: …"); null when
 * it can. The one rule for both: Settings → Documents offers only the models it passes, and
 * main/docs/models.ts refuses the others before loading them.
 */
export function docModelMismatch(role: DocModelRole, pooling: Pooling): string | null {
  if (role === 'embed') {
    if (pooling === 'rank') return 'not an embedding model: it is a reranker (rank pooling)';
    return pooling === 'none' ? 'not an embedding model: its GGUF has no pooling (a model to chat with)' : null;
  }
  return pooling === 'rank' ? null : `not a reranker: its GGUF has ${pooling === 'none' ? 'no pooling' : `${pooling} pooling, not rank`}`;
}
