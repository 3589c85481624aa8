/** Typed errors thrown by the store. Callers switch on `code`, never on message text. */

export type StoreErrorCode =
  | 'not_found'        // a well-formed id that names nothing
  | 'invalid_input'    // malformed id, bad value, violated invariant
  | 'too_large'        // content, title or file over its limit
  | 'newer_schema'     // database written by a newer Hearth; refused, left untouched
  | 'invalid_database' // not a SQLite file, or not a Hearth database
  | 'import_failed'    // import file unreadable or malformed; nothing was imported
  | 'closed'           // the store was closed (or a streamed reply already finished)
  | 'busy'             // the database stayed locked by another connection through every retry
  | 'write_failed';    // a write failed for good (SQLITE_FULL, an I/O error…)

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
