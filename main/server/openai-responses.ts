/**
 * OpenAI's Responses API, stateless: the request (input items, instructions, function tools in the
 * flat shape, tool_choice, text.format, max_output_tokens, samplers) is translated to a chat
 * completions body and run through chatRequestOf, so both dialects map sampling, tools and JSON
 * schemas the one way; the result comes back as a `response` with output items, or as Responses'
 * stream of events. Nothing is stored: previous_response_id, conversation and store: true are refused.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { GenerateResult } from '../engine/protocol';
import { ApiError, invalidBody } from './errors';
import { promptKey, runChat } from './generate';
import { note, parseBody, SseStream, streaming } from './http';
import { chatRequestOf, completionId, finishReason, toolCallsOf, type ChatCompletionBody, type OpenAiMessage } from './openai-chat';
import { samplerBodyShape } from './samplers';
import { ClientEffort } from './reasoning';
import type { RouteDeps } from './server';
import { MAX_TOKENS } from '../params';

const TextPart = z.object({ type: z.enum(['input_text', 'output_text', 'text']), text: z.string() }).passthrough();
const RefusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() }).passthrough();
const MediaPart = z.object({ type: z.enum(['input_image', 'input_file', 'input_audio']) }).passthrough();
const Parts = z.array(z.union([TextPart, RefusalPart, MediaPart]));

const MessageItem = z
  .object({ type: z.literal('message').optional(), role: z.enum(['user', 'assistant', 'system', 'developer']), content: z.union([z.string(), Parts]) })
  .passthrough();
const FunctionCallItem = z.object({ type: z.literal('function_call'), call_id: z.string().min(1), name: z.string().min(1), arguments: z.string() }).passthrough();
const FunctionCallOutputItem = z.object({ type: z.literal('function_call_output'), call_id: z.string().min(1), output: z.union([z.string(), Parts]) }).passthrough();
const ReasoningItem = z
  .object({ type: z.literal('reasoning'), content: z.array(z.object({ text: z.string() }).passthrough()).nullable().optional() })
  .passthrough();

/** The input item types Hearth reads; the others (hosted tools' calls, item references) need OpenAI's side. */
const ITEMS = { message: MessageItem, function_call: FunctionCallItem, function_call_output: FunctionCallOutputItem, reasoning: ReasoningItem } as const;
type Item = z.infer<(typeof ITEMS)[keyof typeof ITEMS]>;

const FunctionTool = z
  .object({ type: z.literal('function'), name: z.string().min(1).max(256), description: z.string().nullable().optional(), parameters: z.record(z.unknown()).nullable().optional(), strict: z.boolean().nullable().optional() })
  .passthrough();

const TextFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }).passthrough(),
  z.object({ type: z.literal('json_object') }).passthrough(),
  z.object({ type: z.literal('json_schema'), name: z.string().optional(), schema: z.record(z.unknown()), strict: z.boolean().nullable().optional() }).passthrough(),
]);

const STATELESS = 'Hearth keeps no responses (stateless): send the whole conversation as input items';

export const ResponsesBody = z
  .object({
    model: z.string().max(4096).optional(),
    input: z.union([z.string(), z.array(z.record(z.unknown())).min(1)]),
    instructions: z.string().nullable().optional(),
    tools: z.array(z.object({ type: z.string() }).passthrough()).max(512).nullable().optional(),
    tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.object({ type: z.literal('function'), name: z.string().min(1) }).passthrough()]).nullable().optional(),
    text: z.object({ format: TextFormat.optional() }).passthrough().nullable().optional(),
    max_output_tokens: z.number().int().min(1).max(MAX_TOKENS).nullable().optional(),
    /** how much to think (reasoning.ts); a summary is not made: the reasoning items carry the whole text */
    reasoning: z.object({ effort: ClientEffort.nullable().optional() }).passthrough().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    store: z.boolean().nullable().optional(),
    previous_response_id: z.string().nullable().optional(),
    conversation: z.unknown().optional(),
    background: z.boolean().nullable().optional(),
    metadata: z.record(z.string()).nullable().optional(),
    ...samplerBodyShape,
  })
  .passthrough();
