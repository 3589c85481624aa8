/**
 * The jest run's temporary folder (test/run-temp.ts): suites and the processes they start write
 * inside it, and a folder a killed run left a day ago is removed by the next run.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { enterRunTemp, leaveRunTemp } from '../run-temp';

test('this suite and a child process it starts write inside the run folder', () => {
  const root = process.env.HEARTH_TEST_RUN_TEMP;
  expect(root).toMatch(/hearth-jest-/);
  expect(fs.statSync(root as string).isDirectory()).toBe(true);
  expect(path.dirname(fs.mkdtempSync(path.join(os.tmpdir(), 'x-')))).toBe(root);
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("os").tmpdir())'], { encoding: 'utf8' });
  expect(child.stdout).toBe(root);
});

test('a run folder older than a day is removed on entry, a newer one is kept; leaving removes its own', () => {
  // a suite's process.env is jest's copy: what enterRunTemp sets is read back from it, not by os.tmpdir()
  const saved = { ...process.env };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'base-'));
  try {
    const old = fs.mkdtempSync(path.join(base, 'hearth-jest-'));
    const young = fs.mkdtempSync(path.join(base, 'hearth-jest-'));
    const other = fs.mkdtempSync(path.join(base, 'other-'));
    fs.writeFileSync(path.join(old, 'left'), 'x');
    const now = Date.now();
    for (const d of [old, other]) fs.utimesSync(d, new Date(now - 25 * 3600_000), new Date(now - 25 * 3600_000));
    fs.utimesSync(young, new Date(now - 23 * 3600_000), new Date(now - 23 * 3600_000));
    const root = enterRunTemp(now, base);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(young)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    expect(path.dirname(root)).toBe(base);
    expect([process.env.TMPDIR, process.env.TEMP, process.env.TMP, process.env.HEARTH_TEST_RUN_TEMP]).toEqual([root, root, root, root]);
    fs.writeFileSync(path.join(root, 'f'), 'x');
    leaveRunTemp();
    expect(fs.existsSync(root)).toBe(false);
    // the variables as they were before (jest's watch mode enters again from them)
    expect([process.env.TMPDIR, process.env.TEMP, process.env.TMP, process.env.HEARTH_TEST_RUN_TEMP]).toEqual([saved.TMPDIR, saved.TEMP, saved.TMP, undefined]);
  } finally {
    for (const k of ['TMPDIR', 'TEMP', 'TMP', 'HEARTH_TEST_RUN_TEMP']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});
