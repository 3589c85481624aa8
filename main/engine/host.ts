/**
 * The engine host: the only process that loads the native addon. Started by EngineClient with
 * child_process.fork (Node) or utilityProcess.fork (Electron); both give it a message port (the
 * process entry, probe mode and the port are in host-entry.ts). It answers requests, de-duplicates
 * loads, cancels what the client cancels, and answers the client's heartbeat.
 *
 * One loaded model = a llama_model + its context (which owns a worker thread and a task queue:
 * the per-model scheduler). Several models may be loaded at once.
 */
import path from 'path';
import v8 from 'v8';
import vm from 'vm';
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
import { GgufHeaderCache } from '../models/gguf/cache';
import { GgufHeader, ggufNumber, ggufString } from '../models/gguf/read';
import { GgufError } from '../models/gguf/types';
import { hparamProblem } from '../models/hparams';
import { llamaLineJoiner, Logger } from '../logging';
import { hostWithAvailableRam, withAvailableRam } from './system-memory';

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
  key: string;
  promise: Promise<Loaded & { fit?: unknown }>;
  /** the requests waiting for it (progress goes to each) */
  requesters: Set<number>;
  cancelled: boolean;
  cancel(): void;
}

const aborted = () => new EngineError('aborted', 'the request was aborted');

/** V8's full collection, exposed on first use (see EngineHost.collectSoon). */
let exposedGc: (() => void) | undefined;
function gc(): void {
  if (!exposedGc) {
    v8.setFlagsFromString('--expose-gc');
    exposedGc = vm.runInNewContext('gc') as () => void;
  }
  exposedGc();
}

export class EngineHost {
  private readonly loaded = new Map<string, Loaded>();
  private readonly loading = new Map<string, Loading>();
  /** every request in progress, by id: a `cancel` message aborts its signal */
  private readonly requests = new Map<number, AbortController>();
  private nextTaskId = 1;
  private readonly headers = new GgufHeaderCache();
  private readonly counts = { loadsStarted: 0, models: 0, contexts: 0, generationsStarted: 0 };

