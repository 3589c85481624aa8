/**
 * A file or folder to import, opened as a stream of prepared threads: Hearth JSON (streamed by
 * formats/hearth.ts) and Jan folders into the store's own shapes (lossless: ids, tool calls, assistants),
 * every other format through an ImportReader (main/data/formats, given as `readers`) and
 * toPreparedThread. 'auto' tells Hearth JSON by its first bytes (or, its keys in another order, by
 * detection) and Jan by its folders; anything else is the readers' to detect.
 */
import fs from 'fs';
import path from 'path';
import type { Store } from '../store';
import type { Assistant } from '../store/assistants';
import { whenUnlocked } from '../store/busy';
import { prepareHearth, type PreparedThread } from '../store/import';
import { findJanThreads, isJanFolder, prepareJanAssistant, prepareJanThread } from '../store/import-jan';
import { detectFormat } from './formats/detect';
import { readHearthDocuments, readHearthThreads, type HearthDocumentsRead, type HearthReadOptions } from './formats/hearth';
import { skipSpace } from './formats/json-guard';
import { checkAborted, tooManyBytes, tooManyNodes } from './formats/tree';
import type { ImportFormat, ImportFormatChoice, ImportReader, SkipNote } from './imported';
import { toPreparedThread } from './to-thread';
import { closeFd, openRegularFile, readFd } from '../regular-file';

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
  before(): Promise<void>;
  units(signal?: AbortSignal): AsyncIterable<ImportUnit | { skipped: SkipNote }>;
  /**
   * reads the attached documents' bytes the file carries (Hearth JSON; main/data/import-documents.ts adopts
   * them), telling the bytes read; cancelled, it answers those found before
   */
  documents?: (wanted: ReadonlySet<string>, opts: Pick<HearthReadOptions, 'signal' | 'onBytes'>) => Promise<HearthDocumentsRead>;
}

/** The note for another app's conversation with no message to import (it is not written). */
export const EMPTY_CONVERSATIONS = 'empty conversations';

