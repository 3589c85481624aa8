/**
 * The engine host: the only process that loads the native addon. Started by EngineClient with
 * child_process.fork (Node) or utilityProcess.fork (Electron); both give it a message port (the
 * process entry, probe mode and the port are in host-entry.ts). It answers requests, de-duplicates
 * loads, cancels what the client cancels, and answers the client's heartbeat. Its task watchdog
 * (watchdog.ts) gives up on native work that hangs: the requests concerned are answered, the client is
 * told (`hung`), and the host ends itself so the client starts a fresh one.
 *
 * One loaded model = a llama_model + its context (which owns a worker thread and a task queue:
 * the per-model scheduler). Several models may be loaded at once.
 */
import path from 'path';
import { loadedModules, NativeAddon, NativeContext, NativeModel } from './addon';
import {
  ChatRequest,
  ClientMessage,
  CompletionRequest,
  defaultContextSize,
  EngineError,
  Estimate,
  FILE_TYPE_NAMES,
  HostMessage,
  HostStats,
  LoadParams,
  MemoryBreakdown,
  Method,
  Methods,
  QUANTIZED_CACHE_TYPES,
} from './protocol';
import { GgufHeaderCache } from '../gguf/cache';
import { GgufHeader, ggufNumber, ggufString } from '../gguf/read';
import { llamaLineJoiner, Logger } from '../logging';
import { HostRequests, Running } from './host-requests';
import { CheckedModelFile, LoadGate, withCheckedModelFile } from './model-file';
import { hostWithAvailableRam, withAvailableRam } from './system-memory';
import { stopVerdict, TASK_BOUNDS, TaskBounds, taskBounds, TaskWatchdog, Verdict } from './watchdog';

/** The transport the host talks over: process IPC under Node, parentPort under Electron. */
export interface HostPort {
  send(msg: HostMessage): void;
  onMessage(fn: (msg: unknown) => void): void;
}

interface Loaded {
  modelId: string;
  path: string;
  params: LoadParams;
  model: NativeModel;
  ctx: NativeContext;
}

/** A load in flight, shared by every request for the same model with the same file and parameters. */
interface Loading {
  modelId: string;
  key: string;
  /** the model file (absolute) */
  file: string;
  promise: Promise<Loaded & { fit?: unknown }>;
  /** the requests waiting for it (progress goes to each) */
  requesters: Set<number>;
  cancelled: boolean;
  cancel(): void;
}

const aborted = () => new EngineError('aborted', 'the request was aborted');

export class EngineHost {
  private readonly loaded = new Map<string, Loaded>();
  private readonly loading = new Map<string, Loading>();
  /** every load in flight, also those replaced in `loading` by a newer load of their id (until they end) */
  private readonly loads = new Set<Loading>();
  /** every request in progress, by id: a `cancel` message aborts its signal */
  private readonly requests: HostRequests;
  private nextTaskId = 1;
  private readonly headers = new GgufHeaderCache();
  private readonly counts = { loadsStarted: 0, models: 0, contexts: 0, generationsStarted: 0 };
  private readonly watchdog: TaskWatchdog;
  /** the watchdog gave up on this host: it answers nothing more and ends */
  private dying = false;
  /** the sizes of the model files llama.cpp is loading (the watchdog's bound before a load's first progress) */
  private readonly loadingSizes = new Map<string, number>();
  /** test hook (`loadGate`): the next check of a model file waits here before llama.cpp gets the file */
  private gate: LoadGate | undefined;

  constructor(
    private readonly addon: NativeAddon,
    private readonly port: HostPort,
    /** engine.log; without it llama.cpp's log goes to the client as 'log' messages */
    private readonly logger?: Logger,
  ) {
    let bounds: TaskBounds;
    try {
      bounds = taskBounds();
    } catch (e) {
      this.log('error', `engine host: ${(e as Error).message}; using the default bounds`);
      bounds = { ...TASK_BOUNDS };
    }
    this.watchdog = new TaskWatchdog(() => this.addon.activities(), bounds, (v) => this.giveUp(v), (file) => this.loadingSizes.get(file));
    this.requests = new HostRequests(port);
  }

  private log(level: 'error' | 'warn', text: string): void {
    if (this.logger) this.logger[level](text);
    else this.port.send({ type: 'log', level, text: `${text}\n` });
  }

