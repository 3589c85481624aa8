/**
 * Reading the elements of a top-level JSON array one at a time from a stream (a ChatGPT or Claude
 * conversations.json can be hundreds of MB), or chosen values of a top-level object (a Hearth bundle's
 * threads, an LM Studio file's messages): @streamparser/json emits each as it completes and keeps
 * nothing of those before it, so memory holds one conversation, never the file.
 */
import type { Readable } from 'stream';
import { JSONParser, TokenType } from '@streamparser/json';
import { IMPORT_MAX_BYTES } from '../../ipc/data';
import { openRegularStream } from '../../regular-file';
import { JsonGuard, skipSpace, type JsonLimits, type Overflow } from './json-guard';
import { checkAborted, importFailed, notRegularFile, quote, TOO_LARGE } from './tree';
import type { SkipNote } from '../imported';

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
  /** told the bytes read so far after each chunk of the input (a long read's progress) */
  onBytes?: (bytes: number) => void;
  /** told each key of the top-level object as it is read (a member whose value no path names is still seen) */
  onMember?: (key: string) => void;
  /**
   * elements past the bounds that are passed over with a note rather than refusing the file: true, those of
   * a top-level array (elementDepth 1); a set, those of the top-level object's members named (elementDepth 2)
   */
  skipTooLarge?: true | ReadonlySet<string>;
}

/**
 * A file as a JsonSource, refused when larger than the cap, or when it is not a regular file as opened (a
 * FIFO or a device would block the read where no cancel reaches it; it may have replaced the file since it
 * was picked: ../../regular-file.ts).
 */
export function fileSource(file: string, maxBytes = IMPORT_MAX_BYTES): JsonSource {
  return {
    where: file,
    async open() {
      let opened: Awaited<ReturnType<typeof openRegularStream>>;
      try {
        opened = await openRegularStream(file, { highWaterMark: 256 * 1024 });
      } catch (e) {
        return importFailed(`cannot read ${file}: ${(e as Error).message}`, e);
      }
      if (!opened) return importFailed(notRegularFile(file));
      if (opened.st.size > maxBytes) {
        opened.stream.destroy();
        importFailed(`${file} is larger than an import takes (${maxBytes} bytes)`);
      }
      return opened.stream;
    },
  };
}

/** A value `paths` named, and where it is: its keys from the top (['threads', 3]). */
export interface JsonValueAt {
  path: (string | number)[];
  value: unknown;
  /**
   * set when the element at `path` was past the guard's bounds and passed over (skipTooLarge): the note for
   * it (`value` is then undefined)
   */
  tooLarge?: SkipNote;
}

/** The note for an element passed over: the same words as the other formats' conversations too large to import. */
export function tooLargeNote(over: Overflow, limits: JsonLimits): SkipNote {
  const bound = { bytes: limits.maxElementBytes, values: limits.maxElementValues, depth: limits.maxDepth }[over.bound];
  return { reason: TOO_LARGE[over.bound](bound) };
}

/**
 * The values at `paths` (@streamparser/json selectors: '$.*', '$.threads.*') of the JSON value `input`
 * holds, in the file's order, each with its path. What no selector names is passed over as it is read
 * (with keepStack off the parser keeps nothing it does not emit); what one names is built whole, which
 * the guard bounds first. `top`: the value must be an array or an object. A file that is neither, is not
 * JSON, or ends early (a truncated download) is an import_failed error naming `where`.
 *
 * An element past the guard's bounds refuses the file, unless `skipTooLarge` takes it: then it is passed
 * over unread (its path given with a note, `tooLarge`) and the rest is read by a new parser, set where the
 * old one was by a prefix (`[` or `{"threads":[`) and a `null` in the element's place.
 */
