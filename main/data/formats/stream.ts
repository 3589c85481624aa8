/**
 * Reading the elements of a top-level JSON array one at a time from a stream (a ChatGPT or Claude
 * conversations.json can be hundreds of MB): @streamparser/json emits each element as it completes and
 * keeps nothing of those before it, so memory holds one conversation, never the file.
 */
import * as fs from 'fs';
import type { Readable } from 'stream';
import { JSONParser } from '@streamparser/json';
import { IMPORT_MAX_BYTES } from '../../ipc/data';
import { JsonGuard, skipSpace, type JsonLimits } from './json-guard';
import { checkAborted, importFailed } from './tree';

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

/**
 * The elements of the JSON array `input` holds, in order. A file that is not an array, is not JSON, or
 * ends early (a truncated download) is an import_failed error naming `where`.
 */
export async function* streamJsonArray(input: Readable, where: string, opts: StreamOptions = {}): AsyncGenerator<unknown> {
  const maxBytes = opts.maxBytes ?? IMPORT_MAX_BYTES;
  const guard = new JsonGuard(where, opts.limits);
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  const ready: unknown[] = [];
  let failure: Error | null = null;
  parser.onValue = ({ value, key }) => {
    if (typeof key !== 'number') failure ??= new Error('not a JSON array');
    else ready.push(value);
  };
  parser.onError = (err) => { failure ??= err; };
  parser.onEnd = () => { /* the array closed; anything after it is an error from write() */ };

  let bytes = 0;
  let started = false;
  const fail = (e: Error): never => importFailed(
    e.message === 'not a JSON array' ? `${where} is not a JSON array` : `${where} is not valid JSON: ${e.message}`, e);
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
          if (chunk[0] !== 0x5b /* [ */) importFailed(`${where} is not a JSON array`);
          started = true;
        }
      }
      if (chunk.length > 0) {
        guard.scan(chunk); // before the parser builds what it holds
        parser.write(chunk);
      }
      if (failure) fail(failure);
      while (ready.length > 0) {
        yield ready.shift();
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
    while (ready.length > 0) yield ready.shift();
  } catch (e) {
    if ((e as { code?: string }).code === 'import_failed') throw e;
    return importFailed(`cannot read ${where}: ${(e as Error).message}`, e);
  } finally {
    input.destroy();
  }
}

/** The elements of a source's array (opened now). */
export async function* readJsonArray(source: JsonSource, opts: StreamOptions = {}): AsyncGenerator<unknown> {
  checkAborted(opts.signal, source.where);
  yield* streamJsonArray(await source.open(), source.where, opts);
}
