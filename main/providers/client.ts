/**
 * One reply from a remote provider, streamed through the API's official client (`openai`,
 * `@anthropic-ai/sdk`): the pieces (text and reasoning) as they come, the tool calls, the usage and the
 * stop reason, given back in the engine's result shape (main/engine/protocol.ts GenerateResult) so the
 * chat service ends a remote reply as it ends a local one. A stop aborts the HTTP request (the server
 * sees the connection close); the reply keeps what came. The SDKs' own retries are off: a 429 is shown
 * with the wait the provider asked for (./errors.ts), never retried behind the user's back. What a
 * server streams is bounded (tool calls by count and length; the text by the reply writer's cap), and
 * a redirect is refused (the extra headers would follow it to another host).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { ChatMessage, GenerateResult } from '../engine/protocol';
import { IpcError } from '../ipc/contract';
import { LLAMA_CPP_SERVER, PROVIDER_TIMEOUT_MS, REASONING_SENT, remoteSettings, STREAM_USAGE_OPTION, type ProviderConfig, unmarkedMessages } from '../params';
import { LIMITS } from '../store/validation';
import { providerError } from './errors';
import { toAnthropicMessages, toAnthropicTools, toOpenAIMessages, type RemoteTool } from './messages';

/** What one remote reply takes. */
export interface RemoteChatRequest {
  model: string;
  messages: readonly ChatMessage[];
  /** the thread's effective chat settings (sampling and request): only those the kind accepts are sent */
  settings: Record<string, unknown>;
  tools?: readonly RemoteTool[];
  toolChoice?: 'auto' | 'none';
  /** the template's arguments, for a llama.cpp-family server (its `chat_template_kwargs`) */
  templateKwargs?: Record<string, unknown>;
}

export interface RemoteChatOptions {
  signal: AbortSignal;
  onPiece: (content: string, reasoning: string) => void;
  /** the longest wait for the answer to begin and between two pieces (PROVIDER_TIMEOUT_MS unless given) */
  timeoutMs?: number;
}

/** A provider with its key, as the clients take it. */
export interface ProviderAccess {
  config: ProviderConfig;
  /** null: none (a local server); a placeholder is sent, as the SDKs need one */
  apiKey: string | null;
}

/** What must never appear in an error a user reads: the key, and the extra headers' values. */
function secretsOf(p: ProviderAccess): string[] {
  return [p.apiKey, ...Object.values(p.config.headers)].filter((s): s is string => !!s && s.length >= 4);
}

/** What the SDKs send as the key of a provider without one (a local server ignores it). */
const NO_KEY = 'none';

export function openaiClient(p: ProviderAccess, timeoutMs = PROVIDER_TIMEOUT_MS): OpenAI {
  // organization and project given (null) so the SDK does not read them from the environment; its own
  // logging off (OPENAI_LOG=debug would print the requests): failures are logged by Hearth, without the key
  return new OpenAI({ apiKey: p.apiKey ?? NO_KEY, baseURL: p.config.baseUrl, defaultHeaders: p.config.headers, maxRetries: 0, timeout: timeoutMs, organization: null, project: null, logLevel: 'off', fetchOptions: { redirect: 'error' } });
}

export function anthropicClient(p: ProviderAccess, timeoutMs = PROVIDER_TIMEOUT_MS): Anthropic {
  // authToken null: the SDK would otherwise send ANTHROPIC_AUTH_TOKEN from the environment
  return new Anthropic({ apiKey: p.apiKey ?? NO_KEY, authToken: null, baseURL: p.config.baseUrl, defaultHeaders: p.config.headers, maxRetries: 0, timeout: timeoutMs, logLevel: 'off', fetchOptions: { redirect: 'error' } });
}

/** The most tool calls one reply may make, and the most characters of one call's arguments (what the store keeps). */
const MAX_CALLS = LIMITS.toolCalls;
const MAX_CALL_CHARS = LIMITS.jsonFieldBytes;

/** A stream that breaks a bound: the request is stopped, the reply fails with what the provider did. */
class StreamRefused extends Error {}

