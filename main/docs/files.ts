/**
 * The documents' files: each document the user attached is kept as `<data>/documents/<sha256>` (its
 * bytes, written to a temporary file, synced and renamed; the same content twice is one file), so its
 * indexing can run (and run again: a retry, other chunk settings) after Hearth restarts. What lies in
 * the folder is not trusted: only a regular file of at most MAX_DOC_BYTES is read.
 */
import { createHash, randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import { MAX_DOC_BYTES } from '../params';

const NAME = /^[0-9a-f]{64}$/;

export class DocFiles {
  constructor(readonly dir: string) {}

  private file(hash: string): string {
    if (!NAME.test(hash)) throw new Error(`not a document hash: ${hash}`);
    return path.join(this.dir, hash);
  }

  /** Keeps `bytes`; answers their SHA-256 (the document's name). */
  async put(bytes: Uint8Array): Promise<string> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const file = this.file(hash);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st?.isFile() && st.size === bytes.length) return hash;
    await fs.promises.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `.${hash}.${randomBytes(6).toString('hex')}.tmp`);
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
    const file = this.file(hash);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (!st?.isFile() || st.size > MAX_DOC_BYTES) return null;
    return fs.promises.readFile(file);
  }

  async delete(hash: string): Promise<void> {
    const file = this.file(hash);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st?.isFile() || st?.isSymbolicLink()) await fs.promises.rm(file, { force: true });
  }
}
