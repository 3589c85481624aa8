/**
 * Log files: pino writing JSON lines synchronously (pino.destination with sync: true), so a line
 * logged right before a crash is on disk when the process dies. Each file is capped: past maxBytes it
 * is renamed to <name>.1.log (older copies shift up, the oldest beyond `keep` is removed) and
 * pino's destination reopens a fresh file, the way pino documents log rotation (reopen()).
 */
import fs from 'fs';
import path from 'path';
import pino from 'pino';
import { DEFAULT_LOG_LEVEL, fromPino, LOG_FILES, LOG_LIMITS, Logger, LogName } from './logger';

type SonicBoom = ReturnType<typeof pino.destination>;

/** <name>.<n>.log: the nth newest rotated copy of <name>.log. */
export function rotatedName(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}.${n}${ext}`;
}

/** A size-capped, synchronously written log file (a pino destination). */
export class RotatingFile {
  private dest: SonicBoom;
  private size: number;

  constructor(
    readonly file: string,
    private readonly maxBytes: number = LOG_LIMITS.maxBytes,
    private readonly keep: number = LOG_LIMITS.keep,
  ) {
    if (!(maxBytes > 0) || !(keep >= 1)) throw new RangeError('a log file needs maxBytes > 0 and keep >= 1');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      this.size = fs.statSync(file).size;
    } catch {
      this.size = 0;
    }
    this.dest = pino.destination({ dest: file, sync: true, append: true, mkdir: true });
    // a full disk or a removed folder loses log lines; it must never end the process
    this.dest.on('error', () => undefined);
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
    try {
      fs.rmSync(rotatedName(this.file, this.keep), { force: true });
      for (let n = this.keep - 1; n >= 1; n--) {
        const from = rotatedName(this.file, n);
        if (fs.existsSync(from)) fs.renameSync(from, rotatedName(this.file, n + 1));
      }
      fs.renameSync(this.file, rotatedName(this.file, 1));
    } catch {
      // the file is held or gone (its folder deleted): reopen the name all the same
    }
    try {
      this.dest.reopen(); // creates the folder again if it was deleted (mkdir: true)
    } catch {
      // keep appending to the open file
    }
  }

  close(): void {
    try {
      this.dest.end();
    } catch {
      // already closed
    }
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

/** A logger writing <dir>/<main|engine>.log; each line carries the time, level, pid and message. */
export function openFileLogger(dir: string, name: LogName, opts: FileLoggerOptions = {}): FileLogger {
  const stream = new RotatingFile(path.join(dir, LOG_FILES[name]), opts.maxBytes, opts.keep);
  const p = pino({ level: opts.level ?? DEFAULT_LOG_LEVEL, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return { ...fromPino(p), file: stream.file, close: () => stream.close() };
}

/** Plain lines on stderr (the CLI's --verbose): "[level] message {fields}". */
export function stderrLogger(): Logger {
  const out = (level: string) => (msg: string, meta?: Record<string, unknown>) => {
    process.stderr.write(`[${level}] ${msg}${meta ? ` ${JSON.stringify(meta)}` : ''}\n`);
  };
  return { debug: out('debug'), info: out('info'), warn: out('warn'), error: out('error') };
}
