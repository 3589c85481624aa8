/**
 * What every route shares: its request body checked with zod (a 400 naming the field), an AbortSignal
 * that fires when the client goes away (its generation stops within a token), a note of the model and
 * tokens for the request log, and the two streaming formats (SSE for OpenAI and Anthropic, NDJSON for
 * Ollama) written to the raw response with the headers fastify had set (CORS).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError, invalidBody, toApiError } from './errors';

/** What a request tells the request log (set by its route). */
export interface RequestNote {
  model: string | null;
  tokens: number | null;
  error: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiNote: RequestNote;
    apiSignal: AbortSignal;
    /** the request log's entry once the response closed (a generation the client left goes on noting into it) */
    apiLogEntry: { model: string | null; tokens: number | null; error: string | null } | null;
  }
}

/**
 * How deeply a request body's objects and arrays may nest. Far past what any API's requests use (a
 * tool's schema within it may nest GRAMMAR_LIMITS.maxSchemaDepth); deeper values would overflow the
 * stack of whatever walks them recursively next (zod, the log's key, the engine channel's serializer,
 * the reply's serializer): refused before the body is parsed (main/params/json-depth.ts).
 */
export const MAX_BODY_DEPTH = 256;

/** The body as `schema` reads it, or a 400 naming the first field at fault. */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null) throw new ApiError(400, 'invalid_request_error', 'the request needs a JSON body');
  let r: z.SafeParseReturnType<unknown, z.output<S>>;
  try {
    r = schema.safeParse(body);
  } catch (e) {
    // zod walks nested values recursively: a body nested past the stack's depth is refused, not a 500
    if (e instanceof RangeError) throw new ApiError(400, 'invalid_request_error', 'the body is nested too deeply');
    throw e;
  }
  if (!r.success) throw invalidBody(r.error);
  return r.data;
}

/** The most bytes a streamed response may have waiting for its client to read them. */
export const STREAM_UNREAD_MAX = 8 * 1024 * 1024;
/** How long a stream past STREAM_UNREAD_MAX waits for its client to read any of it before it is closed. */
export const STREAM_STALL_MS = 15_000;
/** The most a stream may have waiting, however its client reads: one slower than the model is closed. */
export const STREAM_UNREAD_HARD_MAX = 64 * 1024 * 1024;

/** A stream of events to one client: headers on the first write, then chunks; nothing is written once the client is gone. */
export class ResponseStream {
  private started = false;
  private ended = false;
  /** the next check that a client past STREAM_UNREAD_MAX reads (watch) */
  private stall: NodeJS.Timeout | undefined;
  /** what was written to the response (so what the client read is this less what waits) */
  private written = 0;

  constructor(
    private readonly reply: FastifyReply,
    private readonly contentType: string,
  ) {}

  get open(): boolean {
    return !this.ended && !this.reply.raw.destroyed;
  }

  get headersSent(): boolean {
    return this.started;
  }

  /** Sends the status line and headers (fastify's, e.g. CORS, plus the stream's) once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reply.hijack();
    const raw = this.reply.raw;
    raw.once('close', () => clearTimeout(this.stall));
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(this.reply.getHeaders())) if (v !== undefined) headers[k] = v as string | number | string[];
    raw.writeHead(200, { ...headers, 'content-type': this.contentType, 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.flushHeaders?.();
  }

  write(chunk: string): void {
    if (!this.open) return;
    this.start();
    const raw = this.reply.raw;
    raw.write(chunk);
    this.written += chunk.length;
    // a client that keeps the connection but reads nothing: what it leaves unread is held here, and a
    // generation goes on as long as the client asks. Past STREAM_UNREAD_MAX waiting (which one large
    // event may reach by itself) the stream is watched: a client that read nothing in STREAM_STALL_MS,
    // or that has more than STREAM_UNREAD_HARD_MAX waiting (it reads slower than the model writes), is
    // closed, which stops the generation as a client leaving does
    if (raw.writableLength > STREAM_UNREAD_HARD_MAX) return this.close(`the client left more than ${STREAM_UNREAD_HARD_MAX >> 20} MiB of the stream unread: closed`);
    if (raw.writableLength > STREAM_UNREAD_MAX && !this.stall) this.watch();
  }

  /** Checks every STREAM_STALL_MS that the client reads, until what waits is back under STREAM_UNREAD_MAX. */
  private watch(): void {
    const raw = this.reply.raw;
    let delivered = this.written - raw.writableLength;
    const check = () => {
      this.stall = undefined;
      if (raw.destroyed || raw.writableLength <= STREAM_UNREAD_MAX) return;
      const now = this.written - raw.writableLength;
      if (now <= delivered) return this.close(`the client left more than ${STREAM_UNREAD_MAX >> 20} MiB of the stream unread and read none of it for ${STREAM_STALL_MS / 1000} s: closed`);
      delivered = now;
      this.stall = setTimeout(check, STREAM_STALL_MS);
    };
    this.stall = setTimeout(check, STREAM_STALL_MS);
  }

  private close(why: string): void {
    clearTimeout(this.stall);
    note(this.reply.request, { error: why });
    this.reply.raw.destroy();
  }

  end(): void {
    if (this.ended) return;
    this.start();
    this.ended = true;
    if (!this.reply.raw.destroyed) this.reply.raw.end();
  }
}

/** Server-sent events: `event:` (Anthropic names its events) and `data:` lines. */
export class SseStream extends ResponseStream {
  constructor(reply: FastifyReply) {
    super(reply, 'text/event-stream; charset=utf-8');
  }

  send(data: unknown, event?: string): void {
    this.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }
}

/** Newline-delimited JSON (Ollama's streaming). */
export class NdjsonStream extends ResponseStream {
  constructor(reply: FastifyReply) {
    super(reply, 'application/x-ndjson');
  }

  send(data: unknown): void {
    this.write(`${JSON.stringify(data)}\n`);
  }
}

/** Notes the model and tokens of a request for the log. */
export function note(req: FastifyRequest, n: Partial<RequestNote>): void {
  Object.assign(req.apiNote, n);
  if (req.apiLogEntry) {
    if (n.model !== undefined) req.apiLogEntry.model = n.model;
    if (n.tokens !== undefined) req.apiLogEntry.tokens = n.tokens;
  }
}

/**
 * Runs a streamed answer: an error before the first byte is thrown (an ordinary error answer, with its
 * status); after it, `sendError` writes it as the dialect's error event. The stream ends either way.
 */
export async function streaming(req: FastifyRequest, stream: ResponseStream, sendError: (e: ApiError) => void, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!stream.headersSent) throw e;
    const err = toApiError(e);
    note(req, { error: err.message });
    sendError(err);
  } finally {
    if (stream.headersSent) stream.end();
  }
}
