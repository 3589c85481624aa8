/**
 * The documents' reader on real small files of every kind (PDFs built with pdf-lib, Word documents
 * with docx), read as the app reads them: in the bundled worker thread (dist/docs-extract-worker.js),
 * where pdf.js's ES module loads (jest's module system cannot load it).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractInWorker } from '../../main/docs/extract-run';
import * as zlib from 'zlib';
import { extractDocument, NOTE_NO_TEXT, NOTE_SCANNED, type Extracted } from '../../main/docs/extract';
import { checkDocxZip } from '../../main/docs/extract-zip';
import { MAX_DOCX_ENTRY_BYTES } from '../../main/params/docs';
import { ensureExtractWorker, makeDocx, makePdf, makeScannedPdf } from '../helpers/docs';

let workerFile: string;
beforeAll(() => {
  workerFile = ensureExtractWorker();
});

const text = (s: string) => new TextEncoder().encode(s);
const read = (name: string, bytes: Uint8Array, opts: { maxChars?: number } = {}): Promise<Extracted> => extractInWorker(name, bytes, { workerFile, ...opts });

describe('PDF', () => {
  test('a two-page PDF: each paragraph with its page', async () => {
    const pdf = await makePdf([['Hearth reads the first page.', 'A second paragraph on page one.'], ['The second page speaks of owls.']]);
    const r = await read('report.pdf', pdf);
    expect(r.kind).toBe('pdf');
    expect(r.pages).toBe(2);
    expect(r.note).toBeNull();
    expect(r.blocks).toEqual([
      { type: 'paragraph', text: 'Hearth reads the first page.', page: 1 },
      { type: 'paragraph', text: 'A second paragraph on page one.', page: 1 },
      { type: 'paragraph', text: 'The second page speaks of owls.', page: 2 },
    ]);
    expect(r.chars).toBe(r.blocks.reduce((n, b) => n + b.text.length, 0));
  });

  test('a PDF by its bytes alone (no extension) is read as PDF', async () => {
    const r = await read('download', await makePdf([['Sniffed by its header.']]));
    expect(r.kind).toBe('pdf');
    expect(r.blocks.map((b) => b.text)).toEqual(['Sniffed by its header.']);
  });

  test('a scanned-like PDF (a rectangle and an image, no text): no blocks, and the note says no OCR', async () => {
    const r = await read('scan.pdf', await makeScannedPdf());
    expect(r).toMatchObject({ kind: 'pdf', blocks: [], pages: 1, chars: 0, note: NOTE_SCANNED, truncated: false });
  });

  test('a damaged PDF is refused with a clear error', async () => {
    await expect(read('broken.pdf', text('%PDF-1.7\nthis is not a PDF body at all\n%%EOF'))).rejects.toThrow(/this PDF could not be read: it is damaged or not a PDF/);
    const good = await makePdf([['Half of me is gone.']]);
    await expect(read('half.pdf', good.slice(0, 200))).rejects.toThrow(/damaged or not a PDF/);
  });
});

test('DOCX: the Heading 1 as a heading block, then the paragraphs', async () => {
  const r = await read('notes.docx', await makeDocx('Quarterly plan', ['First we plant the beans.', 'Then we water them daily.']));
  expect(r.kind).toBe('docx');
  expect(r.pages).toBeNull();
  expect(r.blocks).toEqual([
    { type: 'heading', level: 1, text: 'Quarterly plan', page: null },
    { type: 'paragraph', text: 'First we plant the beans.', page: null },
    { type: 'paragraph', text: 'Then we water them daily.', page: null },
  ]);
  // by its bytes: a zip holding word/document.xml
  expect((await read('attachment', await makeDocx('Sniffed', ['Body.']))).kind).toBe('docx');
  await expect(read('fake.docx', text('not a zip'))).rejects.toThrow(/could not be read as a Word document/);
});

/**
 * A zip written by hand: each entry deflated (or given packed already, with the size it declares),
 * local headers, the central directory, its end record. `zip64` marks the end record as ZIP64's.
 */
