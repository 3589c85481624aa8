/** Helpers for the store tests: temp folders, a controllable clock, a logger that records warnings. */
import { createHash } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Store, type StoreOptions } from '../../main/store';
import type { Logger } from '../../main/logging';
import { ensureWorker } from '../helpers/workers';
import { unitVector } from '../../bench/docs-store';

const dirs: string[] = [];

export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-store-test-'));
  dirs.push(d);
  return d;
}

export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** A clock that moves forward 1 ms at every read, so every write has a distinct time. */
export function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  const clock = () => ++t;
  clock.advance = (ms: number) => { t += ms; };
  clock.peek = () => t;
  return clock;
}

export interface RecordingLogger extends Logger {
  warnings: { msg: string; meta?: Record<string, unknown> }[];
  infos: string[];
}

export function recordingLogger(): RecordingLogger {
  const warnings: RecordingLogger['warnings'] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    debug: () => {},
    info: (msg) => { infos.push(msg); },
    warn: (msg, meta) => { warnings.push({ msg, meta }); },
    error: (msg, meta) => { warnings.push({ msg, meta }); },
  };
}

/** dist/docs-index-worker.js (the store's default vector index builder), up to date with its sources. */
export const ensureIndexWorker = (): string => ensureWorker('index');

const open: Store[] = [];

/** Opens a store in a fresh temp folder (or at `file`); closed by closeStores(). Its vector index is built in the bundled worker. */
export function openStore(opts: StoreOptions & { file?: string } = {}): Store {
  ensureIndexWorker();
  ensureWorker('text');
  const file = opts.file ?? path.join(tmpDir(), 'hearth.db');
  const s = Store.open(file, { clock: fakeClock(), ...opts });
  open.push(s);
  return s;
}

export function closeStores(): void {
  for (const s of open.splice(0)) s.close();
}

/** Expects `fn` to throw a StoreError with `code`. */
export function expectCode(fn: () => unknown, code: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as { name?: string }).name).toBe('StoreError');
  expect((err as { code?: string }).code).toBe(code);
}

export const FIXTURES = path.resolve(__dirname, '../fixtures/store');

/** A document's content hash as the store keys it (sha-256, hex), of any text. */
export const hashOf = (s: string): string => createHash('sha256').update(s).digest('hex');

/** `q` moved a little (distance ~ eps² / 2) in a random direction, length 1. */
export function near(rand: () => number, q: Float32Array, eps: number): Float32Array {
  const noise = unitVector(rand, q.length);
  const v = q.map((x, i) => x + eps * noise[i]);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
