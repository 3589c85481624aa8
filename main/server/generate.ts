/**
 * One generation through the API, whatever the dialect: a slot on the model (loaded just in time), the
 * engine's chat or completion on that slot's sequence, the slot given back with what it holds. The
 * dialects (openai.ts, anthropic.ts, ollama.ts) only translate requests and results.
 */
import type { EngineClient } from '../engine/client';
import { z } from 'zod';
import { issuesText } from '../engine/methods';
import { type ChatMessage, ChatRequest, CompletionRequest, type GenerateResult, InfillRequest, type ModelMetadata, type TokenLogprobs } from '../engine/protocol';
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../logging';
import { imageCount } from '../params';
import { ApiError } from './errors';
import { note, STREAM_UNREAD_HARD_MAX } from './http';
import { type LoraField, loraAdaptersOf } from './lora';
import type { ApiModels, Lease } from './models';

export interface Generated {
  /** the model's name, as clients use it */
  model: string;
  /** the engine's id of the model (for a follow-up engine call such as detokenize) */
  modelId: string;
  metadata: ModelMetadata;
  result: GenerateResult;
}

/**
 * The most a response sent whole (not streamed) gathers while it generates, in bytes as its JSON
 * takes them (estimated: the text, the reasoning, and each log-probability at LOGPROB_BYTES and five
 * bytes a character, as OpenAI's `bytes` lists take them). Past it the generation stops and the
 * response ends with what it has, as at max_tokens (finish_reason "length"), and the request log says
 * why: a request for millions of tokens with top_logprobs 20 would otherwise gather gigabytes before
 * its answer is sent. A stream's client reads as it goes (STREAM_UNREAD_HARD_MAX bounds what waits).
 */
export const RESPONSE_MAX_BYTES = STREAM_UNREAD_HARD_MAX;
/** A log-probability's JSON besides its token's text: its id, logprob, field names and punctuation. */
const LOGPROB_BYTES = 48;

/** What the routes' generations need: the models, the engine, the log, and (tests lower it) the bound of a whole response. */
export interface GenerateDeps {
  models: ApiModels;
  engine: EngineClient;
  logger: Logger;
  /** RESPONSE_MAX_BYTES unless set */
  responseMaxBytes?: number;
}

/** Bytes a piece adds to a response sent whole (see RESPONSE_MAX_BYTES). */
function pieceBytes(content: string, reasoning: string, probs?: TokenLogprobs[]): number {
  let n = content.length + reasoning.length;
  for (const p of probs ?? []) {
    n += LOGPROB_BYTES + 5 * p.text.length;
    for (const t of p.top) n += LOGPROB_BYTES + 5 * t.text.length;
  }
  return n;
}

export interface RunOptions {
  /**
   * 'whole': the response is sent at the end, so what it gathers is held to RESPONSE_MAX_BYTES;
   * 'stream': its pieces go to the client as they come (onPiece)
   */
  sent: 'whole' | 'stream';
  /** the conversation, for choosing the slot that holds its longest prefix (promptKey) */
  key: string;
  /** the request: its signal (the client went away) and its note in the request log (model, tokens) */
  req: FastifyRequest;
  onPiece?: (content: string, reasoning: string, probs?: TokenLogprobs[]) => void;
  /** called once the model is loaded and a slot is held, before the first token (a stream's headers go out then) */
  onStart?: (model: string) => void;
  /** the request's own LoRA scales by adapter id (llama-server's `lora`), mapped once the model is known (lora.ts) */
  lora?: LoraField;
}

/** A conversation as a slot key: what comes first stays first, so a longer conversation extends the key of a shorter one. */
export function promptKey(parts: { tools?: unknown; messages?: readonly unknown[]; prompt?: unknown; extra?: unknown }): string {
  const head = JSON.stringify([parts.tools ?? null, parts.extra ?? null]);
  if (parts.messages) return `${head}\u0000${parts.messages.map((m) => JSON.stringify(m)).join('\u0001')}`;
  return `${head}\u0000${typeof parts.prompt === 'string' ? parts.prompt : JSON.stringify(parts.prompt ?? null)}`;
}

type EngineToolCall = NonNullable<ChatMessage['tool_calls']>[number];

/** A tool call as the engine's chat takes it, from any dialect: its arguments as JSON text (Ollama and Anthropic send objects). */
export function engineToolCall(id: string | undefined | null, name: string, args: unknown): EngineToolCall {
  return { ...(id ? { id } : {}), type: 'function', function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) } };
}

/** A tool as the engine's chat takes it, from any dialect's fields. */
export function engineTool(name: string, description: string | undefined, parameters: unknown) {
  return { type: 'function' as const, function: { name, description, parameters } };
}

