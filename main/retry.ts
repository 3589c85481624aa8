/**
 * Trying again while something else holds what an attempt needs (another process's SQLite lock, another
 * program's lease on a file): with timers, so the thread is never held, for a budget of time measured on
 * a monotonic clock. Used by main/store/busy.ts (whenUnlocked) and main/regular-file.ts (waitingForLease).
 */
import { setTimeout as wait } from 'timers/promises';

export interface RetryOptions {
  /** the failures worth waiting out; any other is thrown at once */
  transient: (e: unknown) => boolean;
  /** the most time tried in all; then the last failure is thrown */
  waitMs: number;
  /** the first pause, doubled after each try up to `maxMs` */
  firstMs: number;
  maxMs: number;
  /** ends the wait: its reason before a try, an AbortError during a pause */
  signal?: AbortSignal;
  /** default: performance.now (the wall clock set back would stretch the wait) */
  clock?: () => number;
}

/** `attempt`'s result, once it succeeds within the budget. */
export async function retryFor<T>(attempt: () => T | Promise<T>, opts: RetryOptions): Promise<T> {
  const clock = opts.clock ?? (() => performance.now());
  const started = clock();
  let pause = opts.firstMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (e) {
      if (!opts.transient(e) || clock() - started >= opts.waitMs) throw e;
    }
    await wait(Math.max(1, Math.min(pause, opts.waitMs - (clock() - started))), undefined, { signal: opts.signal });
    pause = Math.min(pause * 2, opts.maxMs);
  }
}
