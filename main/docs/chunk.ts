/**
 * A document's blocks (extract.ts) as chunks for retrieval. Pure.
 *
 * - Every heading starts a new chunk; a chunk's `heading` is the path of headings above it
 *   ("Intro › Setup"; a heading closes those of its level and deeper). Heading lines are not in the
 *   chunk's text: they are its `heading`, which the indexer gives the embedder with the text.
 * - Blocks are packed whole while they fit; one that does not fit the room left starts the next chunk.
 * - A block larger than the target is split: paragraphs at sentence ends, then whitespace, then
 *   anywhere; lists and code at line ends first (a line is cut only when it alone exceeds the target);
 *   tables at row ends, every chunk of a table starting with its header row (the first line, and a
 *   markdown delimiter row after it). Consecutive tables with the same header (CSV's blocks) continue
 *   one another without repeating it.
 * - Overlap: a chunk cut inside a section starts with the tail of the one before (whole sentences or
 *   lines, as many as fit in the overlap; else words; else characters). The overlap is at most a third
 *   of the target. No overlap across a heading.
 * - `page` is the page of the chunk's first new block (the overlap aside).
 *
 * The bound: every chunk's `tokens` is `count(text)` and is at most `targetTokens` (no slack), for any
 * `count` that never gives a longer prefix fewer tokens. The one exception is a single character that
 * alone counts more than the target. Packing sums the parts' counts (an upper bound for a subadditive
 * count such as estimateTokens); a finished chunk is counted again whole and, should a count not be
 * subadditive, its last parts move to the next chunk until it fits.
 */
import type { Block } from './extract';
import { isTableDelimiter } from './extract-text';

export interface Chunk {
  seq: number;
  text: string;
  page: number | null;
  heading: string | null;
  tokens: number;
}

export interface ChunkOptions {
  targetTokens: number;
  overlapTokens: number;
  /** a text's tokens; estimateTokens unless given (a model's tokenizer, say) */
  count?: (text: string) => number;
}

/** The separator of a heading path. */
export const HEADING_SEPARATOR = ' › ';

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]/g;

/**
 * A fast estimate of a text's tokens: a CJK character (kana, Han, Hangul) is a token; every other
 * character a quarter of one, a run of whitespace counting as one character (indentation is cheap
 * in BPE vocabularies). ceil(others / 4) + CJK. Subadditive: the estimate of a joined text is at most
 * the sum of its parts'. Close to real BPE tokenizers on English prose and code (within ~25%).
 */
export function estimateTokens(text: string): number {
  const cjk = text.match(CJK)?.length ?? 0;
  const collapsed = text.replace(/\s+/g, ' ').length;
  return Math.ceil((collapsed - cjk) / 4) + cjk;
}

/** Where a text may be cut, coarsest first. */
type Level = 'lines' | 'sentences' | 'words' | 'chars';

