/**
 * The Data page's shapes on the contract (main/data/ does the work): importing another app's chats
 * (an upload in pieces or a path, a preview, then the import with progress), exporting, backups,
 * moving the data folder and erasing. zod only: the renderer imports this file too.
 */
import { z } from 'zod';
import { Id } from './dtos';
import { SHA256_HEX } from '../params';

/** The formats `hearth chats import --from` and the Data page take ('auto': detected from the file); main/data/formats reads them. */
export const IMPORT_FORMATS = ['hearth', 'jan', 'lmstudio', 'openwebui', 'chatgpt', 'claude'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
export const ImportFormatChoice = z.enum(['auto', ...IMPORT_FORMATS]);
export type ImportFormatChoice = z.infer<typeof ImportFormatChoice>;

/** The names people know the formats by (the preview and errors say them). */
export const IMPORT_FORMAT_NAMES: Record<ImportFormat, string> = {
  hearth: 'Hearth JSON',
  jan: 'Jan threads',
  lmstudio: 'LM Studio conversations',
  openwebui: 'Open WebUI chats',
  chatgpt: 'ChatGPT data export',
  claude: 'Claude data export',
};

/** one piece of an upload: base64 of at most this many bytes (the WebSocket frame stays small) */
export const UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024;
/** the largest file an import takes (a ChatGPT export can be hundreds of MB) */
export const IMPORT_MAX_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export const UploadId = z.string().regex(/^[a-z0-9-]{8,64}$/);

export const ImportUpload = z.object({
  /** absent for the first piece: the answer names the upload */
  uploadId: UploadId.optional(),
  /** the file's name as the user picked it (its extension tells a zip) */
  name: z.string().trim().min(1).max(300),
  /** where this piece goes: the bytes received so far */
  offset: z.number().int().min(0).max(IMPORT_MAX_BYTES),
  /** base64 of the piece */
  chunk: z.string().max(Math.ceil(UPLOAD_CHUNK_BYTES / 3) * 4),
  /** the last piece: the upload is complete */
  last: z.boolean(),
}).strict();

export const ImportSource = z.union([
  z.object({ upload: UploadId }).strict(),
  /** a file or folder on this machine (the desktop app's picker; the CLI) */
  z.object({ path: z.string().trim().min(1).max(4096) }).strict(),
]);
export type ImportSource = z.infer<typeof ImportSource>;

/** The most reasons a preview lists (the rest are counted in one IMPORT_OTHER_REASONS row), and the longest one (cut past it). */
export const IMPORT_SKIP_REASONS = 50;
export const IMPORT_REASON_CHARS = 300;
export const IMPORT_OTHER_REASONS = 'other things left out';

export const ImportPreviewDTO = z.object({
  jobId: Id,
  format: z.enum(IMPORT_FORMATS),
  /** the file or folder's name */
  name: z.string(),
  /** conversations that will be imported (new ones) */
  threads: z.number().int(),
  messages: z.number().int(),
  /** conversations already imported before (skipped: a re-import adds nothing) */
  duplicates: z.number().int(),
  /** the oldest and newest conversation's time (ms), null when there are none */
  firstAt: z.number().nullable(),
  lastAt: z.number().nullable(),
  /** what will be left out, counted by reason (IMPORT_SKIP_REASONS of them, then the others in one row) */
  skipped: z.array(z.object({ reason: z.string().max(IMPORT_REASON_CHARS + 1), count: z.number().int() })).max(IMPORT_SKIP_REASONS + 1),
});
export type ImportPreviewDTO = z.infer<typeof ImportPreviewDTO>;

export const IMPORT_STATES = ['previewed', 'running', 'done', 'cancelled', 'failed'] as const;

/** Why an import did not keep a document its read of the file was cancelled before finding. */
export const UNREAD_DOCUMENT = 'the import was cancelled before Hearth found it in the file';
/** Why an import did not keep a document it found: cancelled while the documents found were being kept. */
export const UNKEPT_DOCUMENT = 'the import was cancelled before Hearth kept it';
/** Why an import did not keep a document the file does not carry (its export could not read it; a one-chat file or an older export carries none). */
export const MISSING_DOCUMENT = 'the file does not carry its bytes';
/** The documents left out that the Data page and the CLI list by name (the rest are counted; the log names them). */
export const DOCUMENTS_LEFT_OUT_SHOWN = 20;
/** What brings the documents an import left out with `again`: the Data page and the CLI say it under them. */
export const DOCUMENTS_AGAIN_HINT =
  'A chat imported before is not imported again, nor are its documents: to get the documents this import stopped short of, delete those chats and import the file again.';

export const ImportProgressDTO = z.object({
  jobId: Id,
  state: z.enum(IMPORT_STATES),
  /** conversations handled (imported or skipped) of all the preview counted */
  done: z.number().int(),
  total: z.number().int(),
  imported: z.number().int(),
  messages: z.number().int(),
  duplicates: z.number().int(),
  /** why it failed (state failed) */
  error: z.string().nullable(),
  /**
   * while the file is read again for the documents the imported chats attach (Hearth JSON, after its chats):
   * the bytes read of the file's; Cancel then stops this read (the documents found before are kept)
   */
  readingDocuments: z.object({ bytes: z.number().int(), total: z.number().int() }).optional(),
  /** at its end, when the file carried documents (Hearth JSON): those linked to the imported chats, and those not kept with why */
  documents: z.object({
    /** links made to the imported chats (a document attached to two chats counts twice) */
    linked: z.number().int(),
    /** documents kept and linked to an imported chat, each once */
    kept: z.number().int(),
    /**
     * documents not kept: the name a chat attached it by, and why; `again`: the same file imported again
     * brings it once those chats are deleted (the read or the keeping stopped short: a cancel, a read
     * that failed, a full disk), which the Data page and the CLI say
     */
    skipped: z.array(z.object({ ref: z.string(), name: z.string().optional(), reason: z.string(), again: z.boolean().optional() })),
  }).optional(),
});
export type ImportProgressDTO = z.infer<typeof ImportProgressDTO>;

export const EXPORT_FORMATS = ['md', 'json'] as const;

export const ExportRequest = z.object({
  /** the threads to export; null: every thread */
  threadIds: z.array(Id).min(1).max(100_000).nullable(),
  format: z.enum(EXPORT_FORMATS),
}).strict();

/** The chats an export names that an import would leave out, at most (the count is whole). */
export const EXPORT_LEFT_OUT_SHOWN = 20;

export const ExportFileDTO = z.object({
  fileName: z.string(),
  mime: z.string(),
  /** utf8: data is the text; base64: the bytes (a zip of Markdown files) */
  encoding: z.enum(['utf8', 'base64']),
  data: z.string(),
  threads: z.number().int(),
  /**
   * Hearth JSON: the chats in the file that an import would pass over (past the bounds it reads one chat
   * within: formats/hearth.ts importWouldSkip), with why; absent when there are none
   */
  leftOutOnImport: z.object({
    count: z.number().int(),
    chats: z.array(z.object({ threadId: Id, title: z.string(), reason: z.string() })).max(EXPORT_LEFT_OUT_SHOWN),
  }).optional(),
});
export type ExportFileDTO = z.infer<typeof ExportFileDTO>;

/** how many backups are kept (the oldest go first) */
export const BACKUP_KEEP = { min: 1, max: 100, default: 7 } as const;

export const BackupSettings = z.object({
  /** a backup every day the app runs */
  daily: z.boolean().default(true),
  keep: z.number().int().min(BACKUP_KEEP.min).max(BACKUP_KEEP.max).default(BACKUP_KEEP.default),
}).strict();
export type BackupSettings = z.infer<typeof BackupSettings>;

export const BackupName = z.string().regex(/^hearth-[0-9]{8}-[0-9]{6}(-[0-9]+)?\.db$/);

export const BackupsDTO = z.object({
  folder: z.string(),
  settings: BackupSettings,
  /** newest first */
  backups: z.array(z.object({ name: BackupName, bytes: z.number(), createdAt: z.number() })),
});
export type BackupsDTO = z.infer<typeof BackupsDTO>;

export const DataFolderDTO = z.object({
  /** the data folder in use */
  folder: z.string(),
  /** whether this app can move it and restore backups (it restarts to do so) */
  canRestart: z.boolean(),
});
export type DataFolderDTO = z.infer<typeof DataFolderDTO>;

/** The images and documents set aside (no chat names them: a chat deleted), kept a while for a restored backup. */
export const StrayDTO = z.object({
  files: z.number().int().min(0),
  bytes: z.number().min(0),
  /** how long a file stays aside before it is deleted */
  keepDays: z.number().int().min(0),
});
export type StrayDTO = z.infer<typeof StrayDTO>;
/** The most refs a page may ask to keep when the set-aside files are deleted (its message boxes' files). */
export const STRAY_KEEP_REFS = 10_000;
/** data.stray and data.stray.empty: the files the asking page's message boxes hold (images and documents, by SHA-256): not counted, not deleted. */
export const StrayRequest = z.object({ keep: z.array(z.string().regex(SHA256_HEX)).max(STRAY_KEEP_REFS).default([]) }).strict();

export const ERASE_SCOPES = ['threads', 'everything'] as const;
