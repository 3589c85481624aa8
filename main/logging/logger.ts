/**
 * The one logger type every service takes, and what defines Hearth's logs: the files, their size cap,
 * the default level. Prompt text and tokens are never logged at the default level (info): request
 * ids, methods, durations and sizes are.
 */
import pino from 'pino';

export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export type LogLevel = keyof Logger;

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The log files under <data>/logs: main's and the engine host's (with llama.cpp's own log). */
export const LOG_FILES = { main: 'main.log', engine: 'engine.log' } as const;
export type LogName = keyof typeof LOG_FILES;

/**
 * A file past maxBytes becomes <name>.1.log (the newest copy); `keep` copies are kept, older ones
 * deleted. Files of other processes that shared the folder (<name>-<pid>.log, and their copies) are
 * kept for the `endedProcesses` that ended last.
 */
export const LOG_LIMITS = { maxBytes: 5 * 1024 * 1024, keep: 3, endedProcesses: 3 } as const;

/** The longest message a log line keeps (a model's metadata can be megabytes; llama.cpp prints it). */
export const MAX_MESSAGE_CHARS = 8 * 1024;

/** A message cut to MAX_MESSAGE_CHARS, saying how much was left out. */
export function capMessage(msg: string): string {
  return msg.length <= MAX_MESSAGE_CHARS ? msg : `${msg.slice(0, MAX_MESSAGE_CHARS)}…(${msg.length - MAX_MESSAGE_CHARS} more characters)`;
}

/** info unless HEARTH_LOG_LEVEL says otherwise (debug may contain what a user typed). */
export const DEFAULT_LOG_LEVEL = 'info';
export const LOG_LEVEL_ENV = 'HEARTH_LOG_LEVEL';

/** Tells the engine host the folder to write engine.log in (set by EngineClient when it has one). */
export const ENGINE_LOG_DIR_ENV = 'HEARTH_ENGINE_LOG_DIR';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function logLevelFrom(env: NodeJS.ProcessEnv = process.env): string {
  const v = (env[LOG_LEVEL_ENV] ?? '').toLowerCase();
  return (LEVELS as readonly string[]).includes(v) || v === 'silent' ? v : DEFAULT_LOG_LEVEL;
}

/** Adapts a pino logger to Logger: (message, fields) in, pino's (fields, message) out. */
export function fromPino(p: pino.Logger): Logger {
  const at = (level: LogLevel) => (msg: string, meta?: Record<string, unknown>) => {
    if (meta) p[level](meta, capMessage(msg));
    else p[level](capMessage(msg));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Several loggers as one (e.g. the log file and, with --verbose, stderr). */
/** A logger that writes wherever `current()` says now (hearth serve's main.log follows a moved data folder). */
export function followingLogger(current: () => Logger): Logger {
  const at = (level: LogLevel) => (msg: string, meta?: Record<string, unknown>) => current()[level](msg, meta);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function teeLogger(...all: Logger[]): Logger {
  const at = (level: LogLevel) => (msg: string, meta?: Record<string, unknown>) => {
    for (const l of all) l[level](msg, meta);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A level name as llama.cpp's log callback gives it (debug, info, warn, error, cont) made a Logger level. */
export function toLogLevel(level: string): LogLevel {
  return level === 'error' ? 'error' : level === 'warn' ? 'warn' : level === 'debug' ? 'debug' : 'info';
}

/**
 * llama.cpp logs in fragments (a line may come in several calls, continuations marked "cont"): joins
 * them into lines, each logged at the level of the fragment that began it.
 */
export function llamaLineJoiner(emit: (level: LogLevel, line: string) => void): (level: string, text: string) => void {
  let buf = '';
  let lineLevel: LogLevel = 'info';
  // a line past the cap is emitted cut at once; the rest of it, up to its newline, is dropped
  let dropping = false;
  return (level, text) => {
    const own = level === 'cont' ? undefined : toLogLevel(level);
    if (buf === '' && !dropping && own) lineLevel = own;
    buf += text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!dropping && line.trim()) emit(lineLevel, capMessage(line));
      dropping = false;
      if (own) lineLevel = own; // what follows the newline came with this fragment
    }
    if (dropping) buf = '';
    else if (buf.length > MAX_MESSAGE_CHARS) {
      emit(lineLevel, `${buf.slice(0, MAX_MESSAGE_CHARS)}…(cut)`);
      buf = '';
      dropping = true;
    }
  };
}

/** Records an exception that is about to end the process (it still ends it: a monitor changes nothing). */
export function logUncaught(logger: Logger, proc: NodeJS.Process = process): void {
  proc.on('uncaughtExceptionMonitor', (e, origin) => {
    const err = e as Error;
    logger.error(`uncaught ${origin}: ${err?.message ?? String(e)}`, { stack: err?.stack });
  });
}
