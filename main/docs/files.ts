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
import { takeBack, TEMPORARY_NAME, temporaryName, type StoredFileName } from '../file-sweep';
import { MAX_DOC_BYTES, SHA256_HEX } from '../params';
import { readRegularFile } from '../regular-file';

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
      // gone meanwhile (a sweep): written again below (lutimes: a link swapped in is not followed)
      if (await fs.promises.lutimes(file, now, now).then(() => true, () => false)) return hash;
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

  /**
   * A kept document's bytes; null when it is gone (or is not a regular file of a document's size). One the
   * sweep set aside (main/docs/garbage.ts: a row named it no more, as after a backup restored) is taken
   * back when it still holds its content (a row names it again: the restore undone).
   */
  async get(hash: string): Promise<Buffer | null> {
    const kept = await readRegularFile(this.file(hash), MAX_DOC_BYTES);
    return kept ?? (await takeBack(this.dir, hash, hash, MAX_DOC_BYTES))?.bytes ?? null;
  }
}
