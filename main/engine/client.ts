/**
 * EngineClient: main's typed side of the engine. Requests go to the host process that
 * HostSupervisor (supervisor.ts) keeps running, over a HostChannel (channel.ts). It remembers which
 * models the caller loaded and with what parameters, so after the host died or hung (every pending
 * request rejects with `engine_crashed` or `engine_hung`) the next request that names a model loads
 * it again. Loads of one model are de-duplicated: concurrent loads with the same parameters share one
 * load, an unload cancels or follows a load in progress. Every request takes an AbortSignal that
 * counts from the call on: while the host starts, while the model reloads, while queued and while
 * generating. A model whose native work hung (the host's task watchdog gave up on it) is forgotten,
 * not loaded again by itself, and the file of a chat template that ran past its deadline is refused
 * at once until it changes, so nothing loads it into a restart loop. Crashes count too (crash-tally.ts):
 * a load that crashed two hosts is refused, and so is a file whose own chat template crashed two hosts
 * while rendering a chat (render-marks.ts), its models then forgotten as a hung one's are.
 */
import path from 'path';
import { untilAborted } from '../abort';
import { BackendChoice, BackendPin } from './backends';
import { toCode } from '../errors/catalogue';
import { Logger, silentLogger } from '../logging';
import { HostChannel, MalformedResultError, RequestOptions } from './channel';
import { abortedError, ChatRequest, CompletionRequest, EngineError, InfillRequest, HungMessage, LoadParamsInput, TokenLogprobs } from './protocol';
import { LoadedModel, Method, ModelMethod, ParamsIn, ResultOf } from './methods';
import { HostSupervisor, SupervisorOptions } from './supervisor';
import type { RpcProbe } from './rpc';
import type { ImageSize } from '../params';
import { TEMPLATE_TIMEOUT } from './watchdog';
import { CrashTally, fileIdentity } from './crash-tally';

export { defaultHostScript, nodeSpawner, STDERR_TAIL_CHARS } from './channel';
export type { HostProcess, HostSpawner, RequestOptions } from './channel';
export { SUPERVISOR_DEFAULTS } from './supervisor';

export type { LoadedModel };

export type EngineClientOptions = SupervisorOptions;

interface ModelSpec {
  path: string;
  params: LoadParamsInput;
}

const specKey = (s: ModelSpec | undefined): string => JSON.stringify(s ?? null);

/** A load in flight in one host, shared by everyone who asked for that model with those parameters. */
interface LoadJob {
  key: string;
  channel: HostChannel;
  promise: Promise<LoadedModel>;
  waiters: number;
  progress: Set<(p: number) => void>;
  /** cancels the load in the host: when every waiter gave up, or on unload */
  cancel: AbortController;
}

export class EngineClient {
  private readonly sup: HostSupervisor;
  /** what each model was loaded from, as the caller asked */
  private readonly specs = new Map<string, ModelSpec>();
  /** the host each model is loaded in (a model is live while that host is the current one) */
  private readonly liveIn = new Map<string, HostChannel>();
  private readonly loads = new Map<string, LoadJob>();
  private readonly logger: Logger;
  /** model files whose chat template ran past its deadline, as they were then, with the error to answer */
  private readonly hostileTemplates = new Map<string, { identity: Promise<string | undefined>; error: EngineError }>();
  /** loads that ended with the host crashing, by file and parameters (specKey) */
  private readonly crashedLoads = new CrashTally();
  /** model files whose own chat template was rendering a chat when a host crashed, by resolved path */
  private readonly crashedRenders = new CrashTally();
  private readonly lostListeners = new Set<(modelId: string, error: EngineError) => void>();

