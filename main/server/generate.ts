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
 * The most bytes of token log-probabilities an answer sent whole (not streamed) gathers, as its JSON takes
 * them: such a request asks for at most wholeTokenCap tokens (an entry estimated at LOGPROB_BYTES), and one
 * that reaches them ends as at max_tokens (finish_reason "length"), the app's log saying why. A request for
 * a million tokens with top_logprobs 20 would otherwise gather gigabytes before its answer is sent (in the
 * engine too, which keeps a tool call's until it ends). A stream's client reads as it goes
 * (STREAM_UNREAD_HARD_MAX bounds what waits); text alone grows a few bytes a token.
 */
export const RESPONSE_MAX_BYTES = STREAM_UNREAD_HARD_MAX;
/** A log-probability's JSON: its token's text (and OpenAI's list of its bytes), id, logprob, field names and punctuation. */
const LOGPROB_BYTES = 64;

/** The most tokens an answer sent whole asks for with `nProbs` log-probabilities a token (the chosen one's too); null without them. */
export function wholeTokenCap(nProbs: number | undefined, most = RESPONSE_MAX_BYTES): number | null {
  return nProbs && nProbs > 0 ? Math.max(1, Math.floor(most / ((nProbs + 1) * LOGPROB_BYTES))) : null;
}

/** What the routes' generations need: the models, the engine, the log, and (tests lower it) the bound of a whole response. */
export interface GenerateDeps {
  models: ApiModels;
  engine: EngineClient;
  logger: Logger;
  /** RESPONSE_MAX_BYTES unless set */
  responseMaxBytes?: number;
}

/**
 * A piece listener that gathers the pieces' log-probabilities into `into`, one by one (a tool call's come in
 * one piece once it ends, past what a spread's arguments may hold).
 */
export function gatherProbs(into: TokenLogprobs[]): NonNullable<RunOptions['onPiece']> {
  return (_content, _reasoning, probs) => {
    for (const p of probs ?? []) into.push(p);
  };
}

export interface RunOptions {
  /**
   * 'whole': the answer is sent at the end, so what it gathers is held to RESPONSE_MAX_BYTES
   * (wholeTokenCap); 'stream': its pieces go to the client as they come (onPiece)
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
  /** the tokens the request was held to (wholeTokenCap), null: its own max_tokens */
  cap: number | null,
  go: (modelId: string, fields: SlotFields, lease: Lease) => Promise<GenerateResult>,
): Promise<Generated> {
  const lease = await deps.models.acquire(model, opts.key, opts.req.apiSignal);
  let key = opts.key;
  try {
    const fields = { seq: lease.slot.id, ...loraAdaptersOf(opts.lora, lease.loraAdapters, lease.name) };
    opts.onStart?.(lease.name);
    const result = await go(lease.modelId, fields, lease);
    note(opts.req, { model: lease.name, tokens: result.timings.generatedTokens });
    if (cap !== null && result.stopReason === 'length' && result.timings.generatedTokens >= cap) {
      deps.logger.warn(`api: ${opts.req.method} ${opts.req.url.split('?')[0]}: stopped at ${cap} tokens, the most an answer sent whole gathers with their log-probabilities (a stream has no such bound)`);
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

/**
 * `request` as an answer sent whole asks for it: at most wholeTokenCap tokens when it gathers log-probabilities
 * (its own max_tokens when fewer), and the cap, or null when its own max_tokens stands.
 */
function held<R extends { maxTokens?: number; sampling?: { nProbs?: number } }>(deps: GenerateDeps, request: R, opts: RunOptions): [R, number | null] {
  const cap = opts.sent === 'whole' ? wholeTokenCap(request.sampling?.nProbs, deps.responseMaxBytes) : null;
  const max = request.maxTokens;
  if (cap === null || (max !== undefined && max >= 0 && max <= cap)) return [request, null];
  return [{ ...request, maxTokens: cap }, cap];
}

export function runChat(deps: GenerateDeps, model: string | undefined, body: ChatBody, opts: RunOptions): Promise<Generated> {
  checked(ChatRequest, body);
  const [request, cap] = held(deps, body, opts);
  const images = imageCount(request.messages);
  return run(deps, model, opts, cap, (modelId, fields, lease) => {
    // images need the model's projector (paired in its folder or chosen in its load settings)
    if (images > 0 && !lease.metadata.vision) {
      throw new ApiError(400, 'not_supported', `${lease.name} has no vision projector (mmproj), so it cannot read images: put its mmproj file beside it, or send text`, 'messages');
    }
    return deps.engine.chat(modelId, { ...request, ...fields } as ChatRequest, { signal: opts.req.apiSignal, onPiece: opts.onPiece });
  });
}

export function runCompletion(deps: GenerateDeps, model: string | undefined, body: CompletionBody, opts: RunOptions): Promise<Generated> {
  checked(CompletionRequest, body);
  const [request, cap] = held(deps, body, opts);
  return run(deps, model, opts, cap, (modelId, fields) =>
    deps.engine.complete(modelId, { ...request, ...fields } as CompletionRequest, { signal: opts.req.apiSignal, onPiece: (text, probs) => opts.onPiece?.(text, '', probs) }),
  );
}

export function runInfill(deps: GenerateDeps, model: string | undefined, body: Omit<InfillRequest, 'seq'>, opts: RunOptions): Promise<Generated> {
  checked(InfillRequest, body);
  const [request, cap] = held(deps, body, opts);
  return run(deps, model, opts, cap, (modelId, fields) =>
    deps.engine.infill(modelId, { ...request, ...fields } as InfillRequest, { signal: opts.req.apiSignal, onPiece: (text, probs) => opts.onPiece?.(text, '', probs) }),
  );
}
