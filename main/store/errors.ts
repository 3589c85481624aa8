/** Typed errors thrown by the store. Callers switch on `code`, never on message text. */
import type { StoreErrorCode } from '../errors/catalogue';

/** The catalogue's `store` codes (main/errors/catalogue.ts says what each means). */
export type { StoreErrorCode };

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: StoreErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    if (details) this.details = details;
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
