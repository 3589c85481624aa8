/**
 * Native lifetimes, in a plain Node process with the addon (test/fixtures/native-lifetime.js, run with
 * --expose-gc): dispose() frees a model's weights and a context's memory at once, while their JS
 * wrappers are still referenced (no collection needed, none possible), and their finalizers later do
 * nothing more; a context collected without dispose() while its worker is in a decode that ignores
 * aborts (a test hook holds it, as a GPU backend would) never blocks the JS thread.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { writeTestModel } from '../../scripts/make-test-model';
import { ADDON, tempDir } from '../helpers/engine';
import { REPO_ROOT, TEST_MODELS_DIR, TINY_SPM } from '../helpers/models';

const CHILD = path.join(REPO_ROOT, 'test', 'fixtures', 'native-lifetime.js');
const BIG = path.join(TEST_MODELS_DIR, 'bench.gguf');

function runChild(args: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--expose-gc', CHILD, ADDON, ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '', ...env },
  });
  if (r.status !== 0) throw new Error(`child ended with ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

test('dispose() gives a model’s and a context’s memory back at once, with their wrappers still referenced', async () => {
  // the bench-size model (~270 MB) without mmap: its weights are in the process's RSS while loaded
  if (!fs.existsSync(BIG)) await writeTestModel({ out: BIG, size: 'bench', vocab: 'llama-spm', seed: 1 });
  const size = Math.round(fs.statSync(BIG).size / 1048576);
  const out = runChild([BIG, 'dispose']) as { generated: number; base: number; loaded: number; after: number; codes: string[] };
  console.log(`dispose without a collection: RSS ${out.base} MiB before, ${out.loaded} MiB loaded, ${out.after} MiB after (model ${size} MiB)`);
  expect(out.generated).toBe(4);
  expect(out.loaded - out.base).toBeGreaterThan(size / 2);
  expect(out.after - out.base).toBeLessThan(size / 4);
  // the disposed wrappers refuse further calls; collected later, their finalizers free nothing twice (exit 0)
  expect(out.codes).toEqual(['disposed', 'disposed']);
});

test('a context collected without dispose() while its decode ignores aborts: the JS thread goes on', () => {
  const dir = tempDir();
  try {
    const out = runChild([TINY_SPM, 'gc', dir], { HEARTH_TEST_HOOKS: '1', HEARTH_TEST_FAIL: `hold:${dir}` });
    // timers ran while the worker was still held in its decode (a join in the finalizer would have
    // blocked until the hook gave up)
    expect(out.answeredWhileHeld).toBe(true);
    expect(out.ticks).toBe(5);
    // the finalizer stopped the request: once the decode was released it ended, aborted
    expect(out.stopReason).toBe('aborted');
    expect(out.generated).toBe(0);
    expect(fs.existsSync(path.join(dir, 'timed-out'))).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a context whose worker is stuck holds back only its own memory: a context collected after it is freed at once', () => {
  const dir = tempDir();
  try {
    const out = runChild([TINY_SPM, 'stuck', dir], { HEARTH_TEST_HOOKS: '1', HEARTH_TEST_FAIL: `hold:${dir}` }) as {
      base: number; withBig: number; after: number; stillHeld: boolean; stopReason: string;
    };
    console.log(`collected behind a stuck worker: RSS ${out.base} MiB before, ${out.withBig} MiB with a 262,144-cell cache, ${out.after} MiB after`);
    expect(out.withBig - out.base).toBeGreaterThan(40); // the big cache was really allocated
    expect(out.stillHeld).toBe(true); // the first worker was still stuck when the memory came back
    expect(out.after - out.base).toBeLessThan((out.withBig - out.base) / 4);
    expect(out.stopReason).toBe('aborted');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the addon loaded twice in one process (a cleared require cache) does not abort it', () => {
  // Node aborts the process on a second environment-cleanup hook with the same function and argument
  const out = runChild([TINY_SPM, 'reload']);
  expect(out).toEqual({ same: false, hasLoad: 'function' });
});
