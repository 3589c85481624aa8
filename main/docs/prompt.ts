/**
 * How a reply's sources enter its prompt: a block before the user's message, each source numbered
 * and labelled (file, page, heading) so the model can cite it as [n]. Pure: history.ts builds every
 * user message a reply with sources answered the same way each turn, so the prompt's prefix (and the
 * thread's cache) stays the same. A passage (or a whole document) an earlier question of the thread
 * already carries is named, not repeated: a document given whole is in the prompt once however many
 * questions follow. A source's label and text are marked as data (main/params/data-text.ts): special-token
 * text in a document stays text.
 */
import type { SourceDTO } from '../ipc/docs';
import { asData } from '../params';

/** A source's label: its file, page and heading. */
export function sourceLabel(s: Pick<SourceDTO, 'name' | 'page' | 'heading'>): string {
  return [s.name, s.page !== null ? `page ${s.page}` : null, s.heading ? `"${s.heading}"` : null].filter(Boolean).join(', ');
}

/** What a source is, for "given above": its document and chunk (a whole document: its document). */
export const sourceKey = (s: Pick<SourceDTO, 'ref' | 'chunkId'>): string => `${s.ref}#${s.chunkId ?? 'whole'}`;

/** The block of sources put before a user's message; those `given` above are named without their text. */
export function sourcesBlock(sources: readonly SourceDTO[], given: ReadonlySet<string> = new Set()): string {
  const parts = sources.map((s) => (given.has(sourceKey(s)) ? `[${s.n}] ${asData(sourceLabel(s))}: the same text as given above` : `[${s.n}] ${asData(sourceLabel(s))}\n${asData(s.text.trim())}`));
  return (
    'Sources from the documents attached to this chat. Use them where they help answer, and cite the ones you use as [1], [2]; ' +
    'say so when they do not hold the answer.\n\n' +
    parts.join('\n\n') +
    '\n\n---\n\n'
  );
}

/** A user message's text with the sources its reply was given before it (those `given` above named only). */
export function withSources(content: string, sources: readonly SourceDTO[] | null | undefined, given?: ReadonlySet<string>): string {
  return sources?.length ? sourcesBlock(sources, given) + content : content;
}

/**
 * One document's text from its chunks in order, without the overlap each chunk repeats from the one
 * before it (the longest end of the previous chunk the next one starts with), a heading line where the
 * heading changes.
 */
export function joinChunks(chunks: readonly { text: string; heading: string | null }[]): string {
  let out = '';
  let prev = '';
  let heading: string | null = null;
  for (const c of chunks) {
    let text = c.text;
    if (c.heading !== heading) {
      heading = c.heading;
      if (heading) out += (out ? '\n\n' : '') + `## ${heading}`;
    } else {
      text = text.slice(overlapOf(prev, text));
    }
    out += (out ? (text.startsWith('\n') || !text ? '' : '\n\n') : '') + text.replace(/^\s+/, '');
    prev = c.text;
  }
  return out;
}

/** The length of the longest end of `a` that `b` starts with (a chunk's overlap with the one before; bounded). */
export function overlapOf(a: string, b: string, max = 8000): number {
  const limit = Math.min(a.length, b.length, max);
  for (let k = limit; k > 0; k--) {
    if (a.charCodeAt(a.length - k) === b.charCodeAt(0) && a.endsWith(b.slice(0, k))) return k;
  }
  return 0;
}
