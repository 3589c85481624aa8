/** Text on its way to the engine. */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text for the engine: a lone UTF-16 surrogate (a pasted half emoji) becomes U+FFFD, as llama.cpp reads only valid UTF-8 JSON. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}
