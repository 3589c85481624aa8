/**
 * The text kinds' readers (extract.ts decodes the bytes): plain text, markdown (a small line-based
 * reader: headings, fenced and indented code, lists, pipe tables, paragraphs; nothing is rendered),
 * code, CSV/TSV and JSON. Each puts its blocks in the sink and stops once the sink is full.
 */
import type { BlockSink } from './extract';

/** Plain text: a paragraph per run of lines between blank lines. */
export function readPlainText(text: string, sink: BlockSink): void {
  for (const para of text.split(/\n[ \t]*\n/)) {
    if (sink.full) return;
    sink.add({ type: 'paragraph', text: para, page: null });
  }
}

/** Code: a `code` block per run of lines between blank lines (the chunker packs them whole). */
export function readCode(text: string, sink: BlockSink): void {
  for (const group of text.split(/\n[ \t]*\n/)) {
    if (sink.full) return;
    sink.add({ type: 'code', text: group, page: null });
  }
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const THEMATIC = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const INDENTED = /^(?: {4}|\t)/;

function blank(line: string | undefined): boolean {
  return line !== undefined && line.trim() === '';
}

/** A markdown table's delimiter row (`| --- | :-: |`): it follows the header row. */
export function isTableDelimiter(line: string): boolean {
  return line.includes('-') && TABLE_DELIMITER.test(line);
}

/** Markdown's blocks. Headings are ATX (# … ######) or setext (a line under = or -). */
export function readMarkdown(text: string, sink: BlockSink): void {
  const lines = text.split('\n');
  let para: string[] = [];
  const flush = () => {
    if (para.length) sink.add({ type: 'paragraph', text: para.join('\n'), page: null });
    para = [];
  };
  let i = 0;
  while (i < lines.length && !sink.full) {
    const line = lines[i];
    if (blank(line)) {
      flush();
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence && !(fence[1][0] === '`' && line.slice(line.indexOf(fence[1]) + fence[1].length).includes('`'))) {
      flush();
      const close = new RegExp(`^ {0,3}${fence[1][0] === '`' ? '`' : '~'}{${fence[1].length},}[ \\t]*$`);
      let j = i + 1;
      while (j < lines.length && !close.test(lines[j])) j++;
      sink.add({ type: 'code', text: lines.slice(i, Math.min(j + 1, lines.length)).join('\n'), page: null });
      i = j + 1;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      flush();
      sink.add({ type: 'heading', level: atx[1].length, text: atx[2] ?? '', page: null });
      i++;
      continue;
    }
    const setext = SETEXT.exec(line);
    if (setext && para.length) {
      sink.add({ type: 'heading', level: setext[1][0] === '=' ? 1 : 2, text: para.map((l) => l.trim()).join(' '), page: null });
      para = [];
      i++;
      continue;
    }
    if (THEMATIC.test(line)) {
      flush();
      i++;
      continue;
    }
    if (!para.length && line.includes('|') && i + 1 < lines.length && isTableDelimiter(lines[i + 1])) {
      let j = i + 2;
      while (j < lines.length && !blank(lines[j]) && lines[j].includes('|')) j++;
      sink.add({ type: 'table', text: lines.slice(i, j).join('\n'), page: null });
      i = j;
      continue;
    }
    if (LIST_ITEM.test(line)) {
      flush();
      // items, their indented continuations and lazy lines; a blank line ends the list unless an item or an indented line follows
      let j = i + 1;
      while (j < lines.length) {
        const next = lines[j];
        if (blank(next)) {
          let k = j;
          while (k < lines.length && blank(lines[k])) k++;
          if (k < lines.length && (LIST_ITEM.test(lines[k]) || /^[ \t]{2,}/.test(lines[k]))) {
            j = k;
            continue;
          }
          break;
        }
        if (!/^[ \t]/.test(next) && (ATX.test(next) || FENCE.test(next) || THEMATIC.test(next))) break;
        j++;
      }
      sink.add({ type: 'list', text: lines.slice(i, j).filter((l) => !blank(l)).join('\n'), page: null });
      i = j;
      continue;
    }
    if (!para.length && INDENTED.test(line)) {
      let j = i + 1;
      while (j < lines.length && (blank(lines[j]) || INDENTED.test(lines[j]))) j++;
      sink.add({ type: 'code', text: lines.slice(i, j).map((l) => l.replace(INDENTED, '')).join('\n'), page: null });
      i = j;
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
}

/** Rows of a CSV table (RFC 4180: quoted fields may hold the delimiter, quotes doubled, line breaks). */
function* csvRows(text: string, delimiter: string): Generator<string[]> {
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      yield row;
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    yield row;
  }
}

/** A table block's characters at most before the next rows start a new block (repeating the header). */
const CSV_BLOCK_CHARS = 2000;

/** A row as a line: cells joined by " | " (what HTML tables become too). */
export function tableRow(cells: readonly string[]): string {
  return cells.map((c) => c.replace(/\s+/g, ' ').trim()).join(' | ');
}

/** CSV/TSV: `table` blocks of whole rows, each starting with the header row (the first row). */
export function readCsv(text: string, delimiter: string, sink: BlockSink): void {
  let header: string | null = null;
  let rows: string[] = [];
  let size = 0;
  const flush = () => {
    if (header !== null && (rows.length || !sink.blocks.length)) sink.add({ type: 'table', text: [header, ...rows].join('\n'), page: null });
    rows = [];
    size = header?.length ?? 0;
  };
  for (const cells of csvRows(text, delimiter)) {
    if (sink.full) return;
    if (cells.every((c) => c.trim() === '')) continue;
    const line = tableRow(cells);
    if (header === null) {
      header = line;
      size = line.length;
      continue;
    }
    if (rows.length && size + line.length + 1 > CSV_BLOCK_CHARS) flush();
    rows.push(line);
    size += line.length + 1;
  }
  flush();
}

function jsonBlocks(value: unknown, sink: BlockSink): void {
  if (Array.isArray(value) && value.length) {
    for (const item of value) {
      if (sink.full) return;
      sink.add({ type: 'code', text: JSON.stringify(item, null, 2), page: null });
    }
  } else if (value && typeof value === 'object' && Object.keys(value).length) {
    for (const [key, item] of Object.entries(value)) {
      if (sink.full) return;
      sink.add({ type: 'code', text: `${JSON.stringify(key)}: ${JSON.stringify(item, null, 2)}`, page: null });
    }
  } else sink.add({ type: 'code', text: JSON.stringify(value, null, 2), page: null });
}

/**
 * JSON, pretty-printed: a `code` block per top-level key or array element; JSON Lines: a block per
 * line. False (nothing added) when the text is neither.
 */
export function readJson(text: string, sink: BlockSink): boolean {
  try {
    jsonBlocks(JSON.parse(text), sink);
    return true;
  } catch {
    // JSON Lines, below
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const values: unknown[] = [];
  try {
    for (const line of lines) values.push(JSON.parse(line));
  } catch {
    return false;
  }
  if (!values.length) return false;
  for (const value of values) {
    if (sink.full) break;
    sink.add({ type: 'code', text: JSON.stringify(value, null, 2), page: null });
  }
  return true;
}