/** The result being built as pieces come. */
class Reply {
  content = '';
  reasoning = '';
  readonly calls: { id: string; name: string; arguments: string }[] = [];
  /** the calls by the stream's index for them (any value a server sends: never an array index) */
  private readonly byIndex = new Map<number, { id: string; name: string; arguments: string }>();
  stopReason: GenerateResult['stopReason'] = 'eos';
  promptTokens = 0;
  cachedTokens = 0;
  generatedTokens = 0;
  private readonly start = Date.now();
  private firstAt: number | null = null;

  piece(): void {
    if (this.firstAt === null) this.firstAt = Date.now();
  }

  /** The call a streamed piece continues (OpenAI's `index`, Anthropic's block index), made when new; bounded. */
  call(index: unknown, make: () => { id: string; name: string; arguments: string } = () => ({ id: '', name: '', arguments: '' })) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 1_000_000) throw new StreamRefused(`sent a tool call with the index ${JSON.stringify(index)?.slice(0, 40)}`);
    let c = this.byIndex.get(index);
    if (!c) {
      if (this.calls.length >= MAX_CALLS) throw new StreamRefused(`made more than ${MAX_CALLS} tool calls in one reply`);
      c = make();
      this.byIndex.set(index, c);
      this.calls.push(c);
    }
    return c;
  }

  /** Adds to a call's name or arguments, within the bound. */
  static grow(call: { name: string; arguments: string }, field: 'name' | 'arguments', text: unknown): void {
    if (typeof text !== 'string' || !text) return;
    if (call[field].length + text.length > MAX_CALL_CHARS) throw new StreamRefused(`sent a tool call longer than ${MAX_CALL_CHARS} characters`);
    call[field] += text;
  }

  result(aborted: boolean): GenerateResult {
    const end = Date.now();
    const first = this.firstAt ?? end;
    const promptMs = first - this.start;
    const genMs = end - first;
    return {
      text: this.content,
      content: this.content,
      reasoning: this.reasoning,
      toolCalls: this.calls.filter((c) => c.name),
      tokens: [],
      tokensAfterAbort: -1,
      promptTokensAfterAbort: -1,
      stopReason: aborted ? 'aborted' : this.stopReason,
      droppedMessages: 0,
      shifted: false,
      contextFull: false,
      timings: {
        promptTokens: this.promptTokens,
        cachedTokens: this.cachedTokens,
        generatedTokens: this.generatedTokens,
        ttftMs: promptMs,
        promptMs,
        genMs,
        promptTps: promptMs > 0 ? (this.promptTokens / promptMs) * 1000 : 0,
        genTps: genMs > 0 ? (this.generatedTokens / genMs) * 1000 : 0,
      },
    };
  }
}

/**
 * A signal for the request: aborted by the user's stop, or when the provider is silent past the
 * timeout (`stalled()` then says so). `beat()` restarts the wait at each piece.
 */
