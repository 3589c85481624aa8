/**
 * OpenAI's API beyond chat, the plain-text side: legacy completions (`text_completion`, stream and
 * not), embeddings on an embedding model, and llama-server's tokenize/detokenize. Each runs on a slot
 * of the model (a Lease), so it queues with the model's other requests.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { abortedError, type CompletionRequest, type TokenLogprobs } from '../engine/protocol';
import { MAX_CHAT_CHARS, SAMPLING_FIELDS } from '../params';
import { ApiError, errorBody } from './errors';
import { gatherProbs, promptKey, runCompletion } from './generate';
import { note, parseBody, SseStream, streaming } from './http';
import type { Lease } from './models';
import { completionId, finishReason, generationShape, requestOptions, timingsOf, usageOf } from './openai-chat';
import type { RouteDeps } from './server';

/** OpenAI's default length of a legacy completion. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;
/** OpenAI's limit on inputs per embeddings request. */
export const EMBED_MAX_INPUTS = 2048;

const TokenIds = z.array(z.number().int().min(0)).min(1);
const ONE_PROMPT = 'Hearth completes one prompt per request: send one string or one list of token ids';

export const CompletionBody = z
  .object({
    prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1, ONE_PROMPT), TokenIds, z.array(TokenIds).length(1, ONE_PROMPT)]),
    /** OpenAI's: the log-probabilities of this many likeliest tokens per token (0: the chosen one's only) */
    logprobs: (SAMPLING_FIELDS.nProbs.schema as z.ZodNumber).nullable().optional(),
    echo: z.boolean().nullable().optional(),
    suffix: z.string().nullable().optional(),
    best_of: z.number().int().min(1).max(1, 'Hearth generates one choice per request (best_of = 1)').nullable().optional(),
    /** llama-server's: a JSON schema the text follows */
    json_schema: z.record(z.unknown()).optional(),
    user: z.string().optional(),
    ...generationShape,
  })
  .passthrough();
export type CompletionBody = z.infer<typeof CompletionBody>;

/** The engine's completion request for an OpenAI body; what Hearth cannot do is refused naming the field. */
export function completionRequestOf(b: CompletionBody): Omit<CompletionRequest, 'seq'> {
  if (b.echo) throw new ApiError(400, 'invalid_request_error', 'echo is not supported: Hearth returns only the completion (the prompt is what you sent)', 'echo');
  if (b.suffix) throw new ApiError(400, 'invalid_request_error', 'suffix is not supported (no fill-in-the-middle on /v1/completions)', 'suffix');
  const p = b.prompt;
  const prompt = typeof p === 'string' ? p : typeof p[0] === 'number' ? (p as number[]) : (p[0] as string | number[]);
  const opts = requestOptions(b, COMPLETION_DEFAULT_MAX_TOKENS);
  const nProbs = b.logprobs === undefined || b.logprobs === null ? undefined : Math.max(1, b.logprobs);
  return {
    prompt,
    ...opts,
    ...(b.json_schema ? { jsonSchema: b.json_schema } : {}),
    sampling: { ...opts.sampling, ...(nProbs ? { nProbs } : {}) },
  };
}

/** Legacy completions' logprobs (tokens, token_logprobs, top_logprobs, text_offset), offsets from `offset`. */
export function completionLogprobs(probs: TokenLogprobs[], offset = 0) {
  let at = offset;
  const text_offset = probs.map((p) => {
    const o = at;
    at += p.text.length;
    return o;
  });
  return {
    tokens: probs.map((p) => p.text),
    token_logprobs: probs.map((p) => p.logprob),
    top_logprobs: probs.map((p) => Object.fromEntries(p.top.map((t) => [t.text, t.logprob]))),
    text_offset,
  };
}

export const EmbeddingBody = z
  .object({
    model: z.string().max(4096).optional(),
    input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(EMBED_MAX_INPUTS), TokenIds, z.array(TokenIds).min(1).max(EMBED_MAX_INPUTS)]),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: z.number().int().min(1).optional(),
    user: z.string().optional(),
  })
  .passthrough();
export type EmbeddingBody = z.infer<typeof EmbeddingBody>;