export async function* streamJsonValues(input: Readable, where: string, paths: string[], top: '[' | '{', opts: StreamOptions = {}): AsyncGenerator<JsonValueAt> {
  const maxBytes = opts.maxBytes ?? IMPORT_MAX_BYTES;
  const level = opts.elementDepth ?? 1;
  const guard = new JsonGuard(where, opts.limits, level);
  const ready: JsonValueAt[] = [];
  let failure: Error | null = null;
  let refused: string | null = null; // a member the top-level object may not have
  const { members, onMember, skipTooLarge } = opts;
  /** the top-level member being read (tracked when elements of members may be passed over) */
  let member: string | null = null;
  /** after a resync: the member whose indexes the new parser counts from the skipped element, and that index */
  let rebased: { member: string | null; base: number } | null = null;
  const skippable = (index: number | null): index is number =>
    index !== null && (skipTooLarge === true ? top === '[' && level === 1 : top === '{' && level === 2 && !!skipTooLarge && member !== null && skipTooLarge.has(member));

  const newParser = (): JSONParser => {
    const parser = new JSONParser({ paths, keepStack: false });
    parser.onValue = ({ value, key, stack }) => {
      const at = stack.slice(1).map((x) => x.key as string | number);
      const path = key === undefined ? at : [...at, key];
      if (rebased) {
        const i = path.length - 1;
        const inRebased = top === '[' ? path.length === 1 : path.length === 2 && path[0] === rebased.member;
        if (inRebased && typeof path[i] === 'number') {
          if (path[i] === 0) return; // the null set in the skipped element's place
          path[i] = rebased.base + (path[i] as number);
        }
      }
      ready.push({ path, value });
    };
    parser.onError = (err) => { failure ??= err; };
    parser.onEnd = () => { /* the value closed; anything after it is an error from write() */ };
    if (members || onMember || (skipTooLarge && skipTooLarge !== true)) {
      // a string right after the top-level object's `{` or one of its commas is a member's key
      let depth = 0;
      let key = false;
      parser.onToken = ({ token, value }) => {
        if (depth === 1 && key && token === TokenType.STRING) {
          if (members && !members.has(value as string)) refused ??= `has a member ${quote(value as string)}, which is not one of ${[...members].join(', ')}`;
          onMember?.(value as string);
          member = value as string;
          // another member (a second "threads" too): its indexes are its own
          rebased = null;
        }
        key = (token === TokenType.LEFT_BRACE && depth === 0) || (token === TokenType.COMMA && depth === 1);
        if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) depth++;
        else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) depth--;
      };
    }
    return parser;
  };
  let parser = newParser();
  const notTop = `${where} is not a JSON ${top === '[' ? 'array' : 'object'}`;
  const check = () => {
    if (refused) importFailed(`${where} ${refused}`);
    if (failure) importFailed(invalid(failure), failure);
  };

  let bytes = 0;
  let started = false;
  /** passing over an element past the bounds (`skipped`): the new parser starts where it ends */
  let skipping = false;
  let skipped: { member: string | null; base: number } | null = null;
  /** the index of the last element passed over (errors after it say so: their positions are the new parser's) */
  let passedOver: number | null = null;
  const invalid = (f: Error) => `${where} is not valid JSON${passedOver === null ? '' : ` after the conversation passed over (element ${passedOver + 1})`}: ${f.message}`;
  try {
    for await (const raw of input) {
      checkAborted(opts.signal, where);
      let chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
      bytes += chunk.length;
      if (bytes > maxBytes) importFailed(`${where} is larger than an import takes (${maxBytes} bytes)`);
      opts.onBytes?.(bytes);
      if (!started) {
        const i = skipSpace(chunk, bytes === chunk.length);
        chunk = chunk.subarray(i);
        if (chunk.length > 0) {
          if (chunk[0] !== top.charCodeAt(0)) importFailed(notTop);
          started = true;
        }
      }
      let pos = 0;
      while (pos < chunk.length) {
        if (skipping) {
          const end = guard.skip(chunk, pos);
          if (end < 0) break;
          // the element ended: a new parser, set inside its container with a null in its place, reads on
          skipping = false;
          pos = end;
          parser = newParser();
          parser.write(top === '[' ? '[' : `{${JSON.stringify(member)}:[`);
          rebased = skipped; // after the prefix's key, which starts a member afresh
          parser.write('null');
          continue;
        }
        const over = guard.next(chunk, pos); // before the parser builds what it holds
        if (!over) {
          parser.write(chunk.subarray(pos));
          break;
        }
        // what comes before the element (its member's key and opening, the elements before it) is read first
        if (over.start > pos) parser.write(chunk.subarray(pos, over.start));
        check();
        if (!skippable(over.index)) importFailed(over.message);
        // the guard counts every element of the file, so its index is the element's own
        const base = over.index;
        const m = top === '[' ? null : (member as string | null);
        ready.push({ path: m === null ? [base] : [m, base], value: undefined, tooLarge: tooLargeNote(over, guard.bounds) });
        skipped = { member: m, base };
        passedOver = base;
        skipping = true;
        pos = over.at;
      }
      check();
      while (ready.length > 0) {
        yield ready.shift() as JsonValueAt;
        checkAborted(opts.signal, where);
      }
    }
    if (!started) importFailed(`${where} is empty`);
    if (skipping) importFailed(`${where} ends early: the file is truncated or not complete JSON`);
    if (!parser.isEnded) parser.end();
    if (failure) {
      const f = failure as Error;
      importFailed(/mid-parsing|ended/i.test(f.message)
        ? `${where} ends early: the file is truncated or not complete JSON`
        : invalid(f), f);
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
 * element at a time, never the file. One past the bounds is passed over: its note comes in its place.
 */
export async function* streamJsonArray(input: Readable, where: string, opts: StreamOptions = {}): AsyncGenerator<{ value: unknown } | { skipped: SkipNote }> {
  for await (const { value, tooLarge } of streamJsonValues(input, where, ['$.*'], '[', { skipTooLarge: true, ...opts })) yield tooLarge ? { skipped: tooLarge } : { value };
}

/**
 * The conversations of a source's array (opened now), each element as `read` makes it; one too large to
 * read is a note in its place (the others are read on), `index` counting it too.
 */
export async function* readConversations<T>(source: JsonSource, read: (value: unknown, index: number) => T, opts: StreamOptions = {}): AsyncGenerator<T | { skipped: SkipNote }> {
  checkAborted(opts.signal, source.where);
  let index = 0;
  for await (const e of streamJsonArray(await source.open(), source.where, opts)) {
    checkAborted(opts.signal, source.where);
    const i = index++;
    yield 'skipped' in e ? e : read(e.value, i);
  }
}
