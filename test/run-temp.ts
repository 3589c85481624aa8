/**
 * One temporary folder per jest run. The global setup makes it and points the temporary-folder
 * variables at it, so every suite's os.tmpdir() folders, and those of the processes the suites
 * start, land inside; the global teardown removes it. Suites that forget to delete what they made
 * no longer fill the disk run after run (a full disk fails the upload tests' free-space reserve).
 * A folder a killed run left behind is removed by a later run once it is a day old.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const PREFIX = 'hearth-jest-';
const STALE_MS = 24 * 3600_000;
/** set by enterRunTemp, read by leaveRunTemp (the global setup and teardown share the process) */
const ROOT_VAR = 'HEARTH_TEST_RUN_TEMP';

function removeStale(base: string, now: number): void {
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(base, name);
    try {
      if (now - fs.statSync(dir).mtimeMs > STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // another run's folder, or one being removed: not ours to fail on
    }
  }
}

export function enterRunTemp(now = Date.now(), base = os.tmpdir()): string {
  removeStale(base, now);
  const root = fs.mkdtempSync(path.join(base, PREFIX));
  process.env[ROOT_VAR] = root;
  // os.tmpdir() reads TMPDIR on POSIX and TEMP, then TMP on Windows
  for (const v of ['TMPDIR', 'TEMP', 'TMP']) process.env[v] = root;
  return root;
}

export function leaveRunTemp(): void {
  const root = process.env[ROOT_VAR];
  if (!root) return;
  fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
}
