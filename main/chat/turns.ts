/**
 * A turn: a user message (or a regenerate, edit or continue) becomes a reply. The message and the
 * reply are stored and answered at once; the turn's steps (its replies, with the tool calls between
 * them: ./steps.ts) then run in the background, and a new thread is named after its first reply. One
 * turn at a time per thread, claimed before anything is awaited so a stop always reaches it; the
 * service tells whether a reply is being generated or written (the updater waits for them). The
 * channels that start and stop turns are in ./channels.ts.
 */
import path from 'path';
import { untilAborted } from '../abort';
import { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { ImageAttachment, IpcError, MessageDTO, NO_VISION } from '../ipc/contract';
import { ModelLibrary } from '../models/library';
import { MAX_REQUEST_PIXELS } from '../params';
import { Services } from '../services';
import { ReplyWriter, Store, Thread } from '../store';
import type { ImageStore } from './images';
import type { ThreadSessions } from './sessions';
import { TurnSteps, type TurnOptions } from './steps';
import { nameThread } from './titles';
import type { ToolDeps } from './tool-loop';
import type { DocumentAttachment, SourceDTO } from '../ipc/docs';
import type { GenerateResult } from '../engine/protocol';
import { LLAMA_CPP_SERVER, parseRemoteModelRef, REMOTE_MODEL_PREFIX } from '../params';
import type { RemoteChatOptions, RemoteChatRequest } from '../providers/client';
import type { RemoteTarget } from '../providers/service';
import { ChatViews, modelName } from './views';

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
  /** the remote providers (main/providers): a thread on a remote model is answered by one; without them none is */
  providers?: TurnProviders;
}

/** What a turn asks of the remote providers (main/providers/service.ts ProviderService). */
export interface TurnProviders {
  /** the remote model a thread's model names (null: a local model); throws when it may not or cannot be used */
  target(ref: string | null): RemoteTarget | null;
  chat(t: RemoteTarget, r: Omit<RemoteChatRequest, 'model'>, o: RemoteChatOptions): Promise<GenerateResult>;
  /** whether the remote model's server keeps earlier turns' reasoning in its template (never throws) */
  keepsReasoning(t: RemoteTarget, signal: AbortSignal): Promise<boolean>;
}

/** What a turn asks of the documents. */
export interface TurnDocs {
  /** links a message's documents to its thread; `kept` (an edit): the refs the message had, whose removal from the thread stays */
  attach(threadId: string, documents: readonly DocumentAttachment[], kept?: ReadonlySet<string>): DocumentAttachment[];
  hasDocuments(threadId: string, assistantId: string | null): boolean;
  sourcesFor(r: { threadId: string; assistantId: string | null; query: string; contextTokens: number; signal: AbortSignal }): Promise<SourceDTO[] | null>;
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
  /** replies the engine is writing now (./replying) */
  private writing = 0;

  /** the steps of the turns (./steps.ts) */
  private readonly steps: TurnSteps;

  constructor(private readonly deps: ChatDeps) {
    this.steps = new TurnSteps(deps, {
      modelFor: (thread, signal) => this.modelFor(thread, signal),
      expectedModel: (thread) => this.expectedModel(thread),
      writingChanged: (by) => this.writingChanged(by),
      emitThread: (threadId) => this.emitThread(threadId),
    });
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
    // a remote model needs no load (its provider was checked as the turn began, and is again as the step asks it)
    if (parseRemoteModelRef(thread.model)) return signal.aborted ? null : thread.model;
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
    if (this.remoteTarget(thread)) return thread.model!;
    const model = this.deps.library.expected ?? thread.model;
    if (!model) throw new IpcError('no_model', 'no model is loaded: pick one in the header');
    return model;
  }

  /**
   * Sets the model a thread's next turn runs on: a local model's path (the picker loads it), or a remote
   * model, refused when remote providers are forbidden or its provider is gone.
   */
  setModel(threadId: string, model: string): Thread {
    const { threads } = this.api(threadId);
    if (model.startsWith(REMOTE_MODEL_PREFIX)) {
      if (!parseRemoteModelRef(model)) throw new IpcError('invalid_input', `${model} is not a remote model (remote:<provider id>/<model>)`);
      this.remoteTarget({ ...threads.get(threadId), model });
    }
    return threads.update(threadId, { model });
  }

  /**
   * The remote model a thread runs on (null: a local one). Refused (remote_forbidden, provider_unknown)
   * when it may not or cannot be used, so a turn on it fails before anything is stored.
   */
  private remoteTarget(thread: Thread): RemoteTarget | null {
    if (!parseRemoteModelRef(thread.model)) return null;
    if (!this.deps.providers) throw new IpcError('provider_unknown', 'remote providers are not available here');
    return this.deps.providers.target(thread.model);
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
    const images = r.attachments?.length ? await this.guard(turn, () => this.attachable(r.attachments!, !parseRemoteModelRef(model))) : [];
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
   * edit, one not on the message before; a remote model's provider says for itself), when the loaded model has no projector (a load under way is
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

  /**
   * A message's documents, linked to its thread (each must be stored: docs.store); for an edit, `kept`:
   * the refs the message had (one of them the thread removed stays removed: main/docs/service.ts attach).
   */
  private documents(threadId: string, documents: readonly DocumentAttachment[], kept?: ReadonlySet<string>): DocumentAttachment[] {
    if (!this.deps.docs) throw new IpcError('invalid_input', 'documents cannot be attached here');
    return this.deps.docs.attach(threadId, documents, kept);
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
    const images = r.attachments?.length ? await this.guard(turn, () => this.attachable(r.attachments!, brings && !parseRemoteModelRef(model))) : r.attachments;
    // images and documents each stay unless the edit gives others
    // (a document the message had that the thread took out is not brought back by keeping it)
    const isDoc = (a: { type: string }) => a.type === 'document';
    const hadDocs = new Set(original.filter(isDoc).map((a) => a.ref));
    const documents = r.documents?.length ? this.guard(turn, () => this.documents(r.threadId, r.documents!, hadDocs)) : r.documents;
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
    // a hosted API is not told it continues a reply (it would write a new one after it): only a
    // llama.cpp-family server goes on from the reply's last token, as the engine does
    const remote = this.remoteTarget(thread);
    if (remote && !LLAMA_CPP_SERVER[remote.access.config.kind]) {
      throw new IpcError('invalid_input', `Continue works with local models and llama.cpp-family servers; ${remote.access.config.name} would start a new reply — use Regenerate, or raise Max tokens`);
    }
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
    const done = this.steps.generate(thread, writer, turn.abort, opts)
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
}
