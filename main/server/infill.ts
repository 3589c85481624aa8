/**
 * Fill-in-the-middle (llama-server's /infill): a code model writes the text between `input_prefix`
 * and `input_suffix`, with other files as `input_extra` context. The engine builds the prompt from the
 * model's FIM tokens (EngineClient.infill); a model without them is refused (400, not_supported).
 * The answer has the shape of llama-server's /completion: `content`, `stop`, `stop_type`, the token
 * counts and `timings`; a stream sends `data: {content, stop: false}` events, then the final one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { INFILL_EXTRA_MAX, type GenerateResult, type InfillRequest } from '../engine/protocol';
import { MAX_CHAT_CHARS } from '../params';
import { errorBody } from './errors';
import { promptKey, runInfill } from './generate';
import { note, parseBody, SseStream, streaming } from './http';
import { generationShape, requestOptions, timingsOf } from './openai-chat';
import type { RouteDeps } from './server';

const Text = z.string().max(MAX_CHAT_CHARS);

export const InfillBody = z
  .object({
    input_prefix: Text,
    input_suffix: Text,
    input_extra: z
      .array(z.object({ filename: z.string().max(4096).optional(), text: Text }).passthrough())
      .max(INFILL_EXTRA_MAX)
      .optional(),
    /** the start of the middle, written after the prefix */
    prompt: Text.optional(),
    ...generationShape,
  })
  .passthrough();
export type InfillBody = z.infer<typeof InfillBody>;

/** The engine's infill request for a body (`seq` is the slot's, added when it runs). */
export function infillRequestOf(b: InfillBody): Omit<InfillRequest, 'seq'> {
  return {
    prefix: b.input_prefix,
    suffix: b.input_suffix,
    ...(b.input_extra?.length ? { extra: b.input_extra.map((c) => ({ text: c.text, ...(c.filename !== undefined ? { filename: c.filename } : {}) })) } : {}),
    ...(b.prompt ? { prompt: b.prompt } : {}),
    ...requestOptions(b),
  };
}

/** llama-server's stop_type for a result. */
function stopType(r: GenerateResult): 'eos' | 'word' | 'limit' | 'none' {
  if (r.stopReason === 'eos') return 'eos';
  if (r.stopReason === 'stop') return 'word';
  if (r.stopReason === 'length') return 'limit';
  return 'none';
}

export function registerInfill(app: FastifyInstance, deps: RouteDeps): void {
  const infill = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(InfillBody, req.body);
    const request = infillRequestOf(body);
    // what comes first stays first: the extra files, then the prefix
    const key = promptKey({ prompt: `${body.input_prefix}${body.prompt ?? ''}`, extra: body.input_extra ?? null });
    note(req, { model: body.model ?? null });
    const final = (model: string, r: GenerateResult, content: string) => ({
      content,
      tokens: r.tokens,
      model,
      stop: true,
      stop_type: stopType(r),
      tokens_predicted: r.timings.generatedTokens,
      tokens_evaluated: r.timings.promptTokens,
      tokens_cached: r.timings.cachedTokens,
      truncated: r.shifted,
      timings: timingsOf(r),
    });
    if (!body.stream) {
      const g = await runInfill(deps, body.model, request, { sent: 'whole', key, req, lora: body.lora });
      return final(g.model, g.result, g.result.text);
    }
    const sse = new SseStream(reply);
    await streaming(req, sse, (err) => sse.send(errorBody(err, 'openai')), async () => {
      const g = await runInfill(deps, body.model, request, {
        sent: 'stream',
        key,
        req,
        lora: body.lora,
        onStart: () => sse.start(),
        onPiece: (text) => {
          if (text) sse.send({ content: text, stop: false });
        },
      });
      sse.send(final(g.model, g.result, ''));
    });
    return reply;
  };
  app.post('/infill', infill);
  app.post('/v1/infill', infill);
}
