/** Context sizes: the default a load gets, the largest one asked for, and how llama.cpp rounds a request. */

/** The context a load gets when none is asked for: this many tokens, or the model's trained context if shorter. */
export const DEFAULT_CONTEXT_SIZE = 4096;
/** llama.cpp creates every context in whole multiples of this many tokens, rounding a request up (llama-context.cpp). */
export const CONTEXT_STEP = 256;
/** The largest context a load may ask for. */
export const MAX_CONTEXT_SIZE = 1 << 24;

/** The context a load of a model trained on `trained` tokens gets by default (an unknown 0 counts as long enough). */
export function defaultContextSize(trained: number): number {
  return Math.min(DEFAULT_CONTEXT_SIZE, trained || DEFAULT_CONTEXT_SIZE);
}

/** The context llama.cpp really creates for a requested size: rounded up to CONTEXT_STEP (0, the trained context, stays 0). */
export function contextSizeUsed(requested: number): number {
  return Math.ceil(requested / CONTEXT_STEP) * CONTEXT_STEP;
}
