/**
 * A file or folder to import, opened as a stream of prepared threads: Hearth JSON and Jan folders
 * through the store's own readers (lossless: ids, tool calls, assistants), every other format through
 * an ImportReader (main/data/formats, given as `readers`) and toPreparedThread. 'auto' tells Hearth
 * JSON by its first bytes and Jan by its folders; anything else is the readers' to detect.
 */
import fs from 'fs';
import path from 'path';
import type { Store } from '../store';
import { findJanThreads, isJanFolder, prepareHearth, prepareJanAssistant, prepareJanThread, readHearthDocs, type PreparedThread } from '../store/import';
import type { ExportedDocument } from '../store/export';
import type { ImportFormat, ImportFormatChoice, ImportReader, SkipNote } from './imported';
import { toPreparedThread } from './to-thread';

/** Opens a path as one format (main/data/formats' openImport, once it is there). */
export type ReaderFactory = (path: string, from: ImportFormatChoice) => Promise<ImportReader>;

/** One conversation, ready to write. */
export interface ImportUnit {
  /** its id in the other app (kept with its format: a re-import skips it) */
  sourceId: string;
  /** the thread id it keeps (Hearth JSON, Jan): a thread already there with it counts as imported */
  keptId?: string;
  prepared: PreparedThread;
  /** what was left out or changed in it */
  notes: SkipNote[];
  /** documents its messages attach that the chat had taken out (Hearth JSON): they stay out */
  removedDocuments?: string[];
}

export interface ImportSourceOpen {
  format: ImportFormat;
  /** what must be in the store before its threads (Jan's assistants); run once by the import, never by a preview */
  before(): void;
  units(signal?: AbortSignal): AsyncIterable<ImportUnit | { skipped: SkipNote }>;
  /** the attached documents' bytes the file carries (Hearth JSON; main/data/import-documents.ts adopts them) */
  documents?: ExportedDocument[];
}

/** The note for another app's conversation with no message to import (it is not written). */
export const EMPTY_CONVERSATIONS = 'empty conversations';

const hearthJsonStart = /^\s*\{\s*"format"\s*:\s*"hearth\.threads?"/;

function startsLikeHearth(p: string): boolean {
  const fd = fs.openSync(p, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return hearthJsonStart.test(head.subarray(0, n).toString('utf8'));
  } finally {
    fs.closeSync(fd);
  }
}

/** Hearth JSON or Jan when `from` says so or the path looks it; null: the readers' to open. */
export function ownFormat(p: string, from: ImportFormatChoice): 'hearth' | 'jan' | null {
  if (from === 'hearth' || from === 'jan') return from;
  if (from !== 'auto') return null;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return null; // the readers say it is missing
  }
  if (st.isDirectory()) return isJanFolder(p) ? 'jan' : null;
  return st.isFile() && startsLikeHearth(p) ? 'hearth' : null;
}

function hearthSource(p: string): ImportSourceOpen {
  const { docs, where, documents } = readHearthDocs(p, { fromFile: true });
  return {
    format: 'hearth',
    documents,
    before: () => undefined,
    async *units() {
      for (let i = 0; i < docs.length; i++) {
        const prepared = prepareHearth(docs[i], docs.length > 1 ? `${where} thread ${i + 1}` : where);
        yield { sourceId: docs[i].thread.id, keptId: docs[i].thread.id, prepared, notes: [], removedDocuments: docs[i].removedDocuments };
      }
    },
  };
}

function janSource(store: Store, p: string, now: number): ImportSourceOpen {
  const { threads, assistantFiles } = findJanThreads(p);
  const assistants = assistantFiles.map((f) => prepareJanAssistant(f, now));
  const known = new Map(assistants.map((a) => [a.id, a.id]));
  return {
    format: 'jan',
    before() {
      store.db.transaction(() => {
        for (const a of assistants) if (!store.assistants.exists(a.id)) store.assistants.insertRecord(a);
      })();
    },
    async *units() {
      for (const t of threads) {
        const prepared = prepareJanThread(t, now, known);
        prepared.thread.assistantId ??= store.defaultAssistantId();
        yield { sourceId: path.basename(t.dir), keptId: prepared.thread.id, prepared, notes: [] };
      }
    },
  };
}

function readerSource(store: Store, reader: ImportReader, now: () => number): ImportSourceOpen {
  return {
    format: reader.format,
    before: () => undefined,
    async *units(signal) {
      for await (const c of reader.conversations(signal)) {
        // a conversation has its own `skipped` list: what tells it from one the reader could not read is its id
        if (!('sourceId' in c)) {
          yield c;
          continue;
        }
        if (c.messages.length === 0) {
          yield { skipped: { reason: EMPTY_CONVERSATIONS } }; // nothing to read: not an empty thread
          continue;
        }
        let unit: ImportUnit;
        try {
          const { prepared, notes } = toPreparedThread(c, store.defaultAssistantId(), now());
          unit = { sourceId: c.sourceId, prepared, notes: [...c.skipped, ...notes] };
        } catch (e) {
          yield { skipped: { reason: `a conversation with a broken message tree (${(e as Error).message})` } };
          continue;
        }
        yield unit;
      }
    },
  };
}

/** Opens `p` as `from` (or what it looks like); throws import_failed (Hearth, Jan) or the readers' error. */
export async function openSource(store: Store, readers: ReaderFactory, p: string, from: ImportFormatChoice, now: () => number): Promise<ImportSourceOpen> {
  const own = ownFormat(p, from);
  if (own === 'hearth') return hearthSource(p);
  if (own === 'jan') return janSource(store, p, now());
  return readerSource(store, await readers(p, from), now);
}
