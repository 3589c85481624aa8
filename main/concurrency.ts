/**
 * A gate that runs at most `max` jobs at once (e.g. files read at once, so a long listing cannot
 * open every file together and run out of file handles): the others wait, in the order they came.
 */
export function concurrencyLimit(max: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    // a finished job hands its slot straight to the next one waiting (running stays as it is)
    if (running >= max) await new Promise<void>((start) => waiting.push(start));
    else running++;
    try {
      return await job();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