function watch(signal: AbortSignal, timeoutMs: number) {
  const ctl = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | null = null;
  const onAbort = () => ctl.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) ctl.abort();
  const beat = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      ctl.abort();
    }, timeoutMs);
  };
  beat();
  return {
    signal: ctl.signal,
    beat,
    stalled: () => stalled,
    done: () => {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * A stream's items until `signal` aborts: then the wait for the next item ends at once (rejecting with the
 * signal's reason) whether or not the SDK's own reading notices the abort, so a stop or the silence timeout
 * always ends the reply; the SDK's iterator is closed.
 */
async function* untilAborted<T>(items: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = items[Symbol.asyncIterator]();
  let off = () => undefined as void;
  const aborted = new Promise<never>((_, reject) => {
    const on = () => reject(signal.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (signal.aborted) return on();
    signal.addEventListener('abort', on, { once: true });
    off = () => signal.removeEventListener('abort', on);
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    off();
    void it.return?.()?.catch(() => undefined);
  }
}

const OPENAI_STOP: Record<string, GenerateResult['stopReason']> = { stop: 'eos', tool_calls: 'eos', function_call: 'eos', length: 'length', content_filter: 'eos' };
const ANTHROPIC_STOP: Record<string, GenerateResult['stopReason']> = { end_turn: 'eos', tool_use: 'eos', pause_turn: 'eos', refusal: 'eos', stop_sequence: 'stop', max_tokens: 'length' };

/** Streams one reply from `p`; answers the result (stopReason `aborted` after a stop), or throws an IpcError (./errors.ts). */
export async function remoteChat(p: ProviderAccess, r: RemoteChatRequest, o: RemoteChatOptions): Promise<GenerateResult> {
  const timeoutMs = o.timeoutMs ?? PROVIDER_TIMEOUT_MS;
  const w = watch(o.signal, timeoutMs);
  const reply = new Reply();
  // the chat service's data marks are for the local engine (main/params/data-text.ts)
  r = { ...r, messages: unmarkedMessages(r.messages) };
  try {
    if (p.config.kind === 'anthropic') await streamAnthropic(p, r, reply, w, o.onPiece, timeoutMs);
    else await streamOpenAI(p, r, reply, w, o.onPiece, timeoutMs);
    // the SDKs end a stream whose request was aborted without an error: a stop, or Hearth's own timeout
    if (o.signal.aborted) return reply.result(true);
    if (w.stalled()) throw providerError(p.config, null, timeoutMs, secretsOf(p));
    return reply.result(false);
  } catch (e) {
    if (o.signal.aborted) return reply.result(true);
    if (e instanceof StreamRefused) throw new IpcError('provider_error', `${p.config.name} ${e.message}: the reply was stopped`);
    throw providerError(p.config, e, w.stalled() ? timeoutMs : null, secretsOf(p));
  } finally {
    w.done();
  }
}

async function streamOpenAI(p: ProviderAccess, r: RemoteChatRequest, reply: Reply, w: ReturnType<typeof watch>, onPiece: RemoteChatOptions['onPiece'], timeoutMs: number): Promise<void> {
  const tools = r.tools?.length ? { tools: r.tools, tool_choice: r.toolChoice ?? 'auto', parallel_tool_calls: true } : {};
  const body = {
    model: r.model,
    messages: await toOpenAIMessages(r.messages, REASONING_SENT[p.config.kind].scope !== 'none'),
    stream: true,
    ...(STREAM_USAGE_OPTION[p.config.kind as keyof typeof STREAM_USAGE_OPTION] ? { stream_options: { include_usage: true } } : {}),
    ...remoteSettings(p.config.kind, r.settings),
    ...(r.templateKwargs && LLAMA_CPP_SERVER[p.config.kind] ? { chat_template_kwargs: r.templateKwargs } : {}),
    ...tools,
  };
  const stream = await openaiClient(p, timeoutMs).chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming, { signal: w.signal });
  for await (const chunk of untilAborted(stream, w.signal)) {
    if (chunk.usage) {
      reply.promptTokens = chunk.usage.prompt_tokens ?? 0;
      reply.generatedTokens = chunk.usage.completion_tokens ?? 0;
      reply.cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
    }
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    // llama-server and DeepSeek send reasoning_content, OpenRouter and Groq reasoning
    const delta = choice.delta as OpenAI.Chat.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };
    const content = delta.content ?? '';
    const reasoning = delta.reasoning_content ?? delta.reasoning ?? '';
    if (content || reasoning) {
      reply.piece();
      reply.content += content;
      reply.reasoning += reasoning;
      onPiece(content, reasoning);
    }
    const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls : [];
    for (const tc of calls) {
      reply.piece();
      const call = reply.call(tc.index);
      if (typeof tc.id === 'string' && tc.id) call.id = tc.id.slice(0, 256);
      Reply.grow(call, 'name', tc.function?.name);
      Reply.grow(call, 'arguments', tc.function?.arguments);
    }
    if (choice.finish_reason) reply.stopReason = OPENAI_STOP[choice.finish_reason] ?? 'eos';
    // the silence timeout restarts on progress only (a server sending empty chunks forever is silent)
    if (content || reasoning || calls.length || choice.finish_reason) w.beat();
  }
}

async function streamAnthropic(p: ProviderAccess, r: RemoteChatRequest, reply: Reply, w: ReturnType<typeof watch>, onPiece: RemoteChatOptions['onPiece'], timeoutMs: number): Promise<void> {
  const { system, messages } = await toAnthropicMessages(r.messages);
  const tools = r.tools?.length ? { tools: toAnthropicTools(r.tools), tool_choice: { type: r.toolChoice === 'none' ? 'none' : 'auto' } } : {};
  const body = { model: r.model, ...(system ? { system } : {}), messages, stream: true, ...remoteSettings('anthropic', r.settings), ...tools };
  const stream = await anthropicClient(p, timeoutMs).messages.create(body as unknown as Anthropic.MessageCreateParamsStreaming, { signal: w.signal });
  for await (const ev of untilAborted(stream, w.signal)) {
    // the silence timeout restarts on progress only (a block opened, a piece, the usage): not on empty events
    if (ev.type === 'message_start' || ev.type === 'content_block_start' || ev.type === 'message_delta' || (ev.type === 'content_block_delta' && ev.delta.type !== 'signature_delta')) w.beat();
    switch (ev.type) {
      case 'message_start': {
        // Anthropic's input_tokens leave out the prompt read from (or written to) its cache: the prompt is all three
        const u = ev.message.usage;
        reply.cachedTokens = u.cache_read_input_tokens ?? 0;
        reply.promptTokens = (u.input_tokens ?? 0) + reply.cachedTokens + (u.cache_creation_input_tokens ?? 0);
        reply.generatedTokens = u.output_tokens ?? 0;
        break;
      }
      case 'content_block_start':
        if (ev.content_block.type === 'tool_use') {
          reply.piece();
          const block = ev.content_block;
          const call = reply.call(ev.index, () => ({ id: String(block.id ?? '').slice(0, 256), name: '', arguments: '' }));
          Reply.grow(call, 'name', block.name);
        }
        break;
      case 'content_block_delta': {
        const d = ev.delta;
        if (d.type === 'text_delta' && d.text) {
          reply.piece();
          reply.content += d.text;
          onPiece(d.text, '');
        } else if (d.type === 'thinking_delta' && d.thinking) {
          reply.piece();
          reply.reasoning += d.thinking;
          onPiece('', d.thinking);
        } else if (d.type === 'input_json_delta') {
          Reply.grow(reply.call(ev.index), 'arguments', d.partial_json);
        }
        break;
      }
      case 'message_delta':
        if (ev.delta.stop_reason) reply.stopReason = ANTHROPIC_STOP[ev.delta.stop_reason] ?? 'eos';
        if (ev.usage?.output_tokens !== undefined && ev.usage.output_tokens !== null) reply.generatedTokens = ev.usage.output_tokens;
        if (ev.usage?.input_tokens) reply.promptTokens = ev.usage.input_tokens + (ev.usage.cache_read_input_tokens ?? 0) + (ev.usage.cache_creation_input_tokens ?? 0);
        if (ev.usage?.cache_read_input_tokens) reply.cachedTokens = ev.usage.cache_read_input_tokens;
        break;
      default:
        break;
    }
  }
  for (const c of reply.calls) if (!c.arguments) c.arguments = '{}';
}

/** The ids of the models a provider lists (OpenAI's and Anthropic's GET /v1/models; every page). */
export async function listRemoteModels(p: ProviderAccess, signal: AbortSignal, timeoutMs: number): Promise<string[]> {
  const ids: string[] = [];
  try {
    if (p.config.kind === 'anthropic') {
      for await (const m of anthropicClient(p, timeoutMs).models.list({ limit: 1000 }, { signal })) ids.push(m.id);
    } else {
      for await (const m of openaiClient(p, timeoutMs).models.list({ signal })) ids.push(m.id);
    }
  } catch (e) {
    throw providerError(p.config, e, null, secretsOf(p));
  }
  return ids;
}
