/**
 * What the engine benches share (bench/engine.ts, api.ts, rpc.ts, threads.ts, …): the model to
 * measure (given, or generated and quantized once), llama.cpp's tools of the same build, and the
 * statistics of paired runs.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { projectRoot } from '../main/paths';
import { splitmix32, TEST_MODEL_SIZES, writeTestModel, type TestModelPooling, type TestModelSize } from '../scripts/make-test-model';
import { arg, choiceArg, refuse } from './options';

export const root = projectRoot();

export const log = (s: string) => process.stderr.write(s + '\n');

const scratchFiles = new Set<string>();
let scratchHandlers = false;
/**
 * `file` (or folder) is written for a while (a model being written, a saved session, a temporary data
 * folder): it is removed however the bench ends, Ctrl-C (SIGINT), SIGTERM and SIGHUP included, unless the
 * returned function is called first (it takes it off the list; `remove: true` deletes it too). A signal
 * is handled once the event loop is free (after a llama-bench run, say), then raised again, so the bench
 * ends as the signal's default would have ended it.
 */
export function scratch(file: string): (opts?: { remove?: boolean }) => void {
  if (!scratchHandlers) {
    scratchHandlers = true;
    const removeAll = () => {
      for (const f of scratchFiles) fs.rmSync(f, { recursive: true, force: true });
      scratchFiles.clear();
    };
    process.on('exit', removeAll);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        removeAll();
        process.kill(process.pid, signal); // no listener now: the signal's default
      });
    }
  }
  scratchFiles.add(file);
  return ({ remove = false } = {}) => {
    scratchFiles.delete(file);
    if (remove) fs.rmSync(file, { recursive: true, force: true });
  };
}
/** The median (of an even count, the mean of the two middle values). None of nothing, or of a value that is not a finite number: an error. */
export function median(xs: number[]): number {
  if (!xs.length) throw new Error('the median of no values');
  if (!xs.every(Number.isFinite)) throw new Error(`the median of values that are not all finite numbers (${xs.join(', ')})`);
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Fewer values than this give no interval: a bootstrap of so few cannot reach 95% (of 5, its bounds are the extremes). */
export const MIN_INTERVAL_VALUES = 6;

/**
 * A 95% interval for the median of `xs` by bootstrap (2,000 resamples, a fixed-seed PRNG so the same
 * pairs give the same interval): how far the median ratio could move on this machine's noise.
 */
export function medianInterval(xs: number[], resamples = 2000): [number, number] {
  if (xs.length < MIN_INTERVAL_VALUES) return [NaN, NaN]; // null in the JSON
  const next = splitmix32(1);
  const medians: number[] = [];
  for (let r = 0; r < resamples; r++) medians.push(median(xs.map(() => xs[Math.floor((next() / 0x100000000) * xs.length)])));
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(resamples * 0.025)], medians[Math.floor(resamples * 0.975)]];
}

/**
 * `n` pairs of two measures of the same work, the two in turn (`a` first in even pairs, `b` first in odd
 * ones), so a ratio taken pair by pair holds when the machine's speed drifts. `each` sees every pair. A
 * measure that is not a positive finite number (a rate of nothing, a time of zero) ends it at once, naming
 * the pair, rather than when the figures are reckoned at the end of a long run.
 */
export async function inTurn(
  n: number,
  a: () => number | Promise<number>,
  b: () => number | Promise<number>,
  each?: (i: number, a: number, b: number) => void,
): Promise<[number[], number[]]> {
  const as: number[] = [];
  const bs: number[] = [];
  const measured = async (side: 'a' | 'b', i: number, measure: () => number | Promise<number>) => {
    const x = await measure();
    if (!(Number.isFinite(x) && x > 0)) throw new Error(`pair ${i + 1}: measure ${side} gave ${x}, not a positive number`);
    return x;
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      as.push(await measured('a', i, a));
      bs.push(await measured('b', i, b));
    } else {
      bs.push(await measured('b', i, b));
      as.push(await measured('a', i, a));
    }
    each?.(i, as[i], bs[i]);
  }
  return [as, bs];
}

/** The median of the ratios of `inTurn`'s pairs with `a` first (even pairs) and with `b` first (odd ones): an order effect shows as a gap. */
export function orderMedians(ratios: number[]): { a_first: number; b_first: number } {
  const of = (xs: number[]) => (xs.length ? median(xs) : NaN); // a side with no pair (of one pair): NaN, null in the JSON
  return { a_first: of(ratios.filter((_, i) => i % 2 === 0)), b_first: of(ratios.filter((_, i) => i % 2 === 1)) };
}

/**
 * The context ours runs a llama-bench test of `tokens` in (depth + p + n): llama-bench's own (padded to 256)
 * with one more slot, since the engine, as llama-server, refuses a prompt that fills the context. Where
 * `tokens` is a multiple of 256 (pp512) that is 256 more than llama-bench's.
 */
