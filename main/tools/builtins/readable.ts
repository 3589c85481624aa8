/**
 * A web page as readable text: Mozilla's Readability picks the article out of a DOM built by
 * linkedom (no browser), and its content becomes plain text with the page's structure (headings,
 * paragraphs, list items) kept as lines. A page Readability finds no article in is read whole, less
 * its scripts, styles and other non-text elements.
 */
import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';

export interface ReadablePage {
  title: string;
  text: string;
}

/** Elements whose content is not text a reader sees (the documents' HTML reader skips them too). */
export const NON_TEXT_ELEMENTS: ReadonlySet<string> = new Set(['script', 'style', 'noscript', 'template', 'svg', 'canvas', 'iframe', 'object', 'embed', 'head', 'select', 'button']);
/** Elements that begin and end a line. */
const BLOCK = new Set([
  'address', 'article', 'aside', 'blockquote', 'dd', 'details', 'div', 'dl', 'dt', 'fieldset', 'figcaption',
  'figure', 'footer', 'form', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary',
  'table', 'tr', 'ul', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
]);
/**
 * The most elements (start tags, counted in the source) a page may have for Readability to read it;
 * a larger one is read whole, which is much faster. Readability's scoring is slow on huge pages and
 * runs on the caller's thread: a 2 MiB page of 50,000 paragraphs took seconds. (Its own
 * maxElemsToParse counts getElementsByTagName('*'), which linkedom answers empty.)
 */
const MAX_READABILITY_ELEMENTS = 20_000;
/** Stands for a line break inside <pre> until the lines are tidied (a private-use character). */
const PRE_BREAK = '\uE000';

/** The minimal DOM node the walk reads (linkedom's nodes, typed loosely: its types are not the DOM's). */
export interface WalkNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<WalkNode>;
}

function walk(node: WalkNode, out: string[], inPre: boolean): void {
  if (node.nodeType === 3) {
    const text = node.textContent ?? '';
    out.push(inPre ? text.replace(/\r?\n/g, PRE_BREAK) : text.replace(/\s+/g, ' '));
    return;
  }
  if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) return;
  const tag = node.nodeName.toLowerCase();
  if (NON_TEXT_ELEMENTS.has(tag)) return;
  if (tag === 'br') {
    out.push(inPre ? PRE_BREAK : '\n');
    return;
  }
  const block = BLOCK.has(tag);
  if (block) out.push('\n');
  const heading = /^h([1-6])$/.exec(tag);
  if (heading) out.push(`${'#'.repeat(Number(heading[1]))} `);
  if (tag === 'li') out.push('- ');
  if (tag === 'td' || tag === 'th') out.push(' ');
  for (const child of Array.from(node.childNodes)) walk(child, out, inPre || tag === 'pre');
  if (block) out.push('\n');
}

/** A node's text, a line per block, blank lines between paragraphs at most one. */
export function nodeText(node: WalkNode): string {
  const out: string[] = [];
  walk(node, out, false);
  return out
    .join('')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replaceAll(PRE_BREAK, '\n')
    .trim();
}

function startTags(html: string): number {
  let n = 0;
  for (const _ of html.matchAll(/<[a-zA-Z]/g)) n++;
  return n;
}

/** The readable text of an HTML page fetched from `url`. */
export function readableHtml(html: string, url: string): ReadablePage {
  const { document } = parseHTML(html);
  const pageTitle = (document.title ?? '').trim();
  const readable = startTags(html) <= MAX_READABILITY_ELEMENTS;
  if (readable) {
    let article: { title?: string | null; content?: string | null } | null = null;
    try {
      // Readability resolves links against the document's URL; linkedom's documents have none, so it is given
      Object.defineProperty(document, 'baseURI', { value: url, configurable: true });
      Object.defineProperty(document, 'documentURI', { value: url, configurable: true });
      article = new Readability(document as unknown as Document).parse();
    } catch {
      article = null; // a page Readability cannot take: read whole below
    }
    if (article?.content) {
      const text = nodeText(parseHTML(`<!doctype html><html><body>${article.content}</body></html>`).document as unknown as WalkNode);
      if (text) return { title: (article.title ?? '').trim() || pageTitle, text };
    }
  }
  // read whole; Readability (when it ran) changed the first DOM, so the page is parsed again
  const whole = readable ? parseHTML(html).document : document;
  return { title: pageTitle, text: nodeText((whole.body ?? whole.documentElement ?? whole) as unknown as WalkNode) };
}
