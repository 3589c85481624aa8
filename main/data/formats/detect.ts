/**
 * Which format a file or folder is, and a reader for it. Detection looks, never trusts a name alone:
 * - a zip: its conversations.json, then as below (ChatGPT's and Claude's exports as downloaded);
 * - a JSON array: the first element's keys: `mapping` → ChatGPT, `chat_messages` → Claude,
 *   `chat.history` (or `chat.messages`) → Open WebUI;
 * - a JSON object: `"format": "hearth.thread" | "hearth.threads"` → Hearth, `messages[].versions` → LM Studio;
 * - a folder: thread.json (at its top, in threads/<id>/ or <id>/) → Jan, *.conversation.json below it → LM Studio.
 * Only the start of a file is read: an array's first element (or, that one past one conversation's bounds,
 * the first within them, as the import passes such ones over); an object up to its format or its first
 * message (its members in any order: the others are passed over, each of their elements measured, one
 * past one conversation's bytes skipped as the import would: OBJECT_SNIFF).
 */
import * as fs from 'fs';
import { JSONParser } from '@streamparser/json';
import { isJanFolder } from '../../store/import-jan';
import { closeFd, openRegularFile, readFd } from '../../regular-file';
import { IMPORT_FORMAT_NAMES, IMPORT_FORMATS, type ImportFormat, type ImportFormatChoice, type ImportReader } from '../imported';
import { chatgptReader } from './chatgpt';
import { claudeReader } from './claude';
import { findLmstudioFiles, LMSTUDIO_SUFFIX, lmstudioReader } from './lmstudio';
import { openwebuiReader } from './openwebui';
import { LIMITS } from '../../store/validation';
import { OWN_ELEMENT_VALUES, OWN_MAX_DEPTH } from './hearth';
import { JsonGuard, skipSpace } from './json-guard';
import { fileSource, streamJsonValues, type JsonSource, type StreamOptions } from './stream';
import { importFailed, notRegularFile } from './tree';
import { CONVERSATIONS_ENTRY, ZIP_LIMITS, zipEntrySource, zipHasEntry, type ZipLimits } from './zip';

/** The formats openImport streams; Hearth JSON and Jan folders go to the store's importers (main/store/import.ts). */
export const STREAMED_FORMATS = ['chatgpt', 'claude', 'openwebui', 'lmstudio'] as const satisfies readonly ImportFormat[];

const TAKEN = IMPORT_FORMATS.map((f) => IMPORT_FORMAT_NAMES[f]).join(', ');
const unknown = (where: string, why: string): never =>
  importFailed(`${where} is not a format Hearth imports (${why}); it takes: ${TAKEN}`);

type Sniffed = ImportFormat | 'empty' | null;

/** An array format's mark: a member of its conversations (a path from the conversation) only it has. */
const ARRAY_MARKS: readonly { path: readonly string[]; format: ImportFormat }[] = [
  { path: ['mapping'], format: 'chatgpt' },
  { path: ['chat_messages'], format: 'claude' },
  { path: ['chat', 'history'], format: 'openwebui' },
  { path: ['chat', 'messages'], format: 'openwebui' },
];
/** What the parser is asked for of the first conversation: it, its members, and the marks deeper than them. */
const FIRST_PATHS = ['$.0', '$.0.*', ...ARRAY_MARKS.filter((m) => m.path.length > 1).map((m) => `$.0.${m.path.join('.')}`)];

