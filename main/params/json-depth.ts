/**
 * How deeply a JSON text nests its objects and arrays, read off its characters before it is parsed:
 * JSON.parse and what walks its result recurse once per level, and build every level of a value nested
 * millions deep. No imports: every layer may use it.
 */

/**
 * Whether the JSON text `text` (or a JSON Lines text: each line's values) nests its objects and arrays
 * at most `max` deep: one pass over its characters, outside strings (far cheaper than the parse).
 */
export function jsonNestsWithin(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}