/** Pieces ending where the level cuts, each keeping the whitespace after it (joined with '' they are the text). */
function cut(text: string, level: Exclude<Level, 'chars'>): string[] {
  const re = level === 'lines' ? /(?<=\n)/ : level === 'sentences' ? /(?<=[.!?…]["')\]’”]*\s+)(?=\S)|(?<=[。！？])(?=\S)/ : /(?<=\s)(?=\S)/;
  return text.split(re).filter((p) => p !== '');
}

/**
 * How many characters a search for a prefix (or suffix) of `budget` tokens first looks at: a token is
 * rarely more than a few characters, so a window of budget × WINDOW_CHARS_PER_TOKEN characters holds
 * the answer; the window doubles only while all of it still fits. The cost of a search is then the
 * window's, not the whole text's (which made cutting a long text without whitespace quadratic).
 */
const WINDOW_CHARS_PER_TOKEN = 8;

/** The most characters `take(n)` (a prefix or suffix of `length` characters) holds within `budget` tokens; at least `min`. */
function fitLength(length: number, budget: number, min: number, take: (n: number) => string, count: (t: string) => number): number {
  let window = Math.min(length, Math.max(min, budget * WINDOW_CHARS_PER_TOKEN));
  while (window < length && count(take(window)) <= budget) window = Math.min(length, window * 2);
  let lo = min;
  let hi = window;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(take(mid)) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The longest prefix of `text` within `budget` tokens (at least one character). */
function fitPrefix(text: string, budget: number, count: (t: string) => number): number {
  return fitLength(text.length, budget, 1, (n) => text.slice(0, n), count);
}

/** `text` in pieces of at most `budget` tokens each, cut at the coarsest of `levels` that fits. */
function split(text: string, budget: number, levels: readonly Level[], count: (t: string) => number): string[] {
  if (count(text) <= budget) return [text];
  const [level, ...rest] = levels;
  if (!level || level === 'chars') {
    const out: string[] = [];
    for (let s = text; s.length; ) {
      const n = fitPrefix(s, budget, count);
      out.push(s.slice(0, n));
      s = s.slice(n);
    }
    return out;
  }
  const pieces = cut(text, level);
  if (pieces.length <= 1) return split(text, budget, rest, count);
  return pieces.flatMap((p) => split(p, budget, rest, count));
}

/** The tail of `text` within `budget` tokens: whole sentences or lines, else words, else characters. */
function tailOf(text: string, budget: number, linesOnly: boolean, count: (t: string) => number): string {
  if (budget <= 0 || !text.trim()) return '';
  const levels: readonly ('lines' | 'sentences' | 'words')[] = linesOnly ? ['lines'] : ['sentences', 'words'];
  for (const level of levels) {
    const pieces = level === 'sentences' ? cut(text, 'lines').flatMap((l) => cut(l, 'sentences')) : cut(text, level);
    let tail = '';
    for (let i = pieces.length - 1; i >= 0; i--) {
      const next = pieces[i] + tail;
      if (count(next.trim()) > budget) break;
      tail = next;
    }
    if (tail.trim()) return tail.replace(/^\s*\n/, '');
  }
  if (linesOnly) return '';
  const trimmed = text.trimEnd();
  const n = fitLength(trimmed.length, budget, 0, (k) => trimmed.slice(trimmed.length - k), count);
  return n ? text.slice(trimmed.length - n) : '';
}

interface Part {
  text: string;
  /** what goes before it after another part ('' continues the part before; it kept its whitespace) */
  join: string;
  page: number | null;
  /** the header of the table this part is rows of; null: not rows */
  table: string | null;
  /** the overlap from the chunk before */
  overlap?: boolean;
  /** a whole table (header and rows): never given its header again */
  whole?: boolean;
}

/** A table block's header (its first line, and a markdown delimiter row after it) and rows. */
function tableParts(text: string): { header: string; rows: string[] } {
  const lines = text.split('\n');
  const n = lines.length > 1 && isTableDelimiter(lines[1]) ? 2 : 1;
  return { header: lines.slice(0, n).join('\n'), rows: lines.slice(n) };
}

/** The blocks as chunks (see the file's comment for the rules and the bound). */
export function chunkBlocks(blocks: readonly Block[], opts: ChunkOptions): Chunk[] {
  const count = opts.count ?? estimateTokens;
  const target = Math.max(1, Math.floor(opts.targetTokens));
  const overlap = Math.max(0, Math.min(Math.floor(opts.overlapTokens), Math.floor(target / 3)));
  const chunks: Chunk[] = [];
  const path: { level: number; text: string }[] = [];
  let heading: string | null = null;
  let parts: Part[] = [];
  let tokens = 0;

  const assemble = (ps: readonly Part[]) => {
    let acc = '';
    for (const p of ps) acc = acc && p.join ? acc.trimEnd() + p.join + p.text : acc + p.text;
    return acc;
  };
  const costOf = (p: Part, first: boolean) => count(p.text) + (first || !p.join ? 0 : count(p.join));
  const reset = (ps: Part[]) => {
    parts = ps;
    tokens = ps.reduce((n, p, i) => n + costOf(p, i === 0), 0);
  };

  /** Ends the chunk (when it has anything new); `withOverlap`: the next starts with its tail. */
  const flush = (withOverlap: boolean) => {
    let own = parts;
    const carry: Part[] = [];
    // code keeps its first line's indentation: only blank lines and trailing whitespace go
    const tidy = (ps: readonly Part[]) => assemble(ps).replace(/^(?:[ \t]*\n)+/, '').trimEnd();
    let text = tidy(own);
    // a count that is not subadditive: the last parts move on (then the overlap goes) until the chunk fits
    while (count(text) > target) {
      const fresh = own.filter((p) => !p.overlap).length;
      if (fresh > 1) {
        carry.unshift(own[own.length - 1]);
        own = own.slice(0, -1);
      } else if (own.length > fresh) own = own.filter((p) => !p.overlap);
      else break;
      text = tidy(own);
    }
    const fresh = own.filter((p) => !p.overlap && p.text.trim() !== '');
    reset([]);
    if (fresh.length && text.trim()) {
      chunks.push({ seq: chunks.length, text, page: fresh[0].page, heading, tokens: count(text) });
      const last = own[own.length - 1];
      if (withOverlap && overlap > 0) {
        const acc = assemble(own);
        const table = last.table;
        const at = table === null ? -1 : acc.lastIndexOf(`${table}\n`);
        const body = table !== null && at >= 0 ? acc.slice(at + table.length + 1) : acc;
        const tail = tailOf(body, overlap, table !== null, count);
        if (tail.trim()) reset([{ text: table !== null ? `${table}\n${tail}` : tail, join: '', page: last.page, table, overlap: true }]);
      }
    }
    for (const p of carry) add(p);
  };

  /** A part as it goes on the chunk: rows not following their table's rows bring its header. */
  const shape = (p: Part): Part =>
    p.table !== null && !p.whole && parts[parts.length - 1]?.table !== p.table ? { ...p, text: `${p.table}\n${p.text}`, join: '\n\n' } : p;

  /** Adds a part that fits a chunk of its own; a full chunk is ended first (with overlap), and an overlap that leaves no room goes. */
  const add = (p: Part) => {
    for (;;) {
      const part = shape(p);
      const cost = costOf(part, parts.length === 0);
      if (tokens + cost <= target || parts.length === 0) {
        parts.push(part);
        tokens += cost;
        return;
      }
      if (parts.some((q) => !q.overlap)) flush(true);
      else reset([]);
    }
  };

  /** A block's text as parts that each fit a chunk alone, cut at the coarsest level that fits. */
  const addText = (text: string, page: number | null, levels: readonly Level[], table: string | null, budget = target) => {
    split(text, budget, levels, count).forEach((piece, i) => add({ text: piece, join: i === 0 ? '\n\n' : '', page, table }));
  };

  for (const block of blocks) {
    if (block.type === 'heading') {
      flush(false);
      while (path.length && path[path.length - 1].level >= block.level) path.pop();
      path.push({ level: block.level, text: block.text.replace(/\s+/g, ' ').trim() });
      heading = path.map((h) => h.text).join(HEADING_SEPARATOR);
      continue;
    }
    const { text, page } = block;
    if (!text.trim()) continue;
    if (block.type === 'table') {
      const { header, rows } = tableParts(text);
      const headerCost = count(header);
      const continues = parts[parts.length - 1]?.table === header;
      if (rows.length && headerCost <= target / 2 && (continues || count(text) > target)) {
        // row by row: each row (cut further only when it alone exceeds what a header leaves) on the table
        for (const row of rows) {
          split(row, target - headerCost - count('\n'), ['words', 'chars'], count).forEach((piece, i) =>
            add({ text: piece, join: i === 0 ? '\n' : '', page, table: header }),
          );
        }
      } else if (count(text) <= target) add({ text, join: '\n\n', page, table: rows.length ? header : null, whole: true });
      else addText(text, page, ['lines', 'words', 'chars'], null);
      continue;
    }
    const levels: readonly Level[] =
      block.type === 'paragraph' ? ['sentences', 'words', 'chars'] : block.type === 'list' ? ['lines', 'sentences', 'words', 'chars'] : ['lines', 'words', 'chars'];
    addText(text, page, levels, null);
  }
  flush(false);
  return chunks;
}
