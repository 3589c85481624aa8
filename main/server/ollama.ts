/**
 * Ollama's API (what tools written for Ollama, and Ollama's own client library, speak): the model
 * list, details and loaded models, chat and generate (NDJSON streams by default, as Ollama's), and
 * embeddings. The request and result translation is in ollama-map.ts; generation goes through
 * generate.ts like every dialect's.
 */
import { promises as fsp } from 'fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GgufHeaderCache } from '../gguf/cache';
import type { ApiServerSettings } from '../ipc/api';
import { headerFacts, type HeaderFacts } from '../models/facts';
import { ApiError, errorBody, toApiError } from './errors';
import { promptKey, runChat, runCompletion, type Generated, type RunOptions } from './generate';
import { NdjsonStream, note, parseBody, streaming } from './http';
import type { ApiModelEntry } from './models';
import {
  chatRequestOf,
  detailsOf,
  digestOf,
  doneReason,
  generateChatOf,
  jsonSchemaOf,
  OllamaChatBody,
  OllamaEmbedBody,
  OllamaEmbeddingsBody,
  OllamaGenerateBody,
  OllamaShowBody,
  ollamaName,
  optionsOf,
  statsOf,
  toolCallsOf,
} from './ollama-map';
import type { RouteDeps } from './server';

/** Ollama's expiry for a model that never goes (keep_alive -1). */
const NEVER = '2318-08-31T00:00:00Z';

