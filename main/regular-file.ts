/**
 * Opening a file for reading only when it is a regular file, decided on the open descriptor (fstat), so
 * that nothing swapped in between a check and the open is read: a FIFO or a device would block the read
 * (a FIFO's open too, synchronously: the whole process) where no cancel reaches it. Opened with
 * O_NONBLOCK where the platform has it (a FIFO's open then returns at once; a regular file reads as
 * ever) and, with `follow: false`, O_NOFOLLOW (a link refused; Windows lacks both flags: an lstat before
 * opening stands in for O_NOFOLLOW there). Used by the imports' readers (a file the user picked) and by
 * main/docs/files.ts (files in folders Hearth does not own).
 */
import fs from 'fs';
import { promisify } from 'util';

// on descriptors, not FileHandles: a descriptor may be handed on (yauzl.fromFd closes it itself)
const open = promisify(fs.open);
const fstat = promisify(fs.fstat);
/** fs.read on a descriptor, as a promise ({bytesRead, buffer}). */
export const readFd = promisify(fs.read);
/** Closes a descriptor this opened (the callers' too); never rejects (a close's failure is nothing to act on). */
export const closeFd = (fd: number): Promise<void> => new Promise((resolve) => fs.close(fd, () => resolve()));

export interface OpenRegularOptions {
  /** false: a symbolic link is not followed (null); default true (a file the user picked may be a link) */
  follow?: boolean;
}

/**
 * Reading without blocking on what is not a regular file: a FIFO's or a device's open returns at once
 * (O_NONBLOCK), and a terminal does not become the process's (O_NOCTTY); a regular file reads as ever.
 * The model files' reads use it too (main/gguf, main/models/discover.ts).
 */
export const NONBLOCKING_READ = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

function flags(follow: boolean): number {
  return NONBLOCKING_READ | (follow ? 0 : fs.constants.O_NOFOLLOW ?? 0);
}

/** Where O_NOFOLLOW is missing (Windows), a link is told before opening. */
const linkCheckFirst = (follow: boolean) => !follow && fs.constants.O_NOFOLLOW === undefined;

/**
 * `file` opened for reading, its descriptor with its stat, when it is a regular file; null when it is not
 * (a FIFO, a device, a folder, a socket; a link with `follow: false`). The open's own errors (gone, no
 * permission, ELOOP for a link with `follow: false`) are thrown. The caller closes the descriptor
 * (closeFd, or a stream or reader it is handed to).
 */
export async function openRegularFile(file: string, opts: OpenRegularOptions = {}): Promise<{ fd: number; st: fs.Stats } | null> {
  const follow = opts.follow ?? true;
  if (linkCheckFirst(follow) && !(await fs.promises.lstat(file)).isFile()) return null;
  const fd = await open(file, flags(follow));
  let st: fs.Stats;
  try {
    st = await fstat(fd);
  } catch (e) {
    await closeFd(fd);
    throw e;
  }
  if (st.isFile()) return { fd, st };
  await closeFd(fd);
  return null;
}

/** openRegularFile, synchronously: the descriptor and its stat, or null; the caller closes it. */
export function openRegularFileSync(file: string, opts: OpenRegularOptions = {}): { fd: number; st: fs.Stats } | null {
  const follow = opts.follow ?? true;
  if (linkCheckFirst(follow) && !fs.lstatSync(file).isFile()) return null;
  const fd = fs.openSync(file, flags(follow));
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (st.isFile()) return { fd, st };
  fs.closeSync(fd);
  return null;
}
