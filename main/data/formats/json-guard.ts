/**
 * What a streamed JSON file may cost before @streamparser/json sees it. The parser builds each element it
 * emits in memory, level by level (a file of `[[[[…` costs ~140 bytes a level: 4 MB of it took 884 MB, a
 * 97 KB zip of 100 MB of `[` aborted the process), and holds a whole element before emitting it. So every
 * chunk is scanned first (aware of strings and their escapes): past the deepest nesting or the largest
 * element the file is refused, naming it, before the parser is given the chunk. The elements measured are
 * those of the containers at `elementDepth` (1: the top-level array's; 2: a Hearth bundle's threads, inside
 * its top-level object), and every scalar above them (a key and its string count as one). An element's
 * bytes are those the parser keeps: whitespace outside strings (a pretty-printed file's indentation, or
 * padding) is not counted.
 */
import { LIMITS } from '../../store/validation';
import { importFailed } from './tree';

export interface JsonLimits {
  /** the deepest nesting of arrays and objects (the top-level array is level 1) */
  maxDepth: number;
  /** the most bytes one element (or member) of the top-level value may take, whitespace outside strings not counted */
  maxElementBytes: number;
  /**
   * the most arrays, objects and values after a comma one element may hold: what the parser builds of
   * it (a file of `[],[],…` takes ~14 times its bytes; Infinity: bounded by its bytes alone)
   */
  maxElementValues: number;
}

/** No export Hearth reads nests past a dozen levels; one conversation of LIMITS.conversationBytes is already huge (its parsed objects take several times its bytes). */
export const JSON_LIMITS: JsonLimits = { maxDepth: LIMITS.importDepth, maxElementBytes: LIMITS.conversationBytes, maxElementValues: Infinity };

/**
 * How deeply an element passed over (JsonGuard.skip) may nest before the file is refused: past what any JSON
 * writer makes (V8's JSON.stringify, which wrote every Hearth export, stops at a few thousand levels), and
 * its brackets' stack then at most this many entries.
 */
export const SKIP_MAX_DEPTH = 1 << 16;

/** JSON's whitespace bytes. */
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const BOM = [0xef, 0xbb, 0xbf];

