/**
 * Hearth JSON (main/store/export.ts's shapes) read as a stream, as the other formats are: a bundle's
 * threads one at a time, each checked with zod as it comes, so memory holds one thread, never the file
 * (JSON.parse of a whole file let 48 MiB of `[],[],…` take over a gigabyte and block for seconds).
 * - The guard measures each element inside the top-level object's members (a bundle's threads and
 *   documents, a one-thread file's messages) at OWN_ELEMENT_BYTES and OWN_ELEMENT_VALUES (a one-thread
 *   file's messages are counted together too), and nests no deeper than OWN_MAX_DEPTH. A bundle's thread
 *   past them is passed over with a note (the others import); anything else past them refuses the file.
 * - A one-thread file ("format": "hearth.thread") is one conversation, held whole: it may have
 *   LIMITS.ownThreadBytes in all (its messages each checked as they come).
 * - A member the shapes do not have is refused as its key is read (before its value is); the keys may
 *   come in any order (a file re-saved with sorted keys reads alike).
 */
import { createHash } from 'crypto';
import fs from 'fs';
import { z } from 'zod';
import { MAX_DOC_BYTES } from '../../params';
import {
  bundleExportSchema, exportedDocumentSchema, MAX_EXPORT_DOCUMENTS, threadExportSchema, type ExportedDocument, type ThreadExport,
} from '../../store/export';
import { LIMITS } from '../../store/validation';
import { JsonGuard, type JsonLimits } from './json-guard';
import { fileSource, streamJsonValues, tooLargeNote, type StreamOptions } from './stream';
import { importFailed, notRegularFile } from './tree';
import type { SkipNote } from '../imported';

/** The largest element read at once: a thread of a bundle, or a document (its base64, at most a document's, with its name). */
export const OWN_ELEMENT_BYTES = Math.max(LIMITS.ownThreadBytes, Math.ceil(MAX_DOC_BYTES / 3) * 4 + 64 * 1024);
/**
 * The most values one element may hold (JsonLimits.maxElementValues): a thread of conversationNodes
 * messages, each with its fields, metrics and calls, with room; what the parser builds of it is then
 * some hundreds of MB at worst, where 512 MiB of `[],[],…` would be gigabytes.
 */
export const OWN_ELEMENT_VALUES = 40 * LIMITS.conversationNodes;
/**
 * How deeply Hearth JSON nests: a tool call's arguments are kept as JSON values inside a message
 * (the store takes what can be written as JSON at all), so deeper than other apps' exports.
 */
export const OWN_MAX_DEPTH = 256;

/** The bounds each element of a Hearth file is read within (a bundle's thread past them is passed over with a note). */
const OWN_LIMITS: JsonLimits = { maxElementBytes: OWN_ELEMENT_BYTES, maxElementValues: OWN_ELEMENT_VALUES, maxDepth: OWN_MAX_DEPTH };

/** The characters of a thread's JSON measured at once by importWouldSkip (its bytes are made a piece at a time). */
const MEASURE_CHARS = 1 << 20;

/**
 * Why an import would pass over this thread of a bundle (its JSON as the export writes it), measured by the
 * import's own guard where a bundle holds it (`{"threads":[…]}`): a note, or null when it reads it. An
 * export tells of such threads. The JSON is measured in pieces, never copied whole. Whether it is passed
 * over is the import's answer; of a thread past two bounds, the bound named may differ (each is checked
 * where the guard meets it, and the pieces are not the import's chunks).
 */
export function importWouldSkip(threadJson: string): SkipNote | null {
  const guard = new JsonGuard('the export', OWN_LIMITS, 2);
  const pieces = function* () {
    yield '{"threads":[';
    for (let at = 0; at < threadJson.length;) {
      let end = Math.min(threadJson.length, at + MEASURE_CHARS);
      // a surrogate pair stays whole (its bytes are UTF-8's four)
      if (end < threadJson.length && /[\uD800-\uDBFF]/.test(threadJson[end - 1])) end--;
      yield threadJson.slice(at, end);
      at = end;
    }
    yield ']}';
  };
  for (const piece of pieces()) {
    const over = guard.next(Buffer.from(piece), 0);
    if (over) return tooLargeNote(over, OWN_LIMITS);
  }
  return null;
}

/** What a one-thread file's members are read into (a bundle's threads are each read whole). */
const THREAD_PATHS = ['$.thread', '$.assistant', '$.messages.*', '$.removedDocuments'];
const HEAD_PATHS = ['$.format', '$.version', '$.exportedAt'];
/** The members whose elements, past the bounds, are passed over with a note: a bundle's threads (a one-thread file is one conversation). */
const SKIPPABLE: ReadonlySet<string> = new Set(['threads']);
/** The members a bundle or a one-thread file has: any other is refused. */
const MEMBERS = new Set([...Object.keys(bundleExportSchema.shape), ...Object.keys(threadExportSchema.shape)]);

