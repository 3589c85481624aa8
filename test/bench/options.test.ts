/**
 * The benches' command-line options (bench/options.ts): a bad command line ends a bench before it
 * measures anything. The refusal ends the process: process.exit is replaced by a throwing double (the
 * process boundary), and the arguments are given to useOptions per case.
 */
import os from 'os';
import { arg, choiceArg, flag, intArg, intListArg, MODEL_OPTIONS, threadsArg, useOptions } from '../../bench/options';

const KINDS = { ...MODEL_OPTIONS, json: 'flag', reps: 'value', threads: 'value', fa: 'value', chunks: 'value' } as const;

let exit: jest.SpyInstance;
let stderr: jest.SpyInstance;
beforeEach(() => {
  exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    throw new Error(`exit ${code}`);
  }) as never);
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  exit.mockRestore();
  stderr.mockRestore();
});
const use = (...args: string[]) => useOptions('bench:test', KINDS, args);
/** The bench ends (exit 2) with a message containing `message`. */
const refused = (run: () => unknown, message: string) => {
  expect(run).toThrow('exit 2');
  expect(String(stderr.mock.calls.at(-1)?.[0])).toContain(message);
};

describe('the command line', () => {
  test('--name VALUE, --name=VALUE and flags', () => {
    use('--reps', '40', '--json', '--model=/m.gguf');
    expect(intArg('reps', 16, 1)).toBe(40);
    expect(flag('json')).toBe(true);
    expect(arg('model')).toBe('/m.gguf');
    expect(arg('size')).toBeUndefined();
    use();
    expect(flag('json')).toBe(false);
    expect(intArg('reps', 16, 1)).toBe(16);
  });
  test.each([
    [['--rep', '3'], "Unknown option '--rep'"],
    [['--reps'], "Option '--reps <value>' argument missing"],
    [['--reps', '--json'], "Option '--reps' argument is ambiguous. Did you forget to specify the option argument for '--reps'? To specify an option argument starting with a dash use '--reps=-XYZ'."],
    [['--reps='], '--reps needs a value'],
    [['--model', ''], '--model needs a value'],
    [['--reps', '4', '--reps', '40'], '--reps is given 2 times'],
    [['--json=1'], "Option '--json' does not take an argument"],
    [['--json', '--json'], '--json is given 2 times'],
    [['stray'], "Unexpected argument 'stray'"],
  ])('%j is refused by name, exit 2, before anything is read', (args, message) => {
    refused(() => use(...args), `bench:test: ${message}`);
  });
  test('an unknown option lists the options the bench takes', () => {
    refused(() => use('--rep', '3'), '(its options: --model VALUE, --size VALUE, --type VALUE, --json, --reps VALUE');
  });
  test("reading an option the bench did not declare, or as the wrong kind, is the bench's bug", () => {
    use();
    expect(() => arg('offload')).toThrow('bench:test reads --offload as a value, which it does not declare');
    expect(() => flag('reps')).toThrow('bench:test reads --reps as a flag');
  });
});

test('useOptions reads the command line by default (its arguments after the script)', () => {
  const argv = process.argv;
  process.argv = ['node', '/x/.cache/run/bench_engine.js', '--reps', '7'];
  try {
    useOptions('bench:test', KINDS);
    expect(intArg('reps', 16, 1)).toBe(7);
  } finally {
    process.argv = argv;
  }
});

describe('intArg', () => {
  test.each([
    [['--reps', '0'], '--reps must be an integer from 1 up (got 0)'],
    [['--reps', '2.5'], '--reps must be an integer from 1 up (got 2.5)'],
    [['--reps', '0x10'], '--reps must be an integer from 1 up (got 0x10)'],
    [['--reps', '1e3'], '--reps must be an integer from 1 up (got 1e3)'],
    [['--reps', ' 3'], '--reps must be an integer from 1 up (got  3)'],
    [['--reps=-3'], '--reps must be an integer from 1 up (got -3)'],
    [['--reps=abc'], '--reps must be an integer from 1 up (got abc)'],
    [['--reps', '99999999999999999999'], '--reps must be an integer from 1 up (got 99999999999999999999)'],
  ])('%j is refused by name, exit 2', (args, message) => {
    use(...args);
    refused(() => intArg('reps', 16, 1), message);
  });
  test('above the maximum is refused with the range', () => {
    use('--reps', '4000');
    refused(() => intArg('reps', 16, 1, 2048), '--reps must be an integer from 1 to 2048 (got 4000)');
  });
  test('threadsArg: the cores (at most 4) or the fallback when absent, 1 to 512 when given', () => {
    use();
    const cpus = jest.spyOn(os, 'cpus');
    try {
      for (const [cores, threads] of [[1, 1], [2, 2], [4, 4], [16, 4]]) {
        cpus.mockReturnValue(new Array(cores).fill(os.cpus()[0]));
        expect(threadsArg()).toBe(threads);
      }
    } finally {
      cpus.mockRestore();
    }
    expect(threadsArg(2)).toBe(2);
    use('--threads', '512');
    expect(threadsArg(2)).toBe(512);
    use('--threads', '513');
    refused(() => threadsArg(2), '--threads must be an integer from 1 to 512 (got 513)');
  });
});

test('intListArg: integers separated by commas, each in range', () => {
  use('--chunks', '100,2000');
  expect(intListArg('chunks', [10], 1)).toEqual([100, 2000]);
  use();
  expect(intListArg('chunks', [10], 1)).toEqual([10]);
  use('--chunks', 'none');
  expect(intListArg('chunks', [10], 1)).toEqual([]);
  for (const bad of ['100,', '1,x', '0,5', '1e3', '5,5']) {
    use('--chunks', bad);
    refused(() => intListArg('chunks', [10], 1), `--chunks must be different integers from 1 up, separated by commas, or none (got ${bad})`);
  }
});

test('choiceArg: one of the choices, or the fallback', () => {
  use('--fa', 'on');
  expect(choiceArg('fa', 'auto', ['auto', 'on', 'off'])).toBe('on');
  use();
  expect(choiceArg('fa', 'auto', ['auto', 'on', 'off'])).toBe('auto');
  use('--fa', 'x');
  refused(() => choiceArg('fa', 'auto', ['auto', 'on', 'off']), '--fa must be one of auto, on, off (got x)');
});
