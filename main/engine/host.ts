/**
 * The engine host: the only process that loads the native addon. Started by EngineClient with
 * child_process.fork (Node) or utilityProcess.fork (Electron); both give it a message port (the
 * process entry, probe mode and the port are in host-entry.ts). This file is its message loop: it
 * takes requests (each validated and run by its method's handler, host-methods.ts, on the models
 * HostModels holds, host-models.ts), answers each once (host-requests.ts), cancels what the client
 * cancels, and answers the client's heartbeat. Its task watchdog (watchdog.ts) gives up on native
 * work that hangs: the requests concerned are answered, the client is told (`hung`), and the host ends
 * itself so the client starts a fresh one.
 */
import path from 'path';
import { NativeAddon } from './addon';
import { ClientMessage, HostMessage } from './protocol';
import { llamaLineJoiner, Logger } from '../logging';
import { dispatch, Handlers, createHandlers } from './host-methods';
import { HostModels } from './host-models';
import { removeStaleLinkDirs } from './model-file';
import { HostRequests, Running } from './host-requests';
import { stopVerdict, TASK_BOUNDS, TaskBounds, taskBounds, TaskWatchdog, Verdict } from './watchdog';

/** Methods a cancel does not bound with the stop watchdog (see onMessage). */
const UNBOUNDED_ON_CANCEL: ReadonlySet<string> = new Set(['estimate', 'fit']);

/** The transport the host talks over: process IPC under Node, parentPort under Electron. */
export interface HostPort {
  send(msg: HostMessage): void;
  onMessage(fn: (msg: unknown) => void): void;
}

export class EngineHost {
  /** every request in progress, by id: a `cancel` message aborts its signal */
  private readonly requests: HostRequests;
  private readonly models: HostModels;
  private readonly handlers: Handlers;
  private readonly watchdog: TaskWatchdog;
  /** the watchdog gave up on this host: it answers nothing more and ends */
  private dying = false;

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
    this.models = new HostModels(addon, (id, progress) => port.send({ type: 'event', id, event: { kind: 'progress', progress } }));
    this.watchdog = new TaskWatchdog(() => this.addon.activities(), bounds, (v) => this.giveUp(v), (file) => this.models.loadingSize(file));
    this.handlers = createHandlers({ addon, models: this.models, watchdog: this.watchdog, logger });
    this.requests = new HostRequests(port);
  }

  private log(level: 'error' | 'warn', text: string): void {
    if (this.logger) this.logger[level](text);
    else this.port.send({ type: 'log', level, text: `${text}\n` });
  }

  start(): void {
    void removeStaleLinkDirs();
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
      // a cancelled request must end soon; one stuck in native code is given up on with the host. Not an
      // estimate or fit: it may wait for other work to reach a point where fitting can run alone
      // (native/src/llama_gate.h), and once it runs, the task watchdog watches it (activity "fit")
      if (UNBOUNDED_ON_CANCEL.has(r.method)) return;
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
    const emit = (event: unknown) => this.port.send({ type: 'event', id: msg.id, event });
    dispatch(this.handlers, msg.method, msg.params, { id: msg.id, signal: r.ac.signal, emit }).then(
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
    return r.modelId === undefined ? undefined : this.models.fileOf(r.modelId);
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
    const modelIds = new Set<string>([...(v.modelIds ?? []), ...this.models.idsOn(files)]);
    this.log('error', `engine host: giving up: ${v.code}: ${v.message}`);
    // a request naming a file is concerned when it is that file (a load of another file waiting for the
    // one that hangs is not); one naming a model, when it is a model concerned
    // `hung` first: the client then sends new requests to a new host, and waits for these answers
    this.port.send({ type: 'hung', code: v.code, message: v.message, modelIds: [...modelIds], files: [...files], refuseFiles: v.refuseFiles === true });
    this.requests.answerAll(v, (r) => (r.file !== undefined ? files.has(r.file) : r.modelId !== undefined && modelIds.has(r.modelId)));
    // the client kills this process when it reads `hung`; should that not come, the host ends itself
    // (exit() would run native destructors under the thread that hangs: SIGKILL ends it outright)
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000);
  }
}
