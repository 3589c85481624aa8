/** The chunker: sections, whole blocks, splits at sentences/lines/rows, overlap, and the token bound over a seeded random corpus. */
import { chunkBlocks, estimateTokens, HEADING_SEPARATOR, type Chunk } from '../../main/docs/chunk';
import type { Block } from '../../main/docs/extract';

const h = (level: number, text: string, page: number | null = null): Block => ({ type: 'heading', level, text, page });
const p = (text: string, page: number | null = null): Block => ({ type: 'paragraph', text, page });
const code = (text: string, page: number | null = null): Block => ({ type: 'code', text, page });
const table = (text: string, page: number | null = null): Block => ({ type: 'table', text, page });
const list = (text: string, page: number | null = null): Block => ({ type: 'list', text, page });

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** seq 0..n-1, no chunk empty, tokens counted and within the target (checked in plain code, one expect: the corpus has thousands of chunks). */
function expectWellFormed(chunks: Chunk[], target: number, count = estimateTokens): void {
  const wrong = chunks.filter((c, i) => c.seq !== i || c.text.trim() === '' || c.tokens !== count(c.text) || c.tokens > target);
  expect(wrong).toEqual([]);
}

/** The longest start of `next` that `prev` ends with (the overlap). */
function sharedPrefix(prev: string, next: string): string {
  let n = next.length;
  while (n > 0 && !prev.endsWith(next.slice(0, n))) n--;
  return next.slice(0, n);
}

describe('estimateTokens', () => {
  test('a quarter token a character, a whitespace run one character, a CJK character one token', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('ab        cd')).toBe(2); // "ab cd": 5 characters
    expect(estimateTokens('你好世界')).toBe(4);
    expect(estimateTokens('hi 你好')).toBe(3); // "hi " → 1, two Han → 2
  });

  test('subadditive: a joined text never counts more than its parts', () => {
    const r = rng(7);
    const alphabet = 'ab c\n\t.你好 ';
    const word = () => Array.from({ length: Math.floor(r() * 12) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    for (let i = 0; i < 2000; i++) {
      const a = word();
      const b = word();
      expect(estimateTokens(a + b)).toBeLessThanOrEqual(estimateTokens(a) + estimateTokens(b));
    }
  });
});

describe('sections', () => {
  test('a heading starts a new chunk, and a chunk carries its heading path', () => {
    const chunks = chunkBlocks([p('Preface.'), h(1, 'Intro'), p('About.'), h(2, 'Setup'), p('Install.'), h(2, 'Use'), p('Run.'), h(1, 'Next'), p('Later.')], {
      targetTokens: 256,
      overlapTokens: 32,
    });
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      [null, 'Preface.'],
      ['Intro', 'About.'],
      [`Intro${HEADING_SEPARATOR}Setup`, 'Install.'],
      ['Intro › Use', 'Run.'],
      ['Next', 'Later.'],
    ]);
  });

  test('short blocks of one section are packed into one chunk', () => {
    const chunks = chunkBlocks([h(1, 'A'), p('one.'), list('- two\n- three'), code('x = 1')], { targetTokens: 256, overlapTokens: 0 });
    expect(chunks).toEqual([{ seq: 0, text: 'one.\n\n- two\n- three\n\nx = 1', page: null, heading: 'A', tokens: estimateTokens('one.\n\n- two\n- three\n\nx = 1') }]);
  });

  test('the page of a chunk is the page of its first block', () => {
    const chunks = chunkBlocks([p('Alpha text on page one.', 1), p('Beta on page one too.', 1), p('Gamma text '.repeat(12), 2), p('Delta.', 3)], {
      targetTokens: 40,
      overlapTokens: 0,
    });
    expect(chunks.map((c) => [c.page, c.text.slice(0, 5)])).toEqual([
      [1, 'Alpha'],
      [2, 'Gamma'],
    ]);
    expect(chunks[1].text.endsWith('Delta.')).toBe(true);
  });
});

