/**
 * A model file as the engine host hands it to llama.cpp: opened once, its header checked from that
 * open file, and llama.cpp given the same file, so that a file renamed over the path between the
 * check and the load is never what llama.cpp reads.
 *
 * - Linux: llama.cpp opens `/proc/self/fd/N`, which is the open file itself (a new open file
 *   description, with its own offset). A split model (`split.count` > 1), whose other parts llama.cpp
 *   names from the first one's path (`…-00001-of-0000N.gguf`): every part is opened and its header read
 *   here, and llama.cpp gets the first part's name in a private folder of links, each part's name
 *   there a link to its open file's `/proc/self/fd/N` (which the host, opening it, resolves to its own
 *   descriptor).
 * - Windows and macOS have no such name (macOS's `/dev/fd/N` is a dup of N: it shares N's file offset,
 *   where our header read left it, and llama.cpp's GGUF parser starts at the current offset), so
 *   llama.cpp gets the path. There the file's identity (device, file id, size, mtime, ctime) is read
 *   before the check and compared after the load, and so is each other part's of a split model; a
 *   mismatch unloads what was loaded and refuses with `model_changed`.
 * - Everywhere, the open files must be unchanged after the load (not written in place meanwhile).
 */
import type { BigIntStats } from 'fs';
import fs, { promises as fsp } from 'fs';
import os from 'os';
import type { FileHandle } from 'fs/promises';
import { toCode } from '../errors/catalogue';
import path from 'path';
import { GgufHeaderCache, openModelFile } from '../gguf/cache';
import { GgufHeader, ggufNumber } from '../gguf/read';
import { GgufError } from '../gguf/types';
import { hparamProblem } from '../gguf/hparams';
import { MAX_SPLIT_PARTS, splitPartPaths } from '../gguf/split-name';
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

/** Whether the header says the model is split over several files (llama.cpp names the others from the first one's path). */
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

/** A split model's other part, opened here, and its contents then. */
interface OpenPart {
  file: string;
  fh: FileHandle;
  before: BigIntStats;
}

/** The identity of the file a name leads to, or null where there is none. */
const identityAt = (file: string): Promise<string | null> => fsp.stat(file, { bigint: true }).then(identity, () => null);

/**
 * A split model's other parts' names (llama.cpp's rule), none for a count llama.cpp would not read as
 * one; more than MAX_SPLIT_PARTS are refused.
 */
function otherPartNames(file: string, header: GgufHeader): string[] {
  const count = ggufNumber(header, 'split.count') ?? 1;
  // llama.cpp reads the count as a u16 (another type it refuses)
  if (!(Number.isInteger(count) && count > 1 && count <= 0xffff)) return [];
  if (count > MAX_SPLIT_PARTS) throw new Error(`it is split in ${count} parts; the engine loads at most ${MAX_SPLIT_PARTS}`);
  return (splitPartPaths(file, count) ?? []).slice(1);
}

/**
 * A part's header read by main/gguf's reader from its open file: refused, naming the part, where it is
 * no GGUF file or not the part its name says (its `split.no`, which llama.cpp checks too), so a run of
 * wrong parts stops at the first. llama.cpp reads a part's `split.no` as a u16 asserting that type (an
 * abort of the whole host): another type is refused here.
 */
async function checkPartHeader(fh: FileHandle, part: string, index: number, headers: GgufHeaderCache, signal: AbortSignal | undefined): Promise<void> {
  const h = await headers.readOpen(fh, part, { signal }).catch((e: unknown) => {
    throw e instanceof GgufError ? new Error(`its part ${part} is no GGUF file llama.cpp reads: ${e.detail}`) : e;
  });
  const stored = h.metadata.get('split.no');
  if (stored && stored.type !== 'uint16') throw new Error(`its part ${part} holds split.no as ${stored.type}, not the uint16 llama.cpp reads`);
  const no = ggufNumber(h, 'split.no');
  if (no !== index) throw new Error(`its part ${part} says it is part ${no === undefined ? 'none' : no + 1}, not ${index + 1}`);
}

/** A part at its name, refused (naming it) where it is missing or no regular file: stat'ed before anything opens it. */
async function statPart(part: string): Promise<BigIntStats> {
  const st = await fsp.stat(part, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? `its part ${part} is missing` : `its part ${part} cannot be read: ${e.message}`);
  });
  if (!st.isFile()) throw new Error(`its part ${part} is not a regular file`);
  return st;
}

