/**
 * Anthropic's Messages API (what Anthropic-SDK tools speak): POST /v1/messages, streamed as
 * Anthropic's named events in its order (message_start; per block content_block_start, its deltas,
 * content_block_stop; message_delta; message_stop) or answered whole, and POST
 * /v1/messages/count_tokens through the model's chat template. The request and result translation is
 * in anthropic-messages.ts; errors come out in Anthropic's shape (server.ts picks it by path).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateResult } from '../engine/protocol';
import {
  chatRequestOf,
  contentOf,
  CountTokensBody,
  messageId,
  MessagesBody,
  stopReasonOf,
  stopSequenceOf,
  toolUsesOf,
  usageOf,
} from './anthropic-messages';
import { errorBody } from './errors';
import { promptKey, runChat, type Generated } from './generate';
import { note, parseBody, SseStream, streaming } from './http';
import type { RouteDeps } from './server';

type BlockKind = 'thinking' | 'text';

export function registerAnthropic(app: FastifyInstance, deps: RouteDeps): void {
  const { models, engine } = deps;

  /** Which stop sequence ended `g` (the generated tokens as text tell, when the engine still has the model). */
  const stopSequence = async (g: Generated, stops: string[] | undefined): Promise<string | null> => {
    const r = g.result;
    if (r.stopReason !== 'stop' || !stops?.length) return null;
    if (stops.length === 1) return stops[0];
    const text = await engine.detokenize(g.modelId, r.tokens).catch(() => undefined);
    return stopSequenceOf(r, stops, text);
  };

  const messages = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(MessagesBody, req.body);
    const request = chatRequestOf(body);
    const key = promptKey({ tools: request.tools, messages: request.messages });
    const id = messageId();
    note(req, { model: body.model });
    if (!body.stream) {
      const g = await runChat(deps, body.model, request, { sent: 'whole', key, req });
      const r = g.result;
      return {
        id,
        type: 'message',
        role: 'assistant',
        model: g.model,
        content: contentOf(r),
        stop_reason: stopReasonOf(r),
        stop_sequence: await stopSequence(g, request.stop),
        usage: usageOf(r),
      };
    }

    const sse = new SseStream(reply);
    const event = (type: string, data: Record<string, unknown> = {}) => sse.send({ type, ...data }, type);
    // the open block: pieces of one kind extend it; a piece of the other kind closes it and opens the next
    let index = -1;
    let open: BlockKind | null = null;
    const close = () => {
      if (open === 'thinking') event('content_block_delta', { index, delta: { type: 'signature_delta', signature: '' } });
      if (open) event('content_block_stop', { index });
      open = null;
    };
    const piece = (kind: BlockKind, text: string) => {
      if (!text) return;
      if (open !== kind) {
        close();
        open = kind;
        index++;
        event('content_block_start', { index, content_block: kind === 'text' ? { type: 'text', text: '', citations: null } : { type: 'thinking', thinking: '', signature: '' } });
      }
      event('content_block_delta', { index, delta: kind === 'text' ? { type: 'text_delta', text } : { type: 'thinking_delta', thinking: text } });
    };
    await streaming(req, sse, (err) => sse.send(errorBody(err, 'anthropic'), 'error'), async () => {
        const g = await runChat(deps, body.model, request, {
          sent: 'stream',
          key,
          req,
          onStart: (model) => {
            // the prompt's token counts are known once it ran: message_delta carries them
            event('message_start', {
              message: {
                id,
                type: 'message',
                role: 'assistant',
                model,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
              },
            });
          },
          onPiece: (content, reasoning) => {
            piece('thinking', reasoning);
            piece('text', content);
          },
        });
        const r: GenerateResult = g.result;
        close();
        for (const use of toolUsesOf(r)) {
          index++;
          event('content_block_start', { index, content_block: { ...use, input: {} } });
          event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(use.input) } });
          event('content_block_stop', { index });
        }
        event('message_delta', { delta: { stop_reason: stopReasonOf(r), stop_sequence: await stopSequence(g, request.stop) }, usage: usageOf(r) });
        event('message_stop');
    });
    return reply;
  };

  app.post('/v1/messages', messages);

  app.post('/v1/messages/count_tokens', async (req) => {
    const body = parseBody(CountTokensBody, req.body);
    const request = chatRequestOf(body);
    note(req, { model: body.model });
    // the model's template and tokenizer count: it loads just in time like a generation, and takes no KV slot
    const model = await models.hold(body.model, req.apiSignal);
    try {
      const t = await engine.applyTemplate(model.modelId, request);
      note(req, { model: model.name });
      return { input_tokens: t.tokens };
    } finally {
      model.release();
    }
  });
}
