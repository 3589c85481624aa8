/**
 * Copying a model file to another folder (another disk) with progress: written to `<target>.part`,
 * its size checked against the source's, then made durable under its name (flushed, renamed, the
 * folder flushed: disk.ts commitPart), so a caller may delete the source once it returns. Used by imports (import.ts) and by
 * moving the models folder (folder-move.ts).
 */
import fs, { promises as fsp } from 'fs';
import path from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { commitPart, partOf } from './disk';

/**
 * Copies `source` (of `size` bytes) to `target` through `<target>.part`; `onBytes` is told the bytes
 * copied of this file. A copy that fails leaves no `.part`. `exclusive`: fail when the `.part` exists
 * (another copy of the same name is running); else a `.part` left by an earlier attempt is replaced.
 */
export async function copyVerified(source: string, target: string, size: number, onBytes: (copied: number) => void, exclusive = true): Promise<void> {
  const part = partOf(target);
  let copied = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      copied += chunk.length;
      onBytes(copied);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(fs.createReadStream(source), counter, fs.createWriteStream(part, { flags: exclusive ? 'wx' : 'w' }));
    if ((await fsp.stat(part)).size !== size) throw new Error(`${path.basename(source)} changed while it was copied`);
    await commitPart(part, target);
  } catch (e) {
    await fsp.rm(part, { force: true });
    throw e;
  }
}