export function registerOllama(app: FastifyInstance, deps: RouteDeps & { settings?: ApiServerSettings }): void {
  const { models, engine } = deps;
  const headers = new GgufHeaderCache();

  /** What the header says about a model, or null when it cannot be read (the listing goes on). */
  const factsOf = async (file: string): Promise<HeaderFacts | null> => {
    try {
      return headerFacts(await headers.read(file));
    } catch {
      return null;
    }
  };
  const modifiedAt = async (file: string) => {
    try {
      return (await fsp.stat(file)).mtime.toISOString();
    } catch {
      return new Date(0).toISOString();
    }
  };
  const describe = async (m: ApiModelEntry) => {
    const [facts, modified] = await Promise.all([factsOf(m.path), modifiedAt(m.path)]);
    return { name: ollamaName(m.name), model: ollamaName(m.name), modified_at: modified, size: m.size, digest: digestOf(m.path), details: detailsOf(facts) };
  };

  // Ollama answers its root so clients can tell it is up
  app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('Ollama is running'));

  app.get('/api/version', async () => ({ version: deps.version }));

  app.get('/api/tags', async () => ({ models: await Promise.all((await models.list()).map(describe)) }));

  app.get('/api/ps', async () => {
    const loaded = new Map((await models.list()).filter((m) => m.loaded).map((m) => [m.path, m]));
    const ttl = deps.settings?.modelTtlMinutes ?? 0;
    const out = [];
    for (const s of models.status()) {
      const m = loaded.get(s.path);
      if (!m) continue;
      // a model busy with requests goes a TTL after its last one ends
      const expires = s.unloadAt !== null ? new Date(s.unloadAt).toISOString() : ttl > 0 ? new Date(Date.now() + ttl * 60_000).toISOString() : NEVER;
      out.push({ ...(await describe(m)), expires_at: expires, size_vram: 0 });
    }
    return { models: out };
  });

  app.post('/api/show', async (req) => {
    const body = parseBody(OllamaShowBody, req.body);
    const m = await models.resolve(body.model ?? body.name);
    note(req, { model: m.name });
    const [info, modified] = await Promise.all([engine.info(m.path).catch((e: unknown) => Promise.reject(toApiError(e))), modifiedAt(m.path)]);
    const arch = info.architecture;
    const template = info.chatTemplate ?? '';
    const capabilities = info.isEmbedding ? ['embedding'] : ['completion', ...(/\btools\b/.test(template) ? ['tools'] : []), ...(/enable_thinking|<think>/.test(template) ? ['thinking'] : [])];
    // the tokens generation ends at, as Modelfile parameters
    const stops = Object.entries(info.specialTokens)
      .filter(([k]) => /^(eos|eot|eom)$/i.test(k))
      .map(([, t]) => `stop ${JSON.stringify(t.text)}`);
    return {
      license: '',
      modelfile: `# Modelfile of a model in Hearth's library\nFROM ${m.path}\n`,
      parameters: [...new Set(stops)].join('\n'),
      template,
      system: '',
      details: detailsOf({ architecture: arch, parameters: info.parameters, fileType: info.fileTypeName ?? null }),
      model_info: {
        'general.architecture': arch,
        'general.name': info.name,
        'general.parameter_count': info.parameters,
        'general.file_type': info.fileType,
        [`${arch}.context_length`]: info.trainedContext,
        [`${arch}.embedding_length`]: info.embeddingSize,
        [`${arch}.block_count`]: info.layers,
        [`${arch}.attention.head_count`]: info.heads,
        [`${arch}.pooling_type`]: info.pooling,
        'tokenizer.ggml.model': info.tokenizer,
        'tokenizer.ggml.vocab_size': info.vocabSize,
      },
      capabilities,
      modified_at: modified,
    };
  });

  /** An empty prompt (or no messages) loads the model and answers at once, as Ollama does. */
  const loadOnly = async (req: FastifyRequest, model: string | undefined) => {
    const lease = await models.hold(model, req.apiSignal);
    lease.release();
    note(req, { model: lease.name });
    return { model: ollamaName(lease.name), created_at: new Date().toISOString(), done: true, done_reason: 'load' };
  };

  /**
   * One generation answered as Ollama does: one JSON object (stream: false), or NDJSON pieces then a
   * final object with done: true (the default). `piece` shapes a streamed piece, `whole` the answer's
   * text fields, `extra` what the final object carries beside them (a chat's tool calls).
   */
  const answer = async (
    req: FastifyRequest,
    reply: FastifyReply,
    model: string | undefined,
    stream: boolean,
    run: (opts: RunOptions) => Promise<Generated>,
    piece: (content: string, reasoning: string) => Record<string, unknown>,
    whole: (g: Generated) => Record<string, unknown>,
    last: (g: Generated) => { before?: Record<string, unknown>; fields: Record<string, unknown> },
  ) => {
    const started = performance.now();
    let loadMs = 0;
    let name = model ?? '';
    const head = () => ({ model: ollamaName(name), created_at: new Date().toISOString() });
    note(req, { model: model ?? null });
    if (!stream) {
      const g = await run({ sent: 'whole', key: '', req, onStart: () => (loadMs = performance.now() - started) });
      name = g.model;
      return { ...head(), ...whole(g), done: true, done_reason: doneReason(g.result), ...statsOf(g.result, loadMs, performance.now() - started) };
    }
    const out = new NdjsonStream(reply);
    await streaming(req, out, (err) => out.send(errorBody(err, 'ollama')), async () => {
        const g = await run({
          sent: 'stream',
          key: '',
          req,
          onStart: (n) => {
            name = n;
            loadMs = performance.now() - started;
            out.start();
          },
          onPiece: (content, reasoning) => {
            if (content || reasoning) out.send({ ...head(), ...piece(content, reasoning), done: false });
          },
        });
        const end = last(g);
        if (end.before) out.send({ ...head(), ...end.before, done: false });
        out.send({ ...head(), ...end.fields, done: true, done_reason: doneReason(g.result), ...statsOf(g.result, loadMs, performance.now() - started) });
    });
    return reply;
  };

  app.post('/api/chat', async (req, reply) => {
    const body = parseBody(OllamaChatBody, req.body);
    if (body.messages.length === 0) return { ...(await loadOnly(req, body.model)), message: { role: 'assistant', content: '' } };
    const request = chatRequestOf(body);
    const key = promptKey({ tools: request.tools, messages: request.messages });
    const message = (content: string, thinking: string) => ({ role: 'assistant', content, ...(thinking ? { thinking } : {}) });
    return answer(
      req,
      reply,
      body.model,
      body.stream !== false,
      (opts) => runChat(deps, body.model, request, { ...opts, key }),
      (content, reasoning) => ({ message: message(content, reasoning) }),
      (g) => {
        const calls = toolCallsOf(g.result);
        return { message: { ...message(g.result.content, g.result.reasoning), ...(calls.length ? { tool_calls: calls } : {}) } };
      },
      (g) => {
        const calls = toolCallsOf(g.result);
        return { ...(calls.length ? { before: { message: { ...message('', ''), tool_calls: calls } } } : {}), fields: { message: message('', '') } };
      },
    );
  });

  app.post('/api/generate', async (req, reply) => {
    const body = parseBody(OllamaGenerateBody, req.body);
    if (body.prompt === '' && !body.suffix) return { ...(await loadOnly(req, body.model)), response: '' };
    const stream = body.stream !== false;
    const piece = (content: string, reasoning: string) => ({ response: content, ...(reasoning ? { thinking: reasoning } : {}) });
    const whole = (g: Generated) => piece(g.result.content, g.result.reasoning);
    const last = () => ({ fields: { response: '' } });
    if (body.raw) {
      if (body.images?.length) throw new ApiError(400, 'not_supported', 'images: the Ollama API here does not read images yet (its OpenAI chat API does, as image_url data: URLs); send text', 'images');
      if (body.suffix) throw new ApiError(400, 'not_supported', 'suffix (fill-in-the-middle) is not supported by Hearth\'s Ollama API; send the prompt alone', 'suffix');
      const jsonSchema = jsonSchemaOf(body.format);
      const request = { prompt: body.prompt, ...(jsonSchema ? { jsonSchema } : {}), ...optionsOf(body.options ?? undefined) };
      const key = promptKey({ prompt: body.prompt });
      return answer(req, reply, body.model, stream, (opts) => runCompletion(deps, body.model, request, { ...opts, key }), piece, (g) => ({ response: g.result.text }), last);
    }
    const request = generateChatOf(body);
    const key = promptKey({ messages: request.messages });
    return answer(req, reply, body.model, stream, (opts) => runChat(deps, body.model, request, { ...opts, key }), piece, whole, last);
  });

  /** Embeddings of `texts` on an embedding model (`truncate`: cut a text longer than a batch, else refuse it). */
  const embed = async (req: FastifyRequest, model: string | undefined, texts: string[], truncate: boolean) => {
    const started = performance.now();
    const lease = await models.acquire(model, '', req.apiSignal);
    try {
      const loadMs = performance.now() - started;
      note(req, { model: lease.name });
      if (!lease.metadata.isEmbedding) throw new ApiError(400, 'not_supported', `${lease.name} is not an embedding model (its GGUF has no pooling); name an embedding model`, 'model');
      const limit = (await engine.contextInfo(lease.modelId)).ubatchSize;
      let count = 0;
      const inputs: string[] = [];
      for (const [i, text] of texts.entries()) {
        const n = (await engine.tokenize(lease.modelId, text, { addSpecial: true, parseSpecial: true })).length;
        if (n <= limit) {
          inputs.push(text);
          count += n;
          continue;
        }
        if (!truncate) throw new ApiError(400, 'context_overflow', `input ${i} is ${n} tokens, more than the model's batch of ${limit}; shorten it or send truncate: true`, 'input');
        const plain = await engine.tokenize(lease.modelId, text, { addSpecial: false, parseSpecial: true });
        const keep = Math.max(1, limit - (n - plain.length));
        inputs.push(await engine.detokenize(lease.modelId, plain.slice(0, keep)));
        count += limit;
      }
      const embeddings = await engine.embed(lease.modelId, inputs, { signal: req.apiSignal });
      note(req, { tokens: count });
      return { model: ollamaName(lease.name), embeddings, total_duration: Math.round((performance.now() - started) * 1e6), load_duration: Math.round(loadMs * 1e6), prompt_eval_count: count };
    } catch (e) {
      throw toApiError(e);
    } finally {
      lease.release();
    }
  };

  app.post('/api/embed', async (req) => {
    const body = parseBody(OllamaEmbedBody, req.body);
    const texts = typeof body.input === 'string' ? [body.input] : body.input;
    if (texts.length === 0) {
      const loaded = await loadOnly(req, body.model);
      return { model: loaded.model, embeddings: [] };
    }
    const r = await embed(req, body.model, texts, body.truncate);
    // fewer dimensions (Matryoshka models): the first ones, normalized again
    if (body.dimensions) r.embeddings = r.embeddings.map((v) => normalized(v.slice(0, body.dimensions)));
    return r;
  });

  // the older endpoint: one prompt, one vector
  app.post('/api/embeddings', async (req) => {
    const body = parseBody(OllamaEmbeddingsBody, req.body);
    if (body.prompt === '') return { embedding: [] };
    const r = await embed(req, body.model, [body.prompt], true);
    return { embedding: r.embeddings[0] };
  });
}

function normalized(v: number[]): number[] {
  const norm = Math.hypot(...v);
  return norm > 0 ? v.map((x) => x / norm) : v;
}
