/**
 * HTML's blocks (and DOCX's, through mammoth's HTML): a walk of the whole DOM linkedom builds, h1–h6
 * as headings, <pre> as code, lists as `list` blocks (a line per item, nested items indented), tables
 * as `table` blocks (a line per row, cells joined by " | "), and the text between as paragraphs.
 * Scripts, styles and other non-text elements are skipped (the web tools' list). No Readability: a
 * document is read whole, not cut down to an article.
 */
import { parseHTML } from 'linkedom';
import { NON_TEXT_ELEMENTS, type WalkNode } from '../tools/builtins/readable';
import { tableRow } from './extract-text';
import type { BlockSink } from './extract';

/** Elements that end the paragraph before them and start a new one after. */
const BREAKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'dd', 'details', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure',
  'footer', 'form', 'header', 'hr', 'main', 'nav', 'p', 'section', 'summary', 'caption', 'center',
]);

function isElement(node: WalkNode): boolean {
  return node.nodeType === 1;
}

function tag(node: WalkNode): string {
  return node.nodeName.toLowerCase();
}

function children(node: WalkNode): WalkNode[] {
  return Array.from(node.childNodes);
}

/** A node's text as one line (whitespace collapsed), non-text elements skipped; `stop`: tags not entered. */
function inlineText(node: WalkNode, stop?: ReadonlySet<string>): string {
  const out: string[] = [];
  const visit = (n: WalkNode) => {
    if (n.nodeType === 3) out.push(n.textContent ?? '');
    else if (isElement(n) || n.nodeType === 11) {
      const t = tag(n);
      if (NON_TEXT_ELEMENTS.has(t) || stop?.has(t)) return;
      if (t === 'br') out.push(' ');
      for (const c of children(n)) visit(c);
    }
  };
  visit(node);
  return out.join('').replace(/\s+/g, ' ').trim();
}

/** A <pre>'s text as written (line breaks kept, <br> as a line break). */
function preText(node: WalkNode): string {
  const out: string[] = [];
  const visit = (n: WalkNode) => {
    if (n.nodeType === 3) out.push(n.textContent ?? '');
    else if (isElement(n)) {
      if (tag(n) === 'br') out.push('\n');
      else for (const c of children(n)) visit(c);
    }
  };
  visit(node);
  return out.join('');
}

const LISTS = new Set(['ul', 'ol']);

/** A list's lines: "- item" (ul) or "1. item" (ol), nested lists indented two spaces a level. */
function listLines(list: WalkNode, depth: number, out: string[]): void {
  let n = 0;
  const ordered = tag(list) === 'ol';
  for (const item of children(list)) {
    if (!isElement(item)) continue;
    if (LISTS.has(tag(item))) {
      listLines(item, depth + 1, out);
      continue;
    }
    if (tag(item) !== 'li') continue;
    n++;
    const text = inlineText(item, LISTS);
    if (text) out.push(`${'  '.repeat(depth)}${ordered ? `${n}.` : '-'} ${text}`);
    const nested: WalkNode[] = [];
    const findLists = (node: WalkNode) => {
      for (const c of children(node)) {
        if (!isElement(c)) continue;
        if (LISTS.has(tag(c))) nested.push(c);
        else if (!NON_TEXT_ELEMENTS.has(tag(c))) findLists(c);
      }
    };
    findLists(item);
    for (const sub of nested) listLines(sub, depth + 1, out);
  }
}

/** A table's rows (<tr> in the table itself or its thead/tbody/tfoot; nested tables' text stays in their cell). */
function tableLines(table: WalkNode): string[] {
  const lines: string[] = [];
  const rows = (node: WalkNode) => {
    for (const c of children(node)) {
      if (!isElement(c)) continue;
      const t = tag(c);
      if (t === 'thead' || t === 'tbody' || t === 'tfoot') rows(c);
      else if (t === 'tr') {
        const cells = children(c).filter((cell) => isElement(cell) && (tag(cell) === 'td' || tag(cell) === 'th')).map((cell) => inlineText(cell));
        if (cells.some((cell) => cell !== '')) lines.push(tableRow(cells));
      }
    }
  };
  rows(table);
  return lines;
}

/** HTML's blocks into the sink. */
export function readHtml(html: string, sink: BlockSink): void {
  // linkedom puts a fragment's elements beside an empty <body>: a fragment (mammoth's output) is given a page
  const page = /<(?:html|body)[\s>]/i.test(html) ? html : `<!doctype html><html><body>${html}</body></html>`;
  const { document } = parseHTML(page);
  const root = (document.body ?? document.documentElement ?? document) as unknown as WalkNode;
  let buffer: string[] = [];
  const flush = () => {
    const text = buffer
      .join('')
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .filter((l) => l !== '')
      .join('\n');
    buffer = [];
    if (text) sink.add({ type: 'paragraph', text, page: null });
  };
  const visit = (node: WalkNode) => {
    if (sink.full) return;
    if (node.nodeType === 3) {
      buffer.push((node.textContent ?? '').replace(/\s+/g, ' '));
      return;
    }
    if (!isElement(node) && node.nodeType !== 9 && node.nodeType !== 11) return;
    const t = tag(node);
    if (NON_TEXT_ELEMENTS.has(t)) return;
    const heading = /^h([1-6])$/.exec(t);
    if (heading) {
      flush();
      sink.add({ type: 'heading', level: Number(heading[1]), text: inlineText(node), page: null });
      return;
    }
    if (t === 'pre') {
      flush();
      sink.add({ type: 'code', text: preText(node), page: null });
      return;
    }
    if (LISTS.has(t)) {
      flush();
      const lines: string[] = [];
      listLines(node, 0, lines);
      sink.add({ type: 'list', text: lines.join('\n'), page: null });
      return;
    }
    if (t === 'table') {
      flush();
      sink.add({ type: 'table', text: tableLines(node).join('\n'), page: null });
      return;
    }
    if (t === 'br') {
      buffer.push('\n');
      return;
    }
    const breaks = BREAKS.has(t) || t === 'li';
    if (breaks) flush();
    for (const c of children(node)) visit(c);
    if (breaks) flush();
  };
  visit(root);
  flush();
}
