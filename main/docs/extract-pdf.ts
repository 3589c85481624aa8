/**
 * A PDF's text, page by page, through unpdf (pdf.js built to run without a browser or its own
 * worker). A page's text items become lines (pdf.js marks line ends), lines become paragraphs where
 * the gap to the next line is larger than a line's height (or a line is empty), and each paragraph
 * is a block with its page (1-based). A PDF with pages but no text is a scan: no blocks, and the note
 * says Hearth does not read text in images. An encrypted or damaged PDF throws an Error saying so.
 *
 * unpdf loads pdf.js with a dynamic import() of an ES module: it runs in the worker (plain Node), not
 * under jest's module system.
 */
import type { BlockSink, ReadResult } from './extract';
import { NOTE_SCANNED } from './extract';

interface TextItem {
  str: string;
  hasEOL: boolean;
  transform: number[];
  height: number;
}

interface Line {
  text: string;
  /** the baseline's height on the page (PDF units, up is larger) and the line's font height */
  y: number;
  height: number;
}

function isTextItem(item: unknown): item is TextItem {
  return typeof item === 'object' && item !== null && typeof (item as TextItem).str === 'string' && Array.isArray((item as TextItem).transform);
}

function linesOf(items: readonly unknown[]): Line[] {
  const lines: Line[] = [];
  let current: Line | null = null;
  for (const item of items) {
    if (!isTextItem(item)) continue;
    if (!current) current = { text: '', y: item.transform[5] ?? 0, height: item.height || Math.abs(item.transform[3] ?? 0) };
    current.text += item.str;
    current.height = Math.max(current.height, item.height || 0);
    if (item.hasEOL) {
      lines.push(current);
      current = null;
    }
  }
  if (current) lines.push(current);
  return lines;
}

/** A page's paragraphs: lines joined by spaces, split where a line is empty or the gap exceeds 1.6 line heights. */
export function paragraphsOf(lines: readonly Line[]): string[] {
  const paragraphs: string[] = [];
  let para: string[] = [];
  let prev: Line | null = null;
  const flush = () => {
    const text = para.join(' ').replace(/\s+/g, ' ').trim();
    if (text) paragraphs.push(text);
    para = [];
  };
  for (const line of lines) {
    const text = line.text.trim();
    if (!text) {
      flush();
      prev = null;
      continue;
    }
    const lineHeight = Math.max(line.height, prev?.height ?? 0, 1);
    if (prev && Math.abs(prev.y - line.y) > 1.6 * lineHeight) flush();
    para.push(text);
    prev = line;
  }
  flush();
  return paragraphs;
}

function pdfError(e: unknown): Error {
  const name = (e as { name?: string })?.name ?? '';
  const message = (e as Error)?.message ?? String(e);
  if (name === 'PasswordException') return new Error('this PDF is encrypted (it needs a password); Hearth cannot read it');
  return new Error(`this PDF could not be read: it is damaged or not a PDF (${message})`);
}

export async function readPdf(bytes: Uint8Array, sink: BlockSink): Promise<ReadResult> {
  const { getDocumentProxy } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js may take the buffer for itself: it is given a view of its own
    pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, stopAtErrors: true });
  } catch (e) {
    throw pdfError(e);
  }
  try {
    const pages = pdf.numPages;
    for (let n = 1; n <= pages && !sink.full; n++) {
      let items: readonly unknown[];
      try {
        items = (await (await pdf.getPage(n)).getTextContent()).items;
      } catch (e) {
        throw pdfError(e);
      }
      for (const text of paragraphsOf(linesOf(items))) {
        if (sink.full) break;
        sink.add({ type: 'paragraph', text, page: n });
      }
    }
    return { pages, notes: pages > 0 && sink.blocks.length === 0 ? [NOTE_SCANNED] : [] };
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}