/**
 * A split model's other parts, by name (llama.cpp opens them so), checked as openOtherParts checks them,
 * with the identity of each file checked.
 */
async function otherParts(file: string, header: GgufHeader, headers: GgufHeaderCache, signal: AbortSignal | undefined): Promise<Part[]> {
  const open = await openOtherParts(file, header, headers, signal);
  for (const p of open) await p.fh.close().catch(() => undefined);
  return open.map((p) => ({ file: p.file, before: identity(p.before) }));
}

/**
 * A split model's other parts, each opened here and its header read from the open file (main/gguf's
 * reader, as the first part's): refused, naming the part, where it is missing, no regular file, or no
 * GGUF file. Those opened are closed again when one is refused.
 */
async function openOtherParts(file: string, header: GgufHeader, headers: GgufHeaderCache, signal: AbortSignal | undefined): Promise<OpenPart[]> {
  const out: OpenPart[] = [];
  try {
    for (const [i, part] of otherPartNames(file, header).entries()) {
      await statPart(part);
      const fh = await openModelFile(part, { signal }).catch((e: NodeJS.ErrnoException) => {
        throw new Error(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? `its part ${part} is missing` : `its part ${part} cannot be opened: ${e.message}`);
      });
      try {
        const before = await fh.stat({ bigint: true });
        if (!before.isFile()) throw new Error(`its part ${part} is not a regular file`);
        await checkPartHeader(fh, part, i + 1, headers, signal);
        out.push({ file: part, fh, before });
      } catch (e) {
        await fh.close().catch(() => undefined);
        throw e;
      }
    }
    return out;
  } catch (e) {
    for (const p of out) await p.fh.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The folders of links (linkParts) in the temporary folder: `hearth-split-<the host's pid>-<its start>-<random>`
 * (an earlier Hearth's have no start). The start tells a dead host's folder from a live one's when its
 * pid has been given to another process since.
 */
const LINK_DIR = /^hearth-split-(\d+)-(?:(\d+)-)?/;

/**
 * When process `pid` started (clock ticks since boot: the 22nd field of /proc/<pid>/stat, counted after
 * the command's closing parenthesis, which may itself hold spaces), or null where it cannot be read.
 */
export async function processStart(pid: number | 'self', proc = '/proc'): Promise<string | null> {
  const text = await fsp.readFile(path.posix.join(proc, String(pid), 'stat'), 'utf8').catch(() => null);
  const start = text?.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  return start && /^\d+$/.test(start) ? start : null;
}

/**
 * A private folder (the host's alone) holding, under each part's own name, a link to its open file's
 * descriptor path: the name llama.cpp gets for the first part, from which it names the others. Each
 * link is opened once to see that it leads to its file (a temporary folder mounted nosymfollow, or a
 * security module, could refuse to follow it); throws where one does not.
 */
async function linkParts(parts: readonly { file: string; fh: FileHandle; before: BigIntStats }[], fdPath: (fd: number) => string): Promise<string> {
  const start = await processStart('self');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `hearth-split-${process.pid}-${start === null ? '' : `${start}-`}`));
  try {
    for (const p of parts) {
      const link = path.join(dir, path.basename(p.file));
      await fsp.symlink(fdPath(p.fh.fd), link);
      const st = await fsp.stat(link, { bigint: true });
      if (st.dev !== p.before.dev || st.ino !== p.before.ino) throw new Error(`${link} does not lead to ${p.file}`);
    }
    return dir;
  } catch (e) {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * Removes the folders of links a host left when it ended in the middle of a load (killed, or stopped
 * by llama.cpp): this user's, whose process is gone, or whose pid a process started at another time
 * holds now. Called as a host starts; errors are ignored.
 */
export async function removeStaleLinkDirs(tmp = os.tmpdir(), proc = '/proc'): Promise<void> {
  const uid = process.getuid?.();
  for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
    const m = LINK_DIR.exec(name);
    const pid = Number(m?.[1]);
    if (!pid) continue;
    let running = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      // ESRCH: no such process; EPERM: another user's runs with that pid
      running = (e as NodeJS.ErrnoException).code !== 'ESRCH';
    }
    if (running) {
      // its folder stays unless the pid is another process's now (this one's too, when a dead host had it):
      // a start read (procfs shows any pid's, unless mounted with hidepid) that is not the folder's; where it cannot be read, or
      // the folder names no start (an earlier Hearth's), it stays. The start is counted from boot, as this
      // process's time namespace sees it: a host in another one sharing this folder could look otherwise.
      const now = m?.[2] === undefined ? null : await processStart(pid === process.pid ? 'self' : pid, proc);
      if (now === null || now === m?.[2]) continue;
    }
    const dir = path.join(tmp, name);
    const st = await fsp.lstat(dir).catch(() => null);
    if (st?.isDirectory() && (uid === undefined || st.uid === uid)) await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
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
    /** where llama.cpp opens the files by name: a split model's other parts, with their identity when opened */
    private readonly parts: readonly Part[] = [],
    /** a split model's other parts opened here, and the folder of links to them all llama.cpp opens (linkParts) */
    private readonly openParts: readonly OpenPart[] = [],
    private readonly linkDir: string | null = null,
  ) {}

  /**
   * Each name llama.cpp reads a file of this model by and the file as the user knows it: the name it
   * is given, and a split model's other parts in the folder of links.
   */
  names(): [native: string, file: string][] {
    const out: [string, string][] = this.nativePath === this.file ? [] : [[this.nativePath, this.file]];
    if (this.linkDir) for (const p of this.openParts) out.push([path.join(this.linkDir, path.basename(p.file)), p.file]);
    return out;
  }

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
    const fh = await openModelFile(abs, { signal: opts.signal });
    try {
      const before = await fh.stat({ bigint: true });
      const header = await headers.readOpen(fh, abs, { signal: opts.signal });
      const split = !opts.single && isSplit(header);
      const fdPath = descriptorPath(fh.fd);
      if (!fdPath || opts.forceIdentity) return new CheckedModelFile(abs, fh, before, header, 'identity', abs, split ? await otherParts(abs, header, headers, opts.signal) : []);
      if (!split) return new CheckedModelFile(abs, fh, before, header, 'descriptor', fdPath);
      const open = await openOtherParts(abs, header, headers, opts.signal);
      const dir = await linkParts([{ file: abs, fh, before }, ...open], (fd) => descriptorPath(fd)!).catch(() => null);
      if (dir) return new CheckedModelFile(abs, fh, before, header, 'descriptor', path.join(dir, path.basename(abs)), [], open, dir);
      // no folder of links that lead to the files (the temporary folder unwritable, or links not followed there): by name, as elsewhere
      for (const p of open) await p.fh.close().catch(() => undefined);
      return new CheckedModelFile(abs, fh, before, header, 'identity', abs, await otherParts(abs, header, headers, opts.signal));
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
    for (const p of this.openParts) if (contents(await p.fh.stat({ bigint: true })) !== contents(p.before)) throw new ModelFileChanged(p.file);
    // the links llama.cpp opened still lead to the open files (their folder not put aside meanwhile)
    if (this.linkDir) {
      for (const p of [{ file: this.file, before: this.before }, ...this.openParts]) {
        const st = await fsp.stat(path.join(this.linkDir, path.basename(p.file)), { bigint: true }).catch(() => null);
        if (st?.dev !== p.before.dev || st.ino !== p.before.ino) throw new ModelFileChanged(p.file);
      }
    }
    const byName = this.access === 'identity' ? [{ file: this.file, before: identity(this.before) }, ...this.parts] : [];
    for (const p of byName) if ((await identityAt(p.file)) !== p.before) throw new ModelFileChanged(p.file);
  }

  async close(): Promise<void> {
    if (this.linkDir) await fsp.rm(this.linkDir, { recursive: true, force: true }).catch(() => undefined);
    for (const p of this.openParts) await p.fh.close().catch(() => undefined);
    await this.fh.close().catch(() => undefined);
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
export async function handOver<T>(files: readonly CheckedModelFile[], use: () => Promise<T>, discard?: (r: T) => void | Promise<void>): Promise<T> {
  const r = await use().catch((e: unknown) => {
    const err = e as { code?: unknown; message?: unknown };
    if (typeof err?.message !== 'string') throw e;
    let message = err.message;
    for (const f of files) for (const [native, file] of f.names()) message = renameInMessage(message, native, file);
    if (message === err.message) throw e;
    throw new EngineError(toCode(err.code, 'engine', 'native'), message);
  });
  try {
    for (const f of files) await f.verify();
  } catch (e) {
    // freed before the refusal: a load refused leaves nothing behind once it settles (a failure to free
    // does not replace the refusal)
    await Promise.resolve()
      .then(() => discard?.(r))
      .catch(() => undefined);
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
  discard?: (r: T) => void | Promise<void>,
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