/** The inputs as a list of texts or a list of token-id lists. */
function embeddingInputs(input: EmbeddingBody['input']): { texts: string[] } | { ids: number[][] } {
  if (typeof input === 'string') return { texts: [input] };
  if (typeof input[0] === 'string') return { texts: input as string[] };
  if (typeof input[0] === 'number') return { ids: [input as number[]] };
  return { ids: input as number[][] };
}

/** A vector as OpenAI's base64: its float32s, little-endian. */
export function base64Floats(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/** How many tokens' pieces /tokenize (with_pieces) asks the engine for at once. */
export const PIECES_AT_ONCE = 64;

export const TokenizeBody = z
  .object({
    model: z.string().max(4096).optional(),
    // as much text as a chat may hold
    content: z.string().max(MAX_CHAT_CHARS),
    /** BOS/EOS as the model adds them (llama-server: off by default) */
    add_special: z.boolean().optional(),
    /** special tokens written as text (<|im_start|>) read as such (llama-server: on by default) */
    parse_special: z.boolean().optional(),
    with_pieces: z.boolean().optional(),
  })
  .passthrough();

export const DetokenizeBody = z
  .object({
    model: z.string().max(4096).optional(),
    tokens: z.array(z.number().int().min(0)),
  })
  .passthrough();

const now = () => Math.floor(Date.now() / 1000);

/** Runs `fn` on a slot of the named model (loading it just in time); the slot's cache is left unknown. */
async function withLease<T>(deps: RouteDeps, model: string | undefined, req: FastifyRequest, fn: (lease: Lease) => Promise<T>): Promise<T> {
  const lease = await deps.models.acquire(model, '', req.apiSignal);
  note(req, { model: lease.name });
  try {
    return await fn(lease);
  } finally {
    lease.release('');
  }
}

/** Runs `fn` on the named model (loading it just in time) without a KV slot: tokenizing touches no cache. */
async function withModel<T>(deps: RouteDeps, model: string | undefined, req: FastifyRequest, fn: (m: Omit<Lease, 'slot'>) => Promise<T>): Promise<T> {
  const m = await deps.models.hold(model, req.apiSignal);
  note(req, { model: m.name });
  try {
    return await fn(m);
  } finally {
    m.release();
  }
}

export function registerOpenAiCompletions(app: FastifyInstance, deps: RouteDeps): void {
  const { models, engine } = deps;
  const fingerprint = `hearth-${deps.version}`;

  const completions = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(CompletionBody, req.body);
    const request = completionRequestOf(body);
    const key = promptKey({ prompt: request.prompt });
    const id = completionId('cmpl');
    const created = now();
    const wantProbs = body.logprobs !== undefined && body.logprobs !== null;
    note(req, { model: body.model ?? null });
    if (!body.stream) {
      const probs: TokenLogprobs[] = [];
      const g = await runCompletion(deps, body.model, request, { sent: 'whole', key, req, lora: body.lora, onPiece: gatherProbs(probs) });
      const r = g.result;
      return {
        id,
        object: 'text_completion',
        created,
        model: g.model,
        system_fingerprint: fingerprint,
        choices: [{ index: 0, text: r.text, logprobs: wantProbs ? completionLogprobs(probs) : null, finish_reason: finishReason(r) }],
        usage: usageOf(r),
        timings: timingsOf(r),
      };
    }
    const sse = new SseStream(reply);
    let model = body.model ?? '';
    let offset = 0;
    const chunk = (text: string, finish: string | null, logprobs: unknown = null) => ({
      id,
      object: 'text_completion',
      created,
      model,
      system_fingerprint: fingerprint,
      choices: [{ index: 0, text, logprobs, finish_reason: finish }],
    });
    await streaming(req, sse, (err) => sse.send(errorBody(err, 'openai')), async () => {
        const g = await runCompletion(deps, body.model, request, {
          sent: 'stream',
          key,
          req,
          lora: body.lora,
          onStart: (name) => {
            model = name;
            sse.start();
          },
          onPiece: (text, _r, probs) => {
            if (!text) return;
            sse.send(chunk(text, null, wantProbs && probs ? completionLogprobs(probs, offset) : null));
            offset += text.length;
          },
        });
        const r = g.result;
        sse.send(chunk('', finishReason(r)));
        if (body.stream_options?.include_usage) sse.send({ id, object: 'text_completion', created, model, system_fingerprint: fingerprint, choices: [], usage: usageOf(r), timings: timingsOf(r) });
        sse.send('[DONE]');
    });
    return reply;
  };
  app.post('/v1/completions', completions);
  app.post('/completions', completions);

  const embeddings = async (req: FastifyRequest) => {
    const body = parseBody(EmbeddingBody, req.body);
    note(req, { model: body.model ?? null });
    // refused before anything loads: a chat model has no pooled vector to give
    const entry = await models.resolve(body.model);
    const info = await engine.info(entry.path);
    if (!info.isEmbedding) {
      throw new ApiError(400, 'invalid_request_error', `${entry.name} is not an embedding model: /v1/embeddings needs one (a GGUF with pooling, e.g. nomic-embed or bge)`, 'model');
    }
    if (body.dimensions !== undefined && body.dimensions !== info.embeddingSize) {
      throw new ApiError(400, 'invalid_request_error', `${entry.name} gives vectors of ${info.embeddingSize} dimensions; dimensions must be ${info.embeddingSize} or left out`, 'dimensions');
    }
    const inputs = embeddingInputs(body.input);
    const { name, vectors, counts } = await withLease(deps, entry.name, req, async (lease) => {
      // token ids are embedded as their text (the engine embeds texts)
      const texts = 'texts' in inputs ? inputs.texts : await Promise.all(inputs.ids.map((t) => engine.detokenize(lease.modelId, t)));
      const counts = 'ids' in inputs ? inputs.ids.map((t) => t.length) : await Promise.all(texts.map(async (t) => (await engine.tokenize(lease.modelId, t, { addSpecial: true })).length));
      const vectors = await engine.embed(lease.modelId, texts, { signal: req.apiSignal });
      return { name: lease.name, vectors, counts };
    });
    const tokens = counts.reduce((a, b) => a + b, 0);
    note(req, { model: name, tokens });
    return {
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: body.encoding_format === 'base64' ? base64Floats(v) : v })),
      model: name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  };
  app.post('/v1/embeddings', embeddings);
  app.post('/embeddings', embeddings);

  const tokenize = async (req: FastifyRequest) => {
    const body = parseBody(TokenizeBody, req.body);
    return withModel(deps, body.model, req, async (lease) => {
      const tokens = await engine.tokenize(lease.modelId, body.content, { addSpecial: body.add_special ?? false, parseSpecial: body.parse_special ?? true });
      if (!body.with_pieces) return { tokens };
      // a token's piece is one engine call: PIECES_AT_ONCE in flight at a time, not one per token at once
      // (a long text's hundreds of thousands of calls would hold their memory together)
      const pieces: string[] = [];
      for (let i = 0; i < tokens.length; i += PIECES_AT_ONCE) {
        if (req.apiSignal.aborted) throw abortedError();
        pieces.push(...(await Promise.all(tokens.slice(i, i + PIECES_AT_ONCE).map((t) => engine.detokenize(lease.modelId, [t])))));
      }
      return { tokens: tokens.map((id, i) => ({ id, piece: pieces[i] })) };
    });
  };
  const detokenize = async (req: FastifyRequest) => {
    const body = parseBody(DetokenizeBody, req.body);
    return withModel(deps, body.model, req, async (lease) => {
      const bad = body.tokens.findIndex((t) => t >= lease.metadata.vocabSize);
      if (bad >= 0) throw new ApiError(400, 'invalid_request_error', `tokens.${bad}: ${body.tokens[bad]} is not a token of ${lease.name} (its vocabulary has ${lease.metadata.vocabSize})`, `tokens.${bad}`);
      return { content: await engine.detokenize(lease.modelId, body.tokens) };
    });
  };
  for (const p of ['', '/v1']) {
    app.post(`${p}/tokenize`, tokenize);
    app.post(`${p}/detokenize`, detokenize);
  }
}
