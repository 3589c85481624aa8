/**
 * Render marks: how the client learns that an engine host died while a model file's own chat template
 * rendered a chat. Each host gets a folder of its own (RENDER_MARKS_ENV); while the file's own template
 * renders, the addon keeps a file there naming the model (native/src/activity.h `TemplateScope`), and
 * removes it when the render ends. A template whose macros recurse without end on some chats
 * overflows the stack and ends the process mid-render, so its mark stays, and the supervisor reads it
 * when the host has exited (renderCrashFile decides whether that death is the template's).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { readRegularFileSync } from '../regular-file';

export const RENDER_MARKS_ENV = 'HEARTH_RENDER_MARKS';

/** a mark holds a model's path: anything longer is no mark of the addon's */
const MAX_MARK_BYTES = 64 * 1024;

/** Windows' exit code for a thread that ran out of stack (STATUS_STACK_OVERFLOW), as Node reports it */
const STATUS_STACK_OVERFLOW = 0xc00000fd;

/**
 * The model file a host's death is counted against, or none: only an end as a stack overflow ends a
 * process (SIGSEGV or SIGBUS, or Windows' STATUS_STACK_OVERFLOW), and only while exactly one file's
 * template rendered (with two, which one overflowed is not known; an out-of-memory kill, an abort or a
 * lost remote device is another cause).
 */
export function renderCrashFile(marked: readonly string[], exit: { code: number | null; signal: string | null }): string | undefined {
  const overflow = exit.signal === 'SIGSEGV' || exit.signal === 'SIGBUS' || (exit.code !== null && exit.code >>> 0 === STATUS_STACK_OVERFLOW);
  return overflow && marked.length === 1 ? marked[0] : undefined;
}

/** A fresh folder for one host's marks. */
export function makeMarksDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-render-'));
}

/**
 * The model files whose own template was rendering when the host that used `dir` ended (each once, in
 * the order read), and the folder removed. Never throws: what cannot be read is no mark.
 */
export function collectMarks(dir: string): string[] {
  const files = new Set<string>();
  try {
    for (const name of fs.readdirSync(dir)) {
      try {
        const p = path.join(dir, name);
        // a regular file only, as opened (a FIFO swapped in after a check would block this thread)
        const bytes = readRegularFileSync(p, MAX_MARK_BYTES);
        if (bytes === null || bytes.length === 0) continue;
        files.add(bytes.toString('utf8'));
      } catch {
        // gone, or unreadable: not a mark
      }
    }
  } catch {
    // no folder: no marks
  }
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // left in the temporary folder
  }
  return [...files];
}