const headSchema = z.object({ version: bundleExportSchema.shape.version, exportedAt: bundleExportSchema.shape.exportedAt });
const messageSchema = threadExportSchema.shape.messages.element;
const missingSchema = bundleExportSchema.shape.documentsMissing.unwrap().element;
/** A one-thread file but its messages, each checked as it comes. */
const oneThreadSchema = threadExportSchema.omit({ messages: true });

export type HearthItem = { thread: ThreadExport; where: string } | { document: ExportedDocument } | { skipped: SkipNote };

export interface HearthReadOptions extends Pick<StreamOptions, 'signal' | 'onBytes'> {
  /** the most bytes of the file (IMPORT_MAX_BYTES) */
  maxBytes?: number;
  /** the most bytes of one element (OWN_ELEMENT_BYTES) and of a one-thread file (LIMITS.ownThreadBytes) */
  maxElementBytes?: number;
}

function invalid(where: string, at: (string | number)[], error: z.ZodError): never {
  const i = error.issues[0];
  const path = [...at, ...i.path].join('.');
  return importFailed(`not a valid Hearth export (${where}: ${path ? `${path}: ` : ''}${i.message})`);
}

/**
 * The threads of a Hearth JSON file (a bundle's one at a time; a one-thread file's at its end), and its
 * documents (each checked; yielded only with `documents`). Anything that is not Hearth JSON, or not
 * valid, is an import_failed error naming the file; the file's own members are checked where they end.
 */
export async function* readHearthFile(file: string, opts: HearthReadOptions & { documents?: boolean } = {}): AsyncGenerator<HearthItem> {
  const maxElement = opts.maxElementBytes ?? OWN_ELEMENT_BYTES;
  const oneThreadMax = Math.min(maxElement, LIMITS.ownThreadBytes);
  const source = fileSource(file, opts.maxBytes);
  const where = source.where;
  let size: number;
  try {
    const st = await fs.promises.stat(file);
    // a FIFO or device says nothing true of its size (a one-thread file is measured by it)
    if (!st.isFile()) return importFailed(notRegularFile(where));
    size = st.size;
  } catch (e) {
    if ((e as { code?: string }).code === 'import_failed') throw e;
    return importFailed(`cannot read ${file}: ${(e as Error).message}`, e);
  }
  let kind = null as 'bundle' | 'thread' | null;
  const kindIs = (k: 'bundle' | 'thread') => {
    if (kind !== null && kind !== k) importFailed(`${where} is not a Hearth export (it has both a bundle's "threads" and one thread's members)`);
    if (k === 'thread' && size > oneThreadMax) importFailed(`${where} is one thread of ${size} bytes, more than an import reads of one conversation (${oneThreadMax})`);
    kind = k;
  };
  const head: Record<string, unknown> = {};
  const one: Record<string, unknown> = {};
  const messages: ThreadExport['messages'] = [];
  let documents = 0;
  let missing = 0;
  let threads = 0;
  /** the values of a one-thread file's messages so far */
  let values1 = 0;
  // reading the documents passes the threads over; reading the threads checks each document and lets it go
  const paths = opts.documents ? [...HEAD_PATHS, '$.documents.*'] : [...HEAD_PATHS, '$.threads.*', '$.documents.*', '$.documentsMissing.*', ...THREAD_PATHS];
  const values = streamJsonValues(await source.open(), where, paths, '{', {
    signal: opts.signal, onBytes: opts.onBytes, maxBytes: opts.maxBytes, limits: { ...OWN_LIMITS, maxElementBytes: maxElement }, elementDepth: 2, members: MEMBERS,
    // a bundle's thread past the bounds is passed over with a note; the others are read on
    skipTooLarge: SKIPPABLE,
  });
  for await (const { path, value, tooLarge } of values) {
    const [key, index] = path;
    if (tooLarge) {
      kindIs('bundle');
      threads++;
      if (!opts.documents) yield { skipped: tooLarge };
    } else if (key === 'format') {
      if (value === bundleExportSchema.shape.format.value) kindIs('bundle');
      else if (value === threadExportSchema.shape.format.value) kindIs('thread');
      else importFailed(`${where} is not a Hearth export (no "format": "hearth.thread")`);
      head.format = value;
    } else if (key === 'version' || key === 'exportedAt') {
      const r = headSchema.shape[key].safeParse(value);
      if (!r.success) invalid(where, [key], r.error);
      head[key] = r.data;
    } else if (key === 'threads') {
      kindIs('bundle');
      const r = threadExportSchema.safeParse(value);
      if (!r.success) invalid(where, ['threads', index], r.error);
      yield { thread: r.data, where: `${where} thread ${++threads}` };
    } else if (key === 'documents') {
      kindIs('bundle');
      if (++documents > MAX_EXPORT_DOCUMENTS) importFailed(`${where} carries more than ${MAX_EXPORT_DOCUMENTS} documents`);
      const r = exportedDocumentSchema.safeParse(value);
      if (!r.success) invalid(where, ['documents', index], r.error);
      if (opts.documents) yield { document: r.data };
    } else if (key === 'documentsMissing') {
      kindIs('bundle');
      if (++missing > MAX_EXPORT_DOCUMENTS) importFailed(`${where} names more than ${MAX_EXPORT_DOCUMENTS} missing documents`);
      const r = missingSchema.safeParse(value);
      if (!r.success) invalid(where, ['documentsMissing', index], r.error);
    } else if (key === 'messages') {
      kindIs('thread');
      const r = messageSchema.safeParse(value);
      if (!r.success) invalid(where, ['messages', index], r.error);
      // the guard counts each message's values: a one-thread file's messages, kept together, are held
      // to one thread's count in all (a bundle's thread is counted whole by the guard)
      values1 += valuesIn(r.data, OWN_ELEMENT_VALUES - values1);
      if (values1 > OWN_ELEMENT_VALUES) importFailed(`${where} holds one conversation of more than ${OWN_ELEMENT_VALUES} values (refused: too large to read)`);
      messages.push(r.data);
    } else {
      kindIs('thread');
      one[key] = value;
    }
  }
  if (head.format === undefined) importFailed(`${where} is not a Hearth export (no "format": "hearth.thread")`);
  const r = headSchema.safeParse(head);
  if (!r.success) invalid(where, [], r.error);
  if (kind === 'thread') {
    const t = oneThreadSchema.safeParse({ ...head, ...one });
    if (!t.success) invalid(where, [], t.error);
    yield { thread: { ...t.data, messages }, where };
  }
}

