/**
 * The API server's errors: one class carrying an HTTP status and a code, the status each of Hearth's
 * error codes answers with (main/errors/catalogue.ts), and the three dialects' error bodies.
 */
import { z } from 'zod';
import { isErrorCode, type ErrorCode } from '../errors/catalogue';
import type { ApiDialect } from '../ipc/api';

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    /** a Hearth error code, or the HTTP-level one (`not_found`, `unauthorized`, …) */
    public readonly code: string,
    message: string,
    /** the request field at fault */
    public readonly param: string | null = null,
    /** seconds a 429 or 503 asks the client to wait */
    public readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The HTTP status of each Hearth code an engine or library call may throw (anything else: 500). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_input: 400,
  invalid_argument: 400,
  not_supported: 400,
  context_overflow: 400,
  template_timeout: 400,
  too_large: 413,
  model_unknown: 404,
  not_loaded: 404,
  not_found: 404,
  no_model: 404,
  invalid_model: 422,
  model_changed: 409,
  insufficient_memory: 507,
  needs_confirmation: 507,
  out_of_memory: 507,
  busy: 429,
  unauthorized: 401,
  forbidden: 403,
  load_failed: 500,
  aborted: 499,
  engine_crashed: 503,
  engine_hung: 503,
  engine_unavailable: 503,
};

/** Any thrown value as an ApiError: its own status, else the one its code answers with. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (isErrorCode(code)) return new ApiError(STATUS[code] ?? 500, code, message);
  return new ApiError(500, 'internal', message);
}

/** A zod error as a 400 naming the first field at fault (`messages.0.content`), as OpenAI's `param`. */
export function invalidBody(e: z.ZodError, prefix: string[] = []): ApiError {
  const first = e.issues[0];
  const where = [...prefix, ...(first?.path ?? [])].join('.');
  const text = e.issues
    .slice(0, 3)
    .map((i) => `${[...prefix, ...i.path].join('.') || 'body'}: ${i.message}`)
    .join('; ');
  return new ApiError(400, 'invalid_request_error', text || 'the request body is not valid', where || null);
}

/** OpenAI's error `type` for a status. */
function openaiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** Anthropic's error `type` for a status (its documented list). */
function anthropicType(status: number): string {
  if (status === 400 || status === 413 || status === 422) return status === 413 ? 'request_too_large' : 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  return 'api_error';
}

/** The error body each dialect's clients read. */
export function errorBody(e: ApiError, dialect: ApiDialect): unknown {
  switch (dialect) {
    case 'anthropic':
      return { type: 'error', error: { type: anthropicType(e.status), message: e.message } };
    case 'ollama':
      return { error: e.message };
    default:
      return { error: { message: e.message, type: openaiType(e.status), param: e.param, code: e.code } };
  }
}
