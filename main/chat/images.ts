/**
 * The images the user attaches to messages, kept in the data folder by content: <data>/images/<sha256>.<ext>.
 * An image is checked before it is kept: its first bytes (a kind llama.cpp's mtmd decodes), its size
 * (at most MAX_IMAGE_BYTES), and its width and height as its header declares them (image-size reads
 * them): one whose dimensions cannot be read (a truncated or damaged file) or that holds more than the
 * engine's MAX_IMAGE_PIXELS is refused here rather than by the engine at a later turn. It is written
 * atomically (a temporary file, synced, renamed into place), and the same image attached twice is one
 * file. A message keeps the attachment (type image, the hash as ref, its width and height); the chat
 * turn hands the engine the file's path, the renderer reads it back as a data: URL. A ref is only ever
 * a 64-digit hash (ImageRef), so no request can name another file; and what lies in the folder is not
 * trusted: only a regular file (no link, no folder) of at most MAX_IMAGE_BYTES is used or read.
 */
import { createHash } from 'crypto';
import { constants as fsConstants, promises as fsp, type Stats } from 'fs';
import type { FileHandle } from 'fs/promises';
import { imageSize } from 'image-size';
import path from 'path';
import { makeDirs } from '../dirs';
import { takeBack, temporaryName } from '../file-sweep';
import { ImageAttachment, ImageRef, IpcError } from '../ipc/contract';
import { IMAGE_KINDS, IMAGE_KINDS_TEXT, imageKindOf, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, type ImageKind } from '../params';

/** A stored image: its file (a regular file, checked without following links), kind and size. */
export interface StoredImage {
  file: string;
  kind: ImageKind;
  size: number;
}

/** An image's width and height in pixels. */
export interface ImageDimensions {
  width: number;
  height: number;
}

/** Base64 (standard alphabet, padded or not; no data: URL, no whitespace). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A stored image's file name: its hash and its kind's extension (ImageStore's fileOf), with the hash as group 1; the sweep's (./image-sweep.ts). */
export const STORED_IMAGE_NAME = new RegExp(`^([0-9a-f]{64})\\.(?:${IMAGE_KINDS.map((k) => k.ext).join('|')})$`);

/** Opening a file this way fails on a link rather than following it (where the system has the flag). */
const NO_FOLLOW = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0);

/** The ref, checked: 64 lowercase hex digits, else invalid_input. */
function checkRef(ref: string): string {
  const r = ImageRef.safeParse(ref);
  if (!r.success) throw new IpcError('invalid_input', 'an image is named by its SHA-256: 64 hex digits');
  return r.data;
}

/**
 * An image's width and height from its header, or null when they cannot be read (a truncated or
 * damaged file, or a header of another kind than its first bytes say). image-size names the kinds
 * as IMAGE_KINDS' extensions do (png, jpg, gif, bmp).
 */
export function dimensionsOf(bytes: Uint8Array, kind: ImageKind): ImageDimensions | null {
  try {
    // image-size reads through a DataView of the whole underlying buffer (2.1.0): a view into a larger
    // one (a Buffer from Node's pool, a subarray) would let it read past the file's end, so it gets
    // bytes of their own, where reading past the end throws
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
    const r = imageSize(own);
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
    return r.type === kind.ext && ok(r.width) && ok(r.height) ? { width: r.width, height: r.height } : null;
  } catch {
    return null;
  }
}

/** What an image's dimensions refuse (invalid_input): unreadable, or more pixels than the engine reads. */
function checkDimensions(name: string, kind: ImageKind, d: ImageDimensions | null): ImageDimensions {
  if (!d) throw new IpcError('invalid_input', `${name}: its width and height cannot be read (a truncated or damaged ${kind.name} file)`);
  if (d.width * d.height > MAX_IMAGE_PIXELS) {
    throw new IpcError('invalid_input', `${name} is ${d.width}x${d.height} pixels; a model reads at most ${MAX_IMAGE_PIXELS} pixels of one image (${Math.sqrt(MAX_IMAGE_PIXELS)} x ${Math.sqrt(MAX_IMAGE_PIXELS)}): scale it down`);
  }
  return d;
}

export class ImageStore {
  constructor(private readonly dir: string) {}

  /** The file an image of this kind and hash is kept in. */
  private fileOf(ref: string, kind: ImageKind): string {
    return path.join(this.dir, `${ref}.${kind.ext}`);
  }

  /** Refused (image_missing) unless what is there is a regular file (not a link, not a folder) of at most MAX_IMAGE_BYTES. */
  private checkFile(st: Stats, file: string, name: string): void {
    if (!st.isFile()) throw new IpcError('image_missing', `the image ${name} in ${this.dir} is not a regular file (a link or a folder took its place): it is not read`);
    if (st.size > MAX_IMAGE_BYTES) throw new IpcError('image_missing', `the image ${name} (${path.basename(file)}) has ${st.size} bytes, more than an image may have (${MAX_IMAGE_BYTES}): it is not read`);
  }