export type ResponsesBody = z.infer<typeof ResponsesBody>;

function refuse(field: string, message: string): never {
  throw new ApiError(400, 'invalid_request_error', `${field}: ${message}`, field);
}

function partsText(content: string | z.infer<typeof Parts>, where: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((p, i) => {
      if (p.type === 'refusal') return (p as { refusal: string }).refusal;
      if ('text' in p && typeof p.text === 'string') return p.text;
      return refuse(`${where}.${i}`, `${p.type} parts are not supported: the Responses API here does not read images, audio or files yet (the chat completions API reads images, as image_url data: URLs); send text`);
    })
    .join('\n');
}

/** Responses' input items (and instructions) as chat completions messages. */
export function messagesOf(b: ResponsesBody): z.infer<typeof OpenAiMessage>[] {
  const raw: Record<string, unknown>[] = typeof b.input === 'string' ? [{ type: 'message', role: 'user', content: b.input }] : b.input;
  const out: z.infer<typeof OpenAiMessage>[] = b.instructions ? [{ role: 'system', content: b.instructions }] : [];
  let reasoning: string | undefined;
  raw.forEach((r, i) => {
    const type = typeof r.type === 'string' ? r.type : 'message';
    // own keys only: `toString` or `constructor` is no item type
    const schema = Object.hasOwn(ITEMS, type) ? ITEMS[type as keyof typeof ITEMS] : undefined;
    if (!schema) refuse(`input.${i}.type`, `${type} items are not supported (Hearth reads message, function_call, function_call_output and reasoning items; item_reference needs stored responses: ${STATELESS})`);
    const parsed = schema.safeParse(r);
    if (!parsed.success) throw invalidBody(parsed.error, ['input', String(i)]);
    const item = parsed.data as Item;
    const last = out[out.length - 1];
    switch (item.type) {
      case 'reasoning':
        // carried to the assistant turn that follows it
        reasoning = (item.content ?? []).map((c) => c.text).join('') || undefined;
        return;
      case 'function_call': {
        const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
        // consecutive calls are one assistant turn
        if (last?.role === 'assistant' && !reasoning) last.tool_calls = [...(last.tool_calls ?? []), call];
        else out.push({ role: 'assistant', content: '', tool_calls: [call], ...(reasoning ? { reasoning_content: reasoning } : {}) });
        reasoning = undefined;
        return;
      }
      case 'function_call_output':
        out.push({ role: 'tool', tool_call_id: item.call_id, content: partsText(item.output, `input.${i}.output`) });
        return;
      default: {
        const m = item as z.infer<typeof MessageItem>;
        out.push({ role: m.role, content: partsText(m.content, `input.${i}.content`), ...(m.role === 'assistant' && reasoning ? { reasoning_content: reasoning } : {}) });
        if (m.role === 'assistant') reasoning = undefined;
      }
    }
  });
  return out;
}