describe('splitting', () => {
  test('a code block that fits is kept whole, moving to a new chunk rather than being cut', () => {
    const fn = Array.from({ length: 8 }, (_, i) => `  const v${i} = compute(${i});`).join('\n');
    const chunks = chunkBlocks([p('Words before the code block, filling part of the chunk. '.repeat(4)), code(`function f() {\n${fn}\n}`)], {
      targetTokens: 100,
      overlapTokens: 0,
    });
    expect(chunks).toHaveLength(2);
    expect(chunks[1].text).toBe(`function f() {\n${fn}\n}`);
  });

  test('a code block larger than the target is cut at line ends only', () => {
    const lines = Array.from({ length: 60 }, (_, i) => `    result_${i} = transform(input_${i}, factor=${i})`);
    const chunks = chunkBlocks([code(lines.join('\n'))], { targetTokens: 64, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) for (const line of c.text.split('\n')) expect(lines).toContain(line);
    expect(chunks.map((c) => c.text).join('\n')).toBe(lines.join('\n'));
    expectWellFormed(chunks, 64);
  });

  test('a paragraph larger than the target is cut at sentence ends', () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} says something of note.`);
    const chunks = chunkBlocks([p(sentences.join(' '))], { targetTokens: 50, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text).toMatch(/^Sentence number \d+ .*of note\.$/s);
    expect(chunks.map((c) => c.text).join(' ')).toBe(sentences.join(' '));
  });

  test('a sentence larger than the target is cut at whitespace, a word larger than it anywhere', () => {
    const long = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const words = chunkBlocks([p(long)], { targetTokens: 32, overlapTokens: 0 });
    expect(words.map((c) => c.text).join(' ')).toBe(long);
    const blob = 'x'.repeat(1000);
    const hard = chunkBlocks([p(blob)], { targetTokens: 32, overlapTokens: 0 });
    expect(hard.map((c) => c.text).join('')).toBe(blob);
    expectWellFormed(words, 32);
    expectWellFormed(hard, 32);
  });

  test('a table larger than the target is cut at row ends, every chunk starting with the header rows', () => {
    const header = '| id | name |\n| --- | --- |';
    const rows = Array.from({ length: 80 }, (_, i) => `| ${i} | person ${i} |`);
    const chunks = chunkBlocks([table([header, ...rows].join('\n'))], { targetTokens: 60, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    const seen: string[] = [];
    for (const c of chunks) {
      expect(c.text.startsWith(`${header}\n`)).toBe(true);
      seen.push(...c.text.split('\n').slice(2));
    }
    expect(seen).toEqual(rows);
  });

  test("tables with the same header one after another (CSV's blocks) continue without repeating it inside a chunk", () => {
    const header = 'id | name';
    const blocks = [0, 1, 2].map((b) => table([header, ...Array.from({ length: 3 }, (_, i) => `${b * 3 + i} | n${b * 3 + i}`)].join('\n')));
    const [chunk] = chunkBlocks(blocks, { targetTokens: 256, overlapTokens: 0 });
    expect(chunk.text).toBe([header, ...Array.from({ length: 9 }, (_, i) => `${i} | n${i}`)].join('\n'));
  });
});

describe('overlap', () => {
  const sentences = Array.from({ length: 30 }, (_, i) => `Fact ${i} is stated here.`);

  test('a chunk cut inside a section starts with whole sentences from the end of the one before', () => {
    const chunks = chunkBlocks([h(1, 'S'), p(sentences.join(' '))], { targetTokens: 48, overlapTokens: 12 });
    expect(chunks.length).toBeGreaterThan(2);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1].text;
      const overlap = sharedPrefix(prev, chunks[i].text);
      expect(overlap).toMatch(/^Fact \d+ is stated here\.( Fact \d+ is stated here\.)*$/);
      expect(estimateTokens(overlap)).toBeLessThanOrEqual(12);
    }
    expectWellFormed(chunks, 48);
  });

  test('no overlap across a heading, and none with overlapTokens 0', () => {
    const chunks = chunkBlocks([h(1, 'A'), p(sentences.slice(0, 3).join(' ')), h(1, 'B'), p('Other.')], { targetTokens: 256, overlapTokens: 64 });
    expect(chunks[1].text).toBe('Other.');
    const none = chunkBlocks([p(sentences.join(' '))], { targetTokens: 48, overlapTokens: 0 });
    expect(none.map((c) => c.text).join(' ')).toBe(sentences.join(' '));
  });

  test('the overlap is at most a third of the target', () => {
    const target = 60;
    const chunks = chunkBlocks([p(sentences.join(' '))], { targetTokens: target, overlapTokens: 1000 });
    for (let i = 1; i < chunks.length; i++) {
      const overlap = sharedPrefix(chunks[i - 1].text, chunks[i].text);
      expect(overlap).not.toBe('');
      expect(estimateTokens(overlap)).toBeLessThanOrEqual(target / 3);
    }
  });

  test("a table's chunk repeats its header before the overlapping rows", () => {
    const rows = Array.from({ length: 40 }, (_, i) => `${i} | name ${i}`);
    const chunks = chunkBlocks([table(['id | name', ...rows].join('\n'))], { targetTokens: 40, overlapTokens: 10 });
    for (let i = 1; i < chunks.length; i++) {
      const [header, firstRow] = chunks[i].text.split('\n');
      expect(header).toBe('id | name');
      expect(chunks[i - 1].text.split('\n')).toContain(firstRow);
    }
  });
});

describe('the bound over a seeded random corpus', () => {
  const r = rng(20240611);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const vocab = ['the', 'lamp', 'glows', 'hearth', 'x', 'supercalifragilistic', 'ok', '你好', '世界', 'a'.repeat(300), '3.14', 'end.', 'why?', 'yes!'];
  const sentence = () => `${Array.from({ length: 1 + Math.floor(r() * 30) }, () => pick(vocab)).join(r() < 0.1 ? '  ' : ' ')}.`;
  const para = () => Array.from({ length: 1 + Math.floor(r() * 25) }, sentence).join(r() < 0.2 ? '\n' : ' ');
  const lines = (n: number) => Array.from({ length: n }, () => (r() < 0.1 ? '' : `${'  '.repeat(Math.floor(r() * 3))}${sentence()}`)).join('\n');
  function corpus(): Block[] {
    const blocks: Block[] = [];
    const n = 5 + Math.floor(r() * 40);
    for (let i = 0; i < n; i++) {
      const page = r() < 0.5 ? null : 1 + Math.floor(r() * 9);
      const k = r();
      if (k < 0.15) blocks.push(h(1 + Math.floor(r() * 6), sentence(), page));
      else if (k < 0.5) blocks.push(p(para(), page));
      else if (k < 0.65) blocks.push(code(lines(1 + Math.floor(r() * 80)), page));
      else if (k < 0.8) blocks.push(list(lines(1 + Math.floor(r() * 20)).replace(/^/gm, '- '), page));
      else blocks.push(table(['a | b | c', ...Array.from({ length: 1 + Math.floor(r() * 60) }, () => `${sentence()} | ${pick(vocab)} | ${r()}`)].join('\n'), page));
    }
    return blocks;
  }
  const words = (s: string) => s.split(/\s+/).filter((w) => w !== '');

  test.each([
    ['estimateTokens', undefined],
    // a tokenizer-like count that is not subadditive: a word (whitespace-separated) is 1 + a token per 6 characters of it
    ['a word count', (t: string) => words(t).reduce((n, w) => n + 1 + Math.floor(w.length / 6), 0)],
  ])('every chunk is within the target (%s), none is empty, and no word is lost', (_name, count) => {
    for (let round = 0; round < 60; round++) {
      const blocks = corpus();
      const target = pick([32, 33, 50, 64, 100, 256, 512]);
      const overlapTokens = pick([0, 8, 32, 200]);
      const chunks = chunkBlocks(blocks, { targetTokens: target, overlapTokens, count });
      expectWellFormed(chunks, target, count ?? estimateTokens);
      // every word of the blocks (headings aside) is in a chunk
      const text = chunks.map((c) => c.text).join(' ');
      const lost = blocks.flatMap((b) => (b.type === 'heading' ? [] : words(b.text).filter((w) => w.length < 30 && !text.includes(w))));
      expect(lost).toEqual([]);
      const pages = new Set(blocks.map((b) => b.page));
      expect(chunks.filter((c) => !pages.has(c.page))).toEqual([]);
    }
  });
});

describe('cost: cutting a long text without whitespace is linear', () => {
  const N = 4_000_000;
  const text = 'x'.repeat(N);

  test('the characters counted stay within a small multiple of the text (the whole rest of it was counted for every chunk)', () => {
    let counted = 0;
    const count = (t: string) => {
      counted += t.length;
      return Math.ceil(t.length / 4);
    };
    const chunks = chunkBlocks([p(text)], { targetTokens: 256, overlapTokens: 32, count });
    expectWellFormed(chunks, 256, count);
    expect(chunks[0].text).toBe('x'.repeat(1024));
    expect(chunks[1].text.startsWith('x'.repeat(128))).toBe(true);
    expect(counted).toBeLessThan(50 * N);
  });

  test('with the default estimate: every chunk full, and the text covered', () => {
    const started = Date.now();
    const chunks = chunkBlocks([p(text)], { targetTokens: 512, overlapTokens: 0 });
    expectWellFormed(chunks, 512);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    expect(chunks.slice(0, -1).every((c) => c.tokens === 512)).toBe(true);
    // generous on a loaded machine; the quadratic cut took about 6 s here
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
