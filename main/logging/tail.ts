/**
 * The recent end of the log files, for "Copy diagnostics": only lines at info or above (debug may
 * hold what a user typed), as readable text, oldest first.
 */
import fs from 'fs';
import path from 'path';
import { openRegularFileSync } from '../regular-file';
import { currentLogFiles } from './files';
import { LOG_FILES, LogName } from './logger';

const LEVEL_NAMES: Record<number, string> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const INFO = 30;

export const TAIL_LIMITS = { lines: 100, bytes: 64 * 1024 } as const;

/**
 * The last `bytes` of a file (without a partial first line), or '' if it is missing or not a regular file
 * as opened (a FIFO planted in the shared folder would block this thread: ../regular-file.ts).
 */
function readEnd(file: string, bytes: number): string {
  let fd: number | undefined;
  try {
    const opened = openRegularFileSync(file, { follow: false });
    if (!opened) return '';
    fd = opened.fd;
    const size = opened.st.size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    const text = buf.toString('utf8');
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** One JSON log line as "time LEVEL [file] message {fields}", or null below info or unreadable. */
function formatLine(line: string, name: string): { time: string; text: string } | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || typeof o.level !== 'number' || o.level < INFO) return null;
  const { level, time, msg, pid: _pid, hostname: _host, ...fields } = o;
  const t = typeof time === 'string' ? time : '';
  const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
  return { time: t, text: `${t} ${LEVEL_NAMES[level as number] ?? level} [${name}] ${String(msg ?? '')}${extra}` };
}

const byTime = (a: { time: string }, b: { time: string }) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0);

/**
 * The last lines (info and above) of main.log and engine.log (with the files of other processes
 * sharing the folder, main-<pid>.log…) merged by time, each name with its
 * share of `lines` (one model load writes a hundred llama.cpp lines: they must not push main's out).
 */
export function readLogTail(dir: string, limits: { lines: number; bytes: number } = TAIL_LIMITS): string[] {
  const names = Object.keys(LOG_FILES) as LogName[];
  const share = Math.ceil(limits.lines / names.length);
  const all: { time: string; text: string }[] = [];
  for (const name of names) {
    const mine: { time: string; text: string }[] = [];
    // <name>.log and the own files of other processes sharing the folder (labelled <name>-<pid>)
    for (const file of currentLogFiles(dir, LOG_FILES[name])) {
      const label = file.slice(0, file.length - path.extname(file).length);
      for (const line of readEnd(path.join(dir, file), limits.bytes).split('\n')) {
        const f = line.trim() ? formatLine(line, label) : null;
        if (f) mine.push(f);
      }
    }
    mine.sort(byTime);
    all.push(...mine.slice(-share));
  }
  all.sort(byTime);
  return all.slice(-limits.lines).map((l) => l.text);
}
