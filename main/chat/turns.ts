/**
 * A turn: a user message (or a regenerate, edit or continue) becomes a reply. Thread history and
 * instructions go to the engine with the thread's effective sampling (app defaults < assistant <
 * thread overrides); pieces stream to the renderer and to the store in batches; the final status
 * and metrics are saved; a new thread is named after its first reply. One turn at a time per
 * thread, claimed before anything is awaited so a stop always reaches it. The channels that start
 * and stop turns are in ./channels.ts.
 */
import path from 'path';
import { untilAborted } from '../abort';
import { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { ChatMessage, EngineError, GenerateResult } from '../engine/protocol';
import { ImageAttachment, IpcError, IpcErrorCode, MessageDTO, NO_VISION } from '../ipc/contract';
import { CHAT_MODEL_ID, ModelLibrary } from '../models/library';
import { chatChars, MAX_REQUEST_PIXELS } from '../params';
import { Services } from '../services';
import { FinishReply, ReplyWriter, Store, Thread } from '../store';
import { finishReasonOf } from './dto';
import { toEngineMessages, withQuestionSources } from './history';
import type { ImageStore } from './images';
import { type ThreadSessions, tokensNeeded } from './sessions';
import { nameThread } from './titles';
import { runToolCalls, type ToolDeps, withIds } from './tool-loop';
import { assistantOf, countImageTokens, countTokens, effectiveSampling, toolsTheTemplateTakes } from './turn-inputs';
import type { OfferedTools } from '../tools/registry';
import type { ToolCallDTO } from '../ipc/tools';
import type { DocumentAttachment, SourceDTO } from '../ipc/docs';
import { ChatViews, modelName } from './views';

/** While a reply streams, the header's context meter is refreshed at most this often. */
const USAGE_REFRESH_MS = 1000;

/** Engine codes of a request the host died or hung under (the host is restarted). */
const HOST_RESTARTED: ReadonlySet<string> = new Set<IpcErrorCode>(['engine_crashed', 'engine_hung']);

export interface ChatDeps {
  store: Store;
  engine: EngineClient;
  library: ModelLibrary;
  services: Services;
  logger: Logger;
  views: ChatViews;
  /** the meter's refresh bound while a reply streams (USAGE_REFRESH_MS unless given) */
  usageRefreshMs?: number;
  /** each thread's KV cache on a sequence of its own, saved and restored (./sessions.ts); without it every thread runs on sequence 0 */
  sessions?: ThreadSessions;
  /** the images users attach (<data>/images) */
  images: ImageStore;
  /** the tools chats are offered, who allows their calls, their settings; without them no chat is offered tools */
  tools?: ToolDeps;
  /** the documents of chats and assistants (main/docs): a turn's sources; without them no chat has documents */
  docs?: TurnDocs;
}

/** What a turn asks of the documents. */
export interface TurnDocs {
  attach(threadId: string, documents: readonly DocumentAttachment[]): DocumentAttachment[];
  hasDocuments(threadId: string, assistantId: string | null): boolean;
  sourcesFor(r: { threadId: string; assistantId: string | null; query: string; contextTokens: number; signal: AbortSignal }): Promise<SourceDTO[] | null>;
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

/** How a turn runs: a continue of the last reply; a message whose new images the model must read. */
interface TurnOptions {
  continueFinal?: boolean;
  /** the turn's message brings images: a model without a projector fails the reply (older images are left out instead) */
  readsImages?: boolean;
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
}

/** A turn claimed before it starts (see ChatService.reserve). */
interface Turn {
  abort: AbortController;
  running: Running;
  release: () => void;
}

export class ChatService {
  private readonly running = new Map<string, Running>();
  /** titles being written for new threads (after their first reply; not part of it) */
  private readonly titling = new Set<Running>();
  /** told whenever a reply starts or ends (the updater's install waits while one is generating) */
  private readonly activityListeners = new Set<() => void>();
  /** the last check of which tools the loaded model's template takes (./toolsTaken) */
  private toolCheck: { key: string; tools: Awaited<ReturnType<typeof toolsTheTemplateTakes>> } | null = null;
  /** replies the engine is writing now (./replying) */
  private writing = 0;

  constructor(private readonly deps: ChatDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  private api(threadId: string) {
    return this.deps.views.api(threadId);
  }

  private emitThread(threadId: string): void {
    this.deps.services.emit('threads.changed', { thread: this.deps.views.thread(threadId) });
  }

  /** Whether a reply is being generated in any chat. */
  generating(): boolean {
    return this.running.size > 0;
  }

  /** Whether the engine is writing a reply now (a turn waiting for its model or documents is not). */
  replying(): boolean {
    return this.writing > 0;
  }

  private writingChanged(by: 1 | -1): void {
    this.writing += by;
    this.activityChanged();
  }

  /** Calls `listener` when a reply starts or ends; returns the unsubscribe. */
  onActivity(listener: () => void): () => void {
    this.activityListeners.add(listener);
    return () => this.activityListeners.delete(listener);
  }

  private activityChanged(): void {
    for (const l of this.activityListeners) {
      try {
        l();
      } catch (e) {
        this.deps.logger.error(`chat: an activity listener threw: ${(e as Error).message}`);
      }
    }
  }

  private busy(threadId: string): void {
    if (this.running.has(threadId)) throw new IpcError('busy', 'a reply is still being written in this chat: stop it first');
  }

  /**
   * Claims the thread for a turn before anything is awaited, so a stop pressed while the model loads
   * reaches the turn: `signal` is the turn's, `release` ends a turn that never started.
   */
  private reserve(threadId: string): Turn {
    this.busy(threadId);
    const abort = new AbortController();
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const running: Running = { abort, done };
    this.running.set(threadId, running);
    this.activityChanged();
    return {
      abort,
      running,
      release: () => {
        if (this.running.get(threadId) === running) {
          this.running.delete(threadId);
          this.activityChanged();
        }
        release();
      },
    };
  }

  /**
   * The model for a thread: the loaded one (waiting for a load in progress), else the thread's own,
   * loaded now. A stop while waiting gives null: the turn then ends at once as stopped.
   */
  private async modelFor(thread: Thread, signal: AbortSignal): Promise<string | null> {
    try {
      return await untilAborted(this.loadedModelFor(thread), signal);
    } catch (e) {
      if (signal.aborted) return null;
      throw e;
    }
  }

  private async loadedModelFor(thread: Thread): Promise<string> {
    const loaded = await this.deps.library.ready();
    if (loaded) return loaded;
    if (thread.model) {
      try {
        await this.deps.library.load(thread.model);
      } catch (e) {
        if (e instanceof IpcError && e.code === 'needs_confirmation') {
          throw new IpcError('needs_confirmation', `${e.message} Load it from the model picker in the header to confirm.`);
        }
        throw e;
      }
      // the model that is loaded now: a pick made meanwhile replaces the thread's (its load returns
      // without error when superseded), and the reply must name the model that writes it
      const now = await this.deps.library.ready();
      if (now) return now;
      throw new IpcError('no_model', `${path.basename(thread.model)} was not loaded: another model was picked meanwhile and did not load; pick one in the header`);
    }
    throw new IpcError('no_model', 'no model is loaded: pick one in the header');
  }

  /**
   * The model a turn expects to run on, known without waiting: the one loading (or asked for), else
   * the loaded one, else the thread's own. None of them: refused (no_model) before anything is stored.
   * The reply records it at once; its final write names the model it ran on.
   */
  private expectedModel(thread: Thread): string {
    const model = this.deps.library.expected ?? thread.model;
    if (!model) throw new IpcError('no_model', 'no model is loaded: pick one in the header');
    return model;
  }

  /**
   * Stores the user message and the reply (streaming) and answers at once: the turn waits for the
   * model (a load in progress, or the thread's model loaded now) inside the reply, so the message is
   * shown and Stop reaches the turn while the model loads.
   */
  async send(r: { threadId: string; content: string; attachments?: ImageAttachment[]; documents?: DocumentAttachment[] }): Promise<{ userMessage: MessageDTO; reply: MessageDTO }> {
    const { threads, messages } = this.api(r.threadId);
    const thread = threads.get(r.threadId);
    const turn = this.reserve(r.threadId);
    const model = this.guard(turn, () => this.expectedModel(thread));
    const path = messages.list(r.threadId);
    const images = r.attachments?.length ? await this.guard(turn, () => this.attachable(r.attachments!)) : [];
    const documents = r.documents?.length ? this.guard(turn, () => this.documents(r.threadId, r.documents!)) : [];
    const isFirst = path.length === 0;
    const attachments = [...images, ...documents];
    const user = this.guard(turn, () => messages.add({ threadId: r.threadId, role: 'user', content: r.content, ...(attachments.length ? { attachments } : {}) }));
    const writer = this.guard(turn, () => messages.beginReply({ threadId: r.threadId, model: modelName(model) }));
    this.start(thread, writer, { readsImages: images.length > 0 }, turn, isFirst ? r.content.trim() || attachments.map((i) => i.name).join(', ') : undefined);
    return { userMessage: this.deps.views.message(r.threadId, user.id), reply: this.deps.views.message(r.threadId, writer.messageId) };
  }

  /**
   * The images a message may bring, as stored (kind, size, width and height from the file): refused
   * when one is not stored, or when together they hold more pixels than the engine reads in one
   * request, and, when the message brings images it did not have (`brought`: always for a send; for an
   * edit, one not on the message before), when the loaded model has no projector (a load under way is
   * checked by the turn). (A thread's older images are not counted: a turn sends those that still fit,
   * main/chat/history.ts; an edit's kept images are like them on a model without a projector.)
   */
  private async attachable(attachments: readonly ImageAttachment[], brought = true): Promise<ImageAttachment[]> {
    const lib = this.deps.library;
    if (brought && lib.loadedPath !== null && lib.expected === lib.loadedPath && lib.loadedProjector === null) throw new IpcError('invalid_input', NO_VISION);
    const images = await Promise.all(attachments.map((a) => this.deps.images.attachment(a)));
    const pixels = images.reduce((n, a) => n + (a.width ?? 0) * (a.height ?? 0), 0);
    if (pixels > MAX_REQUEST_PIXELS) {
      throw new IpcError('invalid_input', `these images hold ${pixels} pixels together; one message may carry at most ${MAX_REQUEST_PIXELS} (send fewer or smaller ones)`);
    }
    return images;
  }

  /** A message's documents, linked to its thread (each must be stored: docs.store). */
  private documents(threadId: string, documents: readonly DocumentAttachment[]): DocumentAttachment[] {
    if (!this.deps.docs) throw new IpcError('invalid_input', 'documents cannot be attached here');
    return this.deps.docs.attach(threadId, documents);
  }

  /** A message of this thread with this role (a reply to regenerate or continue, a user message to edit). */
  private messageIn(threadId: string, messageId: string, role: 'user' | 'assistant'): void {
    const m = this.api(threadId).messages.get(messageId);
    if (m.threadId !== threadId) throw new IpcError('not_found', `message ${messageId} is not in this chat`);
    if (m.role !== role) throw new IpcError('invalid_input', role === 'user' ? 'only your own messages can be edited' : 'only a reply can be regenerated or continued');
  }

  regenerate(threadId: string, replyId: string): { reply: MessageDTO } {
    const { threads, messages } = this.api(threadId);
    const thread = threads.get(threadId);
    this.messageIn(threadId, replyId, 'assistant');
    const turn = this.reserve(threadId);
    const model = this.guard(turn, () => this.expectedModel(thread));
    const writer = this.guard(turn, () => messages.regenerate(this.turnStart(threadId, replyId), { model: modelName(model) }));
    this.start(thread, writer, {}, turn);
    return { reply: this.deps.views.message(threadId, writer.messageId) };
  }

  /**
   * The first reply of the turn a reply belongs to: a reply written after tool calls is regenerated from
   * the user message, so the whole turn (its calls too) runs again as an alternative.
   */
  private turnStart(threadId: string, replyId: string): string {
    const { messages } = this.api(threadId);
    let id = replyId;
    for (let m = messages.get(id); m.parentId !== null; ) {
      const parent = messages.get(m.parentId);
      if (parent.role !== 'tool' && !(parent.role === 'assistant' && parent.toolCalls?.length)) break;
      id = parent.id;
      m = parent;
    }
    return messages.get(id).role === 'assistant' ? id : replyId;
  }

  async edit(r: { threadId: string; messageId: string; content: string; attachments?: ImageAttachment[]; documents?: DocumentAttachment[] }): Promise<{ userMessage: MessageDTO; reply: MessageDTO }> {
    const { threads, messages } = this.api(r.threadId);
    const thread = threads.get(r.threadId);
    this.busy(r.threadId);
    this.messageIn(r.threadId, r.messageId, 'user');
    // the images the edit brings that the message did not have: only those need a model that reads
    // images (the images it keeps, or fewer of them, go on with a text model as a thread's older ones do)
    const original = messages.get(r.messageId).attachments;
    const had = new Set(original.map((a) => a.ref));
    const brings = r.attachments?.some((a) => !had.has(a.ref)) ?? false;
    const turn = this.reserve(r.threadId);
    const model = this.guard(turn, () => this.expectedModel(thread));
    const images = r.attachments?.length ? await this.guard(turn, () => this.attachable(r.attachments!, brings)) : r.attachments;
    // images and documents each stay unless the edit gives others
    const documents = r.documents?.length ? this.guard(turn, () => this.documents(r.threadId, r.documents!)) : r.documents;
    const isDoc = (a: { type: string }) => a.type === 'document';
    const attachments = images === undefined && documents === undefined ? undefined : [...(images ?? original.filter((a) => !isDoc(a))), ...(documents ?? original.filter(isDoc))];
    const edited = this.guard(turn, () => messages.edit(r.messageId, r.content, attachments));
    const writer = this.guard(turn, () => messages.beginReply({ threadId: r.threadId, parentId: edited.id, model: modelName(model) }));
    this.start(thread, writer, { readsImages: brings }, turn);
    return { userMessage: this.deps.views.message(r.threadId, edited.id), reply: this.deps.views.message(r.threadId, writer.messageId) };
  }

  async continue(threadId: string, replyId: string): Promise<{ reply: MessageDTO }> {
    const { threads, messages } = this.api(threadId);
    const thread = threads.get(threadId);
    this.messageIn(threadId, replyId, 'assistant');
    const turn = this.reserve(threadId);
    this.guard(turn, () => this.expectedModel(thread));
    // a continue reopens a finished reply, so it waits for the model before touching it: a load that
    // fails (the error is the call's) or a Stop meanwhile leaves the reply as it was, its finish reason too
    const model = await this.guard(turn, () => this.modelFor(thread, turn.abort.signal));
    if (model === null) {
      turn.release();
      return { reply: this.deps.views.message(threadId, replyId) };
    }
    const writer = this.guard(turn, () => messages.continueReply(replyId));
    this.start(thread, writer, { continueFinal: true }, turn);
    return { reply: this.deps.views.message(threadId, replyId) };
  }

  async stop(threadId: string): Promise<void> {
    const r = this.running.get(threadId);
    if (!r) return;
    r.abort.abort();
    await r.done;
  }

  /** Stops every running reply and title (shutdown). */
  async stopAll(): Promise<void> {
    for (const t of this.titling) t.abort.abort();
    await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
    await Promise.all([...this.titling].map((t) => t.done));
  }

  /** Waits for every running reply and the titles that follow them (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.done));
    await Promise.all([...this.titling].map((t) => t.done));
  }

  /** Runs a step of a turn that has not started yet; if it throws, the turn is released. */
  private guard<T>(turn: Turn, step: () => T): T {
    let r: T;
    try {
      r = step();
    } catch (e) {
      turn.release();
      throw e;
    }
    if (r instanceof Promise) r.catch(() => turn.release());
    return r;
  }

  private start(thread: Thread, writer: ReplyWriter, opts: TurnOptions, turn: Turn, firstMessage?: string): void {
    const threadId = thread.id;
    // the reply ends here: a stop waits for this, never for the title that follows
    const done = this.generate(thread, writer, turn.abort, opts)
      .catch((e: Error) => {
        this.deps.logger.error(`chat: ${e.message}`);
        return null;
      })
      .then((last) => {
        turn.release();
        // the turn's last reply, told once the chat is free
        try {
          if (last) this.deps.services.emit('chat.done', { threadId, message: last });
        } catch (e) {
          this.deps.logger.error(`chat: the end of a reply could not be told: ${(e as Error).message}`);
        }
      });
    turn.running.done = done;
    if (firstMessage !== undefined) {
      const titling = { abort: new AbortController(), done: Promise.resolve() };
      titling.done = done
        .then(() => nameThread(this.deps, threadId, firstMessage, titling.abort.signal, () => this.emitThread(threadId)))
        .catch((e: Error) => this.deps.logger.warn(`chat: naming the thread failed: ${e.message}`))
        .finally(() => this.titling.delete(titling));
      this.titling.add(titling);
    }
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

  /** Runs a turn's steps; answers its last reply, to be told once the turn is released (null: told already, or none). */
  private async generate(first: Thread, firstWriter: ReplyWriter, abort: AbortController, opts: TurnOptions): Promise<MessageDTO | null> {
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
      writer = messages.beginReply({ threadId: thread.id, parentId: lastId, model: modelName(this.deps.library.loadedPath ?? this.expectedModel(thread)) });
      this.deps.services.emit('chat.message', { threadId: thread.id, message: this.deps.views.message(thread.id, writer.messageId) });
    }
  }

  /**
   * Gives a turn's reply the sources of its thread's documents (and its assistant's folders'), found
   * for the question it answers (the user message before it), stored on the reply so the prompt is the
   * same at every later turn (history.ts withQuestionSources).
   */
  private async giveSources(thread: Thread, replyId: string, signal: AbortSignal): Promise<void> {
    const docs = this.deps.docs;
    const assistantId = assistantOf(this.store, thread)?.id ?? null;
    if (!docs || !docs.hasDocuments(thread.id, assistantId)) return;
    const { messages } = this.api(thread.id);
    const path = messages.list(thread.id);
    const at = path.findIndex((m) => m.id === replyId);
    const question = at > 0 && path[at - 1].role === 'user' ? path[at - 1].content : '';
    const sources = await docs.sourcesFor({ threadId: thread.id, assistantId, query: question, contextTokens: this.deps.library.loadedContextSize, signal });
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
    try {
      model = await this.modelFor(thread, signal);
      // a turn's first reply is given its thread's documents (whole, or the passages found for the question)
      if (first && model !== null && !opts.continueFinal) await this.giveSources(thread, writer.messageId, signal);
      const path = withQuestionSources(messages.list(thread.id));
      const upTo = path.findIndex((m) => m.id === writer.messageId);
      const history = (upTo >= 0 ? path.slice(0, opts.continueFinal ? upTo + 1 : upTo) : path).filter((m) => m.status !== 'error' || m.role !== 'assistant');
      // tools go only to a model whose chat template renders them (one that ignores them would gain nothing, and
      // llama.cpp's parser would hold its text back looking for calls), and only those llama.cpp can make a grammar of
      const engineTools = tools && model !== null ? await this.toolsTaken(tools.offered.engine) : [];
      if (engineTools.length === 0) tools = null;
      // the messages, with their images when the model reads them (its projector is known once it is loaded)
      const vision = model !== null && this.deps.library.loadedProjector !== null;
      if (model !== null && opts.readsImages && !vision) throw new IpcError('invalid_input', NO_VISION);
      const sent = await toEngineMessages(history, { instructions, images: vision ? this.deps.images : null });
      chat = sent.messages;
      // the thread's own sequence, its saved cache restored into it (never throws), with room made for
      // the turn: its text estimated from its characters and what it may generate, its images counted
      // exactly (the projector's tokens for each image's width and height, asked of the engine)
      let seq = 0;
      if (model !== null && sessions) {
        const need = tokensNeeded(chatChars(chat), (request as { maxTokens?: number }).maxTokens) + (await countImageTokens(this.deps, thread.id, sent.imageSizes, signal));
        seq = (await sessions.acquire(thread.id, need)).seq;
        acquired = true;
      }
      if (model !== null && !signal.aborted) {
        writingCounted = true;
        this.writingChanged(1);
      }
      if (model !== null && !signal.aborted) result = await this.deps.engine.chat(
        CHAT_MODEL_ID,
        { messages: chat, sampling, ...request, continueFinal: opts.continueFinal, overflow: 'error', seq, ...(tools ? { tools: engineTools, toolChoice: tools.last ? ('none' as const) : ('auto' as const), parallelToolCalls: true } : {}) },
        {
          signal,
          onPiece: (content, reasoning, probs) => {
            // this runs inside the engine client's message listener: nothing may escape from it
            try {
              if (!streamed) {
                streamed = true;
                streamedBy = this.deps.engine.pid;
              }
              if (content) writer.append(content);
              if (reasoning) writer.appendReasoning(reasoning);
              if (writer.failure && !signal.aborted) abort.abort();
              this.deps.services.emit('chat.piece', { threadId: thread.id, messageId: writer.messageId, content, reasoning, ...(probs ? { probs } : {}) });
              if (Date.now() - usageAt >= (this.deps.usageRefreshMs ?? USAGE_REFRESH_MS)) {
                usageAt = Date.now();
                void this.deps.library.refreshUsage(thread.id);
              }
            } catch (e) {
              this.deps.logger.error(`chat: a streamed piece could not be handled: ${(e as Error).message}`);
            }
          },
        },
      );
    } catch (e) {
      // the engine's error, or the model's (no model, a load that failed or needs confirming)
      const err = e as EngineError | IpcError;
      engineCode = err.code ?? 'internal';
      if (engineCode !== 'aborted') engineError = `${engineCode}: ${err.message}`;
    } finally {
      if (acquired) sessions?.release(thread.id);
      if (writingCounted) this.writingChanged(-1);
    }
    const t = result?.timings;
    // the context the reply ran in (what a "context full" notice names)
    const contextSize = this.deps.library.loadedContextSize;
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
    const cutByRestart = streamed && !result && (HOST_RESTARTED.has(engineCode) || (engineCode === 'aborted' && this.deps.engine.pid !== streamedBy));
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
    // a reply the turn goes on after is told now; the turn's last one once the turn is released (./start), so
    // a page that sends again when it hears of it finds the chat free
    if (message && next.length > 0) this.deps.services.emit('chat.done', { threadId: thread.id, message });
    // the reply is in the context now: the header's meter shows it (not after a failure: the engine may be restarting)
    if (result) void this.deps.library.refreshUsage(thread.id);
    try {
      this.emitThread(thread.id);
    } catch {
      /* thread deleted meanwhile */
    }
    return { calls: next, message };
  }
}
