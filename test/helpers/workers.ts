/**
 * The worker threads' bundles (scripts/build-ts.js WORKERS: dist/docs-*-worker.js) in tests: each built here when it
 * is missing or older than the sources it bundles, once per test file.
 */
import * as fs from 'fs';
import * as path from 'path';

const buildTs = require('../../scripts/build-ts.js') as { buildWorker(name: string): void; WORKERS: Record<WorkerName, { outfile: string }> };
export type WorkerName = 'extract' | 'index' | 'text';

const REPO = path.resolve(__dirname, '../..');
/** The folders and files each bundle comes from (its imports reach no further). */
const SOURCES: Record<WorkerName, string[]> = {
  extract: ['main/docs', 'main/params', 'main/tools/builtins/readable.ts', 'main/paths.ts', 'scripts/build-ts.js'],
  index: ['main/store', 'main/paths.ts', 'scripts/build-ts.js'],
  text: ['main/store', 'main/paths.ts', 'scripts/build-ts.js'],
};

function newestMtime(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

/** Where a worker's bundle is (not built). */
export const workerFile = (name: WorkerName): string => buildTs.WORKERS[name].outfile;

const checked = new Set<WorkerName>();
/** A worker's bundle, up to date with its sources. */
export function ensureWorker(name: WorkerName): string {
  const out = buildTs.WORKERS[name].outfile;
  if (checked.has(name)) return out;
  const built = fs.existsSync(out) ? fs.statSync(out).mtimeMs : -1;
  if (built < Math.max(...SOURCES[name].map((s) => newestMtime(path.join(REPO, s))))) buildTs.buildWorker(name);
  checked.add(name);
  return out;
}
