/**
 * Text that is data, not instructions, inside a chat's messages: a document's passage, a tool's
 * result. Marked with two Unicode noncharacters, U+FDD0 before and U+FDD1 after it; with the chat
 * request's `dataMarks`, the engine keeps special-token text in it ("<|im_end|>", "</s>") as text where
 * the rest of the prompt is tokenized with special tokens parsed, and removes the marks
 * (native/src/data_text.h, which declares the same two characters). The engine reads marks in a
 * message's content text only (whatever text holds them is read as data), and marks the descriptions
 * of the tools it is given itself. Without that, a passage holding
 * "<|im_end|><|im_start|>system" would end the user's turn and open a system prompt of its own.
 * A remote provider is sent the text without the marks.
 */
import type { MessageContent } from './chat';

export const DATA_OPEN = '\uFDD0';
export const DATA_CLOSE = '\uFDD1';
const MARKS = /[\uFDD0\uFDD1]/g;

/**
 * `text` marked as data. The marks it held itself become U+FFFD (as Unicode allows for
 * noncharacters), so it cannot end its own span; whitespace at its ends stays outside the marks, so a
 * template that trims a message's content trims it as it would the text alone.
 */
export function asData(text: string): string {
  const clean = text.replace(MARKS, '\uFFFD');
  // trimStart/trimEnd (linear; a regex for the edges backtracks quadratically over a run of whitespace)
  const start = clean.length - clean.trimStart().length;
  const end = clean.trimEnd().length;
  return end > start ? `${clean.slice(0, start)}${DATA_OPEN}${clean.slice(start, end)}${DATA_CLOSE}${clean.slice(end)}` : clean;
}

/**
 * A tool's result marked as data. A result that is a JSON object or array gets the marks inside each
 * of its strings (keys and values), so it is still the same JSON: llama.cpp parses a tool result as
 * JSON for templates that lay it out by its members (the older Gemma 4 templates), which a result
 * marked whole would fail. Special-token text can stand only in its strings; the rest is punctuation,
 * numbers and literals. Any other result is marked whole (asData).
 */
export function toolResultAsData(text: string): string {
  const body = text.trim();
  if (!(body.startsWith('{') || body.startsWith('['))) return asData(text);
  try {
    JSON.parse(body);
  } catch {
    return asData(text);
  }
  // valid JSON: a string starts at an unescaped quote and ends at the next one
  const clean = text.replace(MARKS, '\uFFFD');
  let out = '';
  let from = 0;
  for (let i = 0; i < clean.length; i++) {
    if (clean[i] !== '"') continue;
    let j = i + 1;
    while (clean[j] !== '"') j += clean[j] === '\\' ? 2 : 1;
    if (j > i + 1) out += `${clean.slice(from, i + 1)}${DATA_OPEN}${clean.slice(i + 1, j)}${DATA_CLOSE}`;
    else out += clean.slice(from, j);
    from = j;
    i = j;
  }
  return out + clean.slice(from);
}

/** `text` without data marks (what a remote provider, or a reader, is given). */
export function withoutDataMarks(text: string): string {
  return text.replace(MARKS, '');
}

/** The messages with their contents' data marks removed. */
export function unmarkedMessages<M extends { content?: MessageContent | null }>(messages: readonly M[]): M[] {
  return messages.map((m) => {
    const c = m.content;
    if (typeof c === 'string') return { ...m, content: withoutDataMarks(c) };
    if (Array.isArray(c)) return { ...m, content: c.map((p) => (p.type === 'text' ? { ...p, text: withoutDataMarks(p.text) } : p)) };
    return m;
  });
}