type ChatBody = Omit<ChatRequest, 'seq'>;
type CompletionBody = Omit<CompletionRequest, 'seq'>;
/** What a request gets from its slot and model: the slot's sequence, and its LoRA scales as the engine names them. */
type SlotFields = Pick<ChatRequest, 'seq' | 'loraAdapters'>;

async function run(
  deps: GenerateDeps,
  model: string | undefined,
  opts: RunOptions,
  go: (modelId: string, fields: SlotFields, lease: Lease, on: Pick<RunOptions, 'onPiece'> & { signal: AbortSignal }) => Promise<GenerateResult>,
): Promise<Generated> {
  const client = opts.req.apiSignal;
  // a response sent whole stops generating once it holds the most it may (RESPONSE_MAX_BYTES)
  const most = opts.sent === 'whole' ? (deps.responseMaxBytes ?? RESPONSE_MAX_BYTES) : Infinity;
  const full = new AbortController();
  let gathered = 0;
  const onPiece: RunOptions['onPiece'] = most === Infinity ? opts.onPiece : (content, reasoning, probs) => {
    opts.onPiece?.(content, reasoning, probs);
    gathered += pieceBytes(content, reasoning, probs);
    if (gathered > most && !full.signal.aborted) full.abort();
  };
  const signal = most === Infinity ? client : AbortSignal.any([client, full.signal]);
  const lease = await deps.models.acquire(model, opts.key, client);
  let key = opts.key;
  try {
    const fields = { seq: lease.slot.id, ...loraAdaptersOf(opts.lora, lease.loraAdapters, lease.name) };
    opts.onStart?.(lease.name);
    let result = await go(lease.modelId, fields, lease, { onPiece, signal });
    note(opts.req, { model: lease.name, tokens: result.timings.generatedTokens });
    if (result.stopReason === 'aborted' && full.signal.aborted && !client.aborted) {
      // stopped at the bound, not by the client: the answer is what was generated, cut as at max_tokens
      deps.logger.warn(`api: ${opts.req.method} ${opts.req.url.split('?')[0]}: the answer reached ${most} bytes, the most one sent whole gathers: generation stopped as at max_tokens (a stream has no such bound)`);
      result = { ...result, stopReason: 'length' };
    }
    // the client went away (the engine stopped within a token): nobody reads an answer
    if (result.stopReason === 'aborted') throw new ApiError(499, 'aborted', 'the client went away');
    return { model: lease.name, modelId: lease.modelId, metadata: lease.metadata, result };
  } catch (e) {
    // what the slot's cache holds is unknown after a failure: nothing is matched against it
    if (!(e instanceof ApiError && e.code === 'aborted')) key = '';
    throw e;
  } finally {
    lease.release(key);
  }
}

/**
 * The request as the engine's own schema reads it, before any model loads or slot is taken: what the
 * engine would refuse (a grammar or schema llama.cpp cannot take, a conversation over the size limit)
 * is a 400 here, and nothing unserializable reaches the engine's channel.
 */
function checked<S extends z.ZodTypeAny>(schema: S, request: unknown): void {
  const r = schema.safeParse({ ...(request as object), seq: 0 });
  if (!r.success) throw new ApiError(400, 'invalid_request_error', issuesText(r.error));
}

export function runChat(deps: GenerateDeps, model: string | undefined, request: ChatBody, opts: RunOptions): Promise<Generated> {
  checked(ChatRequest, request);
  const images = imageCount(request.messages);
  return run(deps, model, opts, (modelId, fields, lease, on) => {
    // images need the model's projector (paired in its folder or chosen in its load settings)
    if (images > 0 && !lease.metadata.vision) {
      throw new ApiError(400, 'not_supported', `${lease.name} has no vision projector (mmproj), so it cannot read images: put its mmproj file beside it, or send text`, 'messages');
    }
    return deps.engine.chat(modelId, { ...request, ...fields } as ChatRequest, on);
  });
}

export function runCompletion(deps: GenerateDeps, model: string | undefined, request: CompletionBody, opts: RunOptions): Promise<Generated> {
  checked(CompletionRequest, request);
  return run(deps, model, opts, (modelId, fields, _lease, on) =>
    deps.engine.complete(modelId, { ...request, ...fields } as CompletionRequest, { signal: on.signal, onPiece: (text, probs) => on.onPiece?.(text, '', probs) }),
  );
}

export function runInfill(deps: GenerateDeps, model: string | undefined, request: Omit<InfillRequest, 'seq'>, opts: RunOptions): Promise<Generated> {
  checked(InfillRequest, request);
  return run(deps, model, opts, (modelId, fields, _lease, on) =>
    deps.engine.infill(modelId, { ...request, ...fields } as InfillRequest, { signal: on.signal, onPiece: (text, probs) => on.onPiece?.(text, '', probs) }),
  );
}
