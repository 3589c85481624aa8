/**
 * Log files: pino writing JSON lines synchronously (pino.destination with sync: true), so a line
 * logged right before a crash is on disk when the process dies. Each file is capped: past maxBytes it
 * is renamed to <name>.1.log (older copies shift up, the oldest beyond `keep` is removed) and a
 * fresh pino destination opens the name again.
 *
 * Several processes can share one logs folder (the app and `hearth serve`, and their engine hosts):
 * the one holding <name>.log.lock (lock.ts) writes and rotates <name>.log; any other writes and
 * rotates its own <name>-<pid>.log, so no process renames a file another is writing.
 */
import fs from 'fs';
import path from 'path';
import pino from 'pino';
import { releaseLock, pidAlive, stillOwned, takeLock } from './lock';
import { DEFAULT_LOG_LEVEL, fromPino, LOG_FILES, LOG_LIMITS, Logger, LogName } from './logger';
import { makeDirs } from '../dirs';

type SonicBoom = ReturnType<typeof pino.destination>;

/** <name>.<n>.log: the nth newest rotated copy of <name>.log. */
export function rotatedName(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}.${n}${ext}`;
}

/** <name>-<pid>.log: what a process writes when another owns <name>.log (`n`: a further logger on that name in this process). */
export function processFileName(file: string, pid: number = process.pid, n = 0): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${pid}${n > 0 ? `-${n}` : ''}${ext}`;
}

