/**
 * A document's text as blocks (headings, paragraphs, code, tables, lists), each with its page where
 * the format has pages (PDF). The kind comes from the file's name (params/docs.ts docKindOfName), else
 * from its bytes (a PDF header, a Word zip, UTF-8 text). Text kinds are parsed here and in
 * extract-text.ts; HTML and DOCX (through mammoth's HTML, its images left out, its zip checked first by
 * extract-zip.ts) by extract-html.ts; PDF by extract-pdf.ts.
 * No more than MAX_DOC_TEXT_CHARS characters are kept (`truncated`, and the note says so).
 *
 * It runs in a worker thread (extract-run.ts): a hostile file costs the worker, never the app.
 */
import { z } from 'zod';
import { DOC_KINDS, MAX_DOC_BYTES, MAX_DOC_TEXT_CHARS, docKindOfName, type DocKind } from '../params/docs';
import { readCode, readCsv, readJson, readMarkdown, readPlainText } from './extract-text';
import { readHtml } from './extract-html';
import { checkDocxZip } from './extract-zip';

const page = z.number().int().min(1).nullable();
/** One block of a document's text (checked where it crosses the worker thread's boundary, extract-run.ts). */
export const Block = z.union([
  z.object({ type: z.literal('heading'), level: z.number().int().min(1).max(6), text: z.string().min(1), page }).strict(),
  z.object({ type: z.enum(['paragraph', 'code', 'table', 'list']), text: z.string().min(1), page }).strict(),
]);
export type Block = z.infer<typeof Block>;

/** A document as read. */
export const Extracted = z
  .object({
    kind: z.enum(DOC_KINDS),
    blocks: z.array(Block),
    /** a PDF's pages; null for kinds without pages */
    pages: z.number().int().min(0).nullable(),
    /** the characters of the blocks' text */
    chars: z.number().int().min(0),
    /** what the reader should know (no text found, text cut, not JSON…); null: nothing */
    note: z.string().nullable(),
    truncated: z.boolean(),
  })
  .strict();
export type Extracted = z.infer<typeof Extracted>;

/** The note of a document that yields no text (the indexer's `empty` state says it too). */
export const NOTE_NO_TEXT = 'no text found in this file';
export const NOTE_SCANNED = 'no text found: this PDF looks scanned (images only); Hearth does not read text in images (no OCR)';

/**
 * Where the blocks go: it counts their characters and stops taking them at `maxChars`, cutting the
 * block that crosses it. Readers check `full` and stop early.
 */
export class BlockSink {
  readonly blocks: Block[] = [];
  chars = 0;
  truncated = false;
  constructor(readonly maxChars: number) {}

  get full(): boolean {
    return this.truncated;
  }

  add(block: Block): void {
    if (this.truncated) return;
    // code keeps its first line's indentation; only blank lines around it go
    const text = block.type === 'code' ? block.text.replace(/^(?:[ \t]*\n)+/, '').trimEnd() : block.text.trim();
    if (!text) return;
    const room = this.maxChars - this.chars;
    if (text.length > room) {
      this.truncated = true;
      // a heading cut short says nothing true; the rest of anything else is still text
      if (block.type === 'heading' || room <= 0) return;
      this.blocks.push({ ...block, text: text.slice(0, room) });
      this.chars += room;
      return;
    }
    this.blocks.push({ ...block, text });
    this.chars += text.length;
  }
}

/** What a reader of one kind returns besides the blocks it put in the sink. */
export interface ReadResult {
  pages: number | null;
  notes: string[];
}

const PDF_MAGIC = '%PDF-';
/** A PDF's header may follow some junk; readers look in the first KiB. */
const PDF_HEADER_WINDOW = 1024;

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < Math.min(end, bytes.length); i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function isPdf(bytes: Uint8Array): boolean {
  return ascii(bytes, 0, PDF_HEADER_WINDOW).includes(PDF_MAGIC);
}

/** A zip (PK\3\4) naming word/document.xml among its entries (local headers keep names uncompressed). */
function isDocx(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || bytes[2] !== 0x03 || bytes[3] !== 0x04) return false;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('word/document.xml', 0, 'latin1');
}

