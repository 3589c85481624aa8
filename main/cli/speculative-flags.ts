/**
 * Speculative decoding's options of `hearth run`: --draft FILE, --speculative KIND, and one option per
 * numeric limit, named as llama-server names it (the draft model's --spec-draft-n-max, -n-min and
 * -p-min; the rolling hash's --spec-ngram-mod-n-*). The lookup and the two maps share one setting per
 * limit in Hearth, where llama-server now has one per kind: those take llama-server's earlier shared
 * names (--spec-ngram-size-n, -size-m, -min-hits). The limits' ranges and defaults are the load
 * family's (main/params/load.ts); the engine checks them, naming the option as typed (FLAG_OF).
 */
import path from 'path';
import { LOAD_FIELDS, type LoadParamsInput } from '../params';
import { intFlag, numFlag, type ParsedArgs, spelling, UsageError } from './args';

/** Each numeric limit of speculative decoding and the option that sets it. */
export const SPEC_LIMIT_FLAG_OF = {
  draftMax: 'spec-draft-n-max',
  draftMin: 'spec-draft-n-min',
  draftPMin: 'spec-draft-p-min',
  ngramSizeN: 'spec-ngram-size-n',
  ngramSizeM: 'spec-ngram-size-m',
  ngramMinHits: 'spec-ngram-min-hits',
  ngramModMatch: 'spec-ngram-mod-n-match',
  ngramModMax: 'spec-ngram-mod-n-max',
  ngramModMin: 'spec-ngram-mod-n-min',
} as const satisfies Partial<Record<keyof typeof LOAD_FIELDS, string>>;
type SpecLimit = keyof typeof SPEC_LIMIT_FLAG_OF;
const LIMITS = Object.keys(SPEC_LIMIT_FLAG_OF) as SpecLimit[];

/** Other spellings taken: Hearth's and llama.cpp's earlier names, and llama-server's for the draft model. */
export const SPEC_ALIASES: Readonly<Record<string, string>> = {
  'draft-max': 'spec-draft-n-max',
  'draft-min': 'spec-draft-n-min',
  'draft-p-min': 'spec-draft-p-min',
  'spec-draft-model': 'draft',
  md: 'draft',
};

/** the option that sets each field (for messages about the field) */
export const SPEC_FLAG_OF: Record<string, string> = { draftModel: 'draft', speculative: 'speculative', ...SPEC_LIMIT_FLAG_OF };
/** `hearth run`'s speculative options */
export const SPEC_FLAGS: readonly string[] = ['draft', 'speculative', ...LIMITS.map((k) => SPEC_LIMIT_FLAG_OF[k])];

/** The usage's lines for them (N: a whole number, P: a probability), each at most `width` characters. */
export function specUsage(width: number): string[] {
  const words = ['[--draft FILE]', '[--speculative KIND]', ...LIMITS.map((k) => `[--${SPEC_LIMIT_FLAG_OF[k]} ${LOAD_FIELDS[k].meta.kind === 'integer' ? 'N' : 'P'}]`)];
  const lines: string[] = [];
  for (const w of words) {
    if (lines.length && lines[lines.length - 1].length + 1 + w.length <= width) lines[lines.length - 1] += ` ${w}`;
    else lines.push(w);
  }
  return lines;
}

/** The load settings the speculative options give (absent when not given; checked with the rest, FLAG_OF). */
export function speculativeFlags(parsed: ParsedArgs): Pick<LoadParamsInput, 'draftModel' | 'speculative' | SpecLimit> {
  const out: Pick<LoadParamsInput, 'draftModel' | 'speculative' | SpecLimit> = {};
  if (typeof parsed.flags.draft === 'string') out.draftModel = path.resolve(parsed.flags.draft);
  if (typeof parsed.flags.speculative === 'string') out.speculative = parsed.flags.speculative as LoadParamsInput['speculative'];
  if (out.speculative === 'draft' && !out.draftModel) {
    throw new UsageError(`${spelling(parsed, 'speculative')} draft needs --draft FILE: a smaller model with the same vocabulary that drafts the tokens`);
  }
  for (const k of LIMITS) {
    const v = (LOAD_FIELDS[k].meta.kind === 'integer' ? intFlag : numFlag)(parsed, SPEC_LIMIT_FLAG_OF[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
