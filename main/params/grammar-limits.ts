/**
 * Bounds on the grammars and JSON schemas a request may carry, checked before llama.cpp sees them.
 * llama.cpp's grammar setup walks a chain of consecutive optional items (`"a"? "a"? …`, or a schema
 * pattern `^a?a?…$`, which its json_schema_to_grammar turns into one) in time exponential in its
 * length, with no progress the task watchdog could see, and its grammar parser recurses once per
 * nesting level (twenty thousand parentheses overflow the engine host's stack). Both would take the
 * engine host down with every request on it, so such input is refused with the field named. The
 * limits are far beyond what real grammars and schemas use (llama.cpp's own json.gbnf: depth 3,
 * runs of 2). zod only, no imports: the renderer may read it.
 */

import { z } from 'zod';

export const GRAMMAR_LIMITS = {
  /** optional items (`?`, `*`, `{0,n}`) in a row in one sequence of a GBNF rule or a regex pattern */
  maxOptionalRun: 32,
  /** parentheses inside each other in a GBNF grammar or a regex pattern */
  maxDepth: 64,
  /** objects and arrays inside each other in a JSON schema */
  maxSchemaDepth: 64,
} as const;

/** After an item ending at `i`: its quantifier, whether it makes the item optional, and where it ends. */
function quantifier(s: string, i: number): { optional: boolean; end: number } {
  const c = s[i];
  if (c === '?' || c === '*') return { optional: true, end: s[i + 1] === '?' ? i + 2 : i + 1 };
  if (c === '+') return { optional: false, end: s[i + 1] === '?' ? i + 2 : i + 1 };
  if (c === '{') {
    const m = /^\{\s*(\d*)\s*(,\s*\d*\s*)?\}/.exec(s.slice(i, i + 40));
    if (m) return { optional: m[1] === '' || Number(m[1]) === 0, end: i + m[0].length };
  }
  return { optional: false, end: i };
}

/** Scans a GBNF grammar (`gbnf`) or a regex pattern: the first bound it passes, or null. */
function scan(s: string, kind: 'gbnf' | 'regex'): string | null {
  let depth = 0;
  let run = 0;
  /** the run before each open group: a group is one item of the sequence around it */
  const outer: number[] = [];
  let i = 0;
  const item = (end: number): string | null => {
    const q = quantifier(s, end);
    run = q.optional ? run + 1 : 0;
    i = q.end;
    return run > GRAMMAR_LIMITS.maxOptionalRun ? `more than ${GRAMMAR_LIMITS.maxOptionalRun} optional items in a row` : null;
  };
  while (i < s.length) {
    const c = s[i];
    let problem: string | null = null;
    if (c === '\\') problem = item(Math.min(s.length, i + 2));
    else if (c === '[') {
      // a character class: to its closing bracket (escapes inside skipped)
      let j = i + 1;
      if (s[j] === '^') j++;
      if (s[j] === ']') j++;
      while (j < s.length && s[j] !== ']') j += s[j] === '\\' ? 2 : 1;
      problem = item(Math.min(s.length, j + 1));
    } else if (c === '(') {
      depth++;
      if (depth > GRAMMAR_LIMITS.maxDepth) return `groups nested more than ${GRAMMAR_LIMITS.maxDepth} deep`;
      outer.push(run);
      run = 0;
      i++;
      // a regex group's own flags (?: (?= (?! …) belong to the group
      if (kind === 'regex' && s[i] === '?') i += s[i + 1] === '<' ? 3 : 2;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      run = outer.pop() ?? 0;
      problem = item(i + 1);
    } else if (c === '|') {
      run = 0;
      i++;
    } else if (kind === 'gbnf' && c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      problem = item(Math.min(s.length, j + 1));
    } else if (kind === 'gbnf' && c === '#') {
      while (i < s.length && s[i] !== '\n') i++;
    } else if (kind === 'gbnf' && s.startsWith('::=', i)) {
      run = 0;
      i += 3;
    } else if (kind === 'gbnf' && /[A-Za-z0-9_-]/.test(c)) {
      let j = i;
      while (j < s.length && /[A-Za-z0-9_-]/.test(s[j])) j++;
      problem = item(j);
    } else if (kind === 'regex' && c !== '^' && c !== '$') problem = item(i + 1);
    else i++;
    if (problem) return problem;
  }
  return null;
}

/** Why llama.cpp must not get this GBNF grammar (null: it may). */
export function grammarProblem(grammar: string): string | null {
  return scan(grammar, 'gbnf');
}

/** Why llama.cpp must not get this JSON schema (a `pattern` or nesting past the bounds; null: it may). */
export function schemaProblem(schema: unknown): string | null {
  // iterative: a schema nested far past the bound must not overflow this stack either
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: schema, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > GRAMMAR_LIMITS.maxSchemaDepth) return `the schema is nested more than ${GRAMMAR_LIMITS.maxSchemaDepth} deep`;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'pattern' && typeof child === 'string') {
        const p = scan(child, 'regex');
        if (p) return `${path}${path ? '.' : ''}pattern: ${p}`;
      }
      stack.push({ v: child, depth: depth + 1, path: `${path}${path ? '.' : ''}${k}` });
    }
  }
  return null;
}

/**
 * A JSON schema llama.cpp may build a grammar from: a response format's, and a tool's parameters (its
 * tool-call grammar is built from them: the same walk). Checked without recursion: a schema nested a
 * million deep must not overflow the stack.
 */
export const GrammarSafeSchema = z.unknown().superRefine((v, ctx) => {
  const problem = schemaProblem(v);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

