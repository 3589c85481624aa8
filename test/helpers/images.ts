/**
 * Small image files for the vision tests: a PNG written here (8-bit RGB, no filter), which llama.cpp's
 * mtmd decodes with stb_image as it would any photo; a BMP and a GIF; and headers that declare a size
 * (a PNG's, a JPEG's) for what reads only headers.
 */
import { deflateSync } from 'zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A `width` x `height` PNG whose pixel (x, y) is pixel(x, y) as [r, g, b]. */
export function pngImage(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[row + 1 + x * 3] = r;
      raw[row + 2 + x * 3] = g;
      raw[row + 3 + x * 3] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A 48 x 40 gradient (not the projector's size: mtmd resizes it), tinted by `tint` so images differ. */
export function testPng(tint = 0): Buffer {
  return pngImage(48, 40, (x, y) => [(x * 5 + tint) & 0xff, (y * 6) & 0xff, (x * y + tint * 3) & 0xff]);
}

/** `png` with a tEXt chunk (keyword `note`, `text`) before its IEND: other bytes, the same pixels. */
export function withTextChunk(png: Buffer, text: string): Buffer {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), chunk('tEXt', Buffer.from(`note\0${text}`, 'latin1')), png.subarray(iend)]);
}

/** testPng(tint) with its header (IHDR, CRC mended) declaring `width` x `height`: read by a header reader, not an image that decodes at that size. */
export function pngDeclaring(width: number, height: number, tint = 0): Buffer {
  const png = Buffer.from(testPng(tint));
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** A `width` x `height` BMP (24 bits a pixel, rows bottom-up), every pixel `rgb`. */
export function bmpImage(width: number, height: number, rgb: [number, number, number] = [0, 0, 0]): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const header = 54;
  const b = Buffer.alloc(header + row * height);
  b.write('BM', 0, 'ascii');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(header, 10);
  b.writeUInt32LE(40, 14); // BITMAPINFOHEADER
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26); // planes
  b.writeUInt16LE(24, 28); // bits a pixel
  b.writeUInt32LE(row * height, 34);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = header + y * row + x * 3;
      [b[at], b[at + 1], b[at + 2]] = [rgb[2], rgb[1], rgb[0]];
    }
  }
  return b;
}

/** A GIF whose screen is `width` x `height`, with one white pixel drawn at its corner. */
export function gifImage(width: number, height: number): Buffer {
  return Buffer.from([
    ...Buffer.from('GIF89a', 'ascii'),
    ...[width & 0xff, width >> 8, height & 0xff, height >> 8, 0x80, 0, 0], // logical screen: a 2-colour table
    ...[0xff, 0xff, 0xff, 0, 0, 0], // the colour table
    ...[0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0], // the image: 1 x 1 at 0, 0
    ...[2, 2, 0x44, 0x01, 0], // its pixels (LZW)
    0x3b,
  ]);
}

/** A JPEG's markers up to its frame header (SOF0) declaring `width` x `height`, then its end: read by a header reader, not an image that decodes. */
export function jpegHeader(width: number, height: number): Buffer {
  const jfif = [0xff, 0xe0, 0, 16, ...Buffer.from('JFIF\0', 'ascii'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.from([0xff, 0xd8, ...jfif, ...sof, 0xff, 0xd9]);
}

/**
 * A PNG of `width` x `height` whose IDAT inflates to `raw` (its rows with their filter bytes, as given:
 * any length), 8 bits a channel; colour type 2 (RGB) or 6 (RGBA); Adam7-interlaced when asked.
 */
export function pngWithRows(width: number, height: number, raw: Buffer, opts: { rgba?: boolean; interlaced?: boolean; cgbi?: boolean } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = opts.rgba ? 6 : 2;
  ihdr[12] = opts.interlaced ? 1 : 0;
  // Apple's CgBI chunk (before IHDR): its data is read without a zlib header
  const cgbi = opts.cgbi ? [chunk('CgBI', Buffer.from([0x50, 0x00, 0x20, 0x06]))] : [];
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...cgbi, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The bytes an Adam7-interlaced image's rows take (each pass's rows, a filter byte each), `channels` bytes a pixel. */
export function adam7RawBytes(width: number, height: number, channels: number): number {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let n = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const cols = Math.max(0, Math.ceil((width - x0) / dx));
    const rows = Math.max(0, Math.ceil((height - y0) / dy));
    if (cols > 0) n += rows * (1 + cols * channels);
  }
  return n;
}

function jpegSegment(marker: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0xff;
  h[1] = marker;
  h.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([h, body]);
}

/**
 * A progressive grayscale `size` x `size` JPEG of `scans` AC refinement scans (each a run of
 * end-of-block codes over every block: a few bytes a scan, which a decoder walks block by block).
 */
export function progressiveJpeg(size: number, scans: number): Buffer {
  const blocks = Math.ceil(size / 8) ** 2;
  const bits: number[] = [];
  const put = (v: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1);
  };
  // symbol r<<4 (an end-of-band run of 2^r + extra blocks) has the 4-bit code r
  let left = blocks;
  while (left >= 32767) {
    put(14, 4);
    put(16383, 14);
    left -= 32767;
  }
  if (left > 0) {
    const r = Math.floor(Math.log2(left));
    put(r, 4);
    if (r) put(left - (1 << r), r);
  }
  while (bits.length % 8) bits.push(1);
  const data: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let b = 0;
    for (let j = 0; j < 8; j++) b = (b << 1) | bits[i + j];
    data.push(b);
    if (b === 0xff) data.push(0);
  }
  const dqt = jpegSegment(0xdb, Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)]));
  const sof = Buffer.alloc(9);
  sof[0] = 8;
  sof.writeUInt16BE(size, 1);
  sof.writeUInt16BE(size, 3);
  sof[5] = 1;
  sof[6] = 1;
  sof[7] = 0x11;
  sof[8] = 0;
  const counts = Buffer.alloc(16);
  counts[3] = 15;
  const dht = jpegSegment(0xc4, Buffer.concat([Buffer.from([0x10]), counts, Buffer.from(Array.from({ length: 15 }, (_, r) => r << 4))]));
  const scan = Buffer.concat([jpegSegment(0xda, Buffer.from([1, 1, 0x00, 1, 63, 0x10])), Buffer.from(data)]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), dqt, jpegSegment(0xc2, sof), dht, ...Array<Buffer>(Math.max(1, scans)).fill(scan), Buffer.from([0xff, 0xd9])]);
}
