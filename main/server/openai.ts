/**
 * OpenAI's API (what LM Studio, Jan and llama-server speak): models and chat completions here; the
 * request and result translation in openai-chat.ts; completions, embeddings and tokenize in
 * openai-completions.ts; the Responses API in openai-responses.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenLogprobs } from '../engine/protocol';
import { errorBody } from './errors';
import { gatherProbs, runChat, promptKey } from './generate';
import { note, parseBody, SseStream, streaming } from './http';
import { registerOpenAiCompletions } from './openai-completions';
import { registerOpenAiResponses } from './openai-responses';
import {
  ChatCompletionBody,
  chatRequestOf,
  completionId,
  finishReason,
  logprobsOf,
  timingsOf,
  toolCallsOf,
  usageOf,
} from './openai-chat';
import type { RouteDeps } from './server';

const now = () => Math.floor(Date.now() / 1000);

export function registerOpenAi(app: FastifyInstance, deps: RouteDeps): void {
  const { models } = deps;
  const fingerprint = `hearth-${deps.version}`;

  // OpenAI's model object, with Anthropic's fields beside (type, display_name, created_at): both SDKs list from here
  const modelObject = (m: { name: string; loaded: boolean; size: number }) => ({
    id: m.name,
    object: 'model',
    created: 0,
    owned_by: 'hearth',
    type: 'model',
    display_name: m.name,
    created_at: new Date(0).toISOString(),
    loaded: m.loaded,
    size: m.size,
  });

  app.get('/v1/models', async () => {
    const data = (await models.list()).map(modelObject);
    // Anthropic's page fields: the whole list is one page
    return { object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  });
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (req) => modelObject({ ...(await models.resolve(req.params.id)) }));

  const chat = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    const body = parseBody(ChatCompletionBody, req.body);
    const request = chatRequestOf(body);
    const key = promptKey({ tools: request.tools, messages: request.messages });
    const id = completionId('chatcmpl');
    const created = now();
    note(req, { model: body.model ?? null });
    if (!body.stream) {
      const probs: TokenLogprobs[] = [];
      const g = await runChat(deps, body.model, request, { sent: 'whole', key, req, lora: body.lora, onPiece: gatherProbs(probs) });
      const r = g.result;
      const toolCalls = toolCallsOf(r);
      return {
        id,
        object: 'chat.completion',
        created,
        model: g.model,
        system_fingerprint: fingerprint,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: toolCalls.length && !r.content ? null : r.content,
              ...(r.reasoning ? { reasoning_content: r.reasoning } : {}),
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
            },
            logprobs: body.logprobs ? logprobsOf(probs) : null,
            finish_reason: finishReason(r),
          },
        ],
        usage: usageOf(r),
        timings: timingsOf(r),
      };
    }
    const sse = new SseStream(reply);
    let model = body.model ?? '';
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: fingerprint,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }],
    });
    await streaming(req, sse, (err) => sse.send(errorBody(err, 'openai')), async () => {
        const g = await runChat(deps, body.model, request, {
          sent: 'stream',
          key,
          req,
          lora: body.lora,
          onStart: (name) => {
            model = name;
            sse.send(chunk({ role: 'assistant', content: '' }, null));
          },
          onPiece: (content, reasoning, probs) => {
            const delta: Record<string, string> = {};
            if (reasoning) delta.reasoning_content = reasoning;
            if (content) delta.content = content;
            if (!reasoning && !content) return;
            sse.send(chunk(delta, null, body.logprobs && probs ? { logprobs: logprobsOf(probs) } : {}));
          },
        });
        const r = g.result;
        const calls = toolCallsOf(r);
        if (calls.length) sse.send(chunk({ tool_calls: calls.map((c, index) => ({ index, ...c })) }, null));
        sse.send(chunk({}, finishReason(r)));
        if (body.stream_options?.include_usage) sse.send({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: fingerprint, choices: [], usage: usageOf(r), timings: timingsOf(r) });
        sse.send('[DONE]');
    });
    return reply;
  };
  app.post('/v1/chat/completions', chat);
  // llama-server answers without the /v1 too
  app.post('/chat/completions', chat);

  registerOpenAiCompletions(app, deps);
  registerOpenAiResponses(app, deps);
}