  constructor(opts: EngineClientOptions = {}) {
    this.sup = new HostSupervisor(opts);
    this.sup.onHung = (msg) => this.lost(msg);
    this.sup.onRenderCrash = (file, host) => this.renderCrashed(file, host);
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Calls `fn` when a loaded model is dropped because its native work hung (the host was restarted
   * without it); returns a function that stops the calls.
   */
  onModelLost(fn: (modelId: string, error: EngineError) => void): () => void {
    this.lostListeners.add(fn);
    return () => this.lostListeners.delete(fn);
  }

  /** The host's task watchdog gave up: forget the models it names, remember a hostile template's file. */
  private lost(msg: HungMessage): void {
    const error = new EngineError(toCode(msg.code, 'engine', 'native'), msg.message);
    if (msg.code === TEMPLATE_TIMEOUT && msg.refuseFiles) {
      for (const file of msg.files) {
        const key = path.resolve(file);
        this.hostileTemplates.set(key, { identity: fileIdentity(key), error });
      }
    }
    this.forget(msg.modelIds, error);
  }

  /** Models dropped (their native work hung, or their template crashed): not loaded again by themselves. */
  private forget(modelIds: string[], error: EngineError): void {
    for (const modelId of modelIds) {
      this.logger.warn(`engine: ${modelId} was dropped: ${error.message}`);
      this.specs.delete(modelId);
      this.liveIn.delete(modelId);
      this.loads.delete(modelId);
      for (const fn of this.lostListeners) {
        try {
          fn(modelId, error);
        } catch (e) {
          this.logger.error(`engine: a model-lost listener failed: ${(e as Error).message}`);
        }
      }
    }
  }

  /**
   * A host's stack overflowed while this file's own chat template rendered a chat. llama.cpp's Jinja
   * engine has no depth limit: a template whose macros recurse without end on some chats overflows the
   * stack. After two hosts died so, the file's own template is not run again while the file is
   * unchanged: its models (those without a Chat template setting) are dropped, and their loads and
   * previews refused.
   */
  private renderCrashed(file: string, host: HostChannel): void {
    const key = path.resolve(file);
    const refuse = () =>
      new EngineError(
        'engine_crashed',
        `the engine crashed twice while rendering a chat with the chat template of "${path.basename(file)}" (a template that recurses without end on some chats), so Hearth will not run that template again: set a Chat template of your own in the model's load settings, or pick another model`,
      );
    if (!this.crashedRenders.note(key, key, host.serial, refuse)) return;
    const dropped = [...this.specs].filter(([, s]) => path.resolve(s.path) === key && !s.params.chatTemplate?.trim()).map(([id]) => id);
    this.forget(dropped, refuse());
  }

  /** The error a load of `file` gets at once: its chat template ran past its deadline and the file is unchanged. */
  private async refusal(file: string): Promise<EngineError | undefined> {
    const key = path.resolve(file);
    const known = this.hostileTemplates.get(key);
    if (!known) return undefined;
    if ((await known.identity) === (await fileIdentity(key))) return known.error;
    if (this.hostileTemplates.get(key) === known) this.hostileTemplates.delete(key);
    return undefined;
  }

  get hostScript(): string {
    return this.sup.hostScript;
  }

  get pid(): number | undefined {
    return this.sup.pid;
  }

  /** fires after the host died or was killed as hung; the argument describes how */
  set onCrash(fn: ((reason: string) => void) | undefined) {
    this.sup.onCrash = fn;
  }

  get onCrash(): ((reason: string) => void) | undefined {
    return this.sup.onCrash;
  }

  /** The backend the host runs with and why (after start). */
  get backendChoice(): BackendChoice | undefined {
    return this.sup.backendChoice;
  }

  /** Pins another backend (or 'auto'): the host restarts with it; loaded models load again on demand. */
  setBackend(pin: BackendPin): Promise<BackendChoice> {
    return this.sup.setBackend(pin);
  }

  /** The remote devices' endpoints and what the last probe found (the host has those that answered: rpc.ts). */
  get rpcServers(): RpcProbe[] {
    return this.sup.rpcServers;
  }

  /** Sets the remote devices (rpc-server endpoints): the host restarts with those that answer; loaded models load again on demand. */
  setRpcServers(endpoints: string[]): Promise<RpcProbe[]> {
    return this.sup.setRpcServers(endpoints);
  }

  /** Starts the host if it is not running; resolves once it said it is ready. */
  async start(signal?: AbortSignal): Promise<void> {
    await this.sup.start(signal);
  }

  /** Sends one request to the host (starting it if needed); its result is checked against the method's schema. */
  async request<M extends Method>(method: M, params: ParamsIn<M>, opts: RequestOptions<M> = {}): Promise<ResultOf<M>> {
    const ch = await this.sup.start(opts.signal);
    return ch.request(method, params, opts);
  }

  // ---- models ------------------------------------------------------------------------------------

  /**
   * Loads a model (or reloads it with new parameters) under an id the caller chooses. A load of the
   * same model with the same parameters while one is in flight joins it; `signal` withdraws this
   * caller (the load is cancelled in the host when nobody waits for it any more).
   */
  async load(modelId: string, file: string, params: LoadParamsInput = {}, onProgress?: (p: number) => void, signal?: AbortSignal): Promise<LoadedModel> {
    const spec: ModelSpec = { path: file, params };
    const key = specKey(spec);
    const own = !params.chatTemplate?.trim(); // the file's own template renders its chats
    const refused = (await this.refusal(file)) ?? (await this.crashedLoads.refusal(key)) ?? (own ? await this.crashedRenders.refusal(path.resolve(file)) : undefined);
    if (refused) throw refused;
    if (specKey(this.specs.get(modelId)) !== key) this.liveIn.delete(modelId);
    this.specs.set(modelId, spec);
    let ch: HostChannel | undefined;
    try {
      ch = await this.sup.start(signal);
      const r = await this.loadShared(ch, modelId, spec, onProgress, signal);
      this.crashedLoads.clear(key);
      // unloaded (or loaded with other parameters) while this load ran
      if (specKey(this.specs.get(modelId)) !== key) throw abortedError();
      return r;
    } catch (e) {
      if (specKey(this.specs.get(modelId)) === key && !this.loads.has(modelId) && this.liveIn.get(modelId) !== this.sup.current) {
        this.specs.delete(modelId);
      }
      // a host that died rendering a template is that template's crash (renderCrashed), not this load's
      if (ch && e instanceof EngineError && e.code === 'engine_crashed' && !ch.renderCrash) this.loadCrashed(key, file, ch, e);
      throw e;
    }
  }

  /**
   * A load of `file` with these parameters (`key`) ended with host `ch` crashing. llama.cpp can crash on
   * a file or a setting (a chat template whose macros recurse without end overflows the stack while the
   * load runs it): after crashes of two hosts loading the same unchanged file so, that load is refused at
   * once. A load that succeeds clears the count; other settings are another load.
   */
  private loadCrashed(key: string, file: string, ch: HostChannel, e: EngineError): void {
    this.crashedLoads.note(
      key,
      path.resolve(file),
      ch.serial,
      () =>
        new EngineError(
          'engine_crashed',
          `the engine crashed twice loading "${path.basename(file)}" with these settings (${e.message}), so Hearth will not load it so again: change its load settings (chat template, projector, GPU layers) or pick another model`,
        ),
    );
  }

  private loadShared(ch: HostChannel, modelId: string, spec: ModelSpec, onProgress: ((p: number) => void) | undefined, signal: AbortSignal | undefined): Promise<LoadedModel> {
    if (signal?.aborted) return Promise.reject(abortedError());
    const key = specKey(spec);
    let job = this.loads.get(modelId);
    if (!job || job.key !== key || job.channel !== ch || job.cancel.signal.aborted) {
      const cancel = new AbortController();
      const progress = new Set<(p: number) => void>();
      const promise = ch
        .request('load', { modelId, path: spec.path, params: spec.params }, {
          signal: cancel.signal,
          onEvent: (ev) => {
            for (const fn of progress) fn(ev.progress);
          },
        })
        .then((r) => {
          if (specKey(this.specs.get(modelId)) === key) this.liveIn.set(modelId, ch);
          // finished before the cancel reached the host, and nobody wants it any more: undo it
          else if (!this.specs.has(modelId) && !this.loads.has(modelId)) ch.request('unload', { modelId }).catch(() => undefined);
          return r;
        })
        .catch((e: unknown) => {
          // the host loaded it but its answer is unusable (the caller gets `internal` and forgets the
          // model): unload it there, unless a newer load of this id replaces it anyway
          if (e instanceof MalformedResultError && (this.loads.get(modelId) ?? created) === created) {
            this.logger.warn(`engine: ${modelId} is unloaded again: ${e.message}`);
            ch.request('unload', { modelId }).catch(() => undefined);
          }
          throw e;
        })
        .finally(() => {
          if (this.loads.get(modelId) === created) this.loads.delete(modelId);
        });
      promise.catch(() => undefined);
      const created: LoadJob = { key, channel: ch, promise, waiters: 0, progress, cancel };
      // a load with other parameters replaces the one in flight (the host cancels it too)
      if (job) this.loads.delete(modelId);
      this.loads.set(modelId, created);
      job = created;
    }
    const j = job;
    j.waiters++;
    if (onProgress) j.progress.add(onProgress);
    const leave = () => {
      if (onProgress) j.progress.delete(onProgress);
      if (--j.waiters > 0) return;
      j.cancel.abort();
      if (this.loads.get(modelId) === j) this.loads.delete(modelId);
    };
    return untilAborted(j.promise, signal, { reason: abortedError, onAbort: leave }).finally(() => {
      if (onProgress) j.progress.delete(onProgress);
    });
  }

  /** Unloads a model; a load of it in progress is cancelled (or, if it finished meanwhile, undone). */
  async unload(modelId: string): Promise<void> {
    this.specs.delete(modelId);
    const job = this.loads.get(modelId);
    if (job) {
      this.loads.delete(modelId);
      job.cancel.abort();
    }
    const was = this.liveIn.get(modelId);
    this.liveIn.delete(modelId);
    const ch = this.sup.current;
    if (ch && !ch.failed && (was === ch || job?.channel === ch)) await ch.request('unload', { modelId });
  }

  isLoaded(modelId: string): boolean {
    return this.specs.has(modelId);
  }

  /**
   * Whether the model is in the running host now, as loaded: not loading, and not waiting to be loaded
   * again after a host restart (which isLoaded still says yes to: the next request reloads it).
   */
  isLive(modelId: string): boolean {
    return this.specs.has(modelId) && !this.loads.has(modelId) && this.sup.current !== undefined && this.liveIn.get(modelId) === this.sup.current;
  }

  /** The ids of the models loaded or loading (what unloadAll unloads). */
  loadedIds(): string[] {
    return [...new Set([...this.specs.keys(), ...this.loads.keys()])];
  }

  /** Unloads every model (an App closing for a restart in the same process leaves the engine empty). */
  async unloadAll(): Promise<void> {
    for (const id of this.loadedIds()) await this.unload(id);
  }

  /** Makes sure the host has the model, loading it again after a host restart; resolves with that host. */
  private async ensure(modelId: string, signal?: AbortSignal): Promise<HostChannel> {
    const ch = await this.sup.start(signal);
    if (this.liveIn.get(modelId) === ch) return ch;
    const spec = this.specs.get(modelId);
    if (!spec) throw new EngineError('not_loaded', `model ${modelId} is not loaded`);
    if (!this.loads.has(modelId)) this.logger.info(`reloading ${modelId} after an engine restart`);
    await this.loadShared(ch, modelId, spec, undefined, signal);
    return ch;
  }

  /** Sends a request that names a loaded model, reloading the model first if the host restarted. */
  private async onModel<M extends ModelMethod>(method: M, params: ParamsIn<M>, opts: RequestOptions<M> = {}): Promise<ResultOf<M>> {
    const ch = await this.ensure(params.modelId, opts.signal);
    return ch.request(method, params, opts);
  }

  // ---- typed helpers (their types come from the method map, methods.ts) -----------------------------

  /** `modules`: the backend modules the host chose (for the CPU built in variants, which one this machine runs) */
  version(): Promise<ResultOf<'version'>> {
    return this.request('version', {});
  }

  devices(): Promise<ResultOf<'devices'>> {
    return this.request('devices', {});
  }

  info(file: string): Promise<ResultOf<'info'>> {
    return this.request('info', { path: file });
  }

  /** `probs`: the pieces' tokens with their log-probabilities, when the request's sampling.nProbs > 0 */
  chat(modelId: string, request: ChatRequest, opts: { onPiece?: (content: string, reasoning: string, probs?: TokenLogprobs[]) => void; signal?: AbortSignal } = {}): Promise<ResultOf<'chat'>> {
    return this.onModel('chat', { modelId, request }, { signal: opts.signal, onEvent: (ev) => opts.onPiece?.(ev.content, ev.reasoning, ev.probs) });
  }

  /** `probs`: as chat's */
  complete(modelId: string, request: CompletionRequest, opts: { onPiece?: (text: string, probs?: TokenLogprobs[]) => void; signal?: AbortSignal } = {}): Promise<ResultOf<'complete'>> {
    return this.onModel('complete', { modelId, request }, { signal: opts.signal, onEvent: (ev) => opts.onPiece?.(ev.content, ev.probs) });
  }

  /** vectors of `texts`; `parseSpecial` false: special-token text in them is text (the embed method's, methods.ts) */
  embed(modelId: string, texts: string[], opts: { signal?: AbortSignal; parseSpecial?: boolean } = {}): Promise<ResultOf<'embed'>> {
    return this.onModel('embed', { modelId, texts, ...(opts.parseSpecial !== undefined ? { parseSpecial: opts.parseSpecial } : {}) }, { signal: opts.signal });
  }

  /** scores of `documents` against `query` on a reranker (rank pooling), one per document in their order; `parseSpecial` as embed's */
  rerank(modelId: string, query: string, documents: string[], opts: { signal?: AbortSignal; parseSpecial?: boolean } = {}): Promise<ResultOf<'rerank'>> {
    return this.onModel('rerank', { modelId, query, documents, ...(opts.parseSpecial !== undefined ? { parseSpecial: opts.parseSpecial } : {}) }, { signal: opts.signal });
  }

  tokenize(modelId: string, text: string, opts: { addSpecial?: boolean; parseSpecial?: boolean } = {}): Promise<ResultOf<'tokenize'>> {
    return this.onModel('tokenize', { modelId, text, ...opts });
  }

  detokenize(modelId: string, tokens: number[]): Promise<ResultOf<'detokenize'>> {
    return this.onModel('detokenize', { modelId, tokens });
  }

  /** `template`: render with it instead of the model's own (the chatTemplate setting's preview) */
  applyTemplate(modelId: string, request: ChatRequest, template?: string): Promise<ResultOf<'applyTemplate'>> {
    return this.onModel('applyTemplate', { modelId, request, ...(template !== undefined ? { template } : {}) });
  }

  /** A chat rendered with `template` (absent: the file's own) for a model file that need not be loaded. */
  async previewTemplate(file: string, template: string | undefined, request: ChatRequest): Promise<ResultOf<'previewTemplate'>> {
    // the file's own template, known to hang: not run again
    if (!template) {
      const refused = (await this.refusal(file)) ?? (await this.crashedRenders.refusal(path.resolve(file)));
      if (refused) throw refused;
    }
    return this.request('previewTemplate', { path: file, request, ...(template ? { template } : {}) });
  }

  /** Fill-in-the-middle on a code model (its FIM tokens); `probs`: as chat's. */
  infill(modelId: string, request: InfillRequest, opts: { onPiece?: (text: string, probs?: TokenLogprobs[]) => void; signal?: AbortSignal } = {}): Promise<ResultOf<'infill'>> {
    return this.onModel('infill', { modelId, request }, { signal: opts.signal, onEvent: (ev) => opts.onPiece?.(ev.content, ev.probs) });
  }

  saveSession(modelId: string, file: string, seq = 0): Promise<ResultOf<'saveSession'>> {
    return this.onModel('saveSession', { modelId, path: file, seq });
  }

  restoreSession(modelId: string, file: string, seq = 0): Promise<ResultOf<'restoreSession'>> {
    return this.onModel('restoreSession', { modelId, path: file, seq });
  }

  async clearSequence(modelId: string, seq = 0): Promise<void> {
    await this.onModel('clearSequence', { modelId, seq });
  }

  contextInfo(modelId: string): Promise<ResultOf<'contextInfo'>> {
    return this.onModel('contextInfo', { modelId });
  }

  /** The positions an image of each size takes in a chat prompt on the model (its projector's count), in the sizes' order. */
  imageTokens(modelId: string, sizes: ImageSize[], opts: { signal?: AbortSignal } = {}): Promise<ResultOf<'imageTokens'>> {
    return this.onModel('imageTokens', { modelId, sizes }, { signal: opts.signal });
  }

  /** llama.cpp's memory estimate for a model and load parameters, without loading the weights. */
  estimate(file: string, params: LoadParamsInput = {}, signal?: AbortSignal): Promise<ResultOf<'estimate'>> {
    return this.request('estimate', { path: file, params }, { signal });
  }

  /** llama.cpp's parameter fitting: the offload (and, with autoContext, the context) that fits. */
  fit(file: string, params: LoadParamsInput = {}, opts: { marginMiB?: number; autoContext?: boolean } = {}): Promise<ResultOf<'fit'>> {
    return this.request('fit', { path: file, params, ...opts });
  }

  /** llama.cpp's breakdown of what a loaded model and its context allocated. */
  memory(modelId: string): Promise<ResultOf<'memory'>> {
    return this.onModel('memory', { modelId });
  }

  /** Stops the host for good. */
  close(): Promise<void> {
    return this.sup.close();
  }
}
