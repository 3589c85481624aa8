/** Lenient JSON column decoding: a corrupt stored value is logged and replaced, never thrown at the UI. */
import type { z } from 'zod';
import type { Logger } from '../logging';

/**
 * `raw` parsed and checked against `schema`; `fallback` when absent, or (with a warning naming `meta`) when
 * corrupt or invalid. `salvage`: what can be kept of a value that parses as JSON but not as a whole (null:
 * nothing; `dropped` names what was left out, `shelved` what was put aside as stored, for the warning).
 */
export function decodeJson<S extends z.ZodTypeAny>(
  raw: string | null | undefined, schema: S, fallback: z.output<S>, logger: Logger, meta: Record<string, unknown>,
  salvage?: (value: unknown) => { value: z.output<S>; dropped: string[]; shelved?: string[] } | null,
): z.output<S> {
  if (raw === null || raw === undefined || raw === '') return fallback;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    logger.warn('store: corrupt JSON value replaced by its default', meta);
    return fallback;
  }
  // a check that throws (a value nested past the stack) is an invalid value like any other
  let r: ReturnType<S['safeParse']>;
  let kept: ReturnType<NonNullable<typeof salvage>> = null;
  try {
    r = schema.safeParse(value) as ReturnType<S['safeParse']>;
    if (r.success) return r.data;
    kept = salvage?.(value) ?? null;
  } catch (e) {
    logger.warn('store: invalid stored value replaced by its default', { ...meta, issue: (e as Error).message });
    return fallback;
  }
  if (kept) {
    logger.warn('store: invalid stored value partly kept', { ...meta, issue: r.error.issues[0]?.message, dropped: kept.dropped, ...(kept.shelved?.length ? { shelved: kept.shelved } : {}) });
    return kept.value;
  }
  logger.warn('store: invalid stored value replaced by its default', { ...meta, issue: r.error.issues[0]?.message });
  return fallback;
}

export function encodeJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