/** The Responses body as a chat completions body (what chatRequestOf maps); the stateful parts refused. */
export function chatBodyOf(b: ResponsesBody): ChatCompletionBody {
  if (b.previous_response_id) refuse('previous_response_id', STATELESS);
  if (b.conversation !== undefined && b.conversation !== null) refuse('conversation', STATELESS);
  if (b.store) refuse('store', `${STATELESS} (send store: false, or leave it out)`);
  if (b.background) refuse('background', 'background responses need stored responses; Hearth answers in the request');
  const tools = (b.tools ?? []).map((t, i) => {
    if (t.type !== 'function') refuse(`tools.${i}.type`, `${t.type} is one of OpenAI's hosted tools; Hearth runs function tools only`);
    const parsed = FunctionTool.safeParse(t);
    if (!parsed.success) throw invalidBody(parsed.error, ['tools', String(i)]);
    const f = parsed.data;
    return { type: 'function' as const, function: { name: f.name, ...(f.description ? { description: f.description } : {}), ...(f.parameters ? { parameters: f.parameters } : {}) } };
  });
  const tc = b.tool_choice ?? undefined;
  const format = b.text?.format;
  // the engine's samplers by llama-server's names (temperature, top_p, seed, …) go through as they are
  const samplers = Object.fromEntries(Object.keys(samplerBodyShape).flatMap((k) => (b[k] !== undefined && b[k] !== null ? [[k, b[k]]] : [])));
  return {
    ...samplers,
    model: b.model,
    messages: messagesOf(b),
    ...(tools.length ? { tools } : {}),
    ...(tc ? { tool_choice: typeof tc === 'string' ? tc : { type: 'function' as const, function: { name: tc.name } } } : {}),
    ...(format?.type === 'json_schema'
      ? { response_format: { type: 'json_schema' as const, json_schema: { name: format.name, schema: format.schema } } }
      : format?.type === 'json_object'
        ? { response_format: { type: 'json_object' as const } }
        : {}),
    ...(b.max_output_tokens ? { max_tokens: b.max_output_tokens } : {}),
    ...(b.reasoning?.effort ? { reasoning_effort: b.reasoning.effort } : {}),
  } as ChatCompletionBody;
}

const itemId = (prefix: string) => completionId(prefix).replace('-', '_');

/** Responses' usage, with the tokens the slot had cached. */
function responseUsage(r: GenerateResult) {
  const t = r.timings;
  return {
    input_tokens: t.promptTokens,
    input_tokens_details: { cached_tokens: t.cachedTokens },
    output_tokens: t.generatedTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: t.promptTokens + t.generatedTokens,
  };
}

