/**
 * Markdown → HTML for replies: markdown-it with raw HTML off (so model output cannot inject markup),
 * GFM tables, syntax highlighting (highlight.js) and math (KaTeX: $…$, $$…$$, \(…\), \[…\]).
 * Top-level code blocks come out as separate segments so <CodeBlock> can render them with a copy
 * button; code nested in lists or quotes gets the same markup with a delegated copy button.
 * A reply given documents' passages cites them as [n] (or [n, m]): with its sources in the render's
 * env (`Citations`), each [n] naming one of them becomes a button (data-cite, named "Source n: name")
 * that the view handles by a delegated click; any other [n] stays text.
 */
import hljs from 'highlight.js/lib/common';
import katex from 'katex';
import MarkdownIt from 'markdown-it';

type Token = MarkdownIt.Token;
type StateInline = MarkdownIt.StateInline;
type StateBlock = MarkdownIt.StateBlock;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Highlighted HTML for code; plain escaped text when the language is unknown. */
export function highlightCode(code: string, lang: string): string {
  const l = lang.toLowerCase();
  if (l && hljs.getLanguage(l)) {
    try {
      return hljs.highlight(code, { language: l, ignoreIllegals: true }).value;
    } catch {
      // fall through to plain text
    }
  }
  return escapeHtml(code);
}

const mathCache = new Map<string, string>();

/** KaTeX HTML (with MathML for screen readers); errors render as red source, never throw. */
export function renderMath(tex: string, displayMode: boolean): string {
  const key = `${displayMode ? 'D' : 'I'}${tex}`;
  const hit = mathCache.get(key);
  if (hit !== undefined) return hit;
  let html: string;
  try {
    html = katex.renderToString(tex, { displayMode, throwOnError: false, output: 'htmlAndMathml', trust: false, strict: 'ignore' });
  } catch {
    html = `<code class="math-error">${escapeHtml(tex)}</code>`;
  }
  if (mathCache.size > 500) mathCache.delete(mathCache.keys().next().value as string);
  mathCache.set(key, html);
  return html;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

function mathInline(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  const max = state.posMax;
  const ch = src.charCodeAt(start);
  let content: string;
  let display = false;
  let end: number;
  if (ch === 0x5c /* \ */) {
    const next = src[start + 1];
    if (next !== '(' && next !== '[') return false;
    const close = next === '(' ? '\\)' : '\\]';
    const at = src.indexOf(close, start + 2);
    if (at < 0 || at + 2 > max) return false;
    content = src.slice(start + 2, at);
    display = next === '[';
    end = at + 2;
  } else if (ch === 0x24 /* $ */) {
    if (src.charCodeAt(start + 1) === 0x24) {
      const at = src.indexOf('$$', start + 2);
      if (at < 0 || at + 2 > max) return false;
      content = src.slice(start + 2, at);
      display = true;
      end = at + 2;
    } else {
      // pandoc's rule: no space after the opening $, none before the closing $, no digit after it
      const after = src.charCodeAt(start + 1);
      if (start + 1 >= max || isSpace(after)) return false;
      let at = start + 1;
      for (;;) {
        at = src.indexOf('$', at);
        if (at < 0 || at >= max) return false;
        if (src.charCodeAt(at - 1) === 0x5c) {
          at++;
          continue;
        }
        break;
      }
      if (isSpace(src.charCodeAt(at - 1)) || isDigit(src.charCodeAt(at + 1))) return false;
      content = src.slice(start + 1, at);
      end = at + 1;
    }
  } else return false;
  if (!content.trim()) return false;
  if (!silent) {
    const token = state.push('math_inline', 'math', 0);
    token.content = content;
    token.markup = display ? 'display' : 'inline';
  }
  state.pos = end;
  return true;
}

/** The sources a reply's citations may name: n → the document's name (the render's env.citations). */
export type Citations = Readonly<Record<number, string>>;

/** [n] or [n, m, …] where every n is a source of the reply, and not a link's text or a link ([n](url)). */
function citation(state: StateInline, silent: boolean): boolean {
  const citations = (state.env as { citations?: Citations }).citations;
  if (!citations || state.src.charCodeAt(state.pos) !== 0x5b /* [ */ || (state as unknown as { linkLevel?: number }).linkLevel) return false;
  const m = /^\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]/.exec(state.src.slice(state.pos, state.posMax));
  if (!m) return false;
  const next = state.src.charCodeAt(state.pos + m[0].length);
  if (next === 0x28 /* ( */) return false;
  const ns = m[1].split(',').map((x) => Number(x.trim()));
  if (!ns.every((n) => Object.prototype.hasOwnProperty.call(citations, n))) return false;
  if (!silent) {
    for (const n of ns) {
      const token = state.push('citation', 'button', 0);
      token.meta = { n, name: citations[n] };
    }
  }
  state.pos += m[0].length;
  return true;
}

