/**
 * A generated corpus of documents for bench/docs.ts: deterministic (seeded), in every format the
 * documents' reader knows — Markdown, plain text, HTML, CSV, JSON, code (.ts, .py), PDF (pdf-lib,
 * wrapped lines on one or more pages) and Word (docx) — taken in turn, so each format has about the
 * same number of documents. The words are made up and drawn from a Zipf-distributed vocabulary (as
 * bench/docs-store.ts's), so keyword search has common and rare words to match. Each document's text
 * is about `meanChars` characters (0.3× to 1.7×, uniform), in sections of a heading and paragraphs.
 */
import fs from 'fs';
import path from 'path';
import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { prng, vocabulary, zipf } from './docs-store';

/** The formats, in the order documents take them (by file extension). */
export const CORPUS_FORMATS = ['md', 'txt', 'html', 'csv', 'json', 'ts', 'py', 'pdf', 'docx'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

export interface CorpusFile {
  name: string;
  format: CorpusFormat;
  file: string;
  bytes: number;
}

export interface CorpusOptions {
  docs: number;
  dir: string;
  seed?: number;
  /** a document's mean text length, characters */
  meanChars?: number;
}

/** What a document's text is made of: words, sentences, paragraphs, sections. */
export class Words {
  private readonly rand: () => number;
  private readonly vocab: string[];
  private readonly pick: () => number;

  constructor(seed: number) {
    this.rand = prng(seed);
    this.vocab = vocabulary(this.rand, 20_000);
    this.pick = zipf(this.rand, this.vocab.length);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  word(): string {
    return this.vocab[this.pick()];
  }

  words(n: number): string {
    return Array.from({ length: n }, () => this.word()).join(' ');
  }

  /** A question: a few words as a user would type them (some common, a rarer one or two). */
  question(): string {
    return this.words(this.int(3, 6));
  }

  sentence(): string {
    const s = this.words(this.int(6, 18));
    return s[0].toUpperCase() + s.slice(1) + '.';
  }

  paragraph(): string {
    return Array.from({ length: this.int(2, 6) }, () => this.sentence()).join(' ');
  }

  title(): string {
    const s = this.words(this.int(2, 5));
    return s[0].toUpperCase() + s.slice(1);
  }

  ident(): string {
    return `${this.word()}_${this.word()}`;
  }
}

interface Section { heading: string; paragraphs: string[] }

/** A document's sections, about `chars` characters of text in all. */
function sections(w: Words, chars: number): Section[] {
  const out: Section[] = [];
  let n = 0;
  while (n < chars) {
    const s: Section = { heading: w.title(), paragraphs: [] };
    for (let p = w.int(2, 8); p > 0 && n < chars; p--) {
      const text = w.paragraph();
      s.paragraphs.push(text);
      n += text.length;
    }
    out.push(s);
  }
  return out;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function markdown(w: Words, title: string, secs: Section[]): string {
  const parts = [`# ${title}`];
  for (const s of secs) {
    parts.push(`## ${s.heading}`);
    for (const p of s.paragraphs) {
      const r = w.int(0, 9);
      if (r === 0) parts.push(p.split('. ').map((x) => `- ${x.replace(/\.$/, '')}`).join('\n'));
      else if (r === 1) parts.push('```\n' + `${w.ident()}(${w.word()}, ${w.int(0, 99)})\n` + '```\n\n' + p);
      else parts.push(p);
    }
  }
  return parts.join('\n\n') + '\n';
}

function html(w: Words, title: string, secs: Section[]): string {
  const body = secs.map((s) => `<h2>${escapeHtml(s.heading)}</h2>\n` + s.paragraphs.map((p) =>
    w.int(0, 9) === 0 ? `<ul>${p.split('. ').map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>` : `<p>${escapeHtml(p)}</p>`).join('\n')).join('\n');
  return `<!doctype html>\n<html><head><title>${escapeHtml(title)}</title><style>p { margin: 0 }</style></head>\n` +
    `<body><nav><a href="#">${escapeHtml(w.word())}</a></nav><h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}

function csv(w: Words, chars: number): string {
  const rows = ['id,name,category,amount,description'];
  let n = 0;
  for (let i = 1; n < chars; i++) {
    const row = `${i},${w.title()},${w.word()},${(w.int(0, 999_999) / 100).toFixed(2)},"${w.sentence()}"`;
    rows.push(row);
    n += row.length;
  }
  return rows.join('\n') + '\n';
}

function json(w: Words, title: string, secs: Section[]): string {
  return JSON.stringify({
    title,
    entries: secs.flatMap((s, i) => s.paragraphs.map((p, j) => ({ id: i * 100 + j, section: s.heading, tags: [w.word(), w.word()], body: p }))),
  }, null, 2) + '\n';
}

function typescript(w: Words, secs: Section[]): string {
  const parts = [`import { ${w.ident()} } from './${w.word()}';`];
  for (const s of secs) {
    parts.push(`// ${s.heading}`);
    for (const p of s.paragraphs) {
      const name = w.ident();
      parts.push(`/**\n * ${p.replace(/(.{1,90})(\s|$)/g, '$1\n * ').trimEnd().replace(/\n \*$/, '')}\n */\n` +
        `export function ${name}(${w.word()}: number, ${w.word()}: string): string {\n` +
        `  const ${w.word()}_${w.int(0, 9)} = ${w.int(0, 999)};\n  return \`${w.words(w.int(2, 5))} \${${w.int(0, 1) ? 'String' : 'Number'}(${w.int(0, 9)})}\`;\n}`);
    }
  }
  return parts.join('\n\n') + '\n';
}

function python(w: Words, secs: Section[]): string {
  const parts = [`import ${w.word()}`];
  for (const s of secs) {
    parts.push(`# ${s.heading}`);
    for (const p of s.paragraphs) {
      parts.push(`def ${w.ident()}(${w.word()}, ${w.word()}=${w.int(0, 99)}):\n` +
        `    """${p.replace(/(.{1,90})(\s|$)/g, '$1\n    ').trimEnd()}\n    """\n` +
        `    ${w.word()} = ${w.word()}.${w.ident()}(${w.int(0, 9)})\n    return "${w.words(w.int(2, 5))}"`);
    }
  }
  return parts.join('\n\n') + '\n';
}

/** Lines of at most `width` characters (a word longer than that on a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** A PDF: the title and each heading larger, paragraphs as wrapped 10-point lines, a gap between paragraphs. */
async function pdf(title: string, secs: Section[]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  let page = doc.addPage([600, 800]);
  let y = 750;
  const line = (text: string, size: number, f = font) => {
    if (y < 50) {
      page = doc.addPage([600, 800]);
      y = 750;
    }
    page.drawText(text, { x: 50, y, size, font: f });
    y -= size * 1.3;
  };
  line(title, 16, bold);
  y -= 10;
  for (const s of secs) {
    line(s.heading, 13, bold);
    y -= 6;
    for (const p of s.paragraphs) {
      for (const l of wrap(p, 95)) line(l, 10);
      y -= 12;
    }
  }
  return doc.save();
}

async function docx(title: string, secs: Section[]): Promise<Uint8Array> {
  const children = [new Paragraph({ text: title, heading: HeadingLevel.TITLE })];
  for (const s of secs) {
    children.push(new Paragraph({ text: s.heading, heading: HeadingLevel.HEADING_1 }));
    for (const p of s.paragraphs) children.push(new Paragraph({ text: p }));
  }
  return new Uint8Array(await Packer.toBuffer(new Document({ sections: [{ children }] })));
}

/** Writes the corpus's files under `dir` (made if missing) and lists them in order. */
export async function writeCorpus(opts: CorpusOptions): Promise<CorpusFile[]> {
  const w = new Words(opts.seed ?? 0x5eed);
  const mean = opts.meanChars ?? 5600;
  fs.mkdirSync(opts.dir, { recursive: true });
  const files: CorpusFile[] = [];
  for (let i = 0; i < opts.docs; i++) {
    const format = CORPUS_FORMATS[i % CORPUS_FORMATS.length];
    const chars = Math.round(mean * (0.3 + 1.4 * (w.int(0, 1000) / 1000)));
    const title = w.title();
    const secs = sections(w, chars);
    let data: string | Uint8Array;
    switch (format) {
      case 'md': data = markdown(w, title, secs); break;
      case 'txt': data = [title, ...secs.flatMap((s) => [s.heading, ...s.paragraphs])].join('\n\n') + '\n'; break;
      case 'html': data = html(w, title, secs); break;
      case 'csv': data = csv(w, chars); break;
      case 'json': data = json(w, title, secs); break;
      case 'ts': data = typescript(w, secs); break;
      case 'py': data = python(w, secs); break;
      case 'pdf': data = await pdf(title, secs); break;
      case 'docx': data = await docx(title, secs); break;
    }
    const name = `${String(i).padStart(4, '0')}-${title.split(' ')[0].toLowerCase()}.${format}`;
    const file = path.join(opts.dir, name);
    fs.writeFileSync(file, data);
    files.push({ name, format, file, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength });
  }
  return files;
}