const hearthJsonStart = /^\s*\{\s*"format"\s*:\s*"hearth\.threads?"/;

/**
 * The first bytes of a file (at most 4 KiB); none when it is not a regular file as opened (a FIFO swapped
 * in would block). Read off the main thread: a file whose read stalls (a cloud drive's file fetched on
 * read, a hung network mount) holds this import and one of libuv's pool threads, not the process.
 */
async function headOf(p: string): Promise<Buffer> {
  const opened = await openRegularFile(p);
  if (!opened) return Buffer.alloc(0);
  const { fd } = opened;
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await readFd(fd, head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await closeFd(fd);
  }
}

const startsLikeHearth = async (p: string): Promise<boolean> => hearthJsonStart.test((await headOf(p)).toString('utf8'));

/** Hearth JSON or Jan when `from` says so or the path looks it; null: the readers' to open. */
export async function ownFormat(p: string, from: ImportFormatChoice): Promise<'hearth' | 'jan' | null> {
  if (from === 'hearth' || from === 'jan') return from;
  if (from !== 'auto') return null;
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch {
    return null; // the readers say it is missing
  }
  if (st.isDirectory()) return (await isJanFolder(p)) ? 'jan' : null;
  return st.isFile() && (await startsLikeHearth(p)) ? 'hearth' : null;
}

/**
 * A JSON object that is not known by its first bytes (another app's, or Hearth's with its keys in
 * another order): Hearth when detection says so. An array (the exports of other apps) or a zip is never Hearth.
 */
async function detectedHearth(p: string): Promise<boolean> {
  try {
    if (!(await fs.promises.stat(p)).isFile()) return false;
    const head = await headOf(p);
    if (head[skipSpace(head, true)] !== 0x7b /* { */) return false;
    return (await detectFormat(p)) === 'hearth';
  } catch {
    return false; // the readers say what is wrong with it
  }
}

/** A Hearth JSON file, streamed: its threads one at a time; its documents read again when the import asks. */
function hearthSource(p: string): ImportSourceOpen {
  return {
    format: 'hearth',
    documents: (wanted, opts) => readHearthDocuments(p, wanted, opts),
    before: async () => undefined,
    async *units(signal) {
      for await (const item of readHearthThreads(p, { signal })) {
        if ('skipped' in item) {
          yield item;
          continue;
        }
        const { thread: doc, where } = item;
        const prepared = prepareHearth(doc, where);
        yield { sourceId: doc.thread.id, keptId: doc.thread.id, prepared, notes: [], removedDocuments: doc.removedDocuments };
      }
    },
  };
}

/**
 * A Jan folder: its assistants, then its threads one at a time. In a folder of threads, a thread (or an
 * assistant) whose files cannot be read or are not Jan's is left out with a note naming the file, as the
 * other folder formats do; a folder that is one thread is refused with what is wrong.
 */
async function janSource(store: Store, p: string, now: number, signal?: AbortSignal): Promise<ImportSourceOpen> {
  const { threads, links, assistantFiles, single } = await findJanThreads(p);
  const assistants: Assistant[] = [];
  const unreadAssistants: SkipNote[] = [];
  for (const f of assistantFiles) {
    try {
      assistants.push(await prepareJanAssistant(f, now, signal));
    } catch (e) {
      if (signal?.aborted || (e as { code?: string }).code !== 'import_failed') throw e;
      unreadAssistants.push({ reason: `a Jan assistant that could not be imported, its chats given the default one (${(e as Error).message})` });
    }
  }
  const known = new Map(assistants.map((a) => [a.id, a.id]));
  return {
    format: 'jan',
    async before() {
      // (a lock another process holds is waited for off main's thread, as the threads' writes wait)
      await whenUnlocked(store.db, () => {
        for (const a of assistants) if (!store.assistants.exists(a.id)) store.assistants.insertRecord(a);
      }, { signal });
    },
    async *units(signal) {
      for (const note of unreadAssistants) yield { skipped: note };
      for (const link of links) yield { skipped: { reason: `a link in a Jan folder, not followed (${link})` } };
      for (const t of threads) {
        checkAborted(signal, p);
        let prepared: Awaited<ReturnType<typeof prepareJanThread>>;
        try {
          prepared = await prepareJanThread(t, now, known, { signal });
        } catch (e) {
          if (single || signal?.aborted || (e as { code?: string }).code !== 'import_failed') throw e;
          yield { skipped: { reason: `a Jan thread that could not be imported (${(e as Error).message})` } };
          continue;
        }
        if ('tooLarge' in prepared) {
          const why = prepared.tooLarge;
          yield ('bytes' in why ? tooManyBytes(why.bytes) : tooManyNodes(why.messages))!; // over the limits these notes name
          continue;
        }
        prepared.thread.assistantId ??= store.defaultAssistantId();
        yield { sourceId: path.basename(t.dir), keptId: prepared.thread.id, prepared, notes: [] };
      }
    },
  };
}

function readerSource(store: Store, reader: ImportReader, now: () => number): ImportSourceOpen {
  return {
    format: reader.format,
    before: async () => undefined,
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

/** Opens `p` as `from` (or what it looks like); throws import_failed (Hearth, Jan) or the readers' error. `signal` ends Jan's first reads (its assistants). */
export async function openSource(store: Store, readers: ReaderFactory, p: string, from: ImportFormatChoice, now: () => number, signal?: AbortSignal): Promise<ImportSourceOpen> {
  let own = await ownFormat(p, from);
  if (own === null && from === 'auto' && await detectedHearth(p)) own = 'hearth';
  if (own === 'hearth') return hearthSource(p);
  if (own === 'jan') return janSource(store, p, now(), signal);
  return readerSource(store, await readers(p, from), now);
}
