/**
 * Reading the elements of a top-level JSON array one at a time from a stream (a ChatGPT or Claude
 * conversations.json can be hundreds of MB), or chosen values of a top-level object (a Hearth bundle's
 * threads, an LM Studio file's messages): @streamparser/json emits each as it completes and keeps
 * nothing of those before it, so memory holds one conversation, never the file.
 */
import * as fs from 'fs';
import type { Readable } from 'stream';
import { JSONParser, TokenType } from '@streamparser/json';
import { IMPORT_MAX_BYTES } from '../../ipc/data';
import { JsonGuard, skipSpace, type JsonLimits } from './json-guard';
import { checkAborted, importFailed, quote } from './tree';

/** Where a JSON array comes from: a file, or an entry of a zip (zip.ts). Opened again for each read. */
export interface JsonSource {
  /** the file (or "file.zip › entry") errors name */
  where: string;
  open(): Promise<Readable>;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** the most bytes read before the file is refused (IMPORT_MAX_BYTES) */
  maxBytes?: number;
  /** the deepest nesting and the largest conversation read (JSON_LIMITS) */
  limits?: Partial<JsonLimits>;
  /** the level whose elements the guard measures (1: the top-level value's; see JsonGuard) */
  elementDepth?: number;
  /** the members a top-level object may have: any other is refused where its key is read, before its value */
  members?: ReadonlySet<string>;
  /** told each key of the top-level object as it is read (a member whose value no path names is still seen) */
  onMember?: (key: string) => void;
}

/** A file as a JsonSource, refused when larger than the cap. */
export function fileSource(file: string, maxBytes = IMPORT_MAX_BYTES): JsonSource {
  return {
    where: file,
    async open() {
      let size: number;
      try {
        size = (await fs.promises.stat(file)).size;
      } catch (e) {
        return importFailed(`cannot read ${file}: ${(e as Error).message}`, e);
      }
      if (size > maxBytes) importFailed(`${file} is larger than an import takes (${maxBytes} bytes)`);
      return fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    },
  };
}

/** A value `paths` named, and where it is: its keys from the top (['threads', 3]). */
export interface JsonValueAt {
  path: (string | number)[];
  value: unknown;
}

/**
 * The values at `paths` (@streamparser/json selectors: '$.*', '$.threads.*') of the JSON value `input`
 * holds, in the file's order, each with its path. What no selector names is passed over as it is read
 * (with keepStack off the parser keeps nothing it does not emit); what one names is built whole, which
 * the guard bounds first. `top`: the value must be an array or an object. A file that is neither, is not
 * JSON, or ends early (a truncated download) is an import_failed error naming `where`.
 */
export async function* streamJsonValues(input: Readable, where: string, paths: string[], top: '[' | '{', opts: StreamOptions = {}): AsyncGenerator<JsonValueAt> {
  const maxBytes = opts.maxBytes ?? IMPORT_MAX_BYTES;
  const guard = new JsonGuard(where, opts.limits, opts.elementDepth);
  const parser = new JSONParser({ paths, keepStack: false });
  const ready: JsonValueAt[] = [];
  let failure: Error | null = null;
  parser.onValue = ({ value, key, stack }) => {
    const path = stack.slice(1).map((s) => s.key as string | number);
    ready.push({ path: key === undefined ? path : [...path, key], value });
  };
  parser.onError = (err) => { failure ??= err; };
  parser.onEnd = () => { /* the value closed; anything after it is an error from write() */ };
  let refused: string | null = null; // a member the top-level object may not have
  const { members, onMember } = opts;
  if (members || onMember) {
    // a string right after the top-level object's `{` or one of its commas is a member's key
    let depth = 0;
    let key = false;
    parser.onToken = ({ token, value }) => {
      if (depth === 1 && key && token === TokenType.STRING) {
        if (members && !members.has(value as string)) refused ??= `has a member ${quote(value as string)}, which is not one of ${[...members].join(', ')}`;
        onMember?.(value as string);
      }
      key = (token === TokenType.LEFT_BRACE && depth === 0) || (token === TokenType.COMMA && depth === 1);
      if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) depth++;
      else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) depth--;
    };
  }
  const notTop = `${where} is not a JSON ${top === '[' ? 'array' : 'object'}`;

  let bytes = 0;
  let started = false;
  try {
    for await (const raw of input) {
      checkAborted(opts.signal, where);
      let chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
      bytes += chunk.length;
      if (bytes > maxBytes) importFailed(`${where} is larger than an import takes (${maxBytes} bytes)`);
      if (!started) {
        const i = skipSpace(chunk, bytes === chunk.length);
        chunk = chunk.subarray(i);
        if (chunk.length > 0) {
          if (chunk[0] !== top.charCodeAt(0)) importFailed(notTop);
          started = true;
        }
      }
      if (chunk.length > 0) {
        guard.scan(chunk); // before the parser builds what it holds
        parser.write(chunk);
      }
      if (refused) importFailed(`${where} ${refused}`);
      if (failure) importFailed(`${where} is not valid JSON: ${(failure as Error).message}`, failure);
      while (ready.length > 0) {
        yield ready.shift() as JsonValueAt;
        checkAborted(opts.signal, where);
      }
    }
    if (!started) importFailed(`${where} is empty`);
    if (!parser.isEnded) parser.end();
    if (failure) {
      const f = failure as Error;
      importFailed(/mid-parsing|ended/i.test(f.message)
        ? `${where} ends early: the file is truncated or not complete JSON`
        : `${where} is not valid JSON: ${f.message}`, f);
    }
    while (ready.length > 0) yield ready.shift() as JsonValueAt;
  } catch (e) {
    if ((e as { code?: string }).code === 'import_failed') throw e;
    return importFailed(`cannot read ${where}: ${(e as Error).message}`, e);
  } finally {
    input.destroy();
  }
}

/**
 * The elements of the JSON array `input` holds, in order (see streamJsonValues): memory holds one
 * element at a time, never the file.
 */
export async function* streamJsonArray(input: Readable, where: string, opts: StreamOptions = {}): AsyncGenerator<unknown> {
  for await (const { value } of streamJsonValues(input, where, ['$.*'], '[', opts)) yield value;
}

/** The elements of a source's array (opened now). */
export async function* readJsonArray(source: JsonSource, opts: StreamOptions = {}): AsyncGenerator<unknown> {
  checkAborted(opts.signal, source.where);
  yield* streamJsonArray(await source.open(), source.where, opts);
}