/** The format whose mark a conversation has (null: none). */
function markedFormat(conversation: unknown): ImportFormat | null {
  for (const { path, format } of ARRAY_MARKS) {
    let v: unknown = conversation;
    for (const k of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
    if (v !== undefined) return format;
  }
  return null;
}

/** The most conversations past the bounds detection passes over looking for one within them. */
const SNIFF_PAST_MOST = 16;

/**
 * An array whose first conversation is past one conversation's bounds (the import passes it over with a
 * note): told by the first conversation within them, null when there is none among the first
 * SNIFF_PAST_MOST + 1 (a file of nothing but conversations past the bounds is not read to its end here).
 */
async function sniffPastLarge(source: JsonSource): Promise<Sniffed> {
  let passed = 0;
  for await (const { value, tooLarge } of streamJsonValues(await source.open(), source.where, ['$.*'], '[', { skipTooLarge: true })) {
    if (!tooLarge) return markedFormat(value);
    if (++passed > SNIFF_PAST_MOST) return null;
  }
  return null;
}

/**
 * An object's members are read element by element (its members may come in any order: a bundle re-saved
 * with sorted keys has its documents first, a hand-made one its threads), building only its format and
 * first message: an element larger than one conversation (LIMITS.conversationBytes) is passed over, as
 * the import would, and a first message that large is no format.
 */
const OBJECT_SNIFF: StreamOptions = {
  limits: { maxElementBytes: LIMITS.conversationBytes, maxElementValues: OWN_ELEMENT_VALUES, maxDepth: OWN_MAX_DEPTH },
  elementDepth: 2,
  skipTooLarge: new Set(['threads', 'documents', 'documentsMissing', 'messages']),
};

async function sniffObject(source: JsonSource): Promise<Sniffed> {
  for await (const { path, value, tooLarge } of streamJsonValues(await source.open(), source.where, ['$.format', '$.messages.0'], '{', OBJECT_SNIFF)) {
    if (tooLarge) continue;
    if (path.length === 1 && path[0] === 'format') return value === 'hearth.thread' || value === 'hearth.threads' ? 'hearth' : null;
    // the first of `messages` (an array of them)
    if (path.length === 2 && path[0] === 'messages' && path[1] === 0 && value !== null && typeof value === 'object' && 'versions' in value) return 'lmstudio';
  }
  return null;
}

/** Reads the start of a JSON source until it can tell the format (or the first element / the object ends). */
async function sniffJson(source: JsonSource): Promise<Sniffed> {
  const where = source.where;
  const input = await source.open();
  let parser: JSONParser | null = null;
  let result: Sniffed | undefined;
  let failure: Error | null = null;
  const guard = new JsonGuard(where);
  let first = true;
  let object = false;
  try {
    for await (const raw of input) {
      let chunk = raw as Buffer;
      if (!parser) {
        const i = skipSpace(chunk, first);
        first = false;
        if (i === chunk.length) continue;
        chunk = chunk.subarray(i);
        if (chunk[0] === 0x7b) {
          object = true;
          break;
        }
        if (chunk[0] !== 0x5b) return null;
        parser = new JSONParser({ paths: FIRST_PATHS, keepStack: false });
        parser.onError = (e) => { failure ??= e; };
        parser.onEnd = () => { if (result === undefined) result = 'empty'; };
        parser.onValue = ({ key, stack }) => {
          if (result !== undefined) return;
          if (stack.length === 1) { result = null; return; } // the first element ended undecided
          // a value the paths name at this depth with the mark's last key is that mark
          const mark = ARRAY_MARKS.find((m) => m.path.length === stack.length - 1 && m.path[m.path.length - 1] === key);
          if (mark) result = mark.format;
        };
      }
      // before the parser builds what it holds; a first conversation past the bounds is passed over
      if (guard.next(chunk, 0)) return await sniffPastLarge(source);
      parser.write(chunk);
      if (result !== undefined) return result;
      if (failure) return importFailed(`${where} is not valid JSON: ${(failure as Error).message}`, failure);
    }
    if (!object) {
      if (result !== undefined) return result;
      return importFailed(parser ? `${where} ends early: the file is truncated or not complete JSON` : `${where} is empty`);
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'import_failed') throw e;
    return importFailed(`cannot read ${where}: ${(e as Error).message}`, e);
  } finally {
    input.destroy();
  }
  return sniffObject(source);
}

/** Whether it starts as a zip does (not a regular file as opened: no; the reader then says why). */
async function isZip(file: string): Promise<boolean> {
  const opened = await openRegularFile(file);
  if (!opened) return false;
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await readFd(opened.fd, buf, 0, 4, 0);
    return bytesRead === 4 && buf.readUInt32LE(0) === 0x04034b50;
  } finally {
    await closeFd(opened.fd);
  }
}

interface Detected {
  format: ImportFormat;
  /** the JSON array to stream, for the array formats */
  source?: JsonSource;
}

async function detect(target: string, zipLimits: ZipLimits): Promise<Detected> {
  let st: fs.Stats;
  try { st = await fs.promises.stat(target); } catch (e) { return importFailed(`cannot read ${target}: ${(e as Error).message}`, e); }
  if (st.isDirectory()) {
    if (await isJanFolder(target)) return { format: 'jan' };
    if ((await findLmstudioFiles(target)).length > 0) return { format: 'lmstudio' };
    return unknown(target, `a folder with no Jan thread.json and no LM Studio *${LMSTUDIO_SUFFIX}`);
  }
  if (!st.isFile()) return importFailed(`${notRegularFile(target)}: Hearth imports files and folders`);
  let source: JsonSource;
  if (await isZip(target)) {
    if (!(await zipHasEntry(target, CONVERSATIONS_ENTRY, zipLimits))) return unknown(target, `a zip without ${CONVERSATIONS_ENTRY}`);
    source = zipEntrySource(target, CONVERSATIONS_ENTRY, zipLimits);
  } else {
    source = fileSource(target);
  }
  const sniffed = await sniffJson(source);
  if (sniffed === 'empty') return importFailed(`${source.where} holds no conversations (an empty list)`);
  if (!sniffed) return unknown(source.where, 'JSON of an unknown shape');
  if (sniffed === 'lmstudio' || sniffed === 'hearth') {
    if (source.where !== target) return unknown(source.where, 'not an array of conversations');
    return { format: sniffed };
  }
  return { format: sniffed, source };
}

/** The format of a file or folder (an import_failed error when it is none that Hearth takes). */
export async function detectFormat(target: string, zipLimits: ZipLimits = ZIP_LIMITS): Promise<ImportFormat> {
  return (await detect(target, zipLimits)).format;
}

/**
 * A reader for a file or folder: its format detected, and with `from` other than 'auto' insisted on (a
 * mismatch is the error). Only the streamed formats (STREAMED_FORMATS) have one: Hearth JSON and Jan folders
 * are detected (detectFormat) but throw 'not a streamed format' here; the caller routes them to the store's
 * importers (importHearthJson, importJanFolder).
 */
export async function openImport(target: string, from: ImportFormatChoice, zipLimits: ZipLimits = ZIP_LIMITS): Promise<ImportReader> {
  const d = await detect(target, zipLimits);
  if (from !== 'auto' && from !== d.format) {
    importFailed(`${target} looks like ${IMPORT_FORMAT_NAMES[d.format]}, not ${IMPORT_FORMAT_NAMES[from]}`);
  }
  switch (d.format) {
    case 'chatgpt': return chatgptReader(d.source as JsonSource);
    case 'claude': return claudeReader(d.source as JsonSource);
    case 'openwebui': return openwebuiReader(d.source as JsonSource);
    case 'lmstudio': return lmstudioReader(target);
    case 'hearth':
    case 'jan':
      return importFailed(`${IMPORT_FORMAT_NAMES[d.format]} is not a streamed format (the store's importer reads it)`);
  }
}
