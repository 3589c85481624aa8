/**
 * The steps of a turn (./turns.ts claims, starts and stops turns): each step is one reply, written by
 * the engine with the thread's history, instructions and effective sampling (app defaults < assistant <
 * thread overrides) — its model waited for, a turn's first reply given its documents' sources, its
 * pieces streamed to the renderer and to the store in batches, its final status and metrics saved —
 * and between steps the tool calls a reply made are run (./tool-loop.ts) before the next reply.
 */
import { ChatMessage, EngineError, GenerateResult, type TokenLogprobs } from '../engine/protocol';
import { templateKeepsReasoning } from '../engine/template-probes';
import type { ErrorCode } from '../errors/catalogue';
import { IpcError, IpcErrorCode, MessageDTO, NO_VISION } from '../ipc/contract';
import type { ToolCallDTO } from '../ipc/tools';
import { CHAT_MODEL_ID } from '../models/library';
import { chatChars, LLAMA_CPP_SERVER, MAX_CHAT_CHARS, parseRemoteModelRef, REASONING_SENT, type ReasoningScope, type ReasoningSent, REQUEST_FIELDS } from '../params';
import type { RemoteTarget } from '../providers/service';
import type { FinishReply, ReplyWriter, Store, Thread } from '../store';
import type { OfferedTools } from '../tools/registry';
import { finishReasonOf } from './dto';
import { toEngineMessages, withoutReasoning, withQuestionSources } from './history';
import { tokensNeeded } from './sessions';
import { runToolCalls, withIds } from './tool-loop';
import { assistantOf, chosenSettings, countImageTokens, countTokens, effectiveSampling, toolsTheTemplateTakes } from './turn-inputs';
import type { ChatDeps } from './turns';
import { modelName } from './views';

/** While a reply streams, the header's context meter is refreshed at most this often. */
const USAGE_REFRESH_MS = 1000;

/** Engine codes of a request the host died or hung under (the host is restarted). */
const HOST_RESTARTED: ReadonlySet<string> = new Set<IpcErrorCode>(['engine_crashed', 'engine_hung']);
/**
 * How a request refused for the reasoning it carried fails, by code and what its message then says (null:
 * anything): too long for the context (the engine's, or llama-server's: main/providers/errors.ts); a
 * template refusing it (the engine's "chat template failed"; llama.cpp's Jinja errors in a llama.cpp-family
 * server's answer). Any other failure is not asked again.
 */
const REASONING_REFUSED: ReadonlyMap<string, RegExp | null> = new Map<ErrorCode, RegExp | null>([
  ['context_overflow', null],
  ['invalid_argument', /chat template/],
  ['provider_error', /Jinja Exception|While executing/],
]);

/** Whether a failure is a refusal of the reasoning a request carried (`who`: the provider's name, which its errors start with and which says nothing of it). */
export function refusedForReasoning(e: { code?: string; message?: string }, who = ''): boolean {
  const says = REASONING_REFUSED.get(e.code ?? '');
  const message = e.message ?? '';
  return says !== undefined && (says === null || says.test(who && message.startsWith(who) ? message.slice(who.length) : message));
}

/** How a turn runs: a continue of the last reply; a message whose new images the model must read. */
export interface TurnOptions {
  continueFinal?: boolean;
  /** the turn's message brings images: a model without a projector fails the reply (older images are left out instead) */
  readsImages?: boolean;
}

/** A step's tools: those offered, and whether this is the last step (the model may not call them). */
interface StepTools {
  offered: OfferedTools;
  last: boolean;
  /** the step's number (1: the turn's first reply) */
  step: number;
}

/** How a step ended: the calls to run before the next one (none: the turn is over). */
interface StepEnd {
  calls: ToolCallDTO[];
  /** the reply as it ended (null: it could not be read back) */
  message: MessageDTO | null;
}

