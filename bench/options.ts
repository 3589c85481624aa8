/**
 * The benches' command-line options. Each bench declares the options it takes (`useOptions`), and the
 * command line is read against them once, by Node's own parser (`util.parseArgs`, strict): `--name VALUE`
 * or `--name=VALUE`, a flag alone. An unknown option, a value missing (`--reps`, `--reps --json`, `--reps=`)
 * or given twice, a flag given a value, a stray argument, or a value out of its range ends the bench before
 * it measures anything (exit 2), with a message naming the option.
 */
import os from 'os';
import { parseArgs } from 'util';

/** A bench's options: each name (without `--`) and whether it takes a value or is a flag. */
export type OptionKinds = Readonly<Record<string, 'value' | 'flag'>>;

let declared: { bench: string; kinds: OptionKinds; values: Record<string, string | boolean> } | undefined;

/** Ends the bench with `message` (exit 2: its command line is wrong). */
export function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** Reads `argv` (the command line's arguments) against `bench`'s options; the readers below read what it found. */
export function useOptions(bench: string, kinds: OptionKinds, argv: string[] = process.argv.slice(2)): void {
  const options = Object.fromEntries(Object.entries(kinds).map(([name, kind]) => [name, { type: kind === 'flag' ? ('boolean' as const) : ('string' as const), multiple: true }]));
  const list = Object.entries(kinds)
    .map(([name, kind]) => (kind === 'flag' ? `--${name}` : `--${name} VALUE`))
    .join(', ');
  let parsed: Record<string, (string | boolean)[] | undefined>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof parsed;
  } catch (e) {
    // Node's message names the option (and gives its own advice for a value that starts with a dash)
    refuse(`${bench}: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (its options: ${list})`);
  }
  const values: Record<string, string | boolean> = {};
  for (const [name, given] of Object.entries(parsed)) {
    if (!given?.length) continue;
    if (given.length > 1) refuse(`${bench}: --${name} is given ${given.length} times`);
    if (given[0] === '') refuse(`${bench}: --${name} needs a value`);
    values[name] = given[0];
  }
  declared = { bench, kinds, values };
}

/** What the command line gave `--name` (undefined: not given); reading an option the bench did not declare is the bench's bug. */
function read(name: string, kind: 'value' | 'flag'): string | boolean | undefined {
  if (!declared) throw new Error(`--${name} is read before the bench declared its options (useOptions)`);
  if (declared.kinds[name] !== kind) throw new Error(`${declared.bench} reads --${name} as a ${kind}, which it does not declare`);
  return declared.values[name];
}

/** The value of `--name` (undefined when not given). */
export function arg(name: string): string | undefined {
  return read(name, 'value') as string | undefined;
}

/** Whether the flag `--name` is given. */
export function flag(name: string): boolean {
  return read(name, 'flag') === true;
}

/** "from 1 up", "from 1 to 2048" */
const range = (min: number, max: number) => `from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`;

/** `--name N`: an integer from `min` to `max` (absent: `fallback`). */
export function intArg(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = arg(name);
  // decimal digits only (Number() would take "0x10", "1e3" or " 3")
  const n = text === undefined ? fallback : /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    refuse(`--${name} must be an integer ${range(min, max)} (got ${text})`);
  }
  return n;
}

/** `--name A,B,…`: different integers each from `min` to `max`, or `none` (absent: `fallback`). */
export function intListArg(name: string, fallback: readonly number[], min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const text = arg(name);
  if (text === undefined) return [...fallback];
  if (text === 'none') return [];
  const items = text.split(',');
  if (!items.every((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max) || new Set(items.map(Number)).size < items.length) {
    refuse(`--${name} must be different integers ${range(min, max)}, separated by commas, or none (got ${text})`);
  }
  return items.map(Number);
}

/** `--name X`: one of `choices` (absent: `fallback`). */
export function choiceArg<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
  const text = arg(name);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) refuse(`--${name} must be one of ${choices.join(', ')} (got ${text})`);
  return text as T;
}

/** `--threads N`, 1 to 512: absent, `fallback` (the machine's cores, at most 4). */
export function threadsArg(fallback = Math.max(1, Math.min(os.cpus().length, 4))): number {
  return intArg('threads', fallback, 1, 512);
}

/** The options every bench of a model takes: the model given, or the generated one's size and type. */
export const MODEL_OPTIONS = { model: 'value', size: 'value', type: 'value' } as const satisfies OptionKinds;