export const llamaBenchContext = (tokens: number) => Math.ceil((tokens + 1) / 256) * 256;

/** A llama.cpp tool of the same build (llama-bench, llama-quantize, llama-server), built on first use. */
export function ensureTool(name: string): string {
  const bin = path.join(root, 'build', 'bin', name);
  if (!fs.existsSync(bin)) {
    log(`building ${name} from the same llama.cpp tree`);
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.js'), '--target', name], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error(`building ${name} failed`);
  }
  return bin;
}

/**
 * The type a generated model of each size is measured in without --type: F16, but `fast` is a small
 * model as people run it, Q8_0 (llama-quantize from the same tree).
 */
export const DEFAULT_BENCH_TYPE: Readonly<Record<TestModelSize, string>> = { tiny: 'f16', fast: 'q8_0', bench: 'f16', '1b': 'f16' };

/** A generated bench model: its size, its llama-quantize type, and the writer's variants (scripts/make-test-model). */
export interface GeneratedModel {
  size: TestModelSize;
  type: string;
  /** an embedding model of that pooling */
  pooling?: Exclude<TestModelPooling, 'none'>;
  /** layers that write little into the residual stream */
  residualScale?: number;
  /** fewer layers than the size has: the size's first layers and its embeddings (the same seed) */
  blockCount?: number;
}

/**
 * The model to measure: --model, or a generated one of --size (default `bench`, or `defaults.size`), quantized
 * to --type (default `defaults.type`, else {@link DEFAULT_BENCH_TYPE}) with llama-quantize on `threads` threads.
 */
export async function ensureModel(threads: number, defaults: Partial<GeneratedModel> = {}): Promise<string> {
  const given = arg('model');
  if (given !== undefined) {
    if (arg('size') !== undefined || arg('type') !== undefined) refuse('--model and --size/--type exclude each other');
    if (!fs.existsSync(given)) refuse(`--model ${given}: no such file`);
    return path.resolve(given);
  }
  const size = sizeArg(defaults.size ?? 'bench');
  const type = arg('type') ?? defaults.type ?? DEFAULT_BENCH_TYPE[size];
  return generatedModel(threads, { ...defaults, size, type });
}

/** --size, checked; `fallback` without it. */
export function sizeArg(fallback: TestModelSize): TestModelSize {
  return choiceArg('size', fallback, TEST_MODEL_SIZES);
}

/** `spec`'s model: written in F16 once under test-output/models, quantized to its type once, then reused. */
export async function generatedModel(threads: number, spec: GeneratedModel): Promise<string> {
  const { size, pooling = 'none', residualScale = 1, blockCount } = spec;
  const type = quantType(spec.type);
  const dir = path.join(root, 'test-output', 'models');
  const variant = `${pooling === 'none' ? '' : `-embed-${pooling}`}${residualScale < 1 ? `-rs${residualScale}` : ''}${blockCount ? `-L${blockCount}` : ''}`;
  const f16 = path.join(dir, `${size === 'bench' ? 'bench' : `bench-${size}`}${variant}.gguf`);
  await writeOnce(f16, `the ${size} model`, (tmp) => writeTestModel({ out: tmp, size, vocab: 'llama-spm', seed: 1, pooling, residualScale, blockCount }));
  return quantized(f16, type, threads);
}

/**
 * `file`, written by `write` (given a temporary name beside it, renamed once whole, removed if the bench
 * ends meanwhile) unless it exists; `what` names it in the log.
 */
export async function writeOnce(file: string, what: string, write: (tmp: string) => Promise<unknown>): Promise<void> {
  if (fs.existsSync(file)) return;
  log(`writing ${what} to ${file}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const release = scratch(tmp);
  await write(tmp);
  fs.renameSync(tmp, file);
  release();
}

/** A --type, lower-cased, checked to be a name llama-quantize could take (before any model is written). */
export function quantType(given: string): string {
  const type = given.toLowerCase();
  if (!/^[a-z0-9_]+$/.test(type)) throw new Error(`--type ${type}: a llama-quantize type such as q8_0, q4_0 or q4_k_m`);
  return type;
}

/** `f16` quantized to `type` (quantType) with llama-quantize on `threads` threads, beside it, once (then reused); F16: itself. */
export function quantized(f16: string, given: string, threads: number): string {
  const type = quantType(given);
  if (type === 'f16') return f16;
  const out = f16.replace(/\.gguf$/, `-${type}.gguf`);
  if (!fs.existsSync(out)) {
    log(`quantizing it to ${type.toUpperCase()}: ${out}`);
    const tmp = `${out}.tmp-${process.pid}`;
    const release = scratch(tmp);
    const r = spawnSync(ensureTool('llama-quantize'), [f16, tmp, type.toUpperCase(), String(threads)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      release({ remove: true });
      throw new Error(`llama-quantize ${type.toUpperCase()} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
    }
    fs.renameSync(tmp, out);
    release();
  }
  return out;
}