/** The text of a text file; `note` when it was not UTF-8. Throws on binary content. */
export function decodeText(bytes: Uint8Array, name: string): { text: string; note: string | null } {
  let text: string;
  let note: string | null = null;
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le').decode(bytes.subarray(2));
  else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be').decode(bytes.subarray(2));
  else {
    if (bytes.includes(0)) throw new Error(`"${name}" looks binary (it holds NUL bytes), not text; Hearth reads ${DOC_KINDS.join(', ')}`);
    const body = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      text = new TextDecoder('windows-1252').decode(body);
      note = 'not UTF-8: read as Windows-1252';
    }
  }
  return { text: text.replace(/\r\n?/g, '\n'), note };
}

/** The kind of a file by its name, else by its bytes; throws when it is no kind Hearth reads. */
export function docKindOf(name: string, bytes: Uint8Array): DocKind {
  const byName = docKindOfName(name);
  if (byName) return byName;
  if (isPdf(bytes)) return 'pdf';
  if (isDocx(bytes)) return 'docx';
  const head = bytes.subarray(0, 64 * 1024);
  const utf16 = head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff));
  if (utf16) return 'text';
  if (!head.includes(0)) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      return 'text';
    } catch {
      // not UTF-8: below
    }
  }
  throw new Error(`"${name}" is not a kind of file Hearth reads (it reads ${DOC_KINDS.join(', ')}: by extension, or PDF, Word and UTF-8 text by content)`);
}

async function readKind(kind: DocKind, name: string, bytes: Uint8Array, sink: BlockSink): Promise<ReadResult> {
  if (kind === 'pdf') {
    // imported when needed: pdf.js is large, and loads as an ES module (extract-pdf.ts)
    const { readPdf } = await import('./extract-pdf');
    return readPdf(bytes, sink);
  }
  if (kind === 'docx') {
    // before anything unpacks it: a zip bomb is refused here (extract-zip.ts)
    checkDocxZip(name, bytes);
    const mammoth = await import('mammoth');
    // images are not read (mammoth would inline each as base64 in the HTML); an <img> without a source stays
    const convertImage = mammoth.images.imgElement(() => Promise.resolve({ src: '' }));
    let html: string;
    try {
      html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, { convertImage })).value;
    } catch (e) {
      throw new Error(`"${name}" could not be read as a Word document (DOCX): it is damaged or not DOCX (${(e as Error).message})`);
    }
    readHtml(html, sink);
    return { pages: null, notes: [] };
  }
  const { text, note } = decodeText(bytes, name);
  const notes = note ? [note] : [];
  switch (kind) {
    case 'text':
      readPlainText(text, sink);
      break;
    case 'markdown':
      readMarkdown(text, sink);
      break;
    case 'code':
      readCode(text, sink);
      break;
    case 'csv':
      readCsv(text, name.toLowerCase().endsWith('.tsv') ? '\t' : ',', sink);
      break;
    case 'json':
      if (!readJson(text, sink)) {
        notes.push('not valid JSON: read as text');
        readPlainText(text, sink);
      }
      break;
    case 'html':
      readHtml(text, sink);
      break;
  }
  return { pages: null, notes };
}

/**
 * A document's blocks. Throws an Error that says why when the file is no kind Hearth reads, is binary,
 * too large, encrypted or damaged. `maxChars` is for tests (MAX_DOC_TEXT_CHARS otherwise).
 */
export async function extractDocument(name: string, bytes: Uint8Array, limits: { maxChars?: number } = {}): Promise<Extracted> {
  if (bytes.byteLength > MAX_DOC_BYTES) throw new Error(`"${name}" is too large to read (${bytes.byteLength} bytes; the most is ${MAX_DOC_BYTES})`);
  const kind = docKindOf(name, bytes);
  const maxChars = limits.maxChars ?? MAX_DOC_TEXT_CHARS;
  const sink = new BlockSink(maxChars);
  const { pages, notes } = await readKind(kind, name, bytes, sink);
  if (sink.blocks.length === 0 && !notes.includes(NOTE_SCANNED)) notes.push(NOTE_NO_TEXT);
  if (sink.truncated) notes.push(`the text was cut at ${maxChars} characters (the most one document yields); the rest is left out`);
  return { kind, blocks: sink.blocks, pages, chars: sink.chars, note: notes.length ? notes.join('; ') : null, truncated: sink.truncated };
}
