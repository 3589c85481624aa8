/**
 * A countdown that can be paused: the undo window of a deleted chat, held while the pointer is over
 * its toast or focus is in it. The clock is a parameter (like PieceBatcher's scheduler), so tests
 * can run it without waiting.
 */
export interface TimerClock {
  now(): number;
  set(cb: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realClock: TimerClock = {
  now: () => Date.now(),
  set: (cb, ms) => setTimeout(cb, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class PausableTimer {
  private handle: unknown = null;
  private startedAt = 0;
  private left: number;
  private done = false;

  constructor(
    ms: number,
    private readonly onExpire: () => void,
    private readonly clock: TimerClock = realClock,
  ) {
    this.left = ms;
    this.resume();
  }

  get paused(): boolean {
    return !this.done && this.handle === null;
  }

  /** ms left before it fires */
  get remaining(): number {
    return this.handle === null ? this.left : Math.max(0, this.left - (this.clock.now() - this.startedAt));
  }

  pause(): void {
    if (this.done || this.handle === null) return;
    this.left = this.remaining;
    this.clock.clear(this.handle);
    this.handle = null;
  }

  resume(): void {
    if (this.done || this.handle !== null) return;
    this.startedAt = this.clock.now();
    this.handle = this.clock.set(() => {
      this.done = true;
      this.handle = null;
      this.onExpire();
    }, this.left);
  }

  cancel(): void {
    if (this.handle !== null) this.clock.clear(this.handle);
    this.handle = null;
    this.done = true;
  }
}