  /**
   * Checks and keeps an image's bytes; answers the attachment a message carries. Refused
   * (invalid_input) unless the bytes are a PNG, JPEG, GIF or BMP file whose width and height can be
   * read and hold at most MAX_IMAGE_PIXELS; too_large past MAX_IMAGE_BYTES.
   */
  async add(bytes: Buffer, name: string): Promise<ImageAttachment> {
    if (bytes.length === 0) throw new IpcError('invalid_input', `${name} is empty`);
    if (bytes.length > MAX_IMAGE_BYTES) throw new IpcError('too_large', `${name} has ${bytes.length} bytes; an image may have at most ${MAX_IMAGE_BYTES}`);
    const kind = imageKindOf(bytes);
    if (!kind) throw new IpcError('invalid_input', `${name} is not an image Hearth can send to a model: only ${IMAGE_KINDS_TEXT} files are read (convert a WEBP, HEIC or other image first)`);
    const { width, height } = checkDimensions(name, kind, dimensionsOf(bytes, kind));
    const ref = createHash('sha256').update(bytes).digest('hex');
    const file = this.fileOf(ref, kind);
    const have = await fsp.lstat(file).catch(() => undefined);
    // the same image again: a regular file of its size there already is it (its name is its hash);
    // anything else there (a link, a folder, a file cut short) is replaced
    if (!have?.isFile() || have.size !== bytes.length) {
      makeDirs(this.dir);
      const tmp = path.join(this.dir, temporaryName(ref));
      try {
        const fh = await fsp.open(tmp, 'wx');
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, file);
      } catch (e) {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw e;
      }
    } else {
      // kept again: its time restarts, so the sweep (./image-sweep.ts) counts its grace period from now
      const now = new Date();
      await fsp.utimes(file, now, now).catch(() => undefined);
    }
    return { type: 'image', ref, name, mimeType: kind.mimeType, size: bytes.length, width, height };
  }

  /** Takes an image as base64 (what images.store carries); refused when it is not base64. */
  async addBase64(data: string, name: string): Promise<ImageAttachment> {
    if (data.length % 4 === 1 || !BASE64.test(data)) throw new IpcError('invalid_input', `${name}: the image's bytes must be base64`);
    return this.add(Buffer.from(data, 'base64'), name);
  }

  /**
   * The stored image a ref names, or null when none is kept (deleted, never stored). A malformed ref
   * is refused (invalid_input); a link, a folder or an oversize file where the image should be is
   * refused (image_missing), never followed. One the sweep set aside (no message named it: a backup
   * restored) is taken back when it still holds its content (./image-sweep.ts).
   */
  async find(ref: string, name?: string): Promise<StoredImage | null> {
    const r = checkRef(ref);
    const there = async (kind: ImageKind): Promise<StoredImage | null> => {
      const file = this.fileOf(r, kind);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (!st) return null;
      this.checkFile(st, file, name ?? r);
      return { file, kind, size: st.size };
    };
    for (const kind of IMAGE_KINDS) {
      const found = await there(kind);
      if (found) return found;
    }
    for (const kind of IMAGE_KINDS) {
      const back = await takeBack(this.dir, path.basename(this.fileOf(r, kind)), r, MAX_IMAGE_BYTES);
      // (still aside when it could not be moved: read from there)
      if (back) return { file: back.file, kind, size: back.bytes.length };
    }
    return null;
  }

  /** The stored image a ref names; image_missing when it is not kept (or what is there is not a regular file of an image's size). */
  async get(ref: string, name?: string): Promise<StoredImage> {
    const found = await this.find(ref, name);
    if (!found) throw new IpcError('image_missing', `the image ${name ?? ref} is no longer in ${this.dir}`);
    return found;
  }

  /**
   * A stored image's bytes: the file is opened without following a link, and checked again on the
   * open file (a regular file of at most MAX_IMAGE_BYTES) before it is read.
   */
  private async bytesOf(img: StoredImage, name: string): Promise<Buffer> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(img.file, NO_FOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new IpcError('image_missing', `the image ${name} is no longer in ${this.dir}`);
      if (code === 'ELOOP' || code === 'EISDIR') throw new IpcError('image_missing', `the image ${name} in ${this.dir} is not a regular file (a link or a folder took its place): it is not read`);
      throw e;
    }
    try {
      this.checkFile(await fh.stat(), img.file, name);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** A stored image's width and height, read from its file; invalid_input when they cannot be read or are over MAX_IMAGE_PIXELS. */
  async dimensions(img: StoredImage, name: string): Promise<ImageDimensions> {
    return checkDimensions(name, img.kind, dimensionsOf(await this.bytesOf(img, name), img.kind));
  }

  /**
   * The attachment a message may carry for an image the renderer names: it must be stored, and its
   * kind, size, width and height are the file's (what the renderer says of them is not taken).
   */
  async attachment(a: { ref: string; name: string }): Promise<ImageAttachment> {
    const img = await this.get(a.ref, a.name);
    const bytes = await this.bytesOf(img, a.name);
    const { width, height } = checkDimensions(a.name, img.kind, dimensionsOf(bytes, img.kind));
    return { type: 'image', ref: a.ref, name: a.name, mimeType: img.kind.mimeType, size: bytes.length, width, height };
  }

  /** A stored image as a data: URL (for the renderer to show). */
  async dataUrl(ref: string): Promise<string> {
    const img = await this.get(ref);
    const bytes = await this.bytesOf(img, ref);
    return `data:${img.kind.mimeType};base64,${bytes.toString('base64')}`;
  }
}
