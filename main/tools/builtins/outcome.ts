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

interface ErrorLike {
  message: string;
  code?: unknown;
  cause?: unknown;
}

/** Whether a value looks like an Error (fetch's errors may come from another realm, where instanceof fails). */
function errorLike(e: unknown): e is ErrorLike {
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}

/** A thrown value as a short text (a fetch failure's cause, which says what went wrong, included). */
export function describeError(e: unknown): string {
  if (!errorLike(e)) return String(e);
  if (errorLike(e.cause)) {
    const code = e.cause.code;
    return `${e.message}: ${typeof code === 'string' && !e.cause.message.includes(code) ? `${code} ` : ''}${e.cause.message}`;
  }
  return e.message;
}