/** The arrays, objects and other values in `v` (as the guard counts them), counted up to past `most`. */
function valuesIn(v: unknown, most: number): number {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length > 0 && n <= most) {
    const x = stack.pop();
    n++;
    if (x !== null && typeof x === 'object') for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push(c);
  }
  return n;
}

/**
 * The threads of a Hearth JSON file, each with where it is (for errors), and a note for each of a bundle's
 * threads too large to read; its documents are checked, not kept.
 */
export async function* readHearthThreads(file: string, opts: HearthReadOptions = {}): AsyncGenerator<{ thread: ThreadExport; where: string } | { skipped: SkipNote }> {
  for await (const item of readHearthFile(file, opts)) if (!('document' in item)) yield item;
}

/** The documents a read found, and whether it read the whole file (else why not: cancelled, or the error). */
export interface HearthDocumentsRead {
  documents: CarriedDocument[];
  whole: boolean;
  /** why the read stopped short (whole false): 'cancelled', or the error that ended it */
  stopped?: 'cancelled' | string;
}

/**
 * A document a bundle carries, decoded once: its bytes, and whether they are its ref's content (SHA-256),
 * told by the read that found it (the adoption keeps only those that are).
 */
export interface CarriedDocument {
  ref: string;
  name: string;
  bytes: Buffer;
  holdsRef: boolean;
}

/** A carried document decoded, and its bytes hashed (once: the adoption reads `holdsRef`). */
function carried(d: ExportedDocument): CarriedDocument {
  const bytes = Buffer.from(d.data, 'base64');
  return { ref: d.ref, name: d.name, bytes, holdsRef: createHash('sha256').update(bytes).digest('hex') === d.ref };
}

/**
 * The documents of `wanted` a Hearth bundle carries (none for one thread, or before version 3), read
 * again from the file: of each ref the first copy that holds its content (else the first, which the
 * adoption names as changed); the others are checked and let go as they are read, so memory holds what
 * the imported threads attach, never every document the file carries. The read ends once each wanted one
 * is found. Cancelled through `signal`, or failing (the file changed or went since the threads were
 * read), it answers the documents found before (`whole: false`, and why) rather than throwing: those are
 * whole and checked, and the chats written before want them.
 */
export async function readHearthDocuments(file: string, wanted: ReadonlySet<string>, opts: HearthReadOptions = {}): Promise<HearthDocumentsRead> {
  const good = new Map<string, CarriedDocument>();
  const changed = new Map<string, CarriedDocument>();
  const found = () => [...good.values(), ...[...changed.values()].filter((d) => !good.has(d.ref))];
  if (wanted.size === 0) return { documents: [], whole: true };
  try {
    for await (const item of readHearthFile(file, { ...opts, documents: true })) {
      if (!('document' in item) || !wanted.has(item.document.ref) || good.has(item.document.ref)) continue;
      const d = carried(item.document);
      if (d.holdsRef) good.set(d.ref, d);
      else if (!changed.has(d.ref)) changed.set(d.ref, d);
      // every wanted one found whole: the rest of the file has nothing for this import
      if (good.size === wanted.size) break;
    }
  } catch (e) {
    return { documents: found(), whole: false, stopped: opts.signal?.aborted ? 'cancelled' : (e as Error).message };
  }
  return { documents: found(), whole: true };
}
