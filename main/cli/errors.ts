/**
 * What the hearth command prints when it fails: one line on stderr that says what went wrong and
 * what to do about it. The stack trace goes to stderr only with --verbose (and, for `serve`, to
 * main.log with every uncaught error).
 */
import { z } from 'zod';
import { CLI_LOG_HINT, ERRORS, ErrorSpec } from '../errors/catalogue';
import { EngineError } from '../engine/protocol';
import { UsageError } from './args';
import { isBusy, withBusyAdvice } from '../store/busy';

/** A listen() failure of `hearth serve`, in words with the option that fixes it. */
export function listenError(e: unknown, host: string, port: number): Error {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'EADDRINUSE':
      return new UsageError(`port ${port} is in use: choose another with --port N (--port 0 picks a free one)`);
    case 'EACCES':
      return new UsageError(`port ${port} needs administrator rights here: choose one above 1023 with --port N`);
    case 'EADDRNOTAVAIL':
      return new UsageError(`${host} is not an address of this machine: choose one of its addresses with --host (127.0.0.1 keeps Hearth on this machine)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UsageError(`--host ${host} is not a known host name: give an address such as 127.0.0.1`);
    default:
      return err instanceof Error ? err : new Error(String(e));
  }
}

/**
 * The API server's listen failure (ApiService's status error: the server words it without its errno
 * code, which stays in the text) for the command line, with the option that fixes it.
 */
export function apiListenError(error: string | null, host: string, port: number): UsageError {
  const where = `the API server could not listen on ${host}:${port}`;
  const text = error ?? '';
  if (/EADDRNOTAVAIL/.test(text)) return new UsageError(`${where}: ${host} is not an address of this machine: choose one of its addresses with --api-host (127.0.0.1 keeps the API on this machine)`);
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return new UsageError(`${where}: cannot resolve ${host}: give an address such as 127.0.0.1 with --api-host`);
  if (/EACCES/.test(text)) return new UsageError(`${where}: port ${port} needs administrator rights here: choose one above 1023 with --api-port N`);
  if (/is in use/.test(text)) return new UsageError(`${where}: port ${port} is in use (another server, or Hearth already running): choose another with --api-port N (--api-port 0 picks a free one)`);
  return new UsageError(text || `${where}`);
}

/** What to do about an engine error (the catalogue's `cli` hint; for an error that is not the user's to fix, the log). */
function engineHint(e: EngineError): string | undefined {
  const spec: ErrorSpec = ERRORS[e.code];
  return spec.cli ?? (spec.userFixable ? undefined : CLI_LOG_HINT);
}

/** The one line printed for an error (without the "hearth: " prefix): words only, never the catalogue's code (--verbose logs it). */
export function errorLine(e: unknown): string {
  const first = (s: string) => s.split('\n')[0].trim();
  if (e instanceof UsageError) return first(e.message);
  if (e instanceof EngineError) {
    const hint = engineHint(e);
    return `${first(e.message)}${hint && !e.message.includes(hint) ? `: ${hint}` : ''}`;
  }
  if (isBusy(e)) return first(withBusyAdvice(e));
  if (e instanceof Error) return first(e.message) || e.name;
  return first(String(e));
}

/**
 * A value checked against the schema the engine will check it with, the first problem worded for
 * the command line: "--threads must be at least 1", "--cache-type q9 is not one of: f32, f16, …".
 * `flagOf` maps a field of the schema's object to its option; `spell` names an option as the user
 * typed it (ParsedArgs.spelling: `-n` when given as -n).
 */
export function checkFlags<S extends z.ZodTypeAny>(schema: S, value: unknown, flagOf: Record<string, string>, spell: (flag: string) => string = (f) => `--${f}`): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = String(issue.path[issue.path.length - 1] ?? '');
  const flag = flagOf[issue.path.join('.')] ?? flagOf[field] ?? flagOf[String(issue.path[0] ?? '')];
  const name = flag ? spell(flag) : field || 'a value';
  switch (issue.code) {
    case 'too_small':
      if (issue.type === 'string' || issue.type === 'array') throw new UsageError(`${name} must not be empty`);
      throw new UsageError(`${name} must be at least ${Number(issue.minimum).toLocaleString('en-US')}`);
    case 'too_big':
      throw new UsageError(`${name} must be at most ${Number(issue.maximum).toLocaleString('en-US')}`);
    case 'invalid_enum_value':
      throw new UsageError(`${name} ${String(issue.received)} is not one of: ${issue.options.join(', ')}`);
    default:
      throw new UsageError(`${name}: ${issue.message}`);
  }
}
