/**
 * Documents in tests: the reader thread's bundle (dist/docs-extract-worker.js), built here when it is
 * missing or older than the sources it bundles, and real small files built with pdf-lib and docx.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { REPO_ROOT } from './models';
import { ensureWorker, workerFile } from './workers';

export const EXTRACT_WORKER = workerFile('extract');

/** dist/docs-extract-worker.js, up to date with its sources. */
export function ensureExtractWorker(): string {
  return ensureWorker('extract');
}

/** A PDF of one page per entry of `pages`, each page's paragraphs drawn as lines far apart. */
export async function makePdf(pages: readonly (readonly string[])[]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const paragraphs of pages) {
    const page = pdf.addPage([600, 800]);
    let y = 740;
    for (const text of paragraphs) {
      page.drawText(text, { x: 50, y, size: 12, font });
      y -= 60;
    }
  }
  return pdf.save();
}

/** A PDF whose page holds only a rectangle and an image: what a scan looks like to a text reader. */
export async function makeScannedPdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const page = pdf.addPage([600, 800]);
  page.drawRectangle({ x: 50, y: 50, width: 300, height: 200 });
  const png = await pdf.embedPng(fs.readFileSync(path.join(REPO_ROOT, 'resources', 'icon.png')));
  page.drawImage(png, { x: 100, y: 300, width: 128, height: 128 });
  return pdf.save();
}

/** A Word document: a Heading 1, then the paragraphs. */
export async function makeDocx(heading: string, paragraphs: readonly string[]): Promise<Uint8Array> {
  const doc = new Document({
    sections: [{ children: [new Paragraph({ text: heading, heading: HeadingLevel.HEADING_1 }), ...paragraphs.map((text) => new Paragraph({ text }))] }],
  });
  return new Uint8Array(await Packer.toBuffer(doc));
}

/** A long Markdown document: sections of filler words, one paragraph of section `at` (0-based) opening with `needle`. */
export function longDoc(sections: number, needle: string, at: number): string {
  const words = 'river stone lamp orchard window bridge harbor meadow candle letter garden valley engine signal paper thread'.split(' ');
  let out = '';
  for (let s = 0; s < sections; s++) {
    out += `# Section ${s + 1}\n\n`;
    for (let p = 0; p < 4; p++) {
      const line = Array.from({ length: 60 }, (_, i) => words[(s * 7 + p * 3 + i) % words.length]).join(' ');
      out += (s === at && p === 2 ? `The ${needle} lives here. ` : '') + line + '.\n\n';
    }
  }
  return out;
}

/** Reads until `test` passes on what `read` answers (a thread's documents, the status), at most `ms`; says what it last read. */
export async function until<T>(read: () => Promise<T>, test: (v: T) => boolean, what: string, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (test(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
