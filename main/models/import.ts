/**
 * Importing a GGUF file into the library: checked first (the library's checks, then a metadata-only
 * load by llama.cpp through the engine), then copied or moved into the models folder with progress
 * (written to a `.part` of the copy's own, disk.ts copyPartOf, renamed into place when whole), or
 * added by reference where it is. A split model (`-00001-of-00003.gguf`) is imported with all its parts.
 *
 * A copy or a move is named `<its name>.gguf` in the models folder (a GGUF named otherwise, an Ollama
 * blob `sha256-…`, gets `.gguf` added: the folder lists only .gguf files). Refused: a name a download
 * or another import is writing (FolderLock.claim, or a download's `.part` on disk), any import while
 * the folder moves, and a move of a file the library references or that lies in another app's models
 * folder (discover.ts peerFolders: moving it would break that app; copy or link it instead).
 */
import fs, { promises as fsp } from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import { copyVerified } from './copy';
import { partOf, statfsFree } from './disk';
import { discoverEnvOf, peerFolders, type DiscoverEnv } from './discover';
import { FolderLock } from './folder-lock';
import { inside } from './inside';
import { splitParts } from '../gguf/split-name';
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
  /** the models folder's writers (shared with downloads and the folder move); a lock of its own by default */
  lock?: FolderLock;
  /** other apps' models folders, whose files are never moved (default: discover.ts peerFolders of this user) */
  peerFolders?: string[];
}

/** The models folders of other apps on this machine (their defaults and the environment's), as discovery knows them. */
export function peerModelFolders(e: DiscoverEnv = discoverEnvOf()): string[] {
  return peerFolders(e).flatMap((f) => [...f.defaults, ...(f.environment ? [f.environment] : [])]);
}

/** `name` as the models folder lists it: `.gguf` added when it does not end so. */
export const ggufName = (name: string): string => (/\.gguf$/i.test(name) ? name : `${name}.gguf`);

const realOrResolved = async (p: string) => fsp.realpath(p).catch(() => path.resolve(p));

/** Refuses (invalid_input) to move a file the library references or that lies in another app's models folder. */
async function refuseMove(file: string, o: ImportOptions): Promise<void> {
  const real = await realOrResolved(file);
  const referenced = (await o.library.entries()).some((e) => e.origin === 'reference' && (e.path === file || e.path === real));
  if (referenced) throw new IpcError('invalid_input', `${path.basename(file)} is in the library by reference: moving it would leave that entry without its file; copy it instead, or remove the reference first`);
  for (const folder of o.peerFolders ?? peerModelFolders()) {
    if (inside(await realOrResolved(folder), real)) {
      throw new IpcError('invalid_input', `${path.basename(file)} lies in another app's models folder (${folder}): moving it would break that app; copy it or link it instead`);
    }
  }
}

/** The missing parts an import's refusal names at most (the rest are counted). */
const MISSING_NAMED = 5;

/** The files of the model `file` is the first part of (itself when it is not split); all must exist. */
function partsOf(file: string): string[] {
  const split = splitParts(file);
  if (!split) return [file];
  const { part, of: n, parts } = split;
  if (part !== 1) throw new IpcError('invalid_input', `${file} is part ${part} of a split model: import its first part (${path.basename(parts[0])})`);
  const missing = parts.filter((p) => !fs.existsSync(p)).map((p) => path.basename(p));
  if (missing.length) {
    const named = missing.length > MISSING_NAMED ? `${missing.slice(0, MISSING_NAMED).join(', ')} and ${missing.length - MISSING_NAMED} more` : missing.join(', ');
    throw new IpcError('not_found', `${path.basename(file)} is split in ${n} parts; missing from ${path.dirname(file)}: ${named}. Put every part beside it and import again`);
  }
  return parts;
}

export async function importModel(file: string, mode: ImportMode, o: ImportOptions): Promise<ImportResult> {
  o.lock?.checkNotMoving();
  const checked = await o.library.checkModelFile(file);
  await o.loadable?.(checked.file);
  if (mode === 'link') {
    const entry = await o.library.addReference(checked.file, { source: 'file' });
    return { mode, path: entry.path, files: [entry.path], size: entry.fileSize, entry };
  }
  const sources = partsOf(checked.file);
  if (mode === 'move') await refuseMove(checked.file, o);
  const sizes = await Promise.all(sources.map(async (s) => (await fsp.stat(s)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const targets = sources.map((s) => path.join(o.modelsDir, ggufName(path.basename(s))));
  // each name held for this import (refused while the folder moves or a download writes that name)
  const lock = o.lock ?? new FolderLock();
  const releases: (() => void)[] = [];
  try {
    for (const t of targets) releases.push(lock.claim(t, 'import'));
    return await importFiles(mode, sources, sizes, total, targets, o);
  } finally {
    for (const r of releases) r();
  }
}

async function importFiles(mode: ImportMode, sources: string[], sizes: number[], total: number, targets: string[], o: ImportOptions): Promise<ImportResult> {
  await fsp.mkdir(o.modelsDir, { recursive: true });
  const there = targets.filter((t) => fs.existsSync(t));
  if (there.length) throw new IpcError('invalid_input', `${path.basename(there[0])} is already in the models folder (${o.modelsDir})`);
  // a download of that name kept by another process (the hearth command): its .part is there
  const downloading = targets.filter((t) => fs.existsSync(partOf(t)));
  if (downloading.length) throw new IpcError('invalid_input', `${path.basename(downloading[0])} is being downloaded into the models folder (${path.basename(partOf(downloading[0]))}): let it finish or cancel it first`);

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
