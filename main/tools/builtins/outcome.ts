/**
 * What the built-ins answer, and how a tool says it failed: a ToolFailure is the tool's own failure
 * (the call answers it as an outcome with isError), anything else thrown is unexpected and is
 * answered the same way, named as such; only the caller's abort rejects the call (./index.ts).
 */
import type { ToolOutcome } from '../types';

/** The tool's own failure, with the text the model reads. */
export class ToolFailure extends Error {
  override readonly name = 'ToolFailure';
}

export function ok(text: string): ToolOutcome {
  return { text, isError: false };
}

export function failed(text: string): ToolOutcome {
  return { text, isError: true };
}

/** A thrown value as a short text (a fetch failure's cause, which says what went wrong, included). */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${e.message}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`.trim();
  }
  return e.message;
}