/** Where the JSON starts in `chunk`: past whitespace, and past a UTF-8 BOM when `first` (the stream's first bytes). */
export function skipSpace(chunk: Buffer, first: boolean): number {
  let i = first && chunk[0] === BOM[0] && chunk[1] === BOM[1] && chunk[2] === BOM[2] ? 3 : 0;
  while (i < chunk.length && SPACE.has(chunk[i])) i++;
  return i;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/** An element past the limits: where, and why (see JsonGuard.next). */
export interface Overflow {
  /** past which bound: its bytes (maxElementBytes), its values (maxElementValues) or its nesting (maxDepth) */
  bound: 'bytes' | 'values' | 'depth';
  /** the error that refuses the file for it */
  message: string;
  /** where the element's bytes start in the chunk (-1: in an earlier chunk) */
  start: number;
  /** where in the chunk the bound was passed (the guard has read up to it, not it) */
  at: number;
  /**
   * its index in its container, when it is an element of an array at the measured level (one that could be
   * passed over, as JsonGuard.skip does); null for a member of an object, or a scalar above the level
   */
  index: number | null;
}

/** Scans a JSON stream chunk by chunk (state kept across chunks); throws import_failed past the limits. */
export class JsonGuard {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private elementBytes = 0;
  private elementValues = 0;
  /** the index of the element being read in the container at the measured level, and whether that is an array */
  private index = 0;
  private levelIsArray = false;
  /** the brackets open within the element being read (matched when it is passed over: skip) */
  private readonly elementOpen: number[] = [];
  private readonly limits: JsonLimits;

  constructor(private readonly where: string, limits: Partial<JsonLimits> = {}, private readonly elementDepth = 1) {
    this.limits = { ...JSON_LIMITS, ...limits };
  }

  /** Scans `chunk`; past the limits, throws import_failed. */
  scan(chunk: Buffer): void {
    const over = this.next(chunk, 0);
    if (over) importFailed(over.message);
  }

  /**
   * Scans `chunk` from `begin`: null when all of it is within the limits, else where an element passed them
   * (its bytes read up to there; the next call is skip, or the file is refused). Too deep a nesting above
   * the measured level is refused at once (import_failed); within an element it is that element's overflow.
   */
  next(chunk: Buffer, begin: number): Overflow | null {
    const { maxDepth, maxElementBytes, maxElementValues } = this.limits;
    const level = this.elementDepth;
    let { depth, inString, escaped } = this;
    let from = begin; // where the bytes of the current element start in this chunk
    let spaces = 0; // whitespace outside strings since `from` (not counted: the parser keeps none of it)
    let start = -1; // the same, once one started in this chunk
    const save = () => {
      this.depth = depth;
      this.inString = inString;
      this.escaped = escaped;
    };
    const over = (bound: Overflow['bound'], at: number): Overflow => {
      save();
      const index = depth >= level && this.levelIsArray ? this.index : null;
      return { bound, message: bound === 'bytes' ? this.tooLarge() : bound === 'values' ? this.tooMany() : this.tooDeep(maxDepth), start, at, index };
    };
    for (let i = begin; i < chunk.length; i++) {
      const b = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) spaces++;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT || b === CLOSE_ARRAY || b === CLOSE_OBJECT || b === COMMA) {
        const open = b === OPEN_ARRAY || b === OPEN_OBJECT;
        if (open && depth + 1 > maxDepth) {
          if (depth < level) importFailed(this.tooDeep(maxDepth));
          return over('depth', i);
        }
        // a comma, an opening or a closing at `level` or above ends what was measured since the last one
        const atLevel = open ? depth + 1 <= level : depth <= level;
        if (atLevel) {
          if (this.elementBytes + (i - from - spaces) > maxElementBytes) return over('bytes', i);
          this.elementBytes = 0;
          spaces = 0;
          this.elementValues = 0;
          this.elementOpen.length = 0;
          from = i + 1;
          start = i + 1;
        } else if (b !== CLOSE_ARRAY && b !== CLOSE_OBJECT && this.elementValues + 1 > maxElementValues) {
          return over('values', i);
        } else if (b !== CLOSE_ARRAY && b !== CLOSE_OBJECT) {
          this.elementValues++;
        }
        if (open) {
          depth++;
          if (depth === level) [this.index, this.levelIsArray] = [0, b === OPEN_ARRAY];
          else if (depth > level) this.elementOpen.push(b);
        } else if (b === COMMA) {
          if (depth === level) this.index++;
        } else if (depth > 0) {
          if (depth > level) this.elementOpen.pop();
          depth--;
        }
      }
    }
    if (depth >= 1) {
      if (this.elementBytes + (chunk.length - from - spaces) > maxElementBytes) return over('bytes', chunk.length);
      this.elementBytes += chunk.length - from - spaces;
    }
    save();
    return null;
  }

  /**
   * Passes over the rest of an element `next` found past the limits, from `begin`: where it ends (the comma
   * or closing after it, which the next call to `next` reads), or -1 when it goes on past this chunk. Its
   * brackets are matched as it goes (no deeper than SKIP_MAX_DEPTH); a mismatch refuses the file.
   */
  skip(chunk: Buffer, begin: number): number {
    const level = this.elementDepth;
    const open = this.elementOpen;
    let { depth, inString, escaped } = this;
    let end = -1;
    for (let i = begin; i < chunk.length; i++) {
      const b = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (++depth > SKIP_MAX_DEPTH) importFailed(this.tooDeep(SKIP_MAX_DEPTH));
        open.push(b);
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT || b === COMMA) {
        if (depth <= level) {
          // the element's end: its container (an array) goes on or closes
          if (b === CLOSE_OBJECT) importFailed(`${this.where} is not valid JSON: an array closed with }`);
          end = i;
          break;
        }
        if (b !== COMMA) {
          if (open.pop() !== (b === CLOSE_ARRAY ? OPEN_ARRAY : OPEN_OBJECT)) importFailed(`${this.where} is not valid JSON: ${b === CLOSE_ARRAY ? ']' : '}'} closes what it did not open`);
          depth--;
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (end >= 0) {
      this.elementBytes = 0;
      this.elementValues = 0;
      open.length = 0;
    }
    return end;
  }

  private tooMany(): string {
    return `${this.where} holds one conversation of more than ${this.limits.maxElementValues} values (refused: too large to read)`;
  }

  private tooDeep(levels: number): string {
    return `${this.where} nests arrays and objects deeper than ${levels} levels (refused: no chat export is built so)`;
  }

  private tooLarge(): string {
    return `${this.where} holds one conversation larger than ${this.limits.maxElementBytes} bytes (refused: too large to read)`;
  }

  /** The limits this guard holds elements to. */
  get bounds(): JsonLimits {
    return this.limits;
  }
}
