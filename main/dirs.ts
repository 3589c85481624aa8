/** Creating folders: one place that makes a folder and its missing parents. */
import fs from 'fs';
import path from 'path';

/**
 * Makes `dir` and any missing parents, one level at a time. Node 20's `mkdirSync(…, { recursive: true })`
 * loops forever where a parent refuses new entries with ENOENT (e.g. under /proc); here that is an error
 * naming the folder.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw cannotCreate(dir, e);
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`cannot create folder ${dir}: ${d} is not a folder`);
      break;
    }
    const up = path.dirname(d);
    if (up === d) throw new Error(`cannot create folder ${dir}: ${d} does not exist`);
    missing.push(d);
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(dir, e);
    }
  }
}

function cannotCreate(dir: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return new Error(`cannot create folder ${dir}${code ? ` (${code})` : ''}`);
}
