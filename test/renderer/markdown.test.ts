/** @jest-environment jsdom */
/** Markdown rendering (tables, code, math, safety) and the virtual list's windowing, pure. */
import { renderMarkdown, renderSegments } from '../../renderer/src/components/render-markdown';
import { computeRange, UNMEASURED_COUNT } from '../../renderer/src/components/VirtualList';

describe('markdown', () => {
  test('GFM tables render as tables in a scrolling wrapper', () => {
    const html = renderMarkdown('| a | b |\n|---|---|\n| 1 | 2 |\n');
    expect(html).toContain('<div class="table-wrap"><table>');
    expect(html).toContain('<th>a</th>');
    expect(html).toContain('<td>2</td>');
  });

  test('top-level code blocks become their own segments; nested ones get a copy button in HTML', () => {
    const segs = renderSegments('Intro\n\n```ts\nconst x: number = 1;\n```\n\nAfter');
    expect(segs.map((s) => s.kind)).toEqual(['html', 'code', 'html']);
    expect(segs[1]).toEqual({ kind: 'code', lang: 'ts', code: 'const x: number = 1;\n' });
    const nested = renderMarkdown('- item\n\n  ```py\n  print(1)\n  ```\n');
    expect(nested).toContain('data-copy');
    expect(nested).toContain('class="hljs language-py"');
    expect(nested).toContain('hljs-built_in');
  });

  test('math: $…$, $$…$$, \\(…\\) and \\[…\\] render with KaTeX; prices stay text', () => {
    expect(renderMarkdown('Euler: $e^{i\\pi}+1=0$')).toContain('class="katex"');
    expect(renderMarkdown('$$\n\\int_0^1 x\\,dx\n$$')).toContain('class="katex-display"');
    expect(renderMarkdown('inline \\(a^2\\) here')).toContain('class="katex"');
    expect(renderMarkdown('\\[\nx = 1\n\\]')).toContain('class="katex-display"');
    const prices = renderMarkdown('It costs $5 and $10 today.');
    expect(prices).not.toContain('katex');
    expect(prices).toContain('$5 and $10');
    expect(renderMarkdown('`$x$` in code')).not.toContain('katex');
    // bad TeX never throws
    expect(renderMarkdown('$\\frac{1}{$')).toBeTruthy();
  });

  test('raw HTML from the model is shown as text, links open outside, javascript: links are dropped', () => {
    const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://example.org)');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain('<a href="https://example.org" target="_blank" rel="noopener noreferrer">ok</a>');
  });

  test('an unclosed fence while streaming still renders as code', () => {
    const segs = renderSegments('Here:\n\n```js\nconst a = ');
    expect(segs[1]).toMatchObject({ kind: 'code', lang: 'js' });
  });
});

describe('virtual list range', () => {
  const h = (n: number, px = 100) => Array.from({ length: n }, () => px);

  test('mounts only what is in the viewport plus overscan, with spacers for the rest', () => {
    const r = computeRange(h(1000), 50_000, 800, 200);
    expect(r.start).toBe(498);
    expect(r.end).toBe(510); // 49 800 … 51 000 px
    expect(r.before).toBe(49_800);
    expect(r.after).toBe((1000 - 510) * 100);
    expect(r.end - r.start).toBeLessThan(20);
  });

  test('top and bottom edges, varying heights', () => {
    expect(computeRange(h(10), 0, 250, 0)).toEqual({ start: 0, end: 3, before: 0, after: 700 });
    const r = computeRange([50, 500, 50, 50], 100, 100, 0);
    expect(r.start).toBe(1);
    expect(r.end).toBe(2);
    expect(computeRange(h(5), 10_000, 300, 0)).toMatchObject({ start: 4, end: 5 });
    expect(computeRange([], 0, 300, 0)).toEqual({ start: 0, end: 0, before: 0, after: 0 });
  });

  test('before the viewport is measured, the last items are mounted', () => {
    const r = computeRange(h(100), 0, 0, 0);
    expect(r).toEqual({ start: 100 - UNMEASURED_COUNT, end: 100, before: (100 - UNMEASURED_COUNT) * 100, after: 0 });
  });
});