function makeZip(entries: { name: string; packed: Buffer; size: number }[], opts: { zip64?: boolean } = {}): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(e.packed.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(e.packed.length, 20);
    central.writeUInt32LE(opts.zip64 ? 0xffffffff : e.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.packed);
    centrals.push(central, name);
    offset += local.length + name.length + e.packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, dir, end]));
}

const deflated = (name: string, data: Buffer) => ({ name, packed: zlib.deflateRawSync(data), size: data.length });

describe('DOCX zip bombs are refused before anything unpacks them', () => {
  // 80 MB of zeros packs to about 80 KB: more than MAX_DOCX_ENTRY_BYTES unpacked
  const HUGE = 80 * 1024 * 1024;
  let bomb: { name: string; packed: Buffer; size: number };
  beforeAll(() => {
    bomb = deflated('word/document.xml', Buffer.alloc(HUGE));
    expect(HUGE).toBeGreaterThan(MAX_DOCX_ENTRY_BYTES);
  });
  const types = () => deflated('[Content_Types].xml', Buffer.from('<?xml version="1.0"?><Types/>'));

  test('an entry that says it unpacks past the cap: a clear refusal from the reader, and no memory spent in-process', async () => {
    const zip = makeZip([types(), bomb]);
    expect(zip.length).toBeLessThan(1024 * 1024);
    await expect(read('bomb.docx', zip)).rejects.toThrow(/"bomb\.docx" is refused: its entry word\/document\.xml unpacks to 83886080 bytes .*zip bomb/);
    const before = process.memoryUsage().arrayBuffers;
    const started = Date.now();
    await expect(extractDocument('bomb.docx', makeZip([types(), bomb]))).rejects.toThrow(/zip bomb/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('an entry that lies about its size: unpacked no further than it declares, and refused', async () => {
    const liar = { ...bomb, size: 4096 };
    await expect(read('liar.docx', makeZip([types(), liar]))).rejects.toThrow(/its entry word\/document\.xml unpacks to more than the 4096 bytes it declares/);
  });

  test('entries that together unpack past the total: refused', () => {
    const kb = (i: number) => deflated(`word/media/${i}.bin`, Buffer.alloc(1024, i));
    const zip = makeZip([0, 1, 2, 3, 4].map(kb));
    expect(() => checkDocxZip('many.docx', zip, { entry: 2048, total: 4096 })).toThrow(/"many\.docx" is refused: its entries unpack to more than 5120 bytes/);
    expect(() => checkDocxZip('many.docx', zip, { entry: 2048, total: 8192 })).not.toThrow();
  });

  test('a ZIP64 marker is refused; a zip with no directory is damaged', async () => {
    await expect(read('big.docx', makeZip([types(), deflated('word/document.xml', Buffer.from('<w:document/>'))], { zip64: true }))).rejects.toThrow(/ZIP64/);
    await expect(read('cut.docx', (await makeDocx('Cut', ['off'])).slice(0, 300))).rejects.toThrow(/could not be read as a Word document/);
  });
});

test('HTML: headings, paragraphs, code, lists and table rows; scripts and styles dropped', async () => {
  const html = `<!doctype html><html><head><title>T</title><style>p { color: red }</style></head><body>
    <h1>Guide</h1><p>Intro <b>text</b> here.</p><script>alert("no")</script>
    <h2>Setup</h2><pre><code>npm install
npm start</code></pre>
    <ul><li>one</li><li>two<ol><li>inner</li></ol></li></ul>
    <table><thead><tr><th>Name</th><th>Age</th></tr></thead><tbody><tr><td>Ann</td><td>31</td></tr></tbody></table>
    <noscript>enable JS</noscript></body></html>`;
  const r = await read('page.html', text(html));
  expect(r.blocks).toEqual([
    { type: 'heading', level: 1, text: 'Guide', page: null },
    { type: 'paragraph', text: 'Intro text here.', page: null },
    { type: 'heading', level: 2, text: 'Setup', page: null },
    { type: 'code', text: 'npm install\nnpm start', page: null },
    { type: 'list', text: '- one\n- two\n  1. inner', page: null },
    { type: 'table', text: 'Name | Age\nAnn | 31', page: null },
  ]);
  expect(JSON.stringify(r.blocks)).not.toMatch(/alert|color: red|enable JS/);
});

test('markdown: ATX and setext headings, a fenced code block whole, lists, a table, paragraphs', async () => {
  const md = [
    '# Title', '', 'Para one', 'continues here.', '', 'Second', '======', '', '```js', 'const a = 1;', '', 'const b = 2;', '```', '',
    '- item a', '- item b', '  more b', '', '| h1 | h2 |', '| --- | --- |', '| x | y |', '', '### Deep ###', 'last para',
  ].join('\n');
  const r = await read('README.md', text(md));
  expect(r.kind).toBe('markdown');
  expect(r.blocks).toEqual([
    { type: 'heading', level: 1, text: 'Title', page: null },
    { type: 'paragraph', text: 'Para one\ncontinues here.', page: null },
    { type: 'heading', level: 1, text: 'Second', page: null },
    { type: 'code', text: '```js\nconst a = 1;\n\nconst b = 2;\n```', page: null },
    { type: 'list', text: '- item a\n- item b\n  more b', page: null },
    { type: 'table', text: '| h1 | h2 |\n| --- | --- |\n| x | y |', page: null },
    { type: 'heading', level: 3, text: 'Deep', page: null },
    { type: 'paragraph', text: 'last para', page: null },
  ]);
});

test('CSV: table blocks of whole rows, every block starting with the header row', async () => {
  const rows = ['id,name,comment'];
  for (let i = 0; i < 200; i++) rows.push(`${i},"Name ${i}","says ""hi"", twice"`);
  const r = await read('people.csv', text(rows.join('\r\n')));
  expect(r.kind).toBe('csv');
  expect(r.blocks.length).toBeGreaterThan(1);
  const seen: string[] = [];
  for (const b of r.blocks) {
    expect(b.type).toBe('table');
    const [header, ...body] = b.text.split('\n');
    expect(header).toBe('id | name | comment');
    seen.push(...body);
  }
  expect(seen).toHaveLength(200);
  expect(seen[7]).toBe('7 | Name 7 | says "hi", twice');
  const tsv = await read('t.tsv', text('a\tb\n1\t2\n'));
  expect(tsv.blocks).toEqual([{ type: 'table', text: 'a | b\n1 | 2', page: null }]);
});

test('JSON: a block per top-level key, pretty-printed; JSON Lines a block per line; invalid JSON read as text', async () => {
  const r = await read('config.json', text('{"name":"hearth","deps":{"a":1},"list":[1,2]}'));
  expect(r.blocks).toEqual([
    { type: 'code', text: '"name": "hearth"', page: null },
    { type: 'code', text: '"deps": {\n  "a": 1\n}', page: null },
    { type: 'code', text: '"list": [\n  1,\n  2\n]', page: null },
  ]);
  expect(r.note).toBeNull();
  const arr = await read('a.json', text('[{"x":1},{"x":2}]'));
  expect(arr.blocks.map((b) => b.text)).toEqual(['{\n  "x": 1\n}', '{\n  "x": 2\n}']);
  const lines = await read('log.jsonl', text('{"a":1}\n{"a":2}\n'));
  expect(lines.blocks).toHaveLength(2);
  const bad = await read('broken.json', text('{"name": "hearth",\n\nthis is not json'));
  expect(bad.note).toBe('not valid JSON: read as text');
  expect(bad.blocks.map((b) => [b.type, b.text])).toEqual([['paragraph', '{"name": "hearth",'], ['paragraph', 'this is not json']]);
});

test('text and code: paragraphs and code groups between blank lines; BOMs and UTF-16 decoded', async () => {
  const t = await read('notes.txt', text('\uFEFFfirst para\nstill first\n\n\n  second para  \n'));
  expect(t.blocks).toEqual([
    { type: 'paragraph', text: 'first para\nstill first', page: null },
    { type: 'paragraph', text: 'second para', page: null },
  ]);
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('héllo wörld\n\nzwei', 'utf16le')]);
  expect((await read('u.txt', new Uint8Array(utf16))).blocks.map((b) => b.text)).toEqual(['héllo wörld', 'zwei']);
  const code = await read('main.py', text('import os\n\n\ndef f():\n    return 1\n'));
  expect(code.blocks).toEqual([
    { type: 'code', text: 'import os', page: null },
    { type: 'code', text: 'def f():\n    return 1', page: null },
  ]);
  // no extension, valid UTF-8: text
  expect((await read('LICENSE', text('MIT License'))).kind).toBe('text');
});

test('binary and unknown files are refused with a clear error', async () => {
  // a fresh array each time: a read moves the bytes to the worker
  const bin = () => new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]);
  await expect(read('program', bin())).rejects.toThrow(/is not a kind of file Hearth reads \(it reads text, markdown, code, csv, json, html, pdf, docx/);
  await expect(read('data.txt', bin())).rejects.toThrow(/looks binary \(it holds NUL bytes\)/);
});

