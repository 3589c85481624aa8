/**
 * Files uploaded to import (the browser cannot hand main a path): written piece by piece to
 * <data>/imports/<uploadId>/<name>. A piece goes at the bytes received so far (any other offset is
 * refused: a lost or repeated piece never corrupts the file), the whole stays under IMPORT_MAX_BYTES.
 * What is known of an upload lives in memory: the folders left by an earlier run are deleted at start,
 * and an upload untouched for a day is deleted too; an import deletes its upload when it ends.
 */
import { randomUUID } from 'crypto';
import fs from 'fs';
import path from 'path';
import { IMPORT_MAX_BYTES, IpcError, type RequestOf } from '../ipc/contract';
import type { Logger } from '../logging';

export const UPLOAD_STALE_MS = 24 * 60 * 60 * 1000;
/** uploads kept at once: a new one drops the least recently written beyond this (the page sends one at a time) */
export const MAX_UPLOADS = 4;
/** the free space an upload leaves on its disk (a piece that would take more is refused, the upload dropped) */
export const UPLOAD_DISK_RESERVE_BYTES = 512 * 1024 * 1024;

const notHere = (id: string) => new IpcError('not_found', `upload ${id} is not here (it was finished, or Hearth restarted): upload the file again`);

interface Upload {
  file: string;
  bytes: number;
  complete: boolean;
  touchedAt: number;
}

/** A file name safe on every OS: no separators, controls or reserved characters, not hidden, at most 120 characters. */
export function safeFileName(name: string, fallback = 'file'): string {
  const clean = name
    .replace(/[\\/:*?"<>|\u0000-\u001f\u007f]+/g, '-')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.-]+|[\s.]+$/g, '');
  const cut = clean.length > 120 ? clean.slice(0, 120).trimEnd() : clean;
  return /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(cut) || !cut ? (cut ? `_${cut}` : fallback) : cut;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class Uploads {
  private readonly uploads = new Map<string, Upload>();

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly maxBytes: number = IMPORT_MAX_BYTES,
    private readonly reserveBytes: number = UPLOAD_DISK_RESERVE_BYTES,
  ) {}

  /** free bytes on the disk of `file` (unknown: as if there were room) */
  private freeBytes(file: string): number {
    try {
      const st = fs.statfsSync(path.dirname(file));
      return st.bavail * st.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Deletes every upload folder this run does not know (at start: all of them) and those untouched for a day. */
  sweep(): void {
    const now = this.now();
    for (const [id, u] of this.uploads) if (now - u.touchedAt > UPLOAD_STALE_MS) this.remove(id);
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return; // no folder yet
    }
    for (const n of names) {
      if (this.uploads.has(n)) continue;
      try {
        fs.rmSync(path.join(this.dir, n), { recursive: true, force: true });
      } catch (e) {
        this.logger.warn(`imports: could not delete an old upload: ${(e as Error).message}`);
      }
    }
  }

  /** Writes one piece; the first (no uploadId) starts an upload. */
  put(req: RequestOf<'data.import.upload'>): { uploadId: string; bytes: number } {
    if (req.chunk.length % 4 !== 0 || !BASE64.test(req.chunk)) throw new IpcError('invalid_input', 'the piece is not base64');
    const bytes = Buffer.from(req.chunk, 'base64');
    let id = req.uploadId;
    let u: Upload;
    if (id === undefined) {
      if (req.offset !== 0) throw new IpcError('invalid_input', `an upload starts at offset 0, not ${req.offset}`);
      this.sweep();
      const oldest = [...this.uploads].sort((a, b) => a[1].touchedAt - b[1].touchedAt);
      for (const [old] of oldest.slice(0, Math.max(0, oldest.length - MAX_UPLOADS + 1))) this.remove(old);
      id = randomUUID();
      const folder = path.join(this.dir, id);
      fs.mkdirSync(folder, { recursive: true });
      u = { file: path.join(folder, safeFileName(req.name, 'upload')), bytes: 0, complete: false, touchedAt: this.now() };
      fs.writeFileSync(u.file, '');
      this.uploads.set(id, u);
    } else {
      const found = this.uploads.get(id);
      if (!found) throw notHere(id);
      u = found;
      if (u.complete) throw new IpcError('invalid_input', `upload ${id} is already complete`);
      if (path.basename(u.file) !== safeFileName(req.name, 'upload')) throw new IpcError('invalid_input', `upload ${id} is of another file`);
      if (req.offset !== u.bytes) throw new IpcError('invalid_input', `upload ${id} has ${u.bytes} bytes: the next piece goes at offset ${u.bytes}, not ${req.offset}`);
    }
    if (u.bytes + bytes.length > this.maxBytes) {
      this.remove(id);
      throw new IpcError('too_large', `the file is over ${Math.floor(this.maxBytes / (1024 * 1024))} MiB, more than an import takes`);
    }
    if (this.freeBytes(u.file) - bytes.length < this.reserveBytes) {
      this.remove(id);
      throw new IpcError('disk_full', `the disk of ${this.dir} would have less than ${Math.floor(this.reserveBytes / (1024 * 1024))} MiB free with this file: the upload was dropped`);
    }
    try {
      fs.appendFileSync(u.file, bytes);
    } catch (e) {
      this.remove(id);
      throw e;
    }
    u.bytes += bytes.length;
    u.touchedAt = this.now();
    if (req.last) u.complete = true;
    return { uploadId: id, bytes: u.bytes };
  }

  /** The file of a complete upload. */
  fileOf(id: string): string {
    const u = this.uploads.get(id);
    if (!u) throw notHere(id);
    if (!u.complete) throw new IpcError('invalid_input', `upload ${id} is not complete (${u.bytes} bytes so far)`);
    u.touchedAt = this.now();
    return u.file;
  }

  /** Deletes an upload and its folder (nothing when it is unknown). */
  remove(id: string): void {
    if (!this.uploads.delete(id)) return;
    try {
      fs.rmSync(path.join(this.dir, id), { recursive: true, force: true });
    } catch (e) {
      this.logger.warn(`imports: could not delete upload ${id}: ${(e as Error).message}`);
    }
  }
}
