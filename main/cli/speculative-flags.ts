/**
 * Speculative decoding's options of `hearth run`, as llama-server spells them: --draft FILE,
 * --speculative KIND, and one option per numeric limit (the draft model's --draft-max, --draft-min and
 * --draft-p-min; the n-gram kinds' --spec-ngram-*). The limits' ranges and defaults are the load
 * family's (main/params/load.ts); the engine checks them, naming the option (FLAG_OF).
 */
import path from 'path';
import { LOAD_FIELDS, type LoadParamsInput } from '../params';
import { intFlag, numFlag, type ParsedArgs, spelling, UsageError } from './args';

/** Each numeric limit of speculative decoding and the option that sets it (llama-server's name). */
export const SPEC_LIMIT_FLAG_OF = {
  draftMax: 'draft-max',
  draftMin: 'draft-min',
  draftPMin: 'draft-p-min',
  ngramSizeN: 'spec-ngram-size-n',
  ngramSizeM: 'spec-ngram-size-m',
  ngramMinHits: 'spec-ngram-min-hits',
  ngramModMatch: 'spec-ngram-mod-n-match',
  ngramModMax: 'spec-ngram-mod-n-max',
  ngramModMin: 'spec-ngram-mod-n-min',
} as const satisfies Partial<Record<keyof typeof LOAD_FIELDS, string>>;
type SpecLimit = keyof typeof SPEC_LIMIT_FLAG_OF;
const LIMITS = Object.keys(SPEC_LIMIT_FLAG_OF) as SpecLimit[];

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