/** What the steps ask of the chat service that runs them (./turns.ts ChatService). */
export interface StepHost {
  /** the model for a thread, loaded now if need be (null: stopped while it loaded) */
  modelFor(thread: Thread, signal: AbortSignal): Promise<string | null>;
  /** the model a turn expects to run on, known without waiting */
  expectedModel(thread: Thread): string;
  /** the engine began (1) or ended (-1) writing a reply */
  writingChanged(by: 1 | -1): void;
  /** tells the renderer the thread changed (threads.changed) */
  emitThread(threadId: string): void;
}

export class TurnSteps {
  /** Records that a thread's messages went to a remote provider (what the thread shows; never fails the turn). */
  private markRemote(threadId: string, provider: string): void {
    try {
      const { threads } = this.api(threadId);
      const sent = threads.get(threadId).remoteSent ?? [];
      if (sent.includes(provider)) return;
      threads.update(threadId, { remoteSent: [...sent, provider].slice(-64) });
      this.host.emitThread(threadId);
    } catch (e) {
      this.deps.logger.error(`chat: the remote provider a thread used could not be recorded: ${(e as Error).message}`);
    }
  }

  /** whether the loaded model's template keeps earlier turns' reasoning, per load (./keepsReasoning) */
  private reasoningCheck: { loadId: number | null; keeps: boolean } | null = null;

  /** the last check of which tools the loaded model's template takes (./toolsTaken) */
  private toolCheck: { key: string; tools: Awaited<ReturnType<typeof toolsTheTemplateTakes>> } | null = null;

  constructor(
    private readonly deps: ChatDeps,
    private readonly host: StepHost,
  ) {}

  private get store(): Store {
    return this.deps.store;
  }

  private api(threadId: string) {
    return this.deps.views.api(threadId);
  }

  /**
   * The tools the loaded model's template takes (toolsTheTemplateTakes), checked once per load and set
   * of tools: a step does not render the template again to learn what the last one learned.
   */
  private async toolsTaken(offered: Parameters<typeof toolsTheTemplateTakes>[1]): Promise<Awaited<ReturnType<typeof toolsTheTemplateTakes>>> {
    const key = `${this.deps.library.loadedChat?.loadId ?? 'none'}\n${JSON.stringify(offered)}`;
    if (this.toolCheck?.key === key) return this.toolCheck.tools;
    const tools = await toolsTheTemplateTakes(this.deps.engine, offered, this.deps.logger);
    this.toolCheck = { key, tools };
    return tools;
  }

  /** Whether the loaded model's template keeps earlier turns' reasoning (templateKeepsReasoning), checked once per load. */
  private async keepsReasoning(): Promise<boolean> {
    const loadId = this.deps.library.loadedChat?.loadId ?? null;
    if (this.reasoningCheck?.loadId === loadId) return this.reasoningCheck.keeps;
    const keeps = await templateKeepsReasoning(this.deps.engine, CHAT_MODEL_ID);
    this.reasoningCheck = { loadId, keeps };
    return keeps;
  }

  /** Runs a turn's steps; answers its last reply, to be told once the turn is released (null: told already, or none). */
  async generate(first: Thread, firstWriter: ReplyWriter, abort: AbortController, opts: TurnOptions): Promise<MessageDTO | null> {
    const tools = this.deps.tools;
    let writer = firstWriter;
    let thread = first;
    for (let step = 1; ; step++) {
      const maxSteps = tools?.settings().maxSteps ?? 1;
      const offered = tools && !opts.continueFinal ? tools.registry.offered(assistantOf(this.store, thread)?.tools ?? null) : null;
      const stepTools = offered && offered.definitions.length > 0 ? { offered, last: step >= maxSteps, step } : null;
      const end = await this.step(thread, writer, abort, step === 1 ? opts : {}, stepTools, step === 1);
      if (!end.calls.length || !tools || !stepTools) return end.message;
      if (abort.signal.aborted) return null;
      const { messages, threads } = this.api(thread.id);
      const lastId = await runToolCalls(tools, {
        threadId: thread.id,
        replyId: writer.messageId,
        calls: end.calls,
        offered: stepTools.offered,
        signal: abort.signal,
        countTokens: (text) => countTokens(this.deps.engine, text),
        addMessage: (m) => messages.add(m),
        added: (id) => this.deps.services.emit('chat.message', { threadId: thread.id, message: this.deps.views.message(thread.id, id) }),
        logger: this.deps.logger,
      });
      if (abort.signal.aborted) return null;
      // the next reply reads the thread's settings as they are now (they may change while a call waits)
      thread = threads.get(thread.id);
      const next = parseRemoteModelRef(thread.model) ? thread.model : (this.deps.library.loadedPath ?? this.host.expectedModel(thread));
      writer = messages.beginReply({ threadId: thread.id, parentId: lastId, model: modelName(next) });
      this.deps.services.emit('chat.message', { threadId: thread.id, message: this.deps.views.message(thread.id, writer.messageId) });
    }
  }

