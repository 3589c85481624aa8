/**
 * What every importer of another app's chats reads a conversation into (main/data/formats/), and what
 * the import job (main/data/import-job.ts) previews, dedupes and writes. One shape for every format:
 * a tree of messages (parentKey), where siblings are alternatives (edits, regenerations) and `active`
 * marks the branch the other app showed.
 */
import type { ImportFormat } from '../ipc/data';
import { ROLES, type Role } from '../store/types';

// the formats are the contract's (the page and the CLI name them); defined there so that the contract needs nothing of main/data
export { IMPORT_FORMATS, IMPORT_FORMAT_NAMES, ImportFormatChoice, type ImportFormat } from '../ipc/data';

/** The roles an imported message may have: the store's. */
export type ImportedRole = Role;

/** Whether another app's role is one Hearth keeps (anything else is a note). */
export function isImportedRole(role: string): role is ImportedRole {
  return (ROLES as readonly string[]).includes(role);
}

export interface ImportedMessage {
  /** unique within its conversation (the other app's id, or one made from its position) */
  key: string;
  /** the message it answers or follows; null for the first (a root) */
  parentKey: string | null;
  role: ImportedRole;
  content: string;
  /** the model's thinking, where the other app kept it apart */
  reasoning?: string;
  /** ms since the epoch; null when the other app kept none (the import uses the conversation's time) */
  createdAt: number | null;
  /** on the branch the other app showed (one active child per parent) */
  active: boolean;
  /** the model that wrote it, as the other app named it */
  model?: string | null;
}

/** Something left out, said in the preview: counted by reason. */
export interface SkipNote {
  /** one line a user understands: 'attachments (not in the export)', 'unknown node type "x"' */
  reason: string;
}

export interface ImportedThread {
  /** the other app's id for the conversation: a re-import of the same one is skipped (kept per thread with its format) */
  sourceId: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  model?: string | null;
  /** parents before their children */
  messages: ImportedMessage[];
  skipped: SkipNote[];
}

/**
 * A file or folder opened as one format: its conversations one at a time (a large export is streamed,
 * never read whole), and whatever could not be read at all (a conversation the parser refused).
 */
export interface ImportReader {
  format: ImportFormat;
  /** what the reader read from (the file or folder) */
  source: string;
  conversations(signal?: AbortSignal): AsyncIterable<ImportedThread | { skipped: SkipNote }>;
}
