/**
 * Waiting for a promise that others may share, with a way out: one rule for every layer (a reader
 * joining a header parse, a caller joining a host start or a model load).
 */

export interface UntilAbortedOptions {
  /** what the rejection carries; the signal's reason unless a layer has its own error (`aborted`) */
  reason?: () => unknown;
  /** runs once, before the rejection, when the signal aborts first (a waiter leaving a shared job) */
  onAbort?: () => void;
}

/**
 * `p`, or a rejection as soon as `signal` aborts (the listener is attached before this returns, so
 * an abort at any later moment counts; an already aborted signal rejects at once). `p` itself goes
 * on: others may be waiting for it, and its own rejection is then nobody's to handle here.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, opts: UntilAbortedOptions = {}): Promise<T> {
  if (!signal) return p;
  const reason = opts.reason ?? (() => signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      opts.onAbort?.();
      reject(reason());
    };
    if (signal.aborted) {
      p.catch(() => undefined);
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
