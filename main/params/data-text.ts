/**
 * Text that is data, not instructions, inside a chat's messages: a document's passage, a tool's
 * result, what the model wrote (a reply's text, its calls' arguments, and the reasoning of the turn's
 * replies: main/chat/history.ts). Marked with two Unicode noncharacters, U+FDD0 before and U+FDD1 after it;
 * with the chat request's `dataMarks`, the engine keeps special-token text in it ("<|im_end|>", "</s>")
 * as text where the rest of the prompt is tokenized with special tokens parsed, and removes the marks
 * (native/src/data_text.h, which declares the same two characters). The engine reads marks in a
 * message's content text, reasoning and calls' arguments only (whatever text holds them is read as data),
 * and marks the descriptions of the tools it is given itself. Without that, a passage holding
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

/** How deep a JSON tool result may nest and still be marked inside its strings (llama.cpp parses and lays it out recursively). */
export const TOOL_RESULT_JSON_DEPTH = 64;
/** A JSON escape of a data mark (\uFDD0, \uFDD1, any case): llama.cpp's JSON parse would make it a mark. */
const ESCAPED_MARK = /^u[fF][dD][dD][01]$/;

/**
 * A tool's result, or a call's arguments, marked as data. A text that is a JSON object or array gets
 * the marks inside each of its strings (names and values), so it is still the same JSON: llama.cpp
 * parses a tool result as JSON for templates that lay it out by its members (the older Gemma 4
 * templates), and a call's arguments for templates that take them as an object, which a text marked
 * whole would fail. Special-token text can stand only in its strings; the rest is punctuation,
 * numbers and literals. A mark in a string, written or escaped (`\uFDD1`, which that parse would
 * decode), becomes U+FFFD. Any other text, or one nested deeper than `depth` (a tool result's
 * TOOL_RESULT_JSON_DEPTH: marked whole, llama.cpp takes it as text), is marked whole (asData). A call's
 * arguments are marked at any depth: llama.cpp parses them as JSON however deep they are, and fails
 * the render on any that are not.
 */
export function jsonAsData(text: string, depth = TOOL_RESULT_JSON_DEPTH): string {
  const body = text.trim();
  if (!(body.startsWith('{') || body.startsWith('['))) return asData(text);
  try {
    JSON.parse(body);
  } catch {
    return asData(text);
  }
  // valid JSON: a string starts at a quote outside strings and ends at the next unescaped one
  const clean = text.replace(MARKS, '\uFFFD');
  let out = '';
  let from = 0; // clean[from, i) is outside strings and not yet in `out`
  let nested = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    if (c === '{' || c === '[') {
      if (++nested > depth) return asData(text);
      continue;
    }
    if (c === '}' || c === ']') nested--;
    if (c !== '"') continue;
    let inner = '';
    let j = i + 1;
    let run = j; // clean[run, j) is plain string text not yet in `inner`
    while (clean[j] !== '"') {
      if (clean[j] !== '\\') {
        j++;
        continue;
      }
      if (ESCAPED_MARK.test(clean.slice(j + 1, j + 6))) {
        inner += `${clean.slice(run, j)}\\uFFFD`;
        j += 6;
        run = j;
      } else j += 2;
    }
    inner += clean.slice(run, j);
    out += clean.slice(from, i + 1) + (inner ? `${DATA_OPEN}${inner}${DATA_CLOSE}` : '');
    from = j;
    i = j;
  }
  return out + clean.slice(from);
}

/** `text` without data marks (what a remote provider, or a reader, is given). */
export function withoutDataMarks(text: string): string {
  return text.replace(MARKS, '');
}

interface MarkedCall {
  function: { name: string; arguments: string };
}

/** The messages with the data marks in their contents, reasoning and calls' arguments removed. */
export function unmarkedMessages<M extends { content?: MessageContent | null; reasoning_content?: string; tool_calls?: MarkedCall[] }>(messages: readonly M[]): M[] {
  return messages.map((m) => {
    const c = m.content;
    const content = typeof c === 'string' ? withoutDataMarks(c) : Array.isArray(c) ? c.map((p) => (p.type === 'text' ? { ...p, text: withoutDataMarks(p.text) } : p)) : c;
    const calls = m.tool_calls?.map((t) => ({ ...t, function: { ...t.function, arguments: withoutDataMarks(t.function.arguments) } }));
    const reasoning = m.reasoning_content;
    return { ...m, ...(c != null ? { content } : {}), ...(calls ? { tool_calls: calls } : {}), ...(reasoning !== undefined ? { reasoning_content: withoutDataMarks(reasoning) } : {}) };
  });
}
