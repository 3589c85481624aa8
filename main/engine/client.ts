/**
 * EngineClient: main's side of the engine. It starts the host process, sends typed requests, streams
 * events back, and survives the host dying: every pending request rejects with `engine_crashed`,
 * a new host is started, and the next request that needs a model loads it again.
 */
import { fork } from 'child_process';
import fs from 'fs';
import path from 'path';
import { ENGINE_LOG_DIR_ENV, llamaLineJoiner, Logger, silentLogger } from '../logging';
import { projectRoot } from '../paths';
import { addonPath, backendModules } from './addon';
import { BackendChoice, BackendPin, chooseBackend, nodeProbeSpawner, ProbeSpawner } from './backends';
import {
  ChatRequest,
  CompletionRequest,
  Device,
  EngineError,
  GenerateResult,
  HostMessage,
  LoadParamsInput,
  LoadedModule,
  Method,
  ModelMetadata,
  StreamEvent,
  Estimate,
  FitResult,
  MemoryBreakdown,
} from './protocol';

/** What the client needs of a host process; child_process (Node) and utilityProcess (Electron) both fit. */
export interface HostProcess {
  readonly pid: number | undefined;
  send(msg: unknown): void;
  onMessage(fn: (msg: unknown) => void): void;
  onExit(fn: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
  /** the host's stderr, where a native abort (a ggml assert) writes its reason; optional */
  onStderr?(fn: (chunk: string) => void): void;
}

/** How much of the host's stderr the client keeps, for the crash reason in the log. */
export const STDERR_TAIL_CHARS = 4096;

export type HostSpawner = (script: string, env: NodeJS.ProcessEnv) => HostProcess;

export const nodeSpawner: HostSpawner = (script, env) => {
  const child = fork(script, [], { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
  // stderr still reaches ours (as with 'inherit'), and the client keeps its tail for the crash log
  child.stderr?.on('data', (b: Buffer) => process.stderr.write(b));
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => {
      if (child.connected) child.send(m as object);
    },
    onMessage: (fn) => child.on('message', fn),
    // 'close' (not 'exit'): after stderr has been read to its end, so the crash log has all of it
    onExit: (fn) => child.on('close', (code, signal) => fn(code, signal)),
    kill: (sig) => child.kill(sig),
    onStderr: (fn) => child.stderr?.on('data', (b: Buffer) => fn(b.toString('utf8'))),
  };
};

export function defaultHostScript(): string {
  return process.env.HEARTH_HOST_SCRIPT || path.join(projectRoot(), 'dist', 'engine-host.js');
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?: (ev: StreamEvent) => void;
}

interface ModelSpec {
  path: string;
  params: LoadParamsInput;
}

export interface RequestOptions {
  onEvent?: (ev: StreamEvent) => void;
  signal?: AbortSignal;
}

export interface LoadedModel {
  modelId: string;
  metadata: ModelMetadata;
  context: Record<string, unknown>;
  /** what llama.cpp's fitting chose when gpuLayers was "auto" and a GPU was present */
  fit: FitResult | null;
}

export interface EngineClientOptions {
  hostScript?: string;
  spawner?: HostSpawner;
  /** starts the backend probes (default: child processes of this Node; Electron passes utilityProcess) */
  probeSpawner?: ProbeSpawner;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** folder for the host's engine.log (llama.cpp's log included); without it llama.cpp's lines come to `logger` */
  logDir?: string;
  /** restarts allowed within a minute before the client gives up (a crash loop) */
  maxRestartsPerMinute?: number;
  /** which backend the host loads: probed in throwaway processes first ('auto': CUDA → Metal → Vulkan → CPU) */
  backend?: BackendPin;
  /** folder of the backend modules (default: next to the addon) */
  backendDir?: string;
}

export class EngineClient {
  private proc: HostProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly specs = new Map<string, ModelSpec>();
  /** models loaded in the current host process */
  private readonly live = new Set<string>();
  private readonly restarts: number[] = [];
  private closed = false;
  private readonly llamaLog = llamaLineJoiner((level, line) => this.logger[level](`llama: ${line}`));
  /** the last request sent to the host, named in the log when the host dies */
  private lastRequest: { id: number; method: Method } | undefined;
  readonly hostScript: string;
  private readonly spawner: HostSpawner;
  private readonly logger: Logger;
  /** fires after the host died; the argument describes how */
  onCrash?: (reason: string) => void;