function citationHtml(n: number, name: string): string {
  const label = escapeHtml(`Source ${n}: ${name}`);
  return `<button type="button" class="citation" data-cite="${n}" aria-label="${label}" title="${label}">[${n}]</button>`;
}

function mathBlock(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  if (state.sCount[startLine] - state.blkIndent >= 4) return false;
  const src = state.src;
  let pos = state.bMarks[startLine] + state.tShift[startLine];
  const max = state.eMarks[startLine];
  let close: string;
  if (src.startsWith('$$', pos)) close = '$$';
  else if (src.startsWith('\\[', pos)) close = '\\]';
  else return false;
  pos += 2;
  const first = src.slice(pos, max);
  let content: string;
  let last = startLine;
  const at = first.indexOf(close);
  if (at >= 0) {
    if (first.slice(at + close.length).trim() !== '') return false; // inline math inside a paragraph
    content = first.slice(0, at);
  } else {
    const lines = [first];
    let found = false;
    for (last = startLine + 1; last < endLine; last++) {
      const line = src.slice(state.bMarks[last] + state.tShift[last], state.eMarks[last]);
      const c = line.indexOf(close);
      if (c >= 0) {
        lines.push(line.slice(0, c));
        found = true;
        break;
      }
      lines.push(line);
    }
    if (!found) return false; // still streaming: shown as text until the closing delimiter arrives
    content = lines.join('\n');
  }
  if (!content.trim()) return false;
  if (silent) return true;
  state.line = last + 1;
  const token = state.push('math_block', 'math', 0);
  token.block = true;
  token.content = content;
  token.map = [startLine, state.line];
  return true;
}

function codeBlockHtml(code: string, lang: string): string {
  const label = lang ? escapeHtml(lang) : 'text';
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
    `<button type="button" class="copy-code" data-copy aria-label="Copy code">Copy</button></div>` +
    `<pre><code class="hljs${lang ? ` language-${escapeHtml(lang)}` : ''}">${highlightCode(code, lang)}</code></pre></div>`
  );
}

export function fenceLang(t: Token): string {
  return t.type === 'fence' ? (t.info.trim().split(/\s+/)[0] ?? '') : '';
}

function createMarkdown(): MarkdownIt.MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });
  md.inline.ruler.before('escape', 'math_inline', mathInline);
  md.inline.ruler.before('link', 'citation', citation);
  md.block.ruler.before('fence', 'math_block', mathBlock, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });
  const r = md.renderer.rules;
  r.math_inline = (tokens, idx) => renderMath(tokens[idx].content, tokens[idx].markup === 'display');
  r.citation = (tokens, idx) => {
    const { n, name } = tokens[idx].meta as { n: number; name: string };
    return citationHtml(n, name);
  };
  r.math_block = (tokens, idx) => `<div class="math-block">${renderMath(tokens[idx].content, true)}</div>\n`;
  r.fence = (tokens, idx) => codeBlockHtml(tokens[idx].content, fenceLang(tokens[idx]));
  r.code_block = (tokens, idx) => codeBlockHtml(tokens[idx].content, '');
  r.table_open = () => '<div class="table-wrap"><table>\n';
  r.table_close = () => '</table></div>\n';
  const linkOpen = r.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  r.link_open = (tokens, idx, options, env, self) => {
    tokens[idx].attrSet('target', '_blank');
    tokens[idx].attrSet('rel', 'noopener noreferrer');
    return linkOpen(tokens, idx, options, env, self);
  };
  // remote images are blocked by the page's CSP anyway: show them as links
  r.image = (tokens, idx, options, env, self) => {
    const t = tokens[idx];
    const alt = self.renderInlineAsText(t.children ?? [], options, env) || 'image';
    return `<a href="${escapeHtml(String(t.attrGet('src') ?? ''))}" target="_blank" rel="noopener noreferrer">🖼 ${escapeHtml(alt)}</a>`;
  };
  return md;
}

export const md = createMarkdown();

export type Segment = { kind: 'html'; html: string } | { kind: 'code'; lang: string; code: string };

/** Markdown → segments: runs of HTML, and top-level code blocks for <CodeBlock>; [n] naming one of `citations` as a citation button. */
export function renderSegments(src: string, citations?: Citations): Segment[] {
  const env = citations ? { citations } : {};
  const tokens = md.parse(src, env);
  const out: Segment[] = [];
  let buf: Token[] = [];
  const flush = () => {
    if (!buf.length) return;
    out.push({ kind: 'html', html: md.renderer.render(buf, md.options, env) });
    buf = [];
  };
  for (const t of tokens) {
    if ((t.type === 'fence' || t.type === 'code_block') && t.level === 0) {
      flush();
      out.push({ kind: 'code', lang: fenceLang(t), code: t.content });
    } else buf.push(t);
  }
  flush();
  return out;
}

/** The whole message as one HTML string (for tests and plain uses). */
export function renderMarkdown(src: string): string {
  return md.render(src);
}
