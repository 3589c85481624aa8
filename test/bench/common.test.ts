/**
 * The statistics and options the benches share (bench/common.ts): what their JSON figures rest on.
 * intArg's refusal ends the process: process.exit is replaced by a throwing double (the process
 * boundary), and process.argv is set per case.
 */
import { inTurn, intArg, median, medianInterval, MIN_INTERVAL_VALUES, orderMedians } from '../../bench/common';

describe('median', () => {
  test('of an odd count, the middle value; of an even count, the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1.5])).toBe(1.5);
  });
  test('leaves its input in its order', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('medianInterval', () => {
  test(`none (NaN, null in JSON) from fewer than ${MIN_INTERVAL_VALUES} values`, () => {
    const [lo, hi] = medianInterval([1, 2, 3, 4, 5]);
    expect(Number.isNaN(lo) && Number.isNaN(hi)).toBe(true);
    expect(JSON.stringify(medianInterval([1, 2]))).toBe('[null,null]');
  });
  test('brackets the median, inside the values, the same for the same values', () => {
    const xs = Array.from({ length: 40 }, (_, i) => 0.95 + ((i * 37) % 40) / 400);
    const [lo, hi] = medianInterval(xs);
    expect(lo).toBeLessThanOrEqual(median(xs));
    expect(hi).toBeGreaterThanOrEqual(median(xs));
    expect(lo).toBeGreaterThan(Math.min(...xs));
    expect(hi).toBeLessThan(Math.max(...xs));
    expect(medianInterval(xs)).toEqual([lo, hi]);
  });
  test('narrows as the values agree', () => {
    const wide = Array.from({ length: 30 }, (_, i) => 1 + (i % 10) / 20);
    const narrow = wide.map((x) => 1 + (x - 1) / 10);
    const w = medianInterval(wide);
    const n = medianInterval(narrow);
    expect(n[1] - n[0]).toBeLessThan(w[1] - w[0]);
  });
});

describe('inTurn', () => {
  test('runs the two in turn, a first in even pairs and b first in odd ones, and pairs their results', async () => {
    const calls: string[] = [];
    let k = 0;
    const seen: [number, number, number][] = [];
    const [as, bs] = await inTurn(
      4,
      async () => {
        calls.push('a');
        return ++k;
      },
      () => {
        calls.push('b');
        return 100 + ++k;
      },
      (i, a, b) => seen.push([i, a, b]),
    );
    expect(calls).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
    expect(as).toEqual([1, 4, 5, 8]);
    expect(bs).toEqual([102, 103, 106, 107]);
    expect(seen).toEqual([
      [0, 1, 102],
      [1, 4, 103],
      [2, 5, 106],
      [3, 8, 107],
    ]);
  });
  test("a measure's error ends it", async () => {
    await expect(inTurn(3, () => 1, () => Promise.reject(new Error('llama-bench failed')))).rejects.toThrow('llama-bench failed');
  });
});

test("orderMedians: the pairs with a first (even) apart from those with b first (odd)", () => {
  expect(orderMedians([1.0, 0.9, 1.2, 0.8, 1.1, 0.7])).toEqual({ a_first: 1.1, b_first: 0.8 });
});

describe('intArg', () => {
  const argv = process.argv;
  let exit: jest.SpyInstance;
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    process.argv = argv;
    exit.mockRestore();
    stderr.mockRestore();
  });
  const withArgs = (...args: string[]) => {
    process.argv = ['node', 'bench', ...args];
  };

  test('the value given, or the fallback when absent', () => {
    withArgs('--reps', '40');
    expect(intArg('reps', 16, 1)).toBe(40);
    withArgs('--json');
    expect(intArg('reps', 16, 1)).toBe(16);
  });
  test.each([
    [['--reps', '0'], '--reps must be an integer from 1 up (got 0)'],
    [['--reps', '2.5'], '--reps must be an integer from 1 up (got 2.5)'],
    [['--reps', '--json'], '--reps must be an integer from 1 up (got --json)'],
    [['--reps'], '--reps must be an integer from 1 up (got nothing)'],
  ])('%j is refused by name, exit 2', (args, message) => {
    withArgs(...args);
    expect(() => intArg('reps', 16, 1)).toThrow('exit 2');
    expect(stderr).toHaveBeenCalledWith(`${message}\n`);
  });
  test('above the maximum is refused with the range', () => {
    withArgs('--pp', '4000');
    expect(() => intArg('pp', 512, 1, 2048)).toThrow('exit 2');
    expect(stderr).toHaveBeenCalledWith('--pp must be an integer from 1 to 2048 (got 4000)\n');
  });
});
