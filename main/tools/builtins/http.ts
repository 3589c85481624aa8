/**
 * HTTP for the web-reading built-ins: a time limit joined to the caller's signal, and a body read
 * from its stream up to a cap (what lies beyond is never read: the stream is cancelled, which closes
 * the connection).
 */
import { ToolFailure } from './outcome';

/** A built-in's HTTP work: the request's own time limit, in milliseconds. */
export const DEFAULT_HTTP_TIMEOUT_MS = 20_000;

/**
 * Runs `work` with a signal that aborts when the caller's does or when `timeoutMs` pass. The
 * caller's abort rejects with its reason (the call rejects); the time limit is a ToolFailure.
 */
export async function withTimeLimit<T>(signal: AbortSignal, timeoutMs: number, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const limit = new AbortController();
  const timer = setTimeout(() => limit.abort(new ToolFailure(`${what} timed out after ${Math.round(timeoutMs / 100) / 10} s`)), timeoutMs);
  try {
    return await work(AbortSignal.any([signal, limit.signal]));
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    if (limit.signal.aborted) throw limit.signal.reason;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

export interface CappedBody {
  bytes: Uint8Array;
  /** whether the body went on past the cap (and was not read further) */
  truncated: boolean;
}

/** The body's first `cap` bytes; the rest is not read. */
export async function readCapped(res: Response, cap: number): Promise<CappedBody> {
  if (!res.body) return { bytes: new Uint8Array(0), truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > cap) {
      chunks.push(value.subarray(0, cap - total));
      total = cap;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, truncated };
}

/** Drops a body we will not read (a redirect's, an error's), so its connection is freed. */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** The media type of a Content-Type header, lower case, without parameters ('' when none). */
export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** A Content-Type's charset parameter, if any. */
export function charsetOf(contentType: string | null): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m ? m[1] : null;
}

/** Bytes as text in `charset` (UTF-8 when it is missing or unknown to the decoder). */
export function decodeText(bytes: Uint8Array, charset: string | null): string {
  if (charset) {
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      // an unknown label: UTF-8 below
    }
  }
  return new TextDecoder('utf-8').decode(bytes);
}
