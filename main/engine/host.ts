/**
 * The engine host: the only process that loads the native addon. Started by EngineClient with
 * child_process.fork (Node) or utilityProcess.fork (Electron); both give it a message port.
 *
 * One loaded model = a llama_model + its context (which owns a worker thread and a task queue:
 * the per-model scheduler). Several models may be loaded at once.
 */
import path from 'path';
import { loadAddon, loadedModules, NativeAddon, NativeContext, NativeModel } from './addon';
import {
  ChatRequest,
  ClientMessage,
  CompletionRequest,
  EngineError,
  FILE_TYPE_NAMES,
  HostMessage,
  LoadParams,
  Method,
  Methods,
  QUANTIZED_CACHE_TYPES,
} from './protocol';
import { readGgufHeader, GgufError, ggufNumber, ggufString } from '../models/gguf';
import { ENGINE_LOG_DIR_ENV, llamaLineJoiner, logLevelFrom, logUncaught, Logger, openFileLogger } from '../logging';

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

export class EngineHost {
  private readonly loaded = new Map<string, Loaded>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly running = new Map<number, { modelId: string; cancel: () => void }>();
  private nextTaskId = 1;

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
    this.port.onMessage((raw) => this.onMessage(raw));
    this.port.send({ type: 'ready', pid: process.pid, llamaCommit: this.addon.llamaCommit, backends: this.addon.backends() });
  }

  private onMessage(raw: unknown): void {
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) return; // nothing to answer: the message has no usable id
    const msg = parsed.data;
    if (msg.type === 'cancel') {
      this.running.get(msg.id)?.cancel();
      return;
    }
    const t0 = Date.now();
    this.logger?.debug(`${msg.method} #${msg.id}`);
    this.handle(msg.id, msg.method, msg.params).then(
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
    );
  }

  private async handle(id: number, method: string, rawParams: unknown): Promise<unknown> {
    if (!(method in Methods)) throw new EngineError('invalid_argument', `unknown method ${method}`);
    const schema = Methods[method as Method];
    const p = schema.safeParse(rawParams ?? {});
    if (!p.success) throw new EngineError('invalid_argument', `${method}: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const params = p.data as Record<string, unknown>;
    switch (method as Method) {
      case 'version':
        return { llamaCommit: this.addon.llamaCommit, backends: this.addon.backends(), systemInfo: this.addon.systemInfo(), pid: process.pid, modules: loadedModules() };
      case 'devices':
        return this.addon.devices();
      case 'info':
        return this.info(params.path as string);
      case 'load': {
        const l = await this.load(id, params.modelId as string, params.path as string, params.params);
        return { modelId: l.modelId, metadata: this.metadata(l.model), context: l.ctx.info(), fit: l.fit ?? null };
      }
      case 'unload':
        return this.unload(params.modelId as string);
      case 'loaded':
        return [...this.loaded.values()].map((l) => ({ modelId: l.modelId, path: l.path, params: l.params, context: l.ctx.info() }));
      case 'chat': {
        const req = ChatRequest.safeParse(params.request);
        if (!req.success) throw new EngineError('invalid_argument', `chat: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return this.generate(id, params.modelId as string, req.data);
      }
      case 'complete': {
        const req = CompletionRequest.safeParse(params.request);
        if (!req.success) throw new EngineError('invalid_argument', `complete: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return this.generate(id, params.modelId as string, req.data);
      }
      case 'embed': {
        const l = this.get(params.modelId as string);
        const vectors = await l.ctx.embed(params.texts as string[]);
        return vectors.map((v) => Array.from(v));
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
        return this.addon.estimateMemory(path.resolve(params.path as string), this.nativeParams(lp));
      }
      case 'fit': {
        const lp = await this.withDefaultContext(params.path as string, this.loadParams(params.params));
        return this.addon.fitParams(path.resolve(params.path as string), { ...this.nativeParams(lp, { gpuLayers: 'auto' }), contextMode: params.autoContext ? 'auto' : 'fixed' }, {
          marginMiB: params.marginMiB as number,
        });
      }
      case 'memory':
        return this.get(params.modelId as string).ctx.memoryBreakdown();
      case 'crash':
        if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', 'crash is a test hook');
        // what a native abort leaves: a reason on stderr, which the client keeps for its crash log
        process.stderr.write(`hearth test hook: crash (${String(params.how)})\n`);
        this.logger?.error(`test hook: crashing (${String(params.how)})`);
        if (params.how === 'abort') process.abort();
        process.exit(70);
    }
    throw new EngineError('invalid_argument', `unknown method ${method}`);
  }

  private metadata(model: NativeModel): Record<string, unknown> {
    const m = model.metadata();
    const ft = m.fileType as number | null;
    return { ...m, fileTypeName: ft === null ? undefined : FILE_TYPE_NAMES[ft] ?? `type ${ft}` };
  }

  /** Validates the file, and gives the parameters the context a load would get: min(4096, trained). */
  private async withDefaultContext(file: string, p: LoadParams): Promise<LoadParams> {
    await this.validateFile(file);
    if (p.contextSize !== undefined) return p;
    const h = await readGgufHeader(file);
    const arch = ggufString(h, 'general.architecture') ?? '';
    const trained = ggufNumber(h, `${arch}.context_length`) ?? 4096;
    return { ...p, contextSize: Math.min(4096, trained || 4096) };
  }

  /** Checks the GGUF header in TypeScript first, so a malformed file gets a precise error and never reaches llama.cpp. */
  private async validateFile(file: string): Promise<void> {
    try {
      await readGgufHeader(file);
    } catch (e) {
      if (e instanceof GgufError) throw new EngineError('invalid_model', e.message);
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new EngineError('not_found', `model file not found: ${file}`);
      throw new EngineError('invalid_model', `${file}: ${err.message}`);
    }
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

  private async load(requestId: number, modelId: string, file: string, rawParams: unknown): Promise<Loaded & { fit?: unknown }> {
    const params = this.loadParams(rawParams);
    if (this.loaded.has(modelId)) await this.unload(modelId);
    const pending = this.loading.get(modelId);
    if (pending) await pending.catch(() => undefined);
    await this.validateFile(file);
    const job = (async (): Promise<Loaded & { fit?: unknown }> => {
      const native = this.nativeParams(params);
      const gpu = this.hasGpu();
      // gpuLayers "auto" with a GPU: the addon runs llama.cpp's own fitting (--fit) right before the load,
      // the largest offload that leaves the margin free on every device
      const modelParams = params.gpuLayers === 'auto' && gpu ? { ...native, fitMarginMiB: params.fitMarginMiB } : native;
      const handle = this.addon.loadModel(path.resolve(file), modelParams, (progress) =>
        this.port.send({ type: 'event', id: requestId, event: { kind: 'progress', progress } }),
      );
      this.running.set(requestId, { modelId, cancel: () => handle.cancel() });
      let model: NativeModel;
      try {
        model = await handle.promise;
      } finally {
        this.running.delete(requestId);
      }
      const fit = model.fitResult();
      try {
        const ctx = await this.addon.createContext(model, native);
        return { modelId, path: file, params, model, ctx, fit: fit ?? undefined };
      } catch (e) {
        model.dispose();
        throw e;
      }
    })();
    this.loading.set(modelId, job);
    try {
      const l = await job;
      this.loaded.set(modelId, l);
      return l;
    } finally {
      this.loading.delete(modelId);
    }
  }

  private async unload(modelId: string): Promise<boolean> {
    const l = this.loaded.get(modelId);
    if (!l) return false;
    this.loaded.delete(modelId);
    l.ctx.dispose();
    l.model.dispose();
    return true;
  }

  private async generate(requestId: number, modelId: string, request: object): Promise<unknown> {
    const l = this.get(modelId);
    const taskId = this.nextTaskId++;
    this.running.set(requestId, { modelId, cancel: () => l.ctx.abort(taskId) });
    try {
      // the addon already coalesces streamed text (at most one call per ~50 ms), so each call is one message
      return await l.ctx.generate(JSON.stringify({ ...request, id: taskId }), (ev) => {
        this.port.send({ type: 'event', id: requestId, event: { kind: 'piece', content: ev.content ?? '', reasoning: ev.reasoning ?? '' } });
      });
    } finally {
      this.running.delete(requestId);
    }
  }
}

/**
 * Probe mode (`engine-host.js --probe`): load the addon with the backends HEARTH_BACKENDS names, print
 * the devices as one JSON line and exit. Run in a throwaway process, so a driver that crashes takes
 * only the probe down. HEARTH_TEST_CRASH_BACKEND (with HEARTH_TEST_HOOKS=1) aborts like a broken driver.
 */
export function runProbe(): void {
  const crash = process.env.HEARTH_TEST_HOOKS === '1' ? process.env.HEARTH_TEST_CRASH_BACKEND : undefined;
  const wanted = (process.env.HEARTH_BACKENDS ?? '').toLowerCase();
  if (crash && (wanted === '' || wanted.split(',').includes(crash))) process.abort();
  const addon = loadAddon();
  process.stdout.write(JSON.stringify({ backends: addon.backends(), devices: addon.devices(), systemInfo: addon.systemInfo(), modules: loadedModules() }) + '\n');
  process.exit(0);
}

/** Entry point when this file runs as the host process. */
export function runHost(): void {
  if (process.argv.includes('--probe')) return runProbe();
  let port: HostPort;
  const parentPort = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(ev: 'message', fn: (e: { data: unknown }) => void): void } }).parentPort;
  if (parentPort) {
    port = { send: (m) => parentPort.postMessage(m), onMessage: (fn) => parentPort.on('message', (e) => fn(e.data)) };
  } else if (process.send) {
    port = {
      send: (m) => {
        if (process.connected) process.send!(m);
      },
      onMessage: (fn) => process.on('message', fn),
    };
    process.on('disconnect', () => process.exit(0)); // the client went away: nothing left to serve
  } else {
    console.error('the engine host must be started by EngineClient (no IPC channel)');
    process.exit(1);
  }
  const logDir = process.env[ENGINE_LOG_DIR_ENV];
  let logger: Logger | undefined;
  if (logDir) {
    try {
      logger = openFileLogger(logDir, 'engine', { level: logLevelFrom() });
      logUncaught(logger);
    } catch (e) {
      port.send({ type: 'log', level: 'error', text: `engine.log: ${(e as Error).message}\n` });
    }
  }
  let addon: NativeAddon;
  try {
    addon = loadAddon();
  } catch (e) {
    const err = e as Error & { code?: string };
    logger?.error(`the addon did not load: ${err.message}`);
    port.send({ type: 'log', level: 'error', text: err.message + '\n' });
    // answer every request with the reason rather than dying in a restart loop
    port.onMessage((raw) => {
      const m = ClientMessage.safeParse(raw);
      if (m.success && m.data.type === 'request') port.send({ type: 'response', id: m.data.id, ok: false, error: { code: err.code ?? 'addon_missing', message: err.message } });
    });
    port.send({ type: 'ready', pid: process.pid, llamaCommit: 'unavailable', backends: [] });
    return;
  }
  new EngineHost(addon, port, logger).start();
}
