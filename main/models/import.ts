/**
 * Importing a GGUF file into the library: checked first (the library's checks, then a metadata-only
 * load by llama.cpp through the engine), then copied or moved into the models folder with progress
 * (written to `<name>.part`, renamed into place when whole), or added by reference where it is.
 * A split model (`-00001-of-00003.gguf`) is imported with all its parts.
 */
import fs, { promises as fsp } from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import { copyVerified } from './copy';
import { statfsFree } from './disk';
import { splitParts } from './split-name';
import type { ModelLibrary, LibraryEntry } from './library';

import { IMPORT_MODES } from '../ipc/models';

export { IMPORT_MODES };
export type ImportMode = (typeof IMPORT_MODES)[number];

export interface ImportResult {
  mode: ImportMode;
  /** where the model is now (a split model's first part) */
  path: string;
  /** every file of the model where it is now */
  files: string[];
  size: number;
  /** the library entry of a reference (--link) */
  entry?: LibraryEntry;
}

export interface ImportOptions {
  library: ModelLibrary;
  modelsDir: string;
  /** a metadata-only load through llama.cpp (EngineClient.info): refuses what llama.cpp cannot load */
  loadable?: (file: string) => Promise<unknown>;
  /** bytes copied so far of the whole model */
  onProgress?: (bytes: number, total: number) => void;
  /** free bytes on the disk holding `dir` (default fs.statfs) */
  freeBytes?: (dir: string) => Promise<number>;
}

/** The files of the model `file` is the first part of (itself when it is not split); all must exist. */
function partsOf(file: string): string[] {
  const split = splitParts(file);
  if (!split) return [file];
  const { part, of: n, parts } = split;
  if (part !== 1) throw new IpcError('invalid_input', `${file} is part ${part} of a split model: import its first part (${path.basename(parts[0])})`);
  const missing = parts.filter((p) => !fs.existsSync(p));
  if (missing.length) throw new IpcError('not_found', `${path.basename(file)} is split in ${n} parts; missing: ${missing.map((p) => path.basename(p)).join(', ')}`);
  return parts;
}

export async function importModel(file: string, mode: ImportMode, o: ImportOptions): Promise<ImportResult> {
  const checked = await o.library.checkModelFile(file);
  await o.loadable?.(checked.file);
  if (mode === 'link') {
    const entry = await o.library.addReference(checked.file, { source: 'file' });
    return { mode, path: entry.path, files: [entry.path], size: entry.fileSize, entry };
  }
  const sources = partsOf(checked.file);
  const sizes = await Promise.all(sources.map(async (s) => (await fsp.stat(s)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  await fsp.mkdir(o.modelsDir, { recursive: true });
  const targets = sources.map((s) => path.join(o.modelsDir, path.basename(s)));
  const there = targets.filter((t) => fs.existsSync(t));
  if (there.length) throw new IpcError('invalid_input', `${path.basename(there[0])} is already in the models folder (${o.modelsDir})`);

  let done = 0;
  const moved: string[] = [];
  for (let i = 0; i < sources.length; i++) {
    if (mode === 'move') {
      try {
        await fsp.rename(sources[i], targets[i]);
        moved.push(targets[i]);
        done += sizes[i];
        o.onProgress?.(done, total);
        continue;
      } catch (e) {
        // another disk: copy, then delete the original
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      }
    }
    const free = await (o.freeBytes ?? statfsFree)(o.modelsDir);
    const need = total - done;
    if (free < need) throw new Error(`the models folder's disk has ${free} bytes free; ${path.basename(sources[i])} needs ${need}`);
    const base = done;
    try {
      await copyVerified(sources[i], targets[i], sizes[i], (copied) => o.onProgress?.(base + copied, total));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new Error(`the models folder's disk filled up while ${path.basename(sources[i])} was copied`);
      throw e;
    }
    done += sizes[i];
  }
  if (mode === 'move') for (let i = 0; i < sources.length; i++) if (!moved.includes(targets[i])) await fsp.rm(sources[i], { force: true });
  return { mode, path: targets[0], files: targets, size: total };
}
