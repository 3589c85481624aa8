/**
 * Where the GGUF header reader (read.ts) gets its bytes: a byte source (an open file, a buffer in memory), and a
 * buffered, positional cursor over it whose every access is bounds-checked against the source's size.
 */
import type { FileHandle } from 'fs/promises';
import { GgufError } from './types';

/** Bytes read at once (a source may ask for fewer: GgufByteSource.chunkSize). */
export const READ_CHUNK = 1 << 20;

/** Where the reader gets bytes: an open file or a buffer in memory. */
export interface GgufByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buf` at `offset`; resolves to the count read. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** The most the reader asks for at once beyond what it needs (default READ_CHUNK): a remote source keeps it small. */
  readonly chunkSize?: number;
}

/** Buffered, positional reader over a byte source; every access is bounds-checked. */
export class Cursor {
  private buf: Buffer = Buffer.allocUnsafe(READ_CHUNK);
  private bufStart = 0;
  private bufLen = 0;
  /** Absolute position of the next byte to consume. */
  pos = 0;
  readonly size: number;

  constructor(private readonly src: GgufByteSource, private readonly path: string, private readonly signal?: AbortSignal) {
    this.size = src.size;
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** True when the next `n` bytes are already buffered (lets hot loops skip an `await`). */
  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.bufLen;
  }

  /** Makes the next `n` bytes available, or throws `truncated` naming `what` was being read. */
  async need(n: number, what: string): Promise<void> {
    if (this.has(n)) return;
    this.signal?.throwIfAborted();
    if (n > this.remaining) {
      throw new GgufError('truncated', this.path,
        `file ends while reading ${what}: needs ${n} bytes at offset ${this.pos}, file size is ${this.size}`);
    }
    const want = Math.min(Math.max(n, this.src.chunkSize ?? READ_CHUNK), this.remaining);
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    else if (this.buf.length > READ_CHUNK && want <= READ_CHUNK) this.buf = Buffer.allocUnsafe(READ_CHUNK);
    let got = 0;
    while (got < want) {
      const bytesRead = await this.src.read(this.buf, got, want - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.signal?.throwIfAborted();
    this.bufStart = this.pos;
    this.bufLen = got;
    if (got < n) {
      throw new GgufError('truncated', this.path, `file shrank while reading ${what} at offset ${this.pos}`);
    }
  }

  /** Moves past the next `n` bytes without reading them (the next `need` reads from there), or throws `truncated`. */
  skip(n: number, what: string): void {
    if (n > this.remaining) {
      throw new GgufError('truncated', this.path, `${what} of ${n} bytes at offset ${this.pos} runs past the end of the file (size ${this.size})`);
    }
    this.pos += n;
  }

  // The accessors below assume `need`/`has` covered the bytes.
  private at(n: number): number {
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u8(): number { return this.buf.readUInt8(this.at(1)); }
  i8(): number { return this.buf.readInt8(this.at(1)); }
  u16(): number { return this.buf.readUInt16LE(this.at(2)); }
  i16(): number { return this.buf.readInt16LE(this.at(2)); }
  u32(): number { return this.buf.readUInt32LE(this.at(4)); }
  i32(): number { return this.buf.readInt32LE(this.at(4)); }
  f32(): number { return this.buf.readFloatLE(this.at(4)); }
  f64(): number { return this.buf.readDoubleLE(this.at(8)); }
  u64(): bigint { return this.buf.readBigUInt64LE(this.at(8)); }
  /** A u64 as a number: exact below 2^53, and above it still a number ≥ 2^53 (fine for limit checks). */
  u64n(): number {
    const o = this.at(8);
    return this.buf.readUInt32LE(o) + this.buf.readUInt32LE(o + 4) * 0x100000000;
  }
  i64(): bigint { return this.buf.readBigInt64LE(this.at(8)); }
  utf8(n: number): string {
    const o = this.at(n);
    return this.buf.toString('utf8', o, o + n);
  }
}

/** The byte source of a GGUF file in memory (tests: a mutated copy of a model, without touching the disk). */
export function bufferSource(bytes: Uint8Array): GgufByteSource {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: b.length,
    read: async (buf, offset, length, position) => b.copy(buf, offset, position, Math.min(b.length, position + length)),
  };
}

/** The byte source of an open file of `size` bytes. */
export function fileSource(fh: FileHandle, size: number): GgufByteSource {
  return { size, read: async (buf, offset, length, position) => (await fh.read(buf, offset, length, position)).bytesRead };
}

