/**
 * One loaded model's KV cache slots (its context's sequences), as llama-server keeps them: each slot
 * has an explicit state (idle or busy) and remembers the conversation it last held, and one queue
 * holds the requests waiting for a slot. A request takes the idle slot whose conversation shares the
 * longest prefix with its own (the engine then evaluates only the new tokens: native/src/generation.cpp
 * reuses the longest common prefix of a sequence) when the request continues at least half of what
 * that slot holds, else the least recently used one; past the queue
 * limit it is refused with 429 at once, never dropped.
 */
import { ApiError } from './errors';

export type SlotState = 'idle' | 'busy';

export interface Slot {
  /** the sequence (engine `seq`) */
  readonly id: number;
  state: SlotState;
  /** the conversation (prompt key) it holds, '' when empty */
  key: string;
  /** when it was last released (ms) */
  usedAt: number;
}

interface Waiter {
  key: string;
  resolve: (s: Slot) => void;
  reject: (e: Error) => void;
}

/** Characters two keys share from the start. */
export function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * A slot is taken for its cache when the request continues at least this share of the conversation it
 * holds; below it the least recently used slot is taken, so a conversation that only shares a system
 * prompt with another does not evict that one's cache, while a follow-up whose new part (a pasted file,
 * a tool result) is longer than the history still finds its slot. (llama-server compares the shared part
 * with the new prompt instead, at 0.1; that sends such a follow-up elsewhere, or lets a shared system
 * prompt evict a cache.)
 */
export const PREFIX_SIMILARITY = 0.5;

/** How long a refused client is asked to wait before trying again, in seconds. */
export const RETRY_AFTER_S = 1;

/** The answer to a request past the queue: 429, with when to try again. */
export function busyError(running: number, waiting: number): ApiError {
  return new ApiError(429, 'busy', `the model is busy: ${running} requests are running and ${waiting} waiting; try again shortly`, null, RETRY_AFTER_S);
}

export class SlotPool {
  readonly slots: Slot[];
  private readonly queue: Waiter[] = [];
  private tick = 0;

  /** `queueLimit`: a number, or read at each request (a changed setting applies at once) */
  constructor(
    count: number,
    private readonly queueLimit: number | (() => number),
    private readonly now: () => number = Date.now,
  ) {
    this.slots = Array.from({ length: count }, (_, id) => ({ id, state: 'idle' as SlotState, key: '', usedAt: 0 }));
  }

  get busy(): number {
    return this.slots.filter((s) => s.state === 'busy').length;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** How many requests may wait (queueLimit, read now). */
  get limit(): number {
    return typeof this.queueLimit === 'number' ? this.queueLimit : this.queueLimit();
  }

  /**
   * The idle slot for `key` (null: none idle): one whose whole conversation `key` continues (the
   * longest such), else an empty one (nothing to evict), else the longest shared prefix among slots
   * whose conversation `key` continues by at least PREFIX_SIMILARITY, else the least recently used.
   */
  private pick(key: string): Slot | null {
    let best: Slot | null = null;
    let bestLen = 0;
    let whole: Slot | null = null;
    let empty: Slot | null = null;
    let lru: Slot | null = null;
    for (const s of this.slots) {
      if (s.state !== 'idle') continue;
      if (!s.key) empty ??= s;
      const len = s.key ? commonPrefix(s.key, key) : 0;
      if (s.key && len === s.key.length && (!whole || len > whole.key.length)) whole = s;
      if (len > bestLen && len >= s.key.length * PREFIX_SIMILARITY) [best, bestLen] = [s, len];
      if (!lru || s.usedAt < lru.usedAt) lru = s;
    }
    return whole ?? empty ?? best ?? lru;
  }

  private take(s: Slot, key: string): Slot {
    s.state = 'busy';
    s.key = key;
    return s;
  }

  /**
   * A slot for a request whose conversation is `key`: at once when one is idle, else in order once
   * one frees up. Refused (429) when the queue is full; `signal` withdraws a waiting request.
   */
  acquire(key: string, signal?: AbortSignal): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(new ApiError(499, 'aborted', 'the client went away'));
    const s = this.queue.length === 0 ? this.pick(key) : null;
    if (s) return Promise.resolve(this.take(s, key));
    if (this.queue.length >= this.limit) return Promise.reject(busyError(this.slots.length, this.queue.length));
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { key, resolve, reject };
      this.queue.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(new ApiError(499, 'aborted', 'the client went away'));
          }
        },
        { once: true },
      );
    });
  }

  /** Gives a slot back (`key`: what it holds now; '' when its cache was cleared) and hands it to the next waiter. */
  release(slot: Slot, key = slot.key): void {
    slot.state = 'idle';
    slot.key = key;
    slot.usedAt = this.now() + ++this.tick / 1e6;
    const w = this.queue.shift();
    if (w) w.resolve(this.take(this.pick(w.key) ?? slot, w.key));
  }

  /** Refuses every waiting request (the model is going away). */
  drain(e: Error): void {
    for (const w of this.queue.splice(0)) w.reject(e);
  }
}
