/**
 * The longest the event loop went without a turn while something ran (a 5 ms interval's gaps): a wait that
 * holds the thread (SQLite's own busy wait) shows as one long gap; one made with timers does not.
 */
export async function longestStall<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; stallMs: number }> {
  let last = Date.now();
  let stallMs = 0;
  const tick = setInterval(() => {
    stallMs = Math.max(stallMs, Date.now() - last);
    last = Date.now();
  }, 5);
  const [result] = await Promise.allSettled([work()]);
  clearInterval(tick);
  stallMs = Math.max(stallMs, Date.now() - last);
  return { result, stallMs };
}
