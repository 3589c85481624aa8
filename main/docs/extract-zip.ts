/**
 * A Word document's zip, checked before mammoth unpacks it: mammoth (through JSZip) inflates every
 * entry it reads into an ArrayBuffer, which the reader thread's memory limit does not bound, so a
 * small zip holding a huge entry (a zip bomb) would take the process's memory. Here the zip's central
 * directory is read (the End Of Central Directory record from the end, then each entry's header) and
 * the zip is refused when an entry declares more than MAX_DOCX_ENTRY_BYTES unpacked, all of them more
 * than MAX_DOCX_TOTAL_BYTES, or it is ZIP64 (a Word document never needs it). A declared size may lie:
 * each entry is then inflated here with its declared size as the most zlib may write
 * (`maxOutputLength`), one at a time, so what a lie costs is bounded by the caps too.
 */
import * as zlib from 'zlib';
import { MAX_DOCX_ENTRY_BYTES, MAX_DOCX_TOTAL_BYTES } from '../params/docs';

const EOCD = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_EOCD_LOCATOR = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const CENTRAL_HEADER = 0x02014b50;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER = 0x04034b50;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;
const STORED = 0;
const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The zip's entries as its central directory lists them; throws (a message without the file's name) when it has none, is cut or is ZIP64. */
export function zipEntries(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - EOCD_SIZE; i >= Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('it is not a zip (no end of central directory)');
  if (eocd >= ZIP64_LOCATOR_SIZE && view.getUint32(eocd - ZIP64_LOCATOR_SIZE, true) === ZIP64_EOCD_LOCATOR) throw new Error('it is a ZIP64 archive, which a Word document never needs');
  const count = view.getUint16(eocd + 10, true);
  const dirSize = view.getUint32(eocd + 12, true);
  const dirOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) throw new Error('it is a ZIP64 archive, which a Word document never needs');
  if (dirOffset + dirSize > eocd) throw new Error('its central directory is cut or misplaced');
  const entries: ZipEntry[] = [];
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_SIZE > eocd || view.getUint32(at, true) !== CENTRAL_HEADER) throw new Error('its central directory is damaged');
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) throw new Error('it is a ZIP64 archive, which a Word document never needs');
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + at + CENTRAL_HEADER_SIZE, Math.min(nameLength, eocd - at - CENTRAL_HEADER_SIZE)).toString('utf8');
    entries.push({ name, method, compressedSize, size, localOffset });
    at += CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The entry's packed bytes (after its local header). */
function packed(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localOffset;
  if (at + LOCAL_HEADER_SIZE > bytes.length || view.getUint32(at, true) !== LOCAL_HEADER) throw new Error(`its entry ${entry.name} is damaged`);
  const start = at + LOCAL_HEADER_SIZE + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length) throw new Error(`its entry ${entry.name} is cut`);
  return bytes.subarray(start, start + entry.compressedSize);
}

/**
 * Throws an Error that says why when the zip may not be unpacked (see the file's comment); `name` is
 * the document's. Memory: one entry's unpacked bytes at a time, at most MAX_DOCX_ENTRY_BYTES.
 */
export function checkDocxZip(name: string, bytes: Uint8Array, caps = { entry: MAX_DOCX_ENTRY_BYTES, total: MAX_DOCX_TOTAL_BYTES }): void {
  let entries: ZipEntry[];
  try {
    entries = zipEntries(bytes);
  } catch (e) {
    throw new Error(`"${name}" could not be read as a Word document (DOCX): it is damaged or not DOCX (${(e as Error).message})`);
  }
  const tooLarge = (what: string) =>
    new Error(
      `"${name}" is refused: ${what} (a Word document may unpack to at most ${caps.entry} bytes an entry and ${caps.total} bytes in all; this looks like a zip bomb)`,
    );
  let total = 0;
  for (const entry of entries) {
    if (entry.size > caps.entry) throw tooLarge(`its entry ${entry.name} unpacks to ${entry.size} bytes`);
    total += entry.size;
    if (total > caps.total) throw tooLarge(`its entries unpack to more than ${total} bytes`);
  }
  // the declared sizes may lie: each entry is unpacked (and dropped) with its declared size as the most
  for (const entry of entries) {
    // mammoth refuses other methods itself; an empty entry (a folder) holds nothing to unpack
    if ((entry.method !== STORED && entry.method !== DEFLATED) || (entry.compressedSize === 0 && entry.size === 0)) continue;
    const data = packed(bytes, entry);
    if (entry.method === STORED) {
      if (data.length !== entry.size) throw new Error(`"${name}" could not be read as a Word document (DOCX): its entry ${entry.name} is damaged`);
      continue;
    }
    try {
      zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, entry.size) });
    } catch (e) {
      if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(`its entry ${entry.name} unpacks to more than the ${entry.size} bytes it declares`);
      throw new Error(`"${name}" could not be read as a Word document (DOCX): its entry ${entry.name} is damaged (${(e as Error).message})`);
    }
  }
}
