/**
 * A model file as the engine host hands it to llama.cpp: opened once, its header checked from that
 * open file, and llama.cpp given the same file, so that a file renamed over the path between the
 * check and the load is never what llama.cpp reads.
 *
 * - Linux: llama.cpp opens `/proc/self/fd/N`, which is the open file itself (a new open file
 *   description, with its own offset).
 * - A split model (`split.count` > 1): llama.cpp derives the names of the other parts from the path
 *   (`…-00001-of-0000N.gguf`), so it gets the path; and on Windows and macOS, which have no such name
 *   (macOS's `/dev/fd/N` is a dup of N: it shares N's file offset, where our header read left it,
 *   and llama.cpp's GGUF parser starts at the current offset). There the
 *   file's identity (device, file id, size, mtime, ctime) is read before the check and compared after
 *   the load, and so is each other part's (which llama.cpp opens by name on every system); a mismatch
 *   unloads what was loaded and refuses with `model_changed`.
 * - Everywhere, the open file must be unchanged after the load (not written in place meanwhile).
 */
import type { BigIntStats } from 'fs';
import fs, { promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import { toCode } from '../errors/catalogue';
import path from 'path';
import { GgufHeaderCache, openModelFile } from '../gguf/cache';
import { GgufHeader, ggufNumber } from '../gguf/read';
import { GgufError } from '../gguf/types';
import { hparamProblem } from '../gguf/hparams';
import { splitPartPaths } from '../gguf/split-name';
import { EngineError } from './protocol';

/** How llama.cpp is given the file. */
export type FileAccess = 'descriptor' | 'identity';

/**
 * The name under which this process's open file `fd` can be opened again as a file of its own, or
 * null where there is none (macOS's `/dev/fd/N` opens a dup sharing N's offset, so not there).
 */
export function descriptorPath(fd: number, platform: NodeJS.Platform = process.platform): string | null {
  if (platform === 'linux') return `/proc/self/fd/${fd}`;
  return null;
}

/**
 * `message` with every mention of `nativePath` replaced by `file`: exact, so `/proc/self/fd/3` does not
 * match the start of `/proc/self/fd/30` (a mention is the path not followed by a digit).
 */
export function renameInMessage(message: string, nativePath: string, file: string): string {
  const escaped = nativePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message.replace(new RegExp(`${escaped}(?!\\d)`, 'g'), () => file);
}

/** Whether the header says the model is split over several files (llama.cpp then opens the siblings by name). */
export function isSplit(header: GgufHeader): boolean {
  return (ggufNumber(header, 'split.count') ?? 1) > 1;
}

/** The file's contents as far as the file system tells: a write changes the size or the mtime. */
const contents = (st: BigIntStats) => [st.dev, st.ino, st.size, st.mtimeNs].join(':');
/** Which file a name leads to: a file put in another's place differs at least in its ctime, even on a reused inode. */
const identity = (st: BigIntStats) => `${contents(st)}:${st.ctimeNs}`;

/** A file llama.cpp opens by name, and its identity when the model was opened. */
interface Part {
  file: string;
  before: string;
}

/** The identity of the file a name leads to, or null where there is none. */
const identityAt = (file: string): Promise<string | null> => fsp.stat(file, { bigint: true }).then(identity, () => null);

/**
 * A split model's other parts, by name (llama.cpp opens them so), with their identity now. A part that
 * is missing is refused, naming it (llama.cpp's load would stop there), and so is one that is no regular
 * file (llama.cpp's blocking open of a FIFO would never return).
 */
async function otherParts(file: string, header: GgufHeader): Promise<Part[]> {
  const count = ggufNumber(header, 'split.count') ?? 1;
  // llama.cpp reads the count as a u16 (another type it refuses)
  if (!(Number.isInteger(count) && count > 1 && count <= 0xffff)) return [];
  const out: Part[] = [];
  for (const part of (splitPartPaths(file, count) ?? []).slice(1)) {
    const st = await fsp.stat(part, { bigint: true }).catch(() => null);
    if (!st) throw new Error(`its part ${part} is missing`);
    if (!st.isFile()) throw new Error(`its part ${part} is not a regular file`);
    out.push({ file: part, before: identity(st) });
  }
  return out;
}

/** Thrown when the file changed between the check and the load. */
export class ModelFileChanged extends Error {
  readonly code = 'model_changed';
  constructor(file: string) {
    super(`${path.basename(file)} was replaced or changed while it was loading, so it was not loaded; load it again`);
  }
}

export class CheckedModelFile {
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    /** the open file when it was opened */
    private readonly before: BigIntStats,
    readonly header: GgufHeader,
    readonly access: FileAccess,
    /** what llama.cpp opens */
    readonly nativePath: string,
    /** a split model's other parts, by name, with their identity when opened (llama.cpp opens them by name) */
    private readonly parts: readonly Part[] = [],
  ) {}

  /** the file's size in bytes when it was opened */
  get size(): number {
    return Number(this.before.size);
  }

  /**
   * Opens `file`, reads its header from the open file (`headers` keeps parses of unchanged files) and
   * decides how llama.cpp gets it. The caller checks the header, hands `nativePath` to llama.cpp, calls
   * `verify()` after llama.cpp opened it, and `close()` in the end. `single`: a file llama.cpp reads
   * alone whatever its header says (a projector: mtmd follows no split parts). `forceIdentity` (a test
   * hook) takes the identity path where a descriptor would do.
   */
  static async open(file: string, headers: GgufHeaderCache, opts: { signal?: AbortSignal; forceIdentity?: boolean; single?: boolean } = {}): Promise<CheckedModelFile> {
    const abs = path.resolve(file);
    const fh = await openModelFile(abs);
    try {
      const before = await fh.stat({ bigint: true });
      const header = await headers.readOpen(fh, abs, { signal: opts.signal });
      const split = !opts.single && isSplit(header);
      const fdPath = descriptorPath(fh.fd);
      const access: FileAccess = fdPath && !split && !opts.forceIdentity ? 'descriptor' : 'identity';
      return new CheckedModelFile(abs, fh, before, header, access, access === 'descriptor' ? fdPath! : abs, split ? await otherParts(abs, header) : []);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Throws ModelFileChanged unless the open file still has the contents checked and, when llama.cpp
   * opened it by name, the path still leads to it. (The open file's ctime moves when the path is
   * renamed away from it: with a descriptor that is no change to what llama.cpp read.)
   */
  async verify(): Promise<void> {
    if (contents(await this.fh.stat({ bigint: true })) !== contents(this.before)) throw new ModelFileChanged(this.file);
    const byName = this.access === 'identity' ? [{ file: this.file, before: identity(this.before) }, ...this.parts] : [];
    for (const p of byName) if ((await identityAt(p.file)) !== p.before) throw new ModelFileChanged(p.file);
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => undefined);
  }
}

/**
 * Test hook (the `loadGate` method): the check of a model file (and of the files a load names beside
 * it) writes `<dir>/checked` and waits (at most a minute, or until the request is withdrawn) for
 * `<dir>/go` before llama.cpp gets the files; `identity` takes the identity path for all of them.
 */
export interface LoadGate {
  dir: string;
  identity: boolean;
}

export async function passGate(g: LoadGate, signal?: AbortSignal): Promise<void> {
  await fsp.writeFile(path.join(g.dir, 'checked'), '');
  for (let i = 0; i < 3000 && !signal?.aborted && !fs.existsSync(path.join(g.dir, 'go')); i++) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Runs `use` (llama.cpp reading `files` by their `nativePath`) with the addon's messages naming each
 * file as the user knows it, then refuses what it made of a file that changed meanwhile
 * (`model_changed`; `discard` frees it).
 */
export async function handOver<T>(files: readonly CheckedModelFile[], use: () => Promise<T>, discard?: (r: T) => void): Promise<T> {
  const r = await use().catch((e: unknown) => {
    const err = e as { code?: unknown; message?: unknown };
    if (typeof err?.message !== 'string') throw e;
    let message = err.message;
    for (const f of files) if (f.nativePath !== f.file) message = renameInMessage(message, f.nativePath, f.file);
    if (message === err.message) throw e;
    throw new EngineError(toCode(err.code, 'engine', 'native'), message);
  });
  try {
    for (const f of files) await f.verify();
  } catch (e) {
    discard?.(r);
    if (e instanceof ModelFileChanged) throw new EngineError(e.code, e.message);
    throw e;
  }
  return r;
}

/**
 * Opens a model file once and checks its GGUF header in TypeScript from that open file, so a malformed
 * file gets a precise error (`invalid_model`, `not_found`) and never reaches llama.cpp, nor do
 * hyperparameters llama.cpp asserts on (main/gguf/hparams.ts); `use` then hands llama.cpp the same
 * file (`nativePath`). What `use` made of a file that changed meanwhile is refused (`model_changed`;
 * `discard` frees it). The addon's messages name the file as the user knows it.
 */
export async function withCheckedModelFile<T>(
  file: string,
  headers: GgufHeaderCache,
  opts: { signal?: AbortSignal; forceIdentity?: boolean },
  use: (f: CheckedModelFile) => Promise<T>,
  discard?: (r: T) => void,
): Promise<T> {
  let f: CheckedModelFile;
  try {
    f = await CheckedModelFile.open(file, headers, opts);
  } catch (e) {
    if (e instanceof GgufError) throw new EngineError('invalid_model', e.message);
    if (opts.signal?.aborted) throw new EngineError('aborted', 'the load was cancelled');
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new EngineError('not_found', `model file not found: ${file}`);
    throw new EngineError('invalid_model', `${file}: ${err.message}`);
  }
  try {
    // values llama.cpp asserts on (an abort of the whole host) are refused here
    const problem = hparamProblem(f.header);
    if (problem) throw new EngineError('invalid_model', `${file}: ${problem}`);
    return await handOver([f], () => use(f), discard);
  } finally {
    await f.close();
  }
}
