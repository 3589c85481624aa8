/**
 * Opening a file for reading only when it is a regular file, decided on the open descriptor (fstat), so
 * that nothing swapped in between a check and the open is read: a FIFO or a device would block the read
 * (a FIFO's open too, synchronously: the whole process) where no cancel reaches it. Opened with
 * O_NONBLOCK where the platform has it (a FIFO's open then returns at once; a regular file reads as
 * ever) and, with `follow: false`, O_NOFOLLOW (a link refused; Windows lacks both flags: an lstat before
 * opening stands in for O_NOFOLLOW there). An asynchronous open waits, with timers, for another program's
 * lease on the file to be given up (Linux: O_NONBLOCK's EAGAIN; waitingForLease); a synchronous one answers it. Used wherever Hearth reads a file something else could have
 * put in its place: the imports' files (a file the user picked), knowledge folders' and kept documents'
 * files, the data folder's own small files (readRegularFile/Sync: bounded), model files' copies and hashes.
 */
import fs from 'fs';
import { promisify } from 'util';
import { retryFor } from './retry';

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
  /** ends an asynchronous open's wait for another program's lease (waitingForLease) */
  signal?: AbortSignal;
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

/**
 * How long an open waits for another program to give up its lease on the file (Linux: a Samba or NFS
 * server's, on the machine serving the file; O_NONBLOCK makes the open answer EAGAIN where a blocking one
 * would wait while the lease is broken): the kernel breaks it itself after /proc/sys/fs/lease-break-time
 * (45 s by default), and one second more. Elsewhere no open answers EAGAIN so: 0.
 */
export function leaseWaitMs(): number {
  if (process.platform !== 'linux') return 0;
  leaseWait ??= (() => {
    try {
      const seconds = Number(fs.readFileSync('/proc/sys/fs/lease-break-time', 'utf8').trim());
      return Number.isFinite(seconds) && seconds >= 0 ? (Math.min(seconds, 600) + 1) * 1000 : DEFAULT_LEASE_WAIT_MS;
    } catch {
      return DEFAULT_LEASE_WAIT_MS;
    }
  })();
  return leaseWait;
}
const DEFAULT_LEASE_WAIT_MS = 46_000;
let leaseWait: number | undefined;

/** The open's answer while another program holds a lease on the file (libuv reports EWOULDBLOCK as EAGAIN). */
const leaseHeld = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === 'EAGAIN';

/**
 * `open()` (with O_NONBLOCK), tried again with timers while a lease on the file is being broken, for at
 * most `waitMs` (leaseWaitMs); then its EAGAIN is thrown, as is any other error at once. An abort ends the
 * wait (an AbortError, or the signal's reason before an open).
 */
export function waitingForLease<T>(open: () => Promise<T>, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  return retryFor(open, { transient: leaseHeld, waitMs: opts.waitMs ?? leaseWaitMs(), firstMs: 20, maxMs: 1000, signal: opts.signal });
}

/**
 * A file opened for reading as a FileHandle, without blocking on what is not a regular file (NONBLOCKING_READ:
 * the caller checks what it opened) and waiting for another program's lease on it (waitingForLease; `signal`
 * ends the wait; `waitMs` 0 for a scan, which passes over such a file rather than waiting).
 */
export function openForReading(file: string, opts: { signal?: AbortSignal; waitMs?: number } = {}): Promise<fs.promises.FileHandle> {
  return waitingForLease(() => fs.promises.open(file, NONBLOCKING_READ), opts);
}

/**
 * `file` opened for reading, its descriptor with its stat, when it is a regular file; null when it is not
 * (a FIFO, a device, a folder, a socket; a link with `follow: false`). The open's own errors (gone, no
 * permission; ELOOP for a link swapped in with `follow: false`) are thrown. The caller closes the descriptor
 * (closeFd, or a stream or reader it is handed to).
 */
