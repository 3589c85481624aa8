/**
 * The models' files on disk: the `.part` a file is written to before it is whole, the free bytes of
 * a disk, and making a finished `.part` durable under its final name (its bytes flushed, renamed,
 * the folder's entry flushed) before anything that relies on it: a download's record deleted, an
 * original deleted after its copy (imports, a moved models folder).
 */
import { createHash, randomBytes, type Hash } from 'crypto';
import { promises as fsp } from 'fs';
import path from 'path';
import { openRegularStream } from '../regular-file';

/** What a file being written is called until it is whole. */
export const PART_SUFFIX = '.part';
/** A download's file until it is whole: `<target>.part` (one per target: a resume goes on from its bytes). */
export const partOf = (target: string) => `${target}${PART_SUFFIX}`;
/**
 * A copy's file (an import, a moved models folder) until it is whole: `.<name>.import-<random>.part`
 * beside `target`. Hidden, never a download's name, and new for each copy, so a copy never opens,
 * replaces or deletes a file another writer (a download, another copy) is writing.
 */
export const copyPartOf = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.import-${randomBytes(6).toString('hex')}${PART_SUFFIX}`);
/** Whether `name` (a file name) is one of this app's files being written: a download's or a copy's (partOf, copyPartOf). */
export const isPartName = (name: string): boolean => /\.gguf\.part$/i.test(name) || /^\..+\.import-[0-9a-f]+\.part$/i.test(name);
/** The copies (copyPartOf) being written to `target`'s name: the `.part` files of that name in its folder. */
export async function copyPartsOf(target: string): Promise<string[]> {
  const prefix = `.${path.basename(target)}.import-`;
  const names = await fsp.readdir(path.dirname(target)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix) && n.endsWith(PART_SUFFIX)).map((n) => path.join(path.dirname(target), n));
}

/** `dir` itself when it exists, else its nearest existing parent. */
export async function nearestExisting(dir: string): Promise<string> {
  let d = path.resolve(dir);
  for (;;) {
    if (await fsp.stat(d).then(() => true, () => false)) return d;
    const up = path.dirname(d);
    if (up === d) return d;
    d = up;
  }
}

/** Free bytes on the disk holding `dir` (its nearest existing folder: the folder may not exist yet). */
export async function statfsFree(dir: string): Promise<number> {
  const s = await fsp.statfs(await nearestExisting(dir));
  return Number(s.bavail) * Number(s.bsize);
}

/** The size of `file`; 0 when it does not exist. */
export async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/** Flushes `file`'s bytes to the disk. */
async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Flushes a folder's entries (a file just renamed into it) to the disk. POSIX only: Windows cannot
 * open a folder as a file, so there the rename's durability is left to the file system.
 */
export async function syncFolder(dir: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') return;
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes a whole `part` durable as `target`: its bytes flushed, renamed to `target`, the folder's new
 * entry flushed. Once it returns, a power loss leaves `target` whole, so the caller may delete what
 * the file replaces (a download's record, the original of a copy).
 */
export async function commitPart(part: string, target: string): Promise<void> {
  await syncFile(part);
  await fsp.rename(part, target);
  await syncFolder(path.dirname(target));
}

/** A SHA-256 fed `file`'s first `bytes` bytes (all of it when not given), to go on with or to digest. */
export async function sha256Of(file: string, bytes?: number): Promise<Hash> {
  const h = createHash('sha256');
  if (bytes !== 0) {
    // a regular file as opened (../regular-file.ts): a FIFO in its place would block the read for good
    const opened = await openRegularStream(file, bytes === undefined ? {} : { start: 0, end: bytes - 1 });
    if (!opened) throw new Error(`${path.basename(file)} is not a regular file`);
    for await (const chunk of opened.stream) h.update(chunk as Buffer);
  }
  return h;
}