  constructor(private readonly opts: EngineClientOptions = {}) {
    this.hostScript = opts.hostScript ?? defaultHostScript();
    this.spawner = opts.spawner ?? nodeSpawner;
    this.logger = opts.logger ?? silentLogger;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private choice: BackendChoice | undefined;
  private choosing: Promise<BackendChoice> | undefined;

  /** The backend the host runs with and why (after start). */
  get backendChoice(): BackendChoice | undefined {
    return this.choice;
  }

  /** Pins another backend (or 'auto'): the host restarts with it; loaded models load again on demand. */
  async setBackend(pin: BackendPin): Promise<BackendChoice> {
    (this.opts as { backend?: BackendPin }).backend = pin;
    this.choice = undefined;
    this.choosing = undefined;
    const proc = this.proc;
    if (proc) {
      await new Promise<void>((resolve) => {
        proc.onExit(() => resolve());
        proc.kill('SIGTERM');
      });
      while (this.proc === proc) await new Promise((r) => setTimeout(r, 10));
    }
    await this.start();
    return this.choice!;
  }

  private choose(): Promise<BackendChoice> {
    if (this.choice) return Promise.resolve(this.choice);
    this.choosing ??= (async () => {
      const dir = this.opts.backendDir ?? path.dirname(addonPath());
      const available = [...backendModules(dir).keys()];
      const env = { ...process.env, ...this.opts.env };
      const c = await chooseBackend(this.opts.probeSpawner ?? nodeProbeSpawner, this.hostScript, env, available, this.opts.backend ?? 'auto');
      this.logger.info(`engine backend: ${c.reason}`);
      this.choice = c;
      return c;
    })();
    return this.choosing;
  }

  /** Starts the host if it is not running; resolves once it said it is ready. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new EngineError('engine_closed', 'the engine was shut down'));
    if (this.ready) return this.ready;
    if (!this.choice && fs.existsSync(this.hostScript)) {
      const p = this.choose().then(() => {
        if (this.ready === p) this.ready = undefined;
        return this.start();
      });
      this.ready = p;
      return p;
    }
    return this.spawnHost();
  }

  private spawnHost(): Promise<void> {
    if (!fs.existsSync(this.hostScript)) {
      return Promise.reject(new EngineError('engine_unavailable', `engine host script missing: ${this.hostScript} (run npm run build:ts)`));
    }
    const now = Date.now();
    while (this.restarts.length && now - this.restarts[0] > 60_000) this.restarts.shift();
    if (this.restarts.length >= (this.opts.maxRestartsPerMinute ?? 5)) {
      return Promise.reject(new EngineError('engine_unavailable', 'the engine host keeps crashing; why is in main.log and engine.log (Settings → About → Logs)'));
    }
    this.restarts.push(now);
    const backends = this.choice ? { HEARTH_BACKENDS: this.choice.backends.join(',') } : {};
    const logDir = this.opts.logDir ? { [ENGINE_LOG_DIR_ENV]: this.opts.logDir } : {};
    const proc = this.spawner(this.hostScript, { ...process.env, ...this.opts.env, ...backends, ...logDir });
    this.proc = proc;
    let stderrTail = '';
    proc.onStderr?.((chunk) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    this.live.clear();
    this.ready = new Promise<void>((resolve, reject) => {
      let isReady = false;
      proc.onMessage((raw) => {
        const parsed = HostMessage.safeParse(raw);
        if (!parsed.success) {
          this.logger.warn(`engine host sent an invalid message: ${parsed.error.message}`);
          return;
        }
        const msg = parsed.data;
        if (msg.type === 'ready') {
          isReady = true;
          this.logger.info(`engine host ${msg.pid} ready (llama.cpp ${msg.llamaCommit}; backends ${msg.backends.join(', ')})`);
          resolve();
        } else this.onHostMessage(msg);
      });
      proc.onExit((code, signal) => {
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        if (this.proc === proc) {
          this.proc = undefined;
          this.ready = undefined;
          this.live.clear();
        }
        const err = new EngineError('engine_crashed', `the engine host stopped (${how})`);
        let failed = 0;
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(err);
          failed++;
        }
        if (!isReady) reject(err);
        if (!this.closed) {
          this.logger.error(`engine host stopped (${how})`, {
            pid: proc.pid,
            exitCode: code,
            signal,
            lastRequest: this.lastRequest ?? null,
            failedRequests: failed,
            stderrTail: stderrTail.trim() || undefined,
          });
          this.onCrash?.(how);
          // start a fresh host now so the next request finds it warm; models load again on demand
          this.start().catch((e: Error) => this.logger.error(`engine restart failed: ${e.message}`));
        }
      });
    });
    return this.ready;
  }

  private onHostMessage(msg: HostMessage): void {
    if (msg.type === 'log') {
      this.llamaLog(msg.level, msg.text);
      return;
    }
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'event') {
      const ev = StreamEvent.safeParse(msg.event);
      if (ev.success) p.onEvent?.(ev.data);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new EngineError(msg.error.code, msg.error.message));
  }

  /** Sends one request to the host. */
  async request<T = unknown>(method: Method, params: Record<string, unknown>, opts: RequestOptions = {}): Promise<T> {
    if (opts.signal?.aborted) throw new EngineError('aborted', 'the request was aborted');
    await this.start();
    const proc = this.proc;
    if (!proc) throw new EngineError('engine_crashed', 'the engine host stopped');
    const id = this.nextId++;
    this.lastRequest = { id, method };
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => proc.send({ type: 'cancel', id });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const t0 = Date.now();
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (v) => {
          done();
          this.logger.debug(`engine ${method} #${id} done`, { ms: Date.now() - t0 });
          resolve(v as T);
        },
        reject: (e) => {
          done();
          const code = (e as EngineError).code;
          this.logger[code === 'aborted' ? 'debug' : 'warn'](`engine ${method} #${id} failed: ${code}`, { ms: Date.now() - t0 });
          reject(e);
        },
        onEvent: opts.onEvent,
      });
      proc.send({ type: 'request', id, method, params });
    });
  }

  // ---- typed helpers -----------------------------------------------------------------------------

  /** `modules`: the backend modules the host chose (for the CPU built in variants, which one this machine runs) */
  version(): Promise<{ llamaCommit: string; backends: string[]; systemInfo: string; pid: number; modules: LoadedModule[] }> {
    return this.request('version', {});
  }

  devices(): Promise<Device[]> {
    return this.request('devices', {});
  }

  info(file: string): Promise<ModelMetadata> {
    return this.request('info', { path: file });
  }

  /** Loads a model (or reloads it with new parameters) under an id the caller chooses. */
  async load(modelId: string, file: string, params: LoadParamsInput = {}, onProgress?: (p: number) => void, signal?: AbortSignal): Promise<LoadedModel> {
    this.specs.set(modelId, { path: file, params });
    try {
      const r = await this.request<LoadedModel>('load', { modelId, path: file, params }, {
        signal,
        onEvent: (ev) => {
          if (ev.kind === 'progress') onProgress?.(ev.progress);
        },
      });
      this.live.add(modelId);
      return r;
    } catch (e) {
      this.specs.delete(modelId);
      throw e;
    }
  }

  async unload(modelId: string): Promise<void> {
    this.specs.delete(modelId);
    if (this.live.delete(modelId) && this.proc) await this.request('unload', { modelId });
  }

  isLoaded(modelId: string): boolean {
    return this.specs.has(modelId);
  }

  /** Makes sure the host has the model, loading it again after a host restart. */
  private async ensure(modelId: string): Promise<void> {
    await this.start();
    if (this.live.has(modelId)) return;
    const spec = this.specs.get(modelId);
    if (!spec) throw new EngineError('not_loaded', `model ${modelId} is not loaded`);
    this.logger.info(`reloading ${modelId} after an engine restart`);
    await this.request('load', { modelId, path: spec.path, params: spec.params });
    this.live.add(modelId);
  }

  async chat(modelId: string, request: ChatRequest, opts: { onPiece?: (content: string, reasoning: string) => void; signal?: AbortSignal } = {}): Promise<GenerateResult> {
    await this.ensure(modelId);
    return this.request<GenerateResult>('chat', { modelId, request }, {
      signal: opts.signal,
      onEvent: (ev) => {
        if (ev.kind === 'piece') opts.onPiece?.(ev.content, ev.reasoning);
      },
    });
  }

  async complete(modelId: string, request: CompletionRequest, opts: { onPiece?: (text: string) => void; signal?: AbortSignal } = {}): Promise<GenerateResult> {
    await this.ensure(modelId);
    return this.request<GenerateResult>('complete', { modelId, request }, {
      signal: opts.signal,
      onEvent: (ev) => {
        if (ev.kind === 'piece') opts.onPiece?.(ev.content);
      },
    });
  }

  async embed(modelId: string, texts: string[]): Promise<number[][]> {
    await this.ensure(modelId);
    return this.request('embed', { modelId, texts });
  }

  async tokenize(modelId: string, text: string, opts: { addSpecial?: boolean; parseSpecial?: boolean } = {}): Promise<number[]> {
    await this.ensure(modelId);
    return this.request('tokenize', { modelId, text, ...opts });
  }

  async detokenize(modelId: string, tokens: number[]): Promise<string> {
    await this.ensure(modelId);
    return this.request('detokenize', { modelId, tokens });
  }

  async applyTemplate(modelId: string, request: ChatRequest): Promise<{ prompt: string; tokens: number; format: string; supportsThinking: boolean }> {
    await this.ensure(modelId);
    return this.request('applyTemplate', { modelId, request });
  }

  async saveSession(modelId: string, file: string, seq = 0): Promise<{ tokens: number }> {
    await this.ensure(modelId);
    return this.request('saveSession', { modelId, path: file, seq });
  }

  async restoreSession(modelId: string, file: string, seq = 0): Promise<{ tokens: number }> {
    await this.ensure(modelId);
    return this.request('restoreSession', { modelId, path: file, seq });
  }

  async clearSequence(modelId: string, seq = 0): Promise<void> {
    await this.ensure(modelId);
    await this.request('clearSequence', { modelId, seq });
  }

  async contextInfo(modelId: string): Promise<Record<string, unknown>> {
    await this.ensure(modelId);
    return this.request('contextInfo', { modelId });
  }

  /** llama.cpp's memory estimate for a model and load parameters, without loading the weights. */
  estimate(file: string, params: LoadParamsInput = {}, signal?: AbortSignal): Promise<Estimate> {
    return this.request('estimate', { path: file, params }, { signal });
  }

  /** llama.cpp's parameter fitting: the offload (and, with autoContext, the context) that fits. */
  fit(file: string, params: LoadParamsInput = {}, opts: { marginMiB?: number; autoContext?: boolean } = {}): Promise<FitResult> {
    return this.request('fit', { path: file, params, ...opts });
  }

  /** llama.cpp's breakdown of what a loaded model and its context allocated. */
  async memory(modelId: string): Promise<MemoryBreakdown> {
    await this.ensure(modelId);
    return this.request('memory', { modelId });
  }

  /** Stops the host for good. */
  async close(): Promise<void> {
    this.closed = true;
    const proc = this.proc;
    this.proc = undefined;
    this.ready = undefined;
    if (!proc) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve();
      }, 3000);
      proc.onExit(() => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}
