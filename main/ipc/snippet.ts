/**
 * Search snippets as they cross to the UI: matches between two control characters that never occur in
 * chat text. The store writes them (FTS5 `snippet()`), the renderer splits on them. No Node imports:
 * the renderer bundles this file.
 */
export const HIGHLIGHT_OPEN = '\u0001';
export const HIGHLIGHT_CLOSE = '\u0002';

/** Splits a snippet into plain and highlighted parts; an unmatched marker is dropped. */
export function splitHighlights(snippet: string): { text: string; match: boolean }[] {
  const out: { text: string; match: boolean }[] = [];
  const re = new RegExp(`${HIGHLIGHT_OPEN}([^${HIGHLIGHT_CLOSE}]*)${HIGHLIGHT_CLOSE}`, 'g');
  const stray = new RegExp(`[${HIGHLIGHT_OPEN}${HIGHLIGHT_CLOSE}]`, 'g');
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(snippet)) !== null) {
    if (m.index > last) out.push({ text: snippet.slice(last, m.index).replace(stray, ''), match: false });
    out.push({ text: m[1], match: true });
    last = m.index + m[0].length;
  }
  if (last < snippet.length) out.push({ text: snippet.slice(last).replace(stray, ''), match: false });
  return out;
}