  constructor(
    private readonly addon: NativeAddon,
    private readonly port: HostPort,
    /** engine.log; without it llama.cpp's log goes to the client as 'log' messages */
    private readonly logger?: Logger,
  ) {}

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
        const text = `engine host: ${(e as Error).message}`;
        if (log) log.error(text);
        else this.port.send({ type: 'log', level: 'error', text: `${text}\n` });
      }
    });
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
      this.requests.get(msg.id)?.abort();
      return;
    }
    const t0 = Date.now();
    this.logger?.debug(`${msg.method} #${msg.id}`);
    const ac = new AbortController();
    this.requests.set(msg.id, ac);
    this.handle(msg.id, msg.method, msg.params, ac.signal)
      .then(
        (result) => {
          this.logger?.debug(`${msg.method} #${msg.id} done`, { ms: Date.now() - t0 });
          this.port.send({ type: 'response', id: msg.id, ok: true, result });
        },
        (err: unknown) => {
          const e = err as { code?: unknown; message?: unknown };
          const code = typeof e?.code === 'string' ? e.code : 'internal';
          const message = typeof e?.message === 'string' ? e.message : String(err);
          this.logger?.[code === 'aborted' ? 'debug' : 'warn'](`${msg.method} #${msg.id} failed: ${code}`, { ms: Date.now() - t0 });
          this.port.send({ type: 'response', id: msg.id, ok: false, error: { code, message } });
        },
      )
      .finally(() => this.requests.delete(msg.id));
  }

  private async handle(id: number, method: string, rawParams: unknown, signal: AbortSignal): Promise<unknown> {
    if (!(method in Methods)) throw new EngineError('invalid_argument', `unknown method ${method}`);
    const schema = Methods[method as Method];
    const p = schema.safeParse(rawParams ?? {});
    if (!p.success) throw new EngineError('invalid_argument', `${method}: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const params = p.data as Record<string, unknown>;
    switch (method as Method) {
      case 'version':
        return { llamaCommit: this.addon.llamaCommit, backends: this.addon.backends(), systemInfo: this.addon.systemInfo(), pid: process.pid, modules: loadedModules() };
      case 'devices':
        return withAvailableRam(this.addon.devices());
      case 'info':
        return this.info(params.path as string);
      case 'load': {
        const l = await this.load(id, params.modelId as string, params.path as string, params.params, signal);
        return { modelId: l.modelId, metadata: this.metadata(l.model), context: l.ctx.info(), fit: l.fit ?? null };
      }
      case 'unload':
        return this.unload(params.modelId as string);
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
        return this.get(params.modelId as string).model.applyChatTemplate(JSON.stringify(req.data));
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
        const lp = await this.withDefaultContext(params.path as string, this.loadParams(params.params));
        return hostWithAvailableRam((await this.addon.estimateMemory(path.resolve(params.path as string), this.nativeParams(lp))) as Estimate);
      }
      case 'fit': {
        const lp = await this.withDefaultContext(params.path as string, this.loadParams(params.params));
        return this.addon.fitParams(path.resolve(params.path as string), this.nativeParams(lp, { gpuLayers: 'auto' }), {
          marginMiB: params.marginMiB as number,
          contextMode: params.autoContext ? 'auto' : 'fixed',
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
        } satisfies HostStats;
      case 'crash':
        if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', 'crash is a test hook');
        // what a native abort leaves: a reason on stderr, which the client keeps for its crash log
        process.stderr.write(`hearth test hook: crash (${String(params.how)})\n`);
        this.logger?.error(`test hook: crashing (${String(params.how)})`);
        if (params.how === 'abort') process.abort();
        process.exit(70);
      // eslint-disable-next-line no-fallthrough
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

  /** Validates the file, and gives the parameters the context a load would get (defaultContextSize). */
  private async withDefaultContext(file: string, p: LoadParams, signal?: AbortSignal): Promise<LoadParams> {
    const h = await this.validateFile(file, signal);
    if (p.contextSize !== undefined) return p;
    const arch = ggufString(h, 'general.architecture') ?? '';
    return { ...p, contextSize: defaultContextSize(ggufNumber(h, `${arch}.context_length`) ?? 0) };
  }

  /**
   * Checks the GGUF header in TypeScript first, so a malformed file gets a precise error and never
   * reaches llama.cpp, nor do hyperparameters llama.cpp asserts on. Parsed once per unchanged file
   * (the cache), not on every estimate.
   */
  private async validateFile(file: string, signal?: AbortSignal): Promise<GgufHeader> {
    let header: GgufHeader;
    try {
      header = await this.headers.read(file, { signal });
    } catch (e) {
      if (e instanceof GgufError) throw new EngineError('invalid_model', e.message);
      if (signal?.aborted) throw new EngineError('aborted', 'the load was cancelled');
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new EngineError('not_found', `model file not found: ${file}`);
      throw new EngineError('invalid_model', `${file}: ${err.message}`);
    }
    // values llama.cpp asserts on (an abort of the whole host) are refused here
    const problem = hparamProblem(header);
    if (problem) throw new EngineError('invalid_model', `${file}: ${problem}`);
    return header;
  }

  private async info(file: string): Promise<unknown> {
    await this.validateFile(file);
    // metadata and parameter count without allocating the weights
    const handle = this.addon.loadModel(path.resolve(file), { gpuLayers: 0, noAlloc: true, useMmap: false });
    const model = await handle.promise;
    try {
      return this.metadata(model);
    } finally {
      model.dispose();
    }
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
   * kernels generate much slower once the conversation is long: tg128 at a depth of 2,048 tokens 20
   * against 33 tok/s with it off, llama-bench, docs/architecture.md), unless a quantized V cache needs it.
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
      key,
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
      const sized = await this.withDefaultContext(file, params, parse.signal);
      check();
      const native = this.nativeParams(sized);
      const gpu = this.hasGpu();
      // gpuLayers "auto" with a GPU: the addon runs llama.cpp's own fitting (--fit) right before the load,
      // the largest offload that leaves the margin free on every device
      const modelParams = params.gpuLayers === 'auto' && gpu ? { ...native, fitMarginMiB: params.fitMarginMiB } : native;
      this.counts.loadsStarted++;
      handle = this.addon.loadModel(path.resolve(file), modelParams, (progress) => {
        for (const id of job.requesters) this.port.send({ type: 'event', id, event: { kind: 'progress', progress } });
      });
      const model = await handle.promise;
      this.counts.models++;
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
        this.disposeModel(model);
        throw e;
      }
    })();
    job.promise
      .catch(() => undefined)
      .finally(() => {
        if (this.loading.get(modelId) === job) this.loading.delete(modelId);
      });
    this.loading.set(modelId, job);
    return job;
  }

  /** Settles once the context's worker has stopped and its memory is freed (off the JS thread). */
  private async disposeContext(ctx: NativeContext): Promise<void> {
    this.counts.contexts--;
    await ctx.dispose().catch(() => undefined);
  }

  private disposeModel(model: NativeModel): void {
    model.dispose();
    this.counts.models--;
    this.collectSoon();
  }

  private collecting: NodeJS.Immediate | undefined;

  /**
   * A disposed model's memory comes back only once V8 collected the JS wrappers of its native handles
   * (each still holds a reference to the weights until finalized), and an idle host's small heap may
   * not be collected for a long time: collect right after a dispose.
   */
  private collectSoon(): void {
    this.collecting ??= setImmediate(() => {
      this.collecting = undefined;
      gc();
    });
  }

  private async disposeLoaded(modelId: string): Promise<boolean> {
    const l = this.loaded.get(modelId);
    if (!l) return false;
    this.loaded.delete(modelId);
    await this.disposeContext(l.ctx); // aborts what runs; the join and the free happen off this thread
    this.disposeModel(l.model);
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