/** Matches <name>-<pid>[-n][.k]<ext>: a file written by a process that did not own <name><ext>. */
function processFilePattern(name: string, ext: string, rotated: boolean): RegExp {
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(name)}-(\\d+)(?:-\\d+)?${rotated ? '(?:\\.\\d+)?' : ''}${esc(ext)}$`);
}

/** The files of a log name in `dir` that are written to (not rotated copies): the shared one first, then each process's own. */
export function currentLogFiles(dir: string, file: string): string[] {
  const ext = path.extname(file);
  const re = processFilePattern(file.slice(0, file.length - ext.length), ext, false);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return [...(names.includes(file) ? [file] : []), ...names.filter((n) => re.test(n)).sort()];
}

/**
 * Deletes the own files of ended processes (pid not running) but those of the `keep` that wrote
 * last: each run of a second process leaves a <name>-<pid>.log behind.
 */
function pruneEnded(shared: string, keep: number): void {
  const dir = path.dirname(shared);
  const ext = path.extname(shared);
  const re = processFilePattern(path.basename(shared, ext), ext, true);
  const ended = new Map<number, { files: string[]; newest: number }>();
  try {
    for (const name of fs.readdirSync(dir)) {
      const pid = Number(re.exec(name)?.[1]);
      if (!pid || pid === process.pid || pidAlive(pid)) continue;
      const file = path.join(dir, name);
      // lstat: a planted link or FIFO is neither followed nor opened, and is not a log file to prune
      const st = fs.lstatSync(file);
      if (!st.isFile()) continue;
      const g = ended.get(pid) ?? { files: [], newest: 0 };
      g.files.push(file);
      g.newest = Math.max(g.newest, st.mtimeMs);
      ended.set(pid, g);
    }
    const old = [...ended.values()].sort((a, b) => b.newest - a.newest).slice(keep);
    for (const g of old) for (const f of g.files) fs.rmSync(f, { force: true });
  } catch {
    // a file went away meanwhile, or the folder is not ours to clean: next start tries again
  }
}

/** pino's destination, written synchronously (a line is in the kernel when write returns). */
function openDestination(file: string): SonicBoom {
  const d = pino.destination({ dest: file, sync: true, append: true, mkdir: true });
  // a full disk or a removed folder loses log lines; it must never end the process
  d.on('error', () => undefined);
  return d;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** <name>-<pid>[-n].log names in use by loggers of this process. */
const ownNamesInUse = new Set<string>();

/** A size-capped, synchronously written log file (a pino destination); see the file's comment for who rotates what. */
export class RotatingFile {
  private dest: SonicBoom;
  private size: number;
  private current: string;
  private owner: boolean;
  private readonly lock: string;

  constructor(
    /** <name>.log, the shared name */
    readonly shared: string,
    private readonly maxBytes: number = LOG_LIMITS.maxBytes,
    private readonly keep: number = LOG_LIMITS.keep,
  ) {
    if (!(maxBytes > 0) || !(keep >= 1)) throw new RangeError('a log file needs maxBytes > 0 and keep >= 1');
    makeDirs(path.dirname(shared));
    this.lock = `${shared}.lock`;
    this.owner = takeLock(this.lock);
    if (this.owner) pruneEnded(shared, LOG_LIMITS.endedProcesses);
    this.current = this.owner ? shared : this.ownName();
    this.size = sizeOf(this.current);
    this.dest = openDestination(this.current);
  }

  /** The file written now: <name>.log for its owner, else this process's own. */
  get file(): string {
    return this.current;
  }

  /** Whether this logger owns (writes and rotates) the shared name. */
  get owns(): boolean {
    return this.owner;
  }

  private ownName(): string {
    let n = 0;
    while (ownNamesInUse.has(processFileName(this.shared, process.pid, n))) n++;
    const name = processFileName(this.shared, process.pid, n);
    ownNamesInUse.add(name);
    return name;
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    try {
      this.dest.write(line);
    } catch {
      // as above: the line is lost, the app goes on
    }
    this.size += bytes;
  }

  private rotate(): void {
    // counted as empty even when a rename fails (another process holding the file on Windows), so a
    // failing rotation is retried once per maxBytes written, not on every line
    this.size = 0;
    if (this.owner && !stillOwned(this.lock)) {
      // another process holds the name now (it took over a lock it found stale while this one was
      // taking it): from here on this process writes its own file, and renames nothing of the other's
      releaseLock(this.lock);
      this.owner = false;
      this.current = this.ownName();
      this.size = sizeOf(this.current);
      this.reopen();
      return;
    }
    try {
      fs.rmSync(rotatedName(this.current, this.keep), { force: true });
      for (let n = this.keep - 1; n >= 1; n--) {
        const from = rotatedName(this.current, n);
        if (fs.existsSync(from)) fs.renameSync(from, rotatedName(this.current, n + 1));
      }
      fs.renameSync(this.current, rotatedName(this.current, 1));
    } catch {
      // the file is held or gone (its folder deleted): reopen the name all the same
    }
    this.reopen();
  }

  /**
   * A fresh destination on the current name (the folder made again if it was deleted), the old one
   * ended. Not SonicBoom's reopen(): in sync mode it closes the old descriptor only on the next tick,
   * through a listener per call, so a burst of rotations within one tick piles them up.
   */
  private reopen(): void {
    let next: SonicBoom;
    try {
      next = openDestination(this.current);
    } catch {
      return; // keep appending to the open file
    }
    const old = this.dest;
    this.dest = next;
    try {
      old.end();
    } catch {
      // already closed
    }
  }

  close(): void {
    try {
      this.dest.end();
    } catch {
      // already closed
    }
    if (this.owner) releaseLock(this.lock);
    else ownNamesInUse.delete(this.current);
  }
}

export interface FileLogger extends Logger {
  readonly file: string;
  close(): void;
}

export interface FileLoggerOptions {
  level?: string;
  maxBytes?: number;
  keep?: number;
}

/** A logger writing <dir>/<main|engine>.log (or this process's own file, see above); each line carries the time, level, pid and message. */
export function openFileLogger(dir: string, name: LogName, opts: FileLoggerOptions = {}): FileLogger {
  const stream = new RotatingFile(path.join(dir, LOG_FILES[name]), opts.maxBytes, opts.keep);
  const p = pino({ level: opts.level ?? DEFAULT_LOG_LEVEL, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return {
    ...fromPino(p),
    get file() {
      return stream.file;
    },
    close: () => stream.close(),
  };
}

/** Plain lines on stderr (the CLI's --verbose): "[level] message {fields}". */
export function stderrLogger(): Logger {
  const out = (level: string) => (msg: string, meta?: Record<string, unknown>) => {
    process.stderr.write(`[${level}] ${msg}${meta ? ` ${JSON.stringify(meta)}` : ''}\n`);
  };
  return { debug: out('debug'), info: out('info'), warn: out('warn'), error: out('error') };
}
