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
/** what os.tmpdir() reads: TMPDIR on POSIX; TEMP, then TMP on Windows */
const TEMP_VARS = ['TMPDIR', 'TEMP', 'TMP'] as const;
/** the variables as they were before enterRunTemp (jest's watch mode runs the setup and teardown again) */
let saved: Partial<Record<(typeof TEMP_VARS)[number], string | undefined>> | null = null;

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
  saved = Object.fromEntries(TEMP_VARS.map((v) => [v, process.env[v]]));
  process.env[ROOT_VAR] = root;
  for (const v of TEMP_VARS) process.env[v] = root;
  return root;
}

/** Removes the run's folder and points the variables back where they were. A removal that fails is told, never fails the run. */
export function leaveRunTemp(): void {
  const root = process.env[ROOT_VAR];
  if (!root) return;
  delete process.env[ROOT_VAR];
  for (const v of TEMP_VARS) {
    const was = saved?.[v];
    if (was === undefined) delete process.env[v];
    else process.env[v] = was;
  }
  saved = null;
  try {
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    // a process a suite left running may still write there: a later run removes it once it is a day old
    console.warn(`the run's temporary folder ${root} was not removed: ${(e as Error).message}`);
  }
}