  start(): void {
    const log = this.logger;
    if (log) {
      this.addon.setLogger(llamaLineJoiner((level, line) => log[level](`llama: ${line}`)));
      log.info('engine host started', { llamaCommit: this.addon.llamaCommit, backends: this.addon.backends() });
    } else this.addon.setLogger((level, text) => this.port.send({ type: 'log', level, text }));
    this.port.onMessage((raw) => {
      try {
        this.onMessage(raw);
      } catch (e) {
        this.log('error', `engine host: ${(e as Error).message}`);
      }
    });
    this.watchdog.start();
    this.port.send({ type: 'ready', pid: process.pid, llamaCommit: this.addon.llamaCommit, backends: this.addon.backends() });
  }

  private onMessage(raw: unknown): void {
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) return; // nothing to answer: the message has no usable id
    const msg = parsed.data;
    if (msg.type === 'ping') {
      this.port.send({ type: 'pong' });
      return;
    }
    if (msg.type === 'cancel') {
      const r = this.requests.cancel(msg.id);
      if (!r) return;
      // a cancelled request must end soon; one stuck in native code is given up on with the host
      const work = { file: this.fileOf(r), modelId: r.modelId };
      this.watchdog.bound(r.done, () => stopVerdict(work, 'stop', this.watchdog.bounds));
      return;
    }
    if (this.dying) {
      this.port.send({ type: 'response', id: msg.id, ok: false, error: { code: 'engine_hung', message: 'the engine is restarting' } });
      return;
    }
    const t0 = Date.now();
    this.logger?.debug(`${msg.method} #${msg.id}`);
    const r = this.requests.begin(msg.id, msg.method, msg.params);
    this.handle(msg.id, msg.method, msg.params, r.ac.signal).then(
      (result) => {
        this.logger?.debug(`${msg.method} #${msg.id} done`, { ms: Date.now() - t0 });
        this.requests.answer(msg.id, { ok: true, result });
      },
      (err: unknown) => {
        const e = err as { code?: unknown; message?: unknown };
        const code = typeof e?.code === 'string' ? e.code : 'internal';
        const message = typeof e?.message === 'string' ? e.message : String(err);
        this.logger?.[code === 'aborted' ? 'debug' : 'warn'](`${msg.method} #${msg.id} failed: ${code}`, { ms: Date.now() - t0 });
        this.requests.answer(msg.id, { ok: false, error: { code, message } });
      },
    );
  }

  /** The model file a request works on: the one it names, or the file of the model it names. */
  private fileOf(r: Pick<Running, 'modelId' | 'file'>): string | undefined {
    if (r.file) return r.file;
    if (r.modelId === undefined) return undefined;
    const l = this.loaded.get(r.modelId);
    return l ? path.resolve(l.path) : this.loading.get(r.modelId)?.file;
  }

  /**
   * The watchdog's verdict: native work hangs and only the end of this process frees its thread. Every
   * open request is answered (HostRequests.answerAll), the client is told which models went (it does
   * not load them again by itself), and the host ends.
   */
  private giveUp(v: Verdict): void {
    if (this.dying) return;
    this.dying = true;
    const files = new Set(v.files.map((f) => path.resolve(f)));
    const modelIds = new Set<string>(v.modelIds);
    for (const l of this.loaded.values()) if (files.has(path.resolve(l.path))) modelIds.add(l.modelId);
    for (const j of this.loads) if (files.has(j.file)) modelIds.add(j.modelId);
    this.log('error', `engine host: giving up: ${v.code}: ${v.message}`);
    // a request naming a file is concerned when it is that file (a load of another file waiting for the
    // one that hangs is not); one naming a model, when it is a model concerned
    this.requests.answerAll(v, (r) => (r.file !== undefined ? files.has(r.file) : r.modelId !== undefined && modelIds.has(r.modelId)));
    this.port.send({ type: 'hung', code: v.code, message: v.message, modelIds: [...modelIds], files: [...files] });
    // the client kills this process when it reads `hung`; should that not come, the host ends itself
    // (exit() would run native destructors under the thread that hangs: SIGKILL ends it outright)
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000);
  }

  private async handle(id: number, method: string, rawParams: unknown, signal: AbortSignal): Promise<unknown> {
    if (!(method in Methods)) throw new EngineError('invalid_argument', `unknown method ${method}`);
    const schema = Methods[method as Method];
    const p = schema.safeParse(rawParams ?? {});
    if (!p.success) throw new EngineError('invalid_argument', `${method}: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const params = p.data as Record<string, unknown>;
    switch (method as Method) {
      case 'version':
        return {
          llamaCommit: this.addon.llamaCommit,
          backends: this.addon.backends(),
          systemInfo: this.addon.systemInfo(),
          defaultThreads: this.addon.defaultThreads(),
          pid: process.pid,
          modules: loadedModules(),
        };
      case 'devices':
        return withAvailableRam(this.addon.devices());
      case 'info':
        return this.info(params.path as string);
      case 'load': {
        const l = await this.load(id, params.modelId as string, params.path as string, params.params, signal);
        return { modelId: l.modelId, metadata: this.metadata(l.model), context: l.ctx.info(), fit: l.fit ?? null };
      }
      case 'unload': {
        const modelId = params.modelId as string;
        const work = { file: this.fileOf({ modelId }), modelId };
        const done = this.unload(modelId);
        // a model whose native work does not end goes with the host
        this.watchdog.bound(done, () => stopVerdict(work, 'unload', this.watchdog.bounds));
        return done;
      }
      case 'loaded':
        return [...this.loaded.values()].map((l) => ({ modelId: l.modelId, path: l.path, params: l.params, context: l.ctx.info() }));
      case 'chat': {
        const req = ChatRequest.safeParse(params.request);
        if (!req.success) throw new EngineError('invalid_argument', `chat: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return this.generate(id, params.modelId as string, req.data, signal);
      }
      case 'complete': {
        const req = CompletionRequest.safeParse(params.request);
        if (!req.success) throw new EngineError('invalid_argument', `complete: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return this.generate(id, params.modelId as string, req.data, signal);
      }
      case 'embed': {
        const l = this.get(params.modelId as string);
        if (signal.aborted) throw aborted();
        const taskId = this.nextTaskId++;
        const onAbort = () => l.ctx.abort(taskId);
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          const vectors = await l.ctx.embed(params.texts as string[], { id: taskId });
          return vectors.map((v) => Array.from(v));
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      }
      case 'tokenize': {
        const l = this.get(params.modelId as string);
        return Array.from(l.model.tokenize(params.text as string, { addSpecial: params.addSpecial as boolean | undefined, parseSpecial: params.parseSpecial as boolean | undefined }));
      }
      case 'detokenize':
        return this.get(params.modelId as string).model.detokenize(params.tokens as number[]);
      case 'applyTemplate': {
        const req = ChatRequest.safeParse(params.request);
        if (!req.success) throw new EngineError('invalid_argument', `applyTemplate: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return await this.get(params.modelId as string).model.applyChatTemplate(JSON.stringify(req.data));
      }
      case 'saveSession':
        return this.get(params.modelId as string).ctx.saveSession(params.path as string, { seq: params.seq as number });
      case 'restoreSession':
        return this.get(params.modelId as string).ctx.restoreSession(params.path as string, { seq: params.seq as number });
      case 'clearSequence':
        await this.get(params.modelId as string).ctx.clearSequence({ seq: params.seq as number });
        return null;
      case 'contextInfo':
        return this.get(params.modelId as string).ctx.info();
      case 'estimate': {
        const asked = this.loadParams(params.params);
        return this.withModelFile(params.path as string, signal, async (f) => {
          const lp = this.withDefaultContext(f.header, asked);
          return hostWithAvailableRam((await this.addon.estimateMemory(f.nativePath, this.nativeParams(lp))) as Estimate);
        });
      }
      case 'fit': {
        const asked = this.loadParams(params.params);
        return this.withModelFile(params.path as string, signal, async (f) => {
          const lp = this.withDefaultContext(f.header, asked);
          return this.addon.fitParams(f.nativePath, this.nativeParams(lp, { gpuLayers: 'auto' }), {
            marginMiB: params.marginMiB as number,
            contextMode: params.autoContext ? 'auto' : 'fixed',
          });
        });
      }
      case 'memory':
        return hostWithAvailableRam(this.get(params.modelId as string).ctx.memoryBreakdown() as MemoryBreakdown);
      case 'stats':
        return {
          ...this.counts,
          loaded: [...this.loaded.keys()],
          loading: [...this.loading.keys()],
          rssBytes: process.memoryUsage.rss(),
          activities: this.addon.activities(),
        } satisfies HostStats;
      case 'crash':
        if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', 'crash is a test hook');
        // what a native abort leaves: a reason on stderr, which the client keeps for its crash log
        process.stderr.write(`hearth test hook: crash (${String(params.how)})\n`);
        this.logger?.error(`test hook: crashing (${String(params.how)})`);
        if (params.how === 'abort') process.abort();
        process.exit(70);
      // eslint-disable-next-line no-fallthrough
      case 'loadGate':
        if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', 'loadGate is a test hook');
        this.gate = { dir: params.dir as string, identity: params.identity as boolean };
        return null;
      case 'block': {
        if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', 'block is a test hook');
        const end = Date.now() + (params.ms as number);
        while (Date.now() < end) {
          /* a hung JS thread */
        }
        return null;
      }
    }
    throw new EngineError('invalid_argument', `unknown method ${method}`);
  }

  private metadata(model: NativeModel): Record<string, unknown> {
    const m = model.metadata();
    const ft = m.fileType as number | null;
    return { ...m, fileTypeName: ft === null ? undefined : FILE_TYPE_NAMES[ft] ?? `type ${ft}` };
  }

  /** The parameters with the context a load would get (defaultContextSize). */
  private withDefaultContext(h: GgufHeader, p: LoadParams): LoadParams {
    if (p.contextSize !== undefined) return p;
    const arch = ggufString(h, 'general.architecture') ?? '';
    return { ...p, contextSize: defaultContextSize(ggufNumber(h, `${arch}.context_length`) ?? 0) };
  }

  /** A model file checked and handed to llama.cpp as the same file (model-file.ts); the test hook's gate applies once. */
  private withModelFile<T>(file: string, signal: AbortSignal | undefined, use: (f: CheckedModelFile) => Promise<T>, discard?: (r: T) => void): Promise<T> {
    const gate = this.gate;
    this.gate = undefined;
    return withCheckedModelFile(file, this.headers, { signal, gate }, use, discard);
  }

  private async info(file: string): Promise<unknown> {
    // metadata and parameter count without allocating the weights (nor running the chat template)
    return this.withModelFile(file, undefined, async (f) => {
      const model = await this.addon.loadModel(f.nativePath, { gpuLayers: 0, noAlloc: true, useMmap: false, displayPath: f.file }).promise;
      try {
        return this.metadata(model);
      } finally {
        await model.dispose();
      }
    });
  }

  private get(modelId: string): Loaded {
    const l = this.loaded.get(modelId);
    if (!l) throw new EngineError('not_loaded', `model ${modelId} is not loaded`);
    return l;
  }

  private loadParams(raw: unknown): LoadParams {
    const parsed = LoadParams.safeParse(raw ?? {});
    if (!parsed.success) {
      throw new EngineError('invalid_argument', `load parameters: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    }
    return parsed.data;
  }

  private hasGpu(): boolean {
    return this.addon.devices().some((d) => d.type === 'gpu' || d.type === 'igpu');
  }

  /**
   * What the addon takes: the load parameters without the host-only ones, and flash attention "auto"
   * made concrete for a load that runs only on the CPU: off there (llama.cpp's CPU flash-attention
   * kernels generate much slower once the conversation is long; the figures are in
   * docs/benchmarks.md), unless a quantized V cache needs it.
   * Estimates, fitting and loads all pass through here, so they agree.
   */
  private nativeParams(p: LoadParams, override: Partial<LoadParams> = {}): Record<string, unknown> {
    const { fitMarginMiB: _margin, ...rest } = { ...p, ...override };
    if (rest.flashAttention === 'auto' && !QUANTIZED_CACHE_TYPES.has(rest.cacheTypeV) && (rest.gpuLayers === 0 || !this.hasGpu())) {
      rest.flashAttention = 'off';
    }
    return rest;
  }

  /**
   * Loads a model under an id. A load of the same id with the same file and parameters joins the one in
   * flight; one with others cancels it and waits for it to end. Whatever was loaded under the id before
   * is disposed first. `signal` withdraws this request; the load is cancelled when no request waits.
   */
  private async load(requestId: number, modelId: string, file: string, rawParams: unknown, signal: AbortSignal): Promise<Loaded & { fit?: unknown }> {
    const params = this.loadParams(rawParams);
    const key = JSON.stringify([path.resolve(file), params]);
    let job = this.loading.get(modelId);
    if (!job || job.key !== key || job.cancelled) job = this.startLoad(modelId, file, params, key, job);
    const j = job;
    j.requesters.add(requestId);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        j.requesters.delete(requestId);
        if (j.requesters.size === 0) j.cancel();
        reject(aborted());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      j.promise.then(
        (l) => {
          signal.removeEventListener('abort', onAbort);
          j.requesters.delete(requestId);
          resolve(l);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          j.requesters.delete(requestId);
          reject(e);
        },
      );
    });
  }

  private startLoad(modelId: string, file: string, params: LoadParams, key: string, previous: Loading | undefined): Loading {
    previous?.cancel();
    let handle: { promise: Promise<NativeModel>; cancel(): void } | undefined;
    // a cancel during the header check stops the parse between chunks
    const parse = new AbortController();
    const job: Loading = {
      modelId,
      key,
      file: path.resolve(file),
      requesters: new Set(),
      cancelled: false,
      cancel: () => {
        job.cancelled = true;
        parse.abort();
        handle?.cancel();
      },
      promise: undefined as never,
    };
    const check = () => {
      if (job.cancelled) throw aborted();
    };
    job.promise = (async (): Promise<Loaded & { fit?: unknown }> => {
      // one load per id at a time: wait for the one this replaces to end
      if (previous) await previous.promise.catch(() => undefined);
      await this.disposeLoaded(modelId);
      check();
      const gpu = this.hasGpu();
      let native: Record<string, unknown> = {};
      const model = await this.withModelFile(
        file,
        parse.signal,
        async (f) => {
          check();
          // the context the load gets follows the checked file's trained context (defaultContextSize)
          native = this.nativeParams(this.withDefaultContext(f.header, params));
          // gpuLayers "auto" with a GPU: the addon runs llama.cpp's own fitting (--fit) right before the load,
          // the largest offload that leaves the margin free on every device
          const modelParams = params.gpuLayers === 'auto' && gpu ? { ...native, fitMarginMiB: params.fitMarginMiB } : native;
          this.counts.loadsStarted++;
          handle = this.addon.loadModel(f.nativePath, { ...modelParams, displayPath: f.file }, (progress) => {
            for (const id of job.requesters) this.port.send({ type: 'event', id, event: { kind: 'progress', progress } });
          });
          this.loadingSizes.set(f.file, f.size);
          const m = await handle.promise.finally(() => this.loadingSizes.delete(f.file));
          this.counts.models++;
          return m;
        },
        (m) => void this.disposeModel(m),
      );
      let ctx: NativeContext | undefined;
      try {
        check();
        const fit = model.fitResult();
        ctx = await this.addon.createContext(model, native);
        this.counts.contexts++;
        check();
        const l = { modelId, path: file, params, model, ctx, fit: fit ?? undefined };
        await this.disposeLoaded(modelId);
        this.loaded.set(modelId, l);
        return l;
      } catch (e) {
        if (ctx) await this.disposeContext(ctx);
        await this.disposeModel(model);
        throw e;
      }
    })();
    job.promise
      .catch(() => undefined)
      .finally(() => {
        if (this.loading.get(modelId) === job) this.loading.delete(modelId);
        this.loads.delete(job);
      });
    this.loading.set(modelId, job);
    this.loads.add(job);
    return job;
  }

  /** Settles once the context's worker has stopped and its memory is freed (off the JS thread). */
  private async disposeContext(ctx: NativeContext): Promise<void> {
    this.counts.contexts--;
    await ctx.dispose().catch(() => undefined);
  }

  /** Settles once the weights are freed, off the JS thread (contexts are disposed first, so none holds them). */
  private async disposeModel(model: NativeModel): Promise<void> {
    this.counts.models--;
    await model.dispose().catch(() => undefined);
  }

  private async disposeLoaded(modelId: string): Promise<boolean> {
    const l = this.loaded.get(modelId);
    if (!l) return false;
    this.loaded.delete(modelId);
    await this.disposeContext(l.ctx); // aborts what runs; the join and the free happen off this thread
    await this.disposeModel(l.model);
    return true;
  }

  /** Unloads a model; a load of it in flight is cancelled first (or, if it got through, undone). */
  private async unload(modelId: string): Promise<boolean> {
    const job = this.loading.get(modelId);
    let had = false;
    if (job) {
      job.cancel();
      had = await job.promise.then(
        () => true,
        () => false,
      );
    }
    return (await this.disposeLoaded(modelId)) || had;
  }

  private async generate(requestId: number, modelId: string, request: object, signal: AbortSignal): Promise<unknown> {
    const l = this.get(modelId);
    if (signal.aborted) throw aborted();
    const taskId = this.nextTaskId++;
    const onAbort = () => l.ctx.abort(taskId);
    signal.addEventListener('abort', onAbort, { once: true });
    this.counts.generationsStarted++;
    try {
      // the addon already coalesces streamed text (at most one call per ~50 ms), so each call is one message
      return await l.ctx.generate(JSON.stringify({ ...request, id: taskId }), (ev) => {
        this.port.send({ type: 'event', id: requestId, event: { kind: 'piece', content: ev.content ?? '', reasoning: ev.reasoning ?? '', ...(ev.probs ? { probs: ev.probs } : {}) } });
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