  /**
   * Gives a turn's reply the sources of its thread's documents (and its assistant's folders'), found
   * for the question it answers (the user message before it), stored on the reply so the prompt is the
   * same at every later turn (history.ts withQuestionSources).
   */
  private async giveSources(thread: Thread, replyId: string, contextTokens: number, signal: AbortSignal): Promise<void> {
    const docs = this.deps.docs;
    const assistantId = assistantOf(this.store, thread)?.id ?? null;
    if (!docs || !docs.hasDocuments(thread.id, assistantId)) return;
    const { messages } = this.api(thread.id);
    const path = messages.list(thread.id);
    const at = path.findIndex((m) => m.id === replyId);
    const question = at > 0 && path[at - 1].role === 'user' ? path[at - 1].content : '';
    const sources = await docs.sourcesFor({ threadId: thread.id, assistantId, query: question, contextTokens, signal });
    if (sources !== null && !signal.aborted) messages.setSources(replyId, sources.length ? sources : null);
  }

  /**
   * One step of a turn: one reply, offered the step's tools (on the last step the model may not call
   * them: toolChoice none, so the prompt, and its cache, stay the same); answers the calls it made.
   * Pieces go to the renderer and to the store writer; the writer never throws into the engine's
   * stream callback. When the store can no longer take the text (disk full, reply too large, database
   * locked past the retries) the generation is stopped and the reply ends as an error naming the store
   * failure.
   */
  private async step(thread: Thread, writer: ReplyWriter, abort: AbortController, opts: TurnOptions, tools: StepTools | null, first: boolean): Promise<StepEnd> {
    const signal = abort.signal;
    const { messages } = this.api(thread.id);
    const { sampling, request, instructions } = effectiveSampling(this.store, thread);
    let writingCounted = false;
    let chat: ChatMessage[] = [];
    let result: GenerateResult | undefined;
    let engineError: string | null = null;
    let engineCode = 'aborted';
    // the host that streamed this reply (its first piece): a reply whose host is gone at the end was cut off by a restart
    let streamedBy: number | undefined;
    let streamed = false;
    let usageAt = Date.now();
    // the model the reply ran on (null: stopped while it loaded)
    let model: string | null = null;
    const sessions = this.deps.sessions;
    let acquired = false;
    // the remote model the reply is asked of (null: the local engine writes it)
    let remote: RemoteTarget | null = null;
    try {
      model = await this.host.modelFor(thread, signal);
      remote = model !== null ? (this.deps.providers?.target(model) ?? null) : null;
      // a turn's first reply is given its thread's documents (whole, or the passages found for the question)
      if (first && model !== null && !opts.continueFinal) await this.giveSources(thread, writer.messageId, remote ? remote.contextSize : this.deps.library.loadedContextSize, signal);
      const path = withQuestionSources(messages.list(thread.id));
      const upTo = path.findIndex((m) => m.id === writer.messageId);
      const history = (upTo >= 0 ? path.slice(0, opts.continueFinal ? upTo + 1 : upTo) : path).filter((m) => m.status !== 'error' || m.role !== 'assistant');
      // tools go only to a model whose chat template renders them (one that ignores them would gain nothing, and
      // llama.cpp's parser would hold its text back looking for calls), and only those llama.cpp can make a grammar of
      // (a remote model is given every tool: its provider renders them)
      const engineTools = tools && model !== null ? (remote ? tools.offered.engine : await this.toolsTaken(tools.offered.engine)) : [];
      if (engineTools.length === 0) tools = null;
      // the messages, with their images when the model reads them (a local one's projector is known once it is
      // loaded; a remote model is sent them, and its provider answers for itself)
      const vision = model !== null && (remote !== null || this.deps.library.loadedProjector !== null);
      if (model !== null && opts.readsImages && !vision) throw new IpcError('invalid_input', NO_VISION);
      // the replies whose reasoning goes: every reply's when the model's template keeps them (a local model's,
      // or a llama.cpp-family server's that says so) and the setting says so; else a remote model's as its
      // kind takes it (REASONING_SENT), a local model's the turn's
      const preserve = request.preserveReasoning ?? REQUEST_FIELDS.preserveReasoning.default;
      // (a server is asked only when there is earlier reasoning to send)
      const keepAll = model !== null && preserve && (remote ? history.some((m) => m.role === 'assistant' && !!m.reasoning) && (await this.deps.providers!.keepsReasoning(remote, signal)) : await this.keepsReasoning());
      const given: ReasoningSent = { ...(remote ? REASONING_SENT[remote.access.config.kind] : { scope: 'turn', absent: null }), ...(keepAll ? { scope: 'all' } : {}) };
      let scope = given.scope;
      const build = (s: ReasoningScope) => toEngineMessages(history, { instructions, images: vision ? this.deps.images : null, reasoning: { ...given, scope: s } });
      const sent = await build(scope);
      chat = sent.messages;
      // the next request with less reasoning: every reply's → the turn's → none (null: none left to drop)
      const leaner = async (): Promise<{ scope: ReasoningScope; messages: ChatMessage[] } | null> => {
        if (scope === 'all') {
          const turn = (await build('turn')).messages;
          if (chatChars(turn) < chatChars(chat)) return { scope: 'turn', messages: turn };
        }
        const none = withoutReasoning(chat, opts.continueFinal === true);
        return none ? { scope: 'none', messages: none } : null;
      };
      // a local model is asked with less reasoning before it would refuse: every reply's only where it may fit
      // the context (asked for, the room made for it would save and clear other threads' caches, and then be
      // refused), and less until within one request's characters. DeepSeek's API, which asks for earlier
      // replies' reasoning, is sent it: without, it refuses the request
      const maxTokens = (request as { maxTokens?: number }).maxTokens;
      if (!remote && scope === 'all' && tokensNeeded(chatChars(chat), maxTokens) > this.deps.library.loadedContextSize) {
        scope = 'turn';
        chat = (await build(scope)).messages;
      }
      for (let lean = !remote && chatChars(chat) > MAX_CHAT_CHARS ? await leaner() : null; lean; lean = chatChars(chat) > MAX_CHAT_CHARS ? await leaner() : null) {
        scope = lean.scope;
        chat = lean.messages;
      }
      // the thread's own sequence, its saved cache restored into it (never throws), with room made for
      // the turn: its text estimated from its characters and what it may generate, its images counted
      // exactly (the projector's tokens for each image's width and height, asked of the engine)
      let seq = 0;
      if (model !== null && sessions && !remote) {
        const need = tokensNeeded(chatChars(chat), maxTokens) + (await countImageTokens(this.deps, thread.id, sent.imageSizes, signal));
        seq = (await sessions.acquire(thread.id, need)).seq;
        acquired = true;
      }
      if (model !== null && !signal.aborted) {
        writingCounted = true;
        this.host.writingChanged(1);
      }
      // a piece of the reply (the engine's or the provider's): to the store and the page. It runs inside
      // the engine client's message listener, or the provider's stream loop: nothing may escape from it
      const onPiece = (content: string, reasoning: string, probs?: TokenLogprobs[]) => {
        try {
          if (!streamed) {
            streamed = true;
            if (!remote) streamedBy = this.deps.engine.pid;
          }
          if (content) writer.append(content);
          if (reasoning) writer.appendReasoning(reasoning);
          if (writer.failure && !signal.aborted) abort.abort();
          this.deps.services.emit('chat.piece', { threadId: thread.id, messageId: writer.messageId, content, reasoning, ...(probs ? { probs } : {}) });
          if (!remote && Date.now() - usageAt >= (this.deps.usageRefreshMs ?? USAGE_REFRESH_MS)) {
            usageAt = Date.now();
            void this.deps.library.refreshUsage(thread.id);
          }
        } catch (e) {
          this.deps.logger.error(`chat: a streamed piece could not be handled: ${(e as Error).message}`);
        }
      };
      const ask = (messages: ChatMessage[]): Promise<GenerateResult> =>
        remote
          ? this.deps.providers!.chat(
              remote,
              // a server whose template keeps every reply's reasoning is asked to, whatever its own default
              // (llama-server's --no-reasoning-preserve), while every reply's goes
              { messages, settings: chosenSettings(this.store, thread), ...(keepAll && scope === 'all' ? { templateKwargs: { preserve_reasoning: true } } : {}), ...(tools ? { tools: engineTools, toolChoice: tools.last ? ('none' as const) : ('auto' as const) } : {}) },
              { signal, onPiece },
            )
          : this.deps.engine.chat(
              CHAT_MODEL_ID,
              { messages, sampling, ...request, continueFinal: opts.continueFinal, overflow: 'error', seq, dataMarks: true, ...(tools ? { tools: engineTools, toolChoice: tools.last ? ('none' as const) : ('auto' as const), parallelToolCalls: true } : {}) },
              { signal, onPiece },
            );
      // what the thread shows: its messages went to this provider (recorded before they go)
      if (remote && !signal.aborted) this.markRemote(thread.id, remote.access.config.name);
      while ((remote || model !== null) && !signal.aborted && result === undefined) {
        try {
          result = await ask(chat);
        } catch (e) {
          // the reasoning the request carried (the engine and a llama.cpp-family server render it with the
          // template) made it too long for the context, or a template refused it: asked again with less, as
          // before replies carried it (a hosted API that asks for it back is not asked without it)
          const err = e as EngineError | IpcError;
          const carried = !remote || LLAMA_CPP_SERVER[remote.access.config.kind];
          const lean = carried && !streamed && !signal.aborted && refusedForReasoning(err, remote?.access.config.name) ? await leaner() : null;
          if (!lean) throw e;
          this.deps.logger.warn(`chat: the request with the replies' reasoning was refused; asked again with ${lean.scope === 'turn' ? "the turn's alone" : 'none'}`, { threadId: thread.id, code: err.code });
          scope = lean.scope;
          chat = lean.messages;
        }
      }
    } catch (e) {
      // the engine's error, or the model's (no model, a load that failed or needs confirming)
      const err = e as EngineError | IpcError;
      engineCode = err.code ?? 'internal';
      if (engineCode !== 'aborted') engineError = `${engineCode}: ${err.message}`;
    } finally {
      if (acquired) sessions?.release(thread.id);
      if (writingCounted) this.host.writingChanged(-1);
    }
    const t = result?.timings;
    // the context the reply ran in (what a "context full" notice names)
    const contextSize = remote ? remote.contextSize : this.deps.library.loadedContextSize;
    const metrics = t
      ? {
          promptTokens: t.promptTokens,
          cachedTokens: t.cachedTokens,
          generatedTokens: t.generatedTokens,
          ttftMs: t.ttftMs,
          promptTps: t.promptTps,
          genTps: t.genTps,
          durationMs: t.promptMs + t.genMs,
          ...(t.draftTokens ? { draftTokens: t.draftTokens, acceptedTokens: t.acceptedTokens ?? 0 } : {}),
          ...(contextSize > 0 ? { contextSize } : {}),
        }
      : null;
    const failure = writer.failure;
    // cut off mid-reply by the engine host dying or hanging (it is restarted): the host failed the request, or a
    // stop was answered by the host's end rather than by the generation (the host that streamed is gone)
    const cutByRestart = streamed && !result && !remote && (HOST_RESTARTED.has(engineCode) || (engineCode === 'aborted' && this.deps.engine.pid !== streamedBy));
    const final: FinishReply = failure
      ? { status: 'error', error: `store_${failure.code}: the reply could not be saved (${failure.message}); generation was stopped`, metrics }
      : cutByRestart
        ? { status: 'interrupted', finishReason: 'engineRestarted', error: engineError ?? 'the engine host ended (and was restarted) while the reply was being stopped' }
        : engineError
          ? { status: 'error', error: engineError }
          : { status: !result || result.stopReason === 'aborted' ? 'aborted' : 'done', finishReason: result ? finishReasonOf(result) : 'aborted', metrics };
    // the calls it made (when it was offered tools and may call them; the loop runs them), or the step limit it reached
    // (a reply cut by the max tokens or a full context may hold a call cut short: it is not run)
    const finished = final.finishReason === 'eos' || final.finishReason === 'stop';
    const calls = tools && !tools.last && result && final.status === 'done' && finished && !signal.aborted ? withIds(result.toolCalls) : [];
    if (calls.length > 0) {
      final.finishReason = 'toolCalls';
      final.toolCalls = calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
    } else if (tools?.last && tools.step > 1 && final.status === 'done' && finished) final.finishReason = 'toolSteps';
    // ids, counts and times only: never the text
    if (failure) this.deps.logger.warn('chat reply stopped: the store failed', { threadId: thread.id, messageId: writer.messageId, code: failure.code });
    else if (cutByRestart) this.deps.logger.warn('chat reply cut off: the engine host was restarted', { threadId: thread.id, messageId: writer.messageId, code: engineCode });
    else if (engineError) this.deps.logger.warn('chat reply failed', { threadId: thread.id, messageId: writer.messageId, code: engineCode });
    else if (result && t) this.deps.logger.info('chat reply', { threadId: thread.id, messageId: writer.messageId, stopReason: result.stopReason, finishReason: finishReasonOf(result), promptTokens: t.promptTokens, generatedTokens: t.generatedTokens, ms: Math.round(t.promptMs + t.genMs) });
    else this.deps.logger.info('chat reply failed', { threadId: thread.id, messageId: writer.messageId, code: engineCode });
    let message: MessageDTO | null = null;
    if (!writer.closed) {
      try {
        // the model it ran on (it recorded the one expected when it began; a continue keeps its own)
        await writer.end(model !== null && !opts.continueFinal ? { ...final, model: modelName(model) ?? null } : final);
      } catch (e) {
        this.deps.logger.error(`chat: the reply could not be ended in the store: ${(e as Error).message}`);
      }
    }
    try {
      message = this.deps.views.message(thread.id, writer.messageId);
    } catch (e) {
      this.deps.logger.error(`chat: the finished reply could not be read back: ${(e as Error).message}`);
    }
    // what the UI shows even when the store could not record the end
    if (message && message.status === 'streaming') message = { ...message, status: final.status, error: final.error ?? null };
    const next = message?.status === 'done' ? calls : [];
    // a reply the turn goes on after is told now; the turn's last one once the turn is released (./turns.ts start), so
    // a page that sends again when it hears of it finds the chat free
    if (message && next.length > 0) this.deps.services.emit('chat.done', { threadId: thread.id, message });
    // the reply is in the context now: the header's meter shows it (not after a failure: the engine may be restarting)
    if (result && !remote) void this.deps.library.refreshUsage(thread.id);
    try {
      this.host.emitThread(thread.id);
    } catch {
      /* thread deleted meanwhile */
    }
    return { calls: next, message };
  }
}
