/**
 * The statistics the benches share (bench/common.ts): what their JSON figures rest on. (Their
 * command-line options: options.test.ts.)
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { inTurn, llamaBenchContext, median, medianInterval, MIN_INTERVAL_VALUES, orderMedians, scratch } from '../../bench/common';

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
    const xs = [1.05, 0.97, 1.01, 0.99, 1.02, 1.0].slice(0, MIN_INTERVAL_VALUES);
    const [lo, hi] = medianInterval(xs);
    expect(lo).toBeLessThanOrEqual(median(xs));
    expect(hi).toBeGreaterThanOrEqual(median(xs));
    expect(lo).toBeGreaterThanOrEqual(Math.min(...xs));
    expect(hi).toBeLessThanOrEqual(Math.max(...xs));
    expect(medianInterval(xs.slice(1))).toEqual([NaN, NaN]);
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
  test.each([[0], [NaN], [Infinity], [-1]])('a measure of %p ends it at once, naming the pair', async (bad) => {
    let calls = 0;
    const b = () => (++calls === 3 ? bad : 1);
    await expect(inTurn(4, () => 1, b)).rejects.toThrow(`pair 3: measure b gave ${bad}, not a positive number`);
    expect(calls).toBe(3);
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
  expect(JSON.stringify(orderMedians([]))).toBe('{"a_first":null,"b_first":null}');
});

test("llamaBenchContext: the test's tokens and the one ours samples, padded to llama-bench's 256", () => {
  expect(llamaBenchContext(1)).toBe(256);
  expect(llamaBenchContext(255)).toBe(256);
  expect(llamaBenchContext(256)).toBe(512); // a prompt of 256 fills llama-bench's 256: ours needs one more slot
  expect(llamaBenchContext(511)).toBe(512);
  expect(llamaBenchContext(512)).toBe(768);
  expect(llamaBenchContext(2062 + 23)).toBe(2304);
});

describe('scratch', () => {
  // Ctrl-C is a signal to this (jest's) process: emitted here, with process.exit replaced by a throwing
  // double (the process boundary)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-scratch-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a file released is kept; one released with remove is deleted', () => {
    const kept = path.join(dir, 'kept');
    const gone = path.join(dir, 'gone');
    fs.writeFileSync(kept, 'x');
    fs.writeFileSync(gone, 'x');
    scratch(kept)();
    scratch(gone)({ remove: true });
    expect(fs.existsSync(kept)).toBe(true);
    expect(fs.existsSync(gone)).toBe(false);
  });
  test('a signal (here Ctrl-C, SIGINT) removes the files still being written, then is raised again for its default', () => {
    const writing = path.join(dir, 'model.gguf.tmp-1');
    const done = path.join(dir, 'model.gguf');
    fs.writeFileSync(writing, 'x');
    fs.writeFileSync(done, 'x');
    scratch(writing);
    scratch(done)();
    // the signal raised again would end jest's worker: process.kill is a double here (the process boundary)
    const kill = jest.spyOn(process, 'kill').mockImplementation(() => true);
    try {
      expect(process.emit('SIGINT')).toBe(true);
      expect(kill).toHaveBeenCalledWith(process.pid, 'SIGINT');
    } finally {
      kill.mockRestore();
    }
    expect(fs.existsSync(writing)).toBe(false);
    expect(fs.existsSync(done)).toBe(true);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
  test('a real bench process: SIGTERM removes its scratch file and folder, and ends it by the signal', async () => {
    const file = path.join(dir, 'child.session');
    const folder = path.join(dir, 'child-data');
    fs.writeFileSync(file, 'x');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'db'), 'x');
    const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'run-ts.js'), path.join(__dirname, 'scratch-child.ts'), file, folder], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the child ended (${code}) before it was ready`)));
    });
    const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    child.kill('SIGTERM');
    expect(await ended).toEqual([null, 'SIGTERM']);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(folder)).toBe(false);
  }, 60_000);
});
