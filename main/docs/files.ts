/**
 * The documents' files: each document the user attached is kept as `<data>/documents/<sha256>` (its
 * bytes, written to a temporary file, synced and renamed; the same content twice is one file), so its
 * indexing can run (and run again: a retry, other chunk settings) after Hearth restarts. What lies in
 * the folder is not trusted: only a regular file of at most MAX_DOC_BYTES is read (readRegularFile,
 * which knowledge folders' files, not written by Hearth, are read with too).
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { TEMPORARY_NAME, temporaryName, type StoredFileName } from '../file-sweep';
import { MAX_DOC_BYTES, SHA256_HEX } from '../params';
import { closeFd, openRegularFile, openRegularFileSync, readFd } from '../regular-file';

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
 * link and without blocking on a FIFO, then checked on the open descriptor (../regular-file.ts). null
 * when it is not a regular file (a link, a folder, a FIFO, a device, a socket), is gone, or holds more
 * than `maxBytes` (counted as read: a file that grows past it is null too). On abort it
 * stops between reads and rejects with the signal's reason. Other errors (no permission) are thrown.
 */
export async function readRegularFile(file: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | null> {
  signal?.throwIfAborted();
  const opened = await openRegularFile(file, { follow: false }).catch(notAFile);
  if (!opened) return null;
  const { fd, st } = opened;
  try {
    if (st.size > maxBytes) return null;
    // one byte more than allowed tells a file that grew past it
    let buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
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
  } finally {
    await closeFd(fd);
  }
}

/**
 * readRegularFile for a small file read where the caller cannot wait (the Hugging Face token): the same
 * checks, synchronously, into one buffer of `maxBytes` + 1. null when it is not a regular file, is gone,
 * or holds more than `maxBytes`; other errors are thrown.
 */
export function readRegularFileSync(file: string, maxBytes: number): Buffer | null {
  let opened: ReturnType<typeof openRegularFileSync>;
  try { opened = openRegularFileSync(file, { follow: false }); } catch (e) { return notAFile(e); }
  if (!opened) return null;
  const { fd, st } = opened;
  try {
    if (st.size > maxBytes) return null;
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, length, buf.length - length, length);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) return null; // it grew past the bound
    }
    return buf.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What a name in the documents' folder is to its sweep (../file-sweep.ts): a kept document (its hash),
 * or a write's temporary file; null for any other name (never touched).
 */
export function docFileOf(name: string): StoredFileName | null {
  if (SHA256_HEX.test(name)) return { kind: 'stored', ref: name };
  const tmp = TEMPORARY_NAME.exec(name);
  return tmp ? { kind: 'temporary', ref: tmp[1] } : null;
}

export class DocFiles {
  constructor(readonly dir: string) {}

  private file(hash: string): string {
    if (!SHA256_HEX.test(hash)) throw new Error(`not a document hash: ${hash}`);
    return path.join(this.dir, hash);
  }

  /**
   * Keeps `bytes`; answers their SHA-256 (the document's name). Kept already: its file's time restarts, so
   * the folder's sweep (a file no document row names, past its grace) leaves it while its row is written.
   */
  async put(bytes: Uint8Array): Promise<string> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const file = this.file(hash);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st?.isFile() && st.size === bytes.length) {
      const now = new Date();
      // gone meanwhile (a sweep): written again below
      if (await fs.promises.utimes(file, now, now).then(() => true, () => false)) return hash;
    }
    await fs.promises.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, temporaryName(hash));
    const fh = await fs.promises.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      if (st && !st.isFile()) await fs.promises.rm(file, { recursive: true, force: true });
      await fs.promises.rename(tmp, file);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
    return hash;
  }

  /** A kept document's bytes; null when it is gone (or is not a regular file of a document's size). */
  async get(hash: string): Promise<Buffer | null> {
    return readRegularFile(this.file(hash), MAX_DOC_BYTES);
  }

  async delete(hash: string): Promise<void> {
    const file = this.file(hash);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st?.isFile() || st?.isSymbolicLink()) await fs.promises.rm(file, { force: true });
  }
}
