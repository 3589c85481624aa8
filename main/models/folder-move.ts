/**
 * Moving the models folder: the library's files go to another folder, which then becomes the models
 * folder. What moves is what the library owns: every file named .gguf (models, split parts, projectors,
 * links named so) in the folder and its subfolders, and this app's files being written (disk.ts
 * isPartName); hidden names, linked folders and any other file stay where they are, and the old folder
 * is removed only when nothing is left in it.
 *
 * Checked before anything moves, on real paths (links resolved): an absolute path; not the folder
 * itself nor a folder inside it, nor one holding it; not the home folder, a file system's root, or a
 * folder holding the home folder or the data folder (the data folder's parent among them); the target
 * missing, empty, or holding only model files (.gguf) and this app's `.part` files, none by a name that
 * moves (what an interrupted move leaves, so it can be run again); enough free space on the target's
 * disk for what must be copied.
 *
 * Each file is renamed when both folders are on one disk; otherwise it is copied with progress to a
 * `.part` of its own, its size checked, flushed to disk and renamed into place (the folder flushed too),
 * and only then is the original deleted (copy.ts, disk.ts commitPart). A move stopped midway (a
 * crash, a full disk, a power loss) leaves every file whole in one of the two folders: the moved ones
 * in the new folder, the rest in the old one; the caller saves the setting only after the last file,
 * so the app still uses the old folder.
 */
import { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import { IpcError } from '../ipc/contract';
import { copyVerified } from './copy';
import { isPartName, nearestExisting, statfsFree, syncFolder } from './disk';
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
  /** the user's home folder (default os.homedir()): never a target, nor a folder holding it */
  home?: string;
  /** the app's data folder: never inside a target (so not its parent) */
  dataDir?: string;
}

interface Entry {
  rel: string;
  size: number;
  link: boolean;
}

/** Whether a file of the models folder is the library's: named .gguf, or one of this app's `.part` files. */
const owned = (name: string) => isPartName(name) || (!name.startsWith('.') && /\.gguf$/i.test(name));

/**
 * The library's files and links under `dir` (relative paths), depth first: hidden folders and linked
 * folders are not entered. `all`: every file and link instead (what a target folder holds).
 */
async function filesUnder(dir: string, all = false, rel = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  const here = path.join(dir, rel);
  const list = await fsp.readdir(here, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' && rel === '') return [];
    throw e;
  });
  for (const d of list) {
    const r = path.join(rel, d.name);
    if (d.isDirectory()) {
      if (all || !d.name.startsWith('.')) out.push(...(await filesUnder(dir, all, r)));
    } else if (!all && !owned(d.name)) continue;
    else if (d.isSymbolicLink()) out.push({ rel: r, size: 0, link: true });
    else if (d.isFile()) out.push({ rel: r, size: (await fsp.stat(path.join(dir, r))).size, link: false });
    else if (all) out.push({ rel: r, size: 0, link: false });
  }
  return out;
}

/** `p` with links resolved: its nearest existing folder's real path, and the rest as given. */
async function realish(p: string): Promise<string> {
  const near = await nearestExisting(p);
  return path.join(await fsp.realpath(near), path.relative(near, p));
}

/** What a move would do, or the reason it is refused (IpcError invalid_input, disk_full). */
export async function planMove(from: string, to: string, o: MoveOptions = {}): Promise<{ files: Entry[]; total: number; sameDisk: boolean; src: string; dst: string }> {
  if (!path.isAbsolute(to)) throw new IpcError('invalid_input', `${to} is not an absolute path: give the full path of the folder the models go to`);
  const src = await realish(path.resolve(from));
  const dst = await realish(path.resolve(to));
  const home = await realish(path.resolve(o.home ?? os.homedir()));
  if (path.parse(dst).root === dst) throw new IpcError('invalid_input', `${to} is the root of a disk: choose a folder of its own for the models`);
  if (inside(dst, home)) throw new IpcError('invalid_input', `${to} is ${dst === home ? 'your home folder' : 'a folder holding your home folder'}: choose a folder of its own for the models`);
  if (o.dataDir && inside(dst, await realish(path.resolve(o.dataDir)))) throw new IpcError('invalid_input', `${to} holds Hearth's data folder: choose a folder of its own for the models`);
  if (inside(src, dst)) throw new IpcError('invalid_input', `${to} is ${src === dst ? 'the models folder already' : 'inside the models folder'}: choose a folder outside it`);
  if (inside(dst, src, { orSelf: false })) throw new IpcError('invalid_input', `${to} holds the models folder: choose a folder that does not`);
  const st = await fsp.stat(dst).catch(() => undefined);
  if (st && !st.isDirectory()) throw new IpcError('invalid_input', `${to} is a file, not a folder`);
  const files = await filesUnder(src);
  const there = st ? await filesUnder(dst, true) : [];
  const foreign = there.filter((f) => !owned(path.basename(f.rel))).map((f) => f.rel);
  if (foreign.length) {
    throw new IpcError('invalid_input', `${to} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''}): choose an empty folder or a new one`);
  }
  const taken = new Set(there.map((f) => f.rel));
  const clashes = files.filter((f) => taken.has(f.rel)).map((f) => f.rel);
  if (clashes.length) {
    throw new IpcError('invalid_input', `${to} already holds ${clashes.slice(0, 3).join(', ')}${clashes.length > 3 ? ` and ${clashes.length - 3} more` : ''}: choose an empty folder, or move those away first`);
  }
  const total = files.reduce((a, f) => a + f.size, 0);
  const srcDev = (await fsp.stat(src).catch(() => undefined))?.dev;
  const sameDisk = srcDev !== undefined && (await fsp.stat(await nearestExisting(dst))).dev === srcDev;
  if (!sameDisk) {
    const free = await (o.freeBytes ?? statfsFree)(dst);
    if (free < total) throw new IpcError('disk_full', `${dst}'s disk has ${free} bytes free; the models need ${total}`);
  }
  return { files, total, sameDisk, src, dst };
}

/** Moves the library's files of `from` into `to` (created if missing), with progress; the emptied subfolders of `from` go, and `from` too when empty. */
export async function moveFolder(from: string, to: string, o: MoveOptions = {}): Promise<{ files: number; bytes: number }> {
  const { files, total, src, dst } = await planMove(from, to, o);
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
          await copyVerified(a, b, f.size, (copied) => o.onProgress?.({ bytes: base + copied, total, file: f.rel }));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new IpcError('disk_full', `${dst}'s disk filled up while ${f.rel} was copied; it stays in ${src}`);
          throw err;
        }
      }
      await fsp.rm(a, { force: true });
    }
    done += f.size;
  }
  // the emptied subfolders (deepest first), then the old folder itself: rmdir takes only an empty one
  const dirs = [...new Set(files.map((f) => path.dirname(f.rel)).filter((d) => d !== '.'))].sort((x, y) => y.length - x.length);
  for (const d of dirs) {
    for (let p = d; p !== '.' && p !== ''; p = path.dirname(p)) await fsp.rmdir(path.join(src, p)).catch(() => undefined);
  }
  await fsp.rmdir(src).catch(() => undefined);
  o.onProgress?.({ bytes: done, total, file: null });
  return { files: files.length, bytes: done };
}

