/**
 * What a streamed JSON file may cost before @streamparser/json sees it. The parser builds each element it
 * emits in memory, level by level (a file of `[[[[…` costs ~140 bytes a level: 4 MB of it took 884 MB, a
 * 97 KB zip of 100 MB of `[` aborted the process), and holds a whole element before emitting it. So every
 * chunk is scanned first (aware of strings and their escapes): past the deepest nesting or the largest
 * element the file is refused, naming it, before the parser is given the chunk. The elements measured are
 * those of the containers at `elementDepth` (1: the top-level array's; 2: a Hearth bundle's threads, inside
 * its top-level object), and every scalar above them (a key and its string count as one).
 */
import { LIMITS } from '../../store/validation';
import { importFailed } from './tree';

export interface JsonLimits {
  /** the deepest nesting of arrays and objects (the top-level array is level 1) */
  maxDepth: number;
  /** the most bytes one element (or member) of the top-level value may take */
  maxElementBytes: number;
  /**
   * the most arrays, objects and values after a comma one element may hold: what the parser builds of
   * it (a file of `[],[],…` takes ~14 times its bytes; Infinity: bounded by its bytes alone)
   */
  maxElementValues: number;
}

/** No export Hearth reads nests past a dozen levels; one conversation of LIMITS.conversationBytes is already huge (its parsed objects take several times its bytes). */
export const JSON_LIMITS: JsonLimits = { maxDepth: LIMITS.importDepth, maxElementBytes: LIMITS.conversationBytes, maxElementValues: Infinity };

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

/** Scans a JSON stream chunk by chunk (state kept across chunks); throws import_failed past the limits. */
export class JsonGuard {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private elementBytes = 0;
  private elementValues = 0;
  private readonly limits: JsonLimits;

  constructor(private readonly where: string, limits: Partial<JsonLimits> = {}, private readonly elementDepth = 1) {
    this.limits = { ...JSON_LIMITS, ...limits };
  }

  scan(chunk: Buffer): void {
    const { maxDepth, maxElementBytes, maxElementValues } = this.limits;
    const level = this.elementDepth;
    let { depth, inString, escaped } = this;
    let from = 0; // where the bytes of the current element start in this chunk
    // a comma, an opening or a closing at `level` or above ends what was measured since the last one
    const endElement = (at: number) => {
      this.elementBytes += at - from;
      if (this.elementBytes > maxElementBytes) this.tooLarge();
      this.elementBytes = 0;
      this.elementValues = 0;
      from = at + 1;
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        depth++;
        if (depth > maxDepth) {
          importFailed(`${this.where} nests arrays and objects deeper than ${maxDepth} levels (refused: no chat export is built so)`);
        }
        if (depth <= level) endElement(i);
        else if (++this.elementValues > maxElementValues) this.tooMany();
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
        if (depth <= level) endElement(i);
        if (depth > 0) depth--;
      } else if (b === COMMA) {
        if (depth <= level) endElement(i);
        else if (++this.elementValues > maxElementValues) this.tooMany();
      }
    }
    if (depth >= 1) {
      this.elementBytes += chunk.length - from;
      if (this.elementBytes > maxElementBytes) this.tooLarge();
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
  }

  private tooMany(): never {
    return importFailed(`${this.where} holds one conversation of more than ${this.limits.maxElementValues} values (refused: too large to read)`);
  }

  private tooLarge(): never {
    return importFailed(`${this.where} holds one conversation larger than ${this.limits.maxElementBytes} bytes (refused: too large to read)`);
  }
}
