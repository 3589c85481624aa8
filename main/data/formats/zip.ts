/**
 * A ChatGPT or Claude export as downloaded: a .zip holding conversations.json (ChatGPT's beside its
 * images, Claude's beside users.json and projects.json). The entry is inflated as a stream (yauzl), with the
 * zip-bomb defences: a cap on the entries counted, on the entry's declared size, and on the bytes that
 * actually come out of the inflater (a lying header stops there); encrypted entries are refused.
 */
import type { Readable } from 'stream';
import { Transform } from 'stream';
import * as yauzl from 'yauzl';
import { IMPORT_MAX_BYTES } from '../../ipc/data';
import { closeFd, openRegularFile } from '../../regular-file';
import type { JsonSource } from './stream';
import { importError, importFailed, notRegularFile } from './tree';

export interface ZipLimits {
  /** the most bytes the entry may inflate to (IMPORT_MAX_BYTES) */
  maxBytes: number;
  /** the most entries read from the central directory before the zip is refused */
  maxEntries: number;
}

export const ZIP_LIMITS: ZipLimits = { maxBytes: IMPORT_MAX_BYTES, maxEntries: 200_000 };

/** The name of the entry the ChatGPT and Claude exports keep their conversations in. */
export const CONVERSATIONS_ENTRY = 'conversations.json';

/** The zip, opened only as a regular file (../../regular-file.ts); its reader closes the descriptor at zip.close(). */
async function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  const opened = await openRegularFile(zipPath).catch((e: Error) => {
    throw new Error(`${zipPath} is not a readable zip: ${e.message}`);
  });
  if (!opened) throw new Error(`${zipPath} is not a readable zip: ${notRegularFile('it')}`);
  return new Promise((resolve, reject) => {
    yauzl.fromFd(opened.fd, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false }, (err, zip) => {
      if (err || !zip) {
        void closeFd(opened.fd);
        reject(new Error(`${zipPath} is not a readable zip: ${err?.message ?? 'unknown error'}`));
      } else resolve(zip);
    });
  });
}

const baseName = (name: string): string => name.slice(name.lastIndexOf('/') + 1);

/** The entry named `name` (at the top, or the shallowest folder that has one), or null. */
async function findEntry(zip: yauzl.ZipFile, zipPath: string, name: string, limits: ZipLimits): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let best: yauzl.Entry | null = null;
    const done = (v: yauzl.Entry | null, e?: Error) => {
      zip.removeAllListeners('entry'); zip.removeAllListeners('end'); zip.removeAllListeners('error');
      if (e) reject(e); else resolve(v);
    };
    zip.on('entry', (entry: yauzl.Entry) => {
      if (++count > limits.maxEntries) return done(null, new Error(`${zipPath} has more than ${limits.maxEntries} entries`));
      if (!entry.fileName.endsWith('/') && baseName(entry.fileName) === name
        && (!best || entry.fileName.split('/').length < best.fileName.split('/').length)) best = entry;
      if (best && !best.fileName.includes('/')) return done(best);
      zip.readEntry();
    });
    zip.on('end', () => done(best));
    zip.on('error', (e: Error) => done(null, new Error(`${zipPath} is not a readable zip: ${e.message}`)));
    zip.readEntry();
  });
}

function entryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => (err || !stream ? reject(err ?? new Error('no stream')) : resolve(stream)));
  });
}

/** Counts what the inflater gives and stops past `max` bytes, whatever the entry's header said. */
export function byteCap(max: number, where: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(importError(`${where} inflates to more than ${max} bytes (refused as a zip bomb)`));
      else cb(null, chunk);
    },
  });
}

/** Whether the zip holds an entry named `name` (detection). */
export async function zipHasEntry(zipPath: string, name: string, limits: ZipLimits = ZIP_LIMITS): Promise<boolean> {
  let zip: yauzl.ZipFile | null = null;
  try {
    zip = await openZip(zipPath);
    return (await findEntry(zip, zipPath, name, limits)) !== null;
  } catch (e) {
    return importFailed((e as Error).message, e);
  } finally {
    zip?.close();
  }
}

/**
 * The zip's entry `name` as a JsonSource: each open() finds it again and inflates it as a stream; the
 * zip file closes when the stream ends or is destroyed.
 */
export function zipEntrySource(zipPath: string, name = CONVERSATIONS_ENTRY, limits: ZipLimits = ZIP_LIMITS): JsonSource {
  const where = `${zipPath} › ${name}`;
  return {
    where,
    async open() {
      let zip: yauzl.ZipFile | null = null;
      try {
        zip = await openZip(zipPath);
        const entry = await findEntry(zip, zipPath, name, limits);
        if (!entry) throw new Error(`${zipPath} has no ${name} (is it a ChatGPT or Claude export?)`);
        if (entry.isEncrypted()) throw new Error(`${where} is encrypted (password-protected zips are not taken)`);
        if (entry.uncompressedSize > limits.maxBytes) {
          throw new Error(`${where} inflates to ${entry.uncompressedSize} bytes, more than an import takes (${limits.maxBytes}; refused as a zip bomb)`);
        }
        const raw = await entryStream(zip, entry);
        const capped = byteCap(limits.maxBytes, where);
        const z = zip;
        raw.on('error', (e) => capped.destroy(/too many bytes/.test(e.message)
          ? importError(`${where} inflates to more than its header says (refused as a zip bomb: ${e.message})`, e)
          : importError(`cannot inflate ${where}: ${e.message}`, e)));
        capped.on('close', () => { raw.destroy(); z.close(); });
        return raw.pipe(capped);
      } catch (e) {
        zip?.close();
        return importFailed((e as Error).message, e);
      }
    },
  };
}
