/**
 * The images the user attaches to messages, kept in the data folder by content: <data>/images/<sha256>.<ext>.
 * An image is checked before it is kept (its first bytes: a kind llama.cpp's mtmd decodes; its size:
 * at most MAX_IMAGE_BYTES), written atomically (a temporary file renamed into place), and the same
 * image attached twice is one file. A message keeps the attachment (type image, the hash as ref); the
 * chat turn hands the engine the file's path, the renderer reads it back as a data: URL. A ref is
 * only ever a 64-digit hash (ImageRef), so no request can name another file.
 */
import { createHash, randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import path from 'path';
import { makeDirs } from '../dirs';
import { ImageAttachment, ImageRef, IpcError } from '../ipc/contract';
import { IMAGE_KINDS, IMAGE_KINDS_TEXT, imageKindOf, MAX_IMAGE_BYTES, type ImageKind } from '../params';

/** A stored image: its file and kind. */
export interface StoredImage {
  file: string;
  kind: ImageKind;
  size: number;
}

/** Base64 (standard alphabet, padded or not; no data: URL, no whitespace). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The ref, checked: 64 lowercase hex digits, else invalid_input. */
function checkRef(ref: string): string {
  const r = ImageRef.safeParse(ref);
  if (!r.success) throw new IpcError('invalid_input', 'an image is named by its SHA-256: 64 hex digits');
  return r.data;
}

export class ImageStore {
  constructor(private readonly dir: string) {}

  /** The file an image of this kind and hash is kept in. */
  private fileOf(ref: string, kind: ImageKind): string {
    return path.join(this.dir, `${ref}.${kind.ext}`);
  }

  /**
   * Checks and keeps an image's bytes; answers the attachment a message carries. Refused
   * (invalid_input) unless the bytes are a PNG, JPEG, GIF or BMP file; too_large past MAX_IMAGE_BYTES.
   */
  async add(bytes: Buffer, name: string): Promise<ImageAttachment> {
    if (bytes.length === 0) throw new IpcError('invalid_input', `${name} is empty`);
    if (bytes.length > MAX_IMAGE_BYTES) throw new IpcError('too_large', `${name} has ${bytes.length} bytes; an image may have at most ${MAX_IMAGE_BYTES}`);
    const kind = imageKindOf(bytes);
    if (!kind) throw new IpcError('invalid_input', `${name} is not an image Hearth can send to a model: only ${IMAGE_KINDS_TEXT} files are read (convert a WEBP, HEIC or other image first)`);
    const ref = createHash('sha256').update(bytes).digest('hex');
    const file = this.fileOf(ref, kind);
    const have = await fsp.stat(file).catch(() => undefined);
    // the same image again: the file there already is it (its name is its hash)
    if (!have?.isFile() || have.size !== bytes.length) {
      makeDirs(this.dir);
      const tmp = path.join(this.dir, `.${ref}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await fsp.writeFile(tmp, bytes, { flag: 'wx' });
        await fsp.rename(tmp, file);
      } catch (e) {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw e;
      }
    }
    return { type: 'image', ref, name, mimeType: kind.mimeType, size: bytes.length };
  }

  /** Takes an image as base64 (what images.store carries); refused when it is not base64. */
  async addBase64(data: string, name: string): Promise<ImageAttachment> {
    if (data.length % 4 === 1 || !BASE64.test(data)) throw new IpcError('invalid_input', `${name}: the image's bytes must be base64`);
    return this.add(Buffer.from(data, 'base64'), name);
  }

  /** The stored image a ref names, or null when none is kept (deleted, never stored). A malformed ref is refused. */
  async find(ref: string): Promise<StoredImage | null> {
    const r = checkRef(ref);
    for (const kind of IMAGE_KINDS) {
      const file = this.fileOf(r, kind);
      const st = await fsp.stat(file).catch(() => undefined);
      if (st?.isFile()) return { file, kind, size: st.size };
    }
    return null;
  }

  /** The stored image a ref names; image_missing when it is not kept. */
  async get(ref: string, name?: string): Promise<StoredImage> {
    const found = await this.find(ref);
    if (!found) throw new IpcError('image_missing', `the image ${name ?? ref} is no longer in ${this.dir}`);
    return found;
  }

  /**
   * The attachment a message may carry for an image the renderer names: it must be stored, and its
   * kind and size are the file's (what the renderer says of them is not taken).
   */
  async attachment(a: { ref: string; name: string }): Promise<ImageAttachment> {
    const img = await this.get(a.ref, a.name);
    return { type: 'image', ref: a.ref, name: a.name, mimeType: img.kind.mimeType, size: img.size };
  }

  /** A stored image as a data: URL (for the renderer to show). */
  async dataUrl(ref: string): Promise<string> {
    const img = await this.get(ref);
    const bytes = await fsp.readFile(img.file);
    return `data:${img.kind.mimeType};base64,${bytes.toString('base64')}`;
  }
}