export async function openRegularFile(file: string, opts: OpenRegularOptions = {}): Promise<{ fd: number; st: fs.Stats } | null> {
  const follow = opts.follow ?? true;
  // a first look, so that no device is opened (opening some has effects); the descriptor's fstat decides
  // (where O_NOFOLLOW is missing, Windows, the lstat is what refuses a link)
  if (!(await (follow ? fs.promises.stat(file) : fs.promises.lstat(file))).isFile()) return null;
  const fd = await waitingForLease(() => open(file, flags(follow)), { signal: opts.signal });
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

/**
 * `file` as a read stream (`streamOptions`: the highWaterMark, a range), with its stat, when it is a regular
 * file as opened (openRegularFile); null when it is not. The stream owns the descriptor: it closes it when
 * it ends or is destroyed (destroy one not read); options it refuses (a negative range) close it here.
 */
export async function openRegularStream(
  file: string, streamOptions: { highWaterMark?: number; start?: number; end?: number } = {}, opts: OpenRegularOptions = {},
): Promise<{ stream: fs.ReadStream; st: fs.Stats } | null> {
  const opened = await openRegularFile(file, opts);
  if (!opened) return null;
  try {
    return { stream: fs.createReadStream(file, { ...streamOptions, fd: opened.fd }), st: opened.st };
  } catch (e) {
    await closeFd(opened.fd);
    throw e;
  }
}

/** openRegularFile, synchronously: the descriptor and its stat, or null; the caller closes it. */
export function openRegularFileSync(file: string, opts: OpenRegularOptions = {}): { fd: number; st: fs.Stats } | null {
  const follow = opts.follow ?? true;
  if (!(follow ? fs.statSync(file) : fs.lstatSync(file)).isFile()) return null;
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

/** What an import or a read says of a path that is there but is no regular file as opened (never read: a FIFO's read would wait for a writer). */
export const notRegularFile = (where: string): string => `${where} is not a regular file (a link, a folder, a FIFO, a device or a socket)`;

/** Errors of opening that mean "not a regular file here" (a link, gone, a folder, a FIFO without O_NONBLOCK's help). */
const NOT_A_FILE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR', 'ENXIO', 'EMLINK']);
/** An open's error that means "not a regular file here": null; others are thrown. */
function notAFile(e: unknown): null {
  if (NOT_A_FILE.has((e as NodeJS.ErrnoException).code ?? '')) return null;
  throw e;
}

/** How much one read asks for: an abort is seen between reads. */
const READ_PIECE = 4 * 1024 * 1024;

/**
 * A file's bytes, read safely from a folder Hearth does not own: opened without following a symbolic
 * link and without blocking on a FIFO, then checked on the open descriptor (openRegularFile). null
 * when it is not a regular file (a link, a folder, a FIFO, a device, a socket), is gone, or holds more
 * than `maxBytes` (counted as read: a file that grows past it is null too). On abort it
 * stops between reads and rejects with the signal's reason. Other errors (no permission) are thrown.
 */
export async function readRegularFile(file: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | null> {
  signal?.throwIfAborted();
  const opened = await openRegularFile(file, { follow: false, signal }).catch(notAFile);
  if (!opened) return null;
  const { fd, st } = opened;
  try {
    return st.size > maxBytes ? null : await readFdBounded(fd, st.size, maxBytes, signal);
  } finally {
    await closeFd(fd);
  }
}

/**
 * All of an open descriptor's bytes, read in pieces up to `maxBytes` (`size`, its stat's, sizes the first
 * buffer); null past it (counted as read: a file that grows, or whose stat says 0 bytes, is held to it too).
 * On abort it stops between reads and rejects with the signal's reason.
 */
export async function readFdBounded(fd: number, size: number, maxBytes: number, signal?: AbortSignal): Promise<Buffer | null> {
  // one byte more than allowed tells a file that grew past it
  let buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    signal?.throwIfAborted();
    if (length === buf.length) {
      if (length > maxBytes) return null;
      const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
      buf.copy(bigger, 0, 0, length);
      buf = bigger;
    }
    const { bytesRead } = await readFd(fd, buf, length, Math.min(READ_PIECE, buf.length - length), length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  signal?.throwIfAborted();
  return length > maxBytes ? null : buf.subarray(0, length);
}

/**
 * readRegularFile for a small file read where the caller cannot wait (the Hugging Face token): the same
 * checks, synchronously, into one buffer of `maxBytes` + 1. null when it is not a regular file, is gone,
 * or holds more than `maxBytes`; other errors are thrown.
 */
export function readRegularFileSync(file: string, maxBytes: number, opts: OpenRegularOptions = { follow: false }): Buffer | null {
  let opened: ReturnType<typeof openRegularFileSync>;
  try { opened = openRegularFileSync(file, opts); } catch (e) { return notAFile(e); }
  if (!opened) return null;
  const { fd, st } = opened;
  try {
    return st.size > maxBytes ? null : readFdSync(fd, maxBytes);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * All of an open descriptor's bytes, read synchronously up to `maxBytes`; null past it (counted as read:
 * a file whose stat says 0 bytes, as /proc's and some FUSE files do, or that grows, is held to it too).
 */
export function readFdSync(fd: number, maxBytes: number): Buffer | null {
  const buf = Buffer.alloc(maxBytes + 1);
  let length = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, length, buf.length - length, length);
    if (n === 0) break;
    length += n;
    if (length > maxBytes) return null;
  }
  return buf.subarray(0, length);
}