export function registerOpenAiResponses(app: FastifyInstance, deps: RouteDeps): void {
  const responses = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(ResponsesBody, req.body);
    const chatBody = chatBodyOf(body);
    const request = chatRequestOf(chatBody);
    const key = promptKey({ tools: request.tools, messages: request.messages });
    const id = itemId('resp');
    const createdAt = Math.floor(Date.now() / 1000);
    let model = body.model ?? '';
    note(req, { model: body.model ?? null });

    /** The response object as it stands (`output` and `usage` once known). */
    const response = (status: 'in_progress' | 'completed' | 'incomplete' | 'failed', output: unknown[] = [], r?: GenerateResult) => ({
      id,
      object: 'response',
      created_at: createdAt,
      status,
      ...(status === 'completed' || status === 'incomplete' ? { completed_at: Math.floor(Date.now() / 1000) } : {}),
      error: null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      model,
      output,
      output_text: output
        .flatMap((o) => ((o as { type: string }).type === 'message' ? (o as { content: { text: string }[] }).content : []))
        .map((c) => c.text)
        .join(''),
      parallel_tool_calls: true,
      previous_response_id: null,
      store: false,
      temperature: body.temperature ?? null,
      top_p: body.top_p ?? null,
      text: { format: body.text?.format ?? { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: body.tools ?? [],
      truncation: 'disabled',
      metadata: body.metadata ?? {},
      usage: r ? responseUsage(r) : null,
    });
    const statusOf = (r: GenerateResult) => (finishReason(r) === 'length' ? 'incomplete' : 'completed');
    const reasoningItem = (rid: string, text: string, status: string) => ({ id: rid, type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text }], status });
    const textPart = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
    const messageItem = (mid: string, text: string | null, status: string) => ({ id: mid, type: 'message', role: 'assistant', status, content: text === null ? [] : [textPart(text)] });
    const callItems = (r: GenerateResult) => toolCallsOf(r).map((c) => ({ id: itemId('fc'), type: 'function_call', status: 'completed', call_id: c.id, name: c.function.name, arguments: c.function.arguments }));

    if (!body.stream) {
      const g = await runChat(deps, body.model, request, { sent: 'whole', key, req });
      const r = g.result;
      model = g.model;
      const status = statusOf(r);
      const calls = callItems(r);
      const output = [
        ...(r.reasoning ? [reasoningItem(itemId('rs'), r.reasoning, 'completed')] : []),
        ...(r.content || !calls.length ? [messageItem(itemId('msg'), r.content, status)] : []),
        ...calls,
      ];
      return response(status, output, r);
    }

    const sse = new SseStream(reply);
    let seq = 0;
    const emit = (type: string, data: Record<string, unknown>) => sse.send({ type, sequence_number: seq++, ...data }, type);
    const output: unknown[] = [];
    /** the item being streamed: its kind, id, place in `output` and text so far */
    let open: { kind: 'reasoning' | 'message'; id: string; index: number; text: string } | null = null;
    const close = (status: string) => {
      if (!open) return;
      const o = open;
      open = null;
      if (o.kind === 'reasoning') {
        emit('response.reasoning_text.done', { item_id: o.id, output_index: o.index, content_index: 0, text: o.text });
        emit('response.content_part.done', { item_id: o.id, output_index: o.index, content_index: 0, part: { type: 'reasoning_text', text: o.text } });
        const item = reasoningItem(o.id, o.text, 'completed');
        output[o.index] = item;
        emit('response.output_item.done', { output_index: o.index, item });
        return;
      }
      emit('response.output_text.done', { item_id: o.id, output_index: o.index, content_index: 0, text: o.text, logprobs: [] });
      emit('response.content_part.done', { item_id: o.id, output_index: o.index, content_index: 0, part: textPart(o.text) });
      const item = messageItem(o.id, o.text, status);
      output[o.index] = item;
      emit('response.output_item.done', { output_index: o.index, item });
    };
    const openItem = (kind: 'reasoning' | 'message') => {
      close('completed');
      const o = { kind, id: itemId(kind === 'message' ? 'msg' : 'rs'), index: output.length, text: '' };
      const item = kind === 'message' ? messageItem(o.id, null, 'in_progress') : { ...reasoningItem(o.id, '', 'in_progress'), content: [] };
      output.push(item);
      emit('response.output_item.added', { output_index: o.index, item });
      // every content part is announced before its deltas (the SDK's accumulator adds parts only here)
      emit('response.content_part.added', { item_id: o.id, output_index: o.index, content_index: 0, part: kind === 'message' ? textPart('') : { type: 'reasoning_text', text: '' } });
      open = o;
      return o;
    };
    const add = (kind: 'reasoning' | 'message', delta: string) => {
      const o = open?.kind === kind ? open : openItem(kind);
      o.text += delta;
      if (kind === 'message') emit('response.output_text.delta', { item_id: o.id, output_index: o.index, content_index: 0, delta, logprobs: [] });
      else emit('response.reasoning_text.delta', { item_id: o.id, output_index: o.index, content_index: 0, delta });
    };
    // a failure mid-stream: the error event, then response.failed (what the SDK's stream ends on)
    const failed = (err: ApiError) => {
      emit('error', { code: err.code, message: err.message, param: err.param });
      emit('response.failed', { response: { ...response('failed', output), error: { code: err.code, message: err.message } } });
    };
    await streaming(req, sse, failed, async () => {
        const g = await runChat(deps, body.model, request, {
          sent: 'stream',
          key,
          req,
          onStart: (name) => {
            model = name;
            emit('response.created', { response: response('in_progress') });
            emit('response.in_progress', { response: response('in_progress') });
          },
          onPiece: (content, reasoning) => {
            if (reasoning) add('reasoning', reasoning);
            if (content) add('message', content);
          },
        });
        const r = g.result;
        const status = statusOf(r);
        const calls = callItems(r);
        // a reply of no text and no call is still one (empty) message
        if (!calls.length && !output.some((o) => (o as { type: string }).type === 'message')) openItem('message');
        close(status);
        for (const item of calls) {
          const index = output.length;
          output.push(item);
          emit('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', arguments: '' } });
          emit('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: item.arguments });
          emit('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
          emit('response.output_item.done', { output_index: index, item });
        }
        emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: response(status, output, r) });
    });
    return reply;
  };
  app.post('/v1/responses', responses);
  app.post('/responses', responses);
}