test('a file with no text says so; text past the limit is cut and the note says so', async () => {
  const empty = await read('empty.md', text('\n\n   \n'));
  expect(empty).toMatchObject({ blocks: [], chars: 0, note: NOTE_NO_TEXT, truncated: false });
  expect(await read('zero.txt', new Uint8Array(0))).toMatchObject({ kind: 'text', blocks: [], note: NOTE_NO_TEXT });
  const long = await read('long.txt', text(Array.from({ length: 50 }, (_, i) => `paragraph ${i} `.repeat(5)).join('\n\n')), { maxChars: 500 });
  expect(long.truncated).toBe(true);
  expect(long.chars).toBe(500);
  expect(long.blocks.reduce((n, b) => n + b.text.length, 0)).toBe(500);
  expect(long.note).toMatch(/cut at 500 characters/);
});

describe('the worker', () => {
  test('a timeout rejects cleanly, and the next file is read', async () => {
    const big = text('word '.repeat(4_000_000));
    await expect(extractInWorker('big.txt', big, { workerFile, timeoutMs: 1 })).rejects.toThrow(/took longer than 1 ms; it was stopped/);
    expect((await read('after.txt', text('still alive'))).blocks[0].text).toBe('still alive');
  });

  test('the bytes move to the worker (transferred, not copied)', async () => {
    const bytes = text('moved');
    await read('m.txt', bytes);
    expect(bytes.byteLength).toBe(0);
  });

  test('an abort rejects with the signal reason', async () => {
    const ac = new AbortController();
    const p = extractInWorker('big.txt', text('word '.repeat(4_000_000)), { workerFile, signal: ac.signal });
    ac.abort(new Error('user cancelled'));
    await expect(p).rejects.toThrow('user cancelled');
  });

  test('a worker that throws or exits becomes a rejection, never a crash', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-extract-'));
    try {
      const throws = path.join(dir, 'throws.js');
      fs.writeFileSync(throws, 'throw new Error("reader exploded");');
      await expect(extractInWorker('x.txt', text('x'), { workerFile: throws })).rejects.toThrow('reading "x.txt" failed: reader exploded');
      const exits = path.join(dir, 'exits.js');
      fs.writeFileSync(exits, 'process.exit(3);');
      await expect(extractInWorker('x.txt', text('x'), { workerFile: exits })).rejects.toThrow(/stopped \(exit code 3\) before it had read "x.txt"/);
      const lies = path.join(dir, 'lies.js');
      fs.writeFileSync(lies, 'require("worker_threads").parentPort.postMessage({ ok: true, result: { kind: "exe" } });');
      await expect(extractInWorker('x.txt', text('x'), { workerFile: lies })).rejects.toThrow(/malformed result/);
      await expect(extractInWorker('x.txt', text('x'), { workerFile: path.join(dir, 'missing.js') })).rejects.toThrow(/document reader .* is missing/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
