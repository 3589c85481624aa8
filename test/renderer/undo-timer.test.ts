/** PausableTimer (the delete undo window) on a clock the test moves by hand. */
import { PausableTimer, TimerClock } from '../../renderer/src/features/threads/undoTimer';

function manualClock() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; cb: () => void }>();
  const clock: TimerClock = {
    now: () => now,
    set: (cb, ms) => (timers.set(next, { at: now + ms, cb }), next++),
    clear: (h) => void timers.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [h, t] of [...timers]) if (t.at <= now) (timers.delete(h), t.cb());
  };
  return { clock, advance, pending: () => timers.size };
}

test('fires after its time, not counting the time it was paused', () => {
  const { clock, advance } = manualClock();
  let fired = 0;
  const t = new PausableTimer(5000, () => fired++, clock);
  advance(3000);
  t.pause();
  expect(t.paused).toBe(true);
  expect(t.remaining).toBe(2000);
  advance(60_000);
  expect(fired).toBe(0);
  t.resume();
  advance(1999);
  expect(fired).toBe(0);
  advance(1);
  expect(fired).toBe(1);
  // done: resume and pause do nothing more
  t.resume();
  advance(10_000);
  expect(fired).toBe(1);
});

test('pausing twice or resuming twice is one pause or one resume; cancel never fires', () => {
  const { clock, advance, pending } = manualClock();
  let fired = 0;
  const t = new PausableTimer(1000, () => fired++, clock);
  t.resume();
  expect(pending()).toBe(1);
  advance(400);
  t.pause();
  t.pause();
  expect(t.remaining).toBe(600);
  t.resume();
  t.cancel();
  expect(pending()).toBe(0);
  advance(5000);
  expect(fired).toBe(0);
});
