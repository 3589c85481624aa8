/**
 * The statistics and options the benches share (bench/common.ts): what their JSON figures rest on.
 * intArg's refusal ends the process: process.exit is replaced by a throwing double (the process
 * boundary), and process.argv is set per case.
 */
import { given, inTurn, intArg, llamaBenchContext, median, medianInterval, MIN_INTERVAL_VALUES, orderMedians, threadsArg } from '../../bench/common';

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
  test('of no values, or of a value that is not a finite number: an error, not NaN in the JSON', () => {
    expect(() => median([])).toThrow('the median of no values');
    expect(() => median([1, NaN, 2])).toThrow('not all finite');
    expect(() => median([1, Infinity])).toThrow('not all finite');
  });
});

describe('medianInterval', () => {
  test(`none (NaN, null in JSON) from fewer than ${MIN_INTERVAL_VALUES} values`, () => {
    const [lo, hi] = medianInterval([1, 2, 3, 4, 5]);
    expect(Number.isNaN(lo) && Number.isNaN(hi)).toBe(true);
    expect(JSON.stringify(medianInterval([1, 2]))).toBe('[null,null]');
  });
  test(`an interval from exactly ${MIN_INTERVAL_VALUES} values`, () => {
    const xs = [0.97, 0.99, 1.0, 1.01, 1.02, 1.05].slice(0, MIN_INTERVAL_VALUES);
    const [lo, hi] = medianInterval(xs);
    expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
    expect(lo).toBeLessThanOrEqual(hi);
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
  // one pair: no b-first side, NaN (null in the JSON), not an error
  const one = orderMedians([1.02]);
  expect(one.a_first).toBe(1.02);
  expect(JSON.stringify(one)).toBe('{"a_first":1.02,"b_first":null}');
});

test("llamaBenchContext: the test's tokens and the one ours samples, padded to llama-bench's 256", () => {
  expect(llamaBenchContext(511)).toBe(512);
  expect(llamaBenchContext(512)).toBe(768);
  expect(llamaBenchContext(2062 + 23)).toBe(2304);
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
  test('--name=VALUE as well as --name VALUE', () => {
    withArgs('--reps=40');
    expect(intArg('reps', 16, 1)).toBe(40);
    expect(given('reps')).toBe(true);
    withArgs('--reps-other', '3');
    expect(given('reps')).toBe(false);
    expect(intArg('reps', 16, 1)).toBe(16);
  });
  test('threadsArg: the fallback when absent, 1 to 512 when given', () => {
    withArgs();
    expect(threadsArg(3)).toBe(3);
    withArgs('--threads', '512');
    expect(threadsArg(3)).toBe(512);
    withArgs('--threads', '513');
    expect(() => threadsArg(3)).toThrow('exit 2');
    expect(stderr).toHaveBeenCalledWith('--threads must be an integer from 1 to 512 (got 513)\n');
  });
  test.each([
    [['--reps', '0'], '--reps must be an integer from 1 up (got 0)'],
    [['--reps', '2.5'], '--reps must be an integer from 1 up (got 2.5)'],
    [['--reps', '--json'], '--reps must be an integer from 1 up (got --json)'],
    [['--reps'], '--reps must be an integer from 1 up (got nothing)'],
    [['--reps='], '--reps must be an integer from 1 up (got )'],
    [['--reps', ''], '--reps must be an integer from 1 up (got )'],
    [['--reps', '0x10'], '--reps must be an integer from 1 up (got 0x10)'],
    [['--reps', '1e3'], '--reps must be an integer from 1 up (got 1e3)'],
    [['--reps', '99999999999999999999'], '--reps must be an integer from 1 up (got 99999999999999999999)'],
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
