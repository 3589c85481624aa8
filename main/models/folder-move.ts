/**
 * Moving the models folder: every file under it goes to another folder, which then becomes the
 * models folder. Checked before anything moves: an absolute path, not the folder itself nor a folder
 * inside it, no name already there, enough free space on the target's disk for what must be copied.
 * Each file is renamed when both folders are on one disk; otherwise it is copied with progress to
 * `<name>.part`, its size checked, flushed to disk and renamed into place (the folder flushed too),
 * and only then is the original deleted (copy.ts, disk.ts commitPart). A move stopped midway (a
 * crash, a full disk, a power loss) leaves every file whole in one of the two folders: the moved ones
 * in the new folder, the rest in the old one; the caller saves the setting only after the last file,
 * so the app still uses the old folder.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import { copyVerified } from './copy';
import { nearestExisting, statfsFree, syncFolder } from './disk';
import { inside } from './inside';

export interface MoveProgress {
  /** bytes moved of all */
  bytes: number;
  total: number;
  /** the file being moved (relative to the folder), null once all are */
  file: string | null;
}

export interface MoveOptions {
  onProgress?: (p: MoveProgress) => void;
  /** free bytes on the disk holding `dir` (default fs.statfs) */
  freeBytes?: (dir: string) => Promise<number>;
}

interface Entry {
  rel: string;
  size: number;
  link: boolean;
}

/** Every file and link under `dir` (relative paths), depth first. */
async function filesUnder(dir: string, rel = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  const here = path.join(dir, rel);
  const list = await fsp.readdir(here, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' && rel === '') return [];
    throw e;
  });
  for (const d of list) {
    const r = path.join(rel, d.name);
    if (d.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (d.isSymbolicLink()) out.push({ rel: r, size: 0, link: true });
    else if (d.isFile()) out.push({ rel: r, size: (await fsp.stat(path.join(dir, r))).size, link: false });
  }
  return out;
}

/** What a move would do, or the reason it is refused (IpcError invalid_input, disk_full). */
export async function planMove(from: string, to: string, o: MoveOptions = {}): Promise<{ files: Entry[]; total: number; sameDisk: boolean }> {
  if (!path.isAbsolute(to)) throw new IpcError('invalid_input', `${to} is not an absolute path: give the full path of the folder the models go to`);
  const src = path.resolve(from);
  const dst = path.resolve(to);
  if (inside(src, dst)) throw new IpcError('invalid_input', `${dst} is ${src === dst ? 'the models folder already' : 'inside the models folder'}: choose a folder outside it`);
  if (inside(dst, src, { orSelf: false })) throw new IpcError('invalid_input', `${dst} holds the models folder: choose a folder that does not`);
  const st = await fsp.stat(dst).catch(() => undefined);
  if (st && !st.isDirectory()) throw new IpcError('invalid_input', `${dst} is a file, not a folder`);
  const files = await filesUnder(src);
  const clashes = (await Promise.all(files.map(async (f) => ((await fsp.lstat(path.join(dst, f.rel)).then(() => true, () => false)) ? f.rel : null)))).filter(
    (x): x is string => x !== null,
  );
  if (clashes.length) {
    throw new IpcError('invalid_input', `${dst} already holds ${clashes.slice(0, 3).join(', ')}${clashes.length > 3 ? ` and ${clashes.length - 3} more` : ''}: choose an empty folder, or move those away first`);
  }
  const total = files.reduce((a, f) => a + f.size, 0);
  const srcDev = (await fsp.stat(src).catch(() => undefined))?.dev;
  const sameDisk = srcDev !== undefined && (await fsp.stat(await nearestExisting(dst))).dev === srcDev;
  if (!sameDisk) {
    const free = await (o.freeBytes ?? statfsFree)(dst);
    if (free < total) throw new IpcError('disk_full', `${dst}'s disk has ${free} bytes free; the models need ${total}`);
  }
  return { files, total, sameDisk };
}

/** Moves every file of `from` into `to` (created if missing), with progress; the emptied subfolders of `from` go, `from` stays. */
export async function moveFolder(from: string, to: string, o: MoveOptions = {}): Promise<{ files: number; bytes: number }> {
  const { files, total } = await planMove(from, to, o);
  const src = path.resolve(from);
  const dst = path.resolve(to);
  await fsp.mkdir(dst, { recursive: true });
  let done = 0;
  for (const f of files) {
    o.onProgress?.({ bytes: done, total, file: f.rel });
    const a = path.join(src, f.rel);
    const b = path.join(dst, f.rel);
    await fsp.mkdir(path.dirname(b), { recursive: true });
    try {
      await fsp.rename(a, b);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      // another disk: copy (a link is made again), check, then delete the original
      if (f.link) {
        await fsp.symlink(await fsp.readlink(a), b);
        await syncFolder(path.dirname(b));
      }
      else {
        const base = done;
        try {
          await copyVerified(a, b, f.size, (copied) => o.onProgress?.({ bytes: base + copied, total, file: f.rel }), false);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new IpcError('disk_full', `${dst}'s disk filled up while ${f.rel} was copied; it stays in ${src}`);
          throw err;
        }
      }
      await fsp.rm(a, { force: true });
    }
    done += f.size;
  }
  // the emptied subfolders (deepest first); the old folder itself stays
  const dirs = [...new Set(files.map((f) => path.dirname(f.rel)).filter((d) => d !== '.'))].sort((x, y) => y.length - x.length);
  for (const d of dirs) {
    for (let p = d; p !== '.' && p !== ''; p = path.dirname(p)) await fsp.rmdir(path.join(src, p)).catch(() => undefined);
  }
  o.onProgress?.({ bytes: done, total, file: null });
  return { files: files.length, bytes: done };
}

