/**
 * Copying a model file to another folder (another disk) with progress: written to a `.part` of its
 * own (disk.ts copyPartOf: never a download's name, new for each copy),
 * its size checked against the source's, then made durable under its name (flushed, renamed, the
 * folder flushed: disk.ts commitPart), so a caller may delete the source once it returns. Used by imports (import.ts) and by
 * moving the models folder (folder-move.ts).
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { openRegularStream } from '../regular-file';
import { commitPart, copyPartOf } from './disk';

/**
 * Copies `source` (of `size` bytes) to `target` through a `.part` this call creates (copyPartOf,
 * opened exclusively); `onBytes` is told the bytes copied of this file. A copy that fails deletes
 * its own `.part` and nothing else: a file it did not create (EEXIST) is left alone.
 */
export async function copyVerified(source: string, target: string, size: number, onBytes: (copied: number) => void): Promise<void> {
  const part = copyPartOf(target);
  let created = false;
  let copied = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      copied += chunk.length;
      onBytes(copied);
      cb(null, chunk);
    },
  });
  try {
    const fh = await fsp.open(part, 'wx');
    created = true;
    // the source as opened must be a regular file (a FIFO swapped in since it was checked would block the copy for good)
    const from = await openRegularStream(source).catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (!from) {
      await fh.close();
      throw new Error(`${path.basename(source)} is no longer a regular file`);
    }
    await pipeline(from.stream, counter, fh.createWriteStream());
    if ((await fsp.stat(part)).size !== size) throw new Error(`${path.basename(source)} changed while it was copied`);
    await commitPart(part, target);
  } catch (e) {
    if (created) await fsp.rm(part, { force: true });
    throw e;
  }
}
