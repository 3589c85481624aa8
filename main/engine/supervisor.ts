/**
 * Supervision of the engine host process: picks the backend, starts the host and waits for `ready`
 * (bounded), watches it with a heartbeat the host answers from its JS thread, kills a host that stops
 * answering (`engine_hung`) or whose own task watchdog gave up on native work (`hung`), notices one
 * that died (`engine_crashed`), and starts a fresh one, unless it keeps dying (more than
 * `maxRestarts` starts after a crash within `restartWindowMs`: `engine_unavailable` until the oldest
 * of them is older than the window).
 */
import fs from 'fs';
import path from 'path';
import { addonPath, backendModules } from './addon';
import { BackendChoice, BackendPin, chooseBackend, nodeProbeSpawner, ProbeSpawner } from './backends';
import { ENGINE_LOG_DIR_ENV, Logger, silentLogger } from '../logging';
import { untilAborted } from '../abort';
import { HostChannel, HostSpawner, STDERR_TAIL_CHARS, defaultHostScript, nodeSpawner } from './channel';
import { abortedError, EngineError, HungMessage } from './protocol';
import { probeAll, RPC_SERVERS_ENV, rpcLostLine, RpcProbe } from './rpc';
import { collectMarks, makeMarksDir, RENDER_MARKS_ENV, renderCrashFile } from './render-marks';

/** libuv threads of an engine host (UV_THREADPOOL_SIZE), unless the environment sets it. */
export const HOST_THREADPOOL_SIZE = 16;

export interface SupervisorOptions {
  hostScript?: string;
  spawner?: HostSpawner;
  /** starts the backend probes (default: child processes of this Node; Electron passes utilityProcess) */
  probeSpawner?: ProbeSpawner;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** folder for the host's engine.log (llama.cpp's log included); without it llama.cpp's lines come to `logger` */
  logDir?: string;
  /** host starts after a crash allowed within `restartWindowMs` before the client gives up (a crash loop) */
  maxRestarts?: number;
  /** the window `maxRestarts` counts in; once the oldest start in it is older, a request starts the host again */
  restartWindowMs?: number;
  /** how long a starting host may take to say `ready` */
  readyTimeoutMs?: number;
  /** how often the host is asked to answer from its JS thread */
  heartbeatIntervalMs?: number;
  /** how long the host may stay silent before it is deemed hung, killed and restarted */
  heartbeatTimeoutMs?: number;
  /** which backend the host loads: probed in throwaway processes first ('auto': CUDA → Metal → Vulkan → CPU) */
  backend?: BackendPin;
  /** folder of the backend modules (default: next to the addon) */
  backendDir?: string;
  /** remote devices (rpc-server endpoints, host:port): each host start probes them and registers those that answer (rpc.ts) */
  rpcServers?: string[];
  /** how long the probe of one endpoint may take (rpc.ts RPC_PROBE_TIMEOUT_MS) */
  rpcProbeTimeoutMs?: number;
}

/** The production bounds; tests pass shorter ones. */
export const SUPERVISOR_DEFAULTS = {
  maxRestarts: 5,
  restartWindowMs: 60_000,
  readyTimeoutMs: 60_000,
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 30_000,
} as const;

export class HostSupervisor {
  /** the current host (starting or ready) */
  private channel: HostChannel | undefined;
  private ready: Promise<HostChannel> | undefined;
  private readonly restarts: number[] = [];
  /** the last host died without being asked to: the next start is a restart, and throttled */
  private afterCrash = false;
  private closed = false;
  private choice: BackendChoice | undefined;
  private choosing: Promise<BackendChoice> | undefined;
  /** what the last probe of the remote endpoints found */
  private rpc: RpcProbe[] | undefined;
  /** the last probe is for the host about to start (every start probes again: an endpoint may have gone or come back) */
  private rpcFresh = false;
  readonly hostScript: string;
  private readonly spawner: HostSpawner;
  private readonly logger: Logger;
  private readonly bounds: typeof SUPERVISOR_DEFAULTS;
  /** fires after the host died or was killed as hung; the argument describes how */
  onCrash?: (reason: string) => void;
  /** fires when a host's task watchdog gave up on native work (before the host is killed and restarted) */
  onHung?: (msg: HungMessage) => void;
  /**
   * fires when a host died of a stack overflow while the chat template of this model file (its own)
   * rendered a chat (render-marks.ts), before its pending requests fail; `host` is the host that died
   */
  onRenderCrash?: (file: string, host: HostChannel) => void;

  constructor(private readonly opts: SupervisorOptions = {}) {
    this.hostScript = opts.hostScript ?? defaultHostScript();
    this.spawner = opts.spawner ?? nodeSpawner;
    this.logger = opts.logger ?? silentLogger;
    const pick = <K extends keyof typeof SUPERVISOR_DEFAULTS>(k: K) => opts[k] ?? SUPERVISOR_DEFAULTS[k];
    this.bounds = {
      maxRestarts: pick('maxRestarts'),
      restartWindowMs: pick('restartWindowMs'),
      readyTimeoutMs: pick('readyTimeoutMs'),
      heartbeatIntervalMs: pick('heartbeatIntervalMs'),
      heartbeatTimeoutMs: pick('heartbeatTimeoutMs'),
    } as typeof SUPERVISOR_DEFAULTS;
  }

  get pid(): number | undefined {
    return this.channel?.pid;
  }

  /** The host's channel when one is running (ready or starting); starts nothing. */
  get current(): HostChannel | undefined {
    return this.channel;
  }

  get backendChoice(): BackendChoice | undefined {
    return this.choice;
  }

  /** Pins another backend (or 'auto'): the host restarts with it. */
  async setBackend(pin: BackendPin): Promise<BackendChoice> {
    (this.opts as { backend?: BackendPin }).backend = pin;
    this.choice = undefined;
    this.choosing = undefined;
    const ch = this.channel;
    if (ch) await this.stop(ch, 'SIGTERM');
    await this.start();
    return this.choice!;
  }

  /** What the last probe of the remote endpoints found (the host has the ones that answered). */
  get rpcServers(): RpcProbe[] {
    return this.rpc ?? (this.opts.rpcServers ?? []).map((endpoint) => ({ endpoint, ok: false as const, error: 'not probed yet (the engine has not started)' }));
  }

  /** Sets the remote endpoints: the host restarts with those that answer a probe; resolves with what the probe found. */
  async setRpcServers(endpoints: string[]): Promise<RpcProbe[]> {
    (this.opts as { rpcServers?: string[] }).rpcServers = [...endpoints];
    this.rpc = undefined;
    this.rpcFresh = false;
    const ch = this.channel;
    if (ch) await this.stop(ch, 'SIGTERM');
    await this.start();
    return this.rpcServers;
  }

  private choose(): Promise<BackendChoice> {
    if (this.choice) return Promise.resolve(this.choice);
    this.choosing ??= (async () => {
      const dir = this.opts.backendDir ?? path.dirname(addonPath());
      // the compute backends to choose from: ggml-rpc is a way to reach other machines' devices, loaded
      // only when remote devices are set (rpc.ts), never a backend to pick
      const available = [...backendModules(dir).keys()].filter((b) => b !== 'rpc');
      const env = { ...process.env, ...this.opts.env };
      const c = await chooseBackend(this.opts.probeSpawner ?? nodeProbeSpawner, this.hostScript, env, available, this.opts.backend ?? 'auto');
      this.logger.info(`engine backend: ${c.reason}`);
      this.choice = c;
      return c;
    })();
    return this.choosing;
  }

  /**
   * Starts the host if none is running; resolves with its channel once it said it is ready. An abort
   * of `signal` ends this caller's wait at once (rejecting with `aborted`); the start goes on.
   */
  start(signal?: AbortSignal): Promise<HostChannel> {
    return untilAborted(this.startShared(), signal, { reason: abortedError });
  }

  private startShared(): Promise<HostChannel> {
    if (this.closed) return Promise.reject(new EngineError('engine_closed', 'the engine was shut down'));
    if (this.ready) return this.ready;
    if (!this.choice && fs.existsSync(this.hostScript)) return this.startAfter(() => this.choose());
    if (!this.rpcFresh && (this.opts.rpcServers ?? []).length && fs.existsSync(this.hostScript)) {
      // every host start probes the endpoints: ggml-rpc would end the host on one that does not answer
      return this.startAfter(async () => {
        const r = await probeAll(this.opts.rpcServers!, this.opts.rpcProbeTimeoutMs);
        this.rpc = r;
        this.rpcFresh = true;
        for (const x of r) if (!x.ok) this.logger.warn(`remote device left out: ${x.error}`);
      });
    }
    return this.spawnHost();
  }

  /** Runs `before`, then starts the host as startShared does; callers meanwhile share the same wait. */
  private startAfter(before: () => Promise<unknown>): Promise<HostChannel> {
    const p: Promise<HostChannel> = before().then(() => {
      if (this.ready === p) this.ready = undefined;
      return this.startShared();
    });
    this.ready = p;
    p.catch(() => {
      if (this.ready === p) this.ready = undefined;
    });
    return p;
  }

  private spawnHost(): Promise<HostChannel> {
    if (!fs.existsSync(this.hostScript)) {
      return Promise.reject(new EngineError('engine_unavailable', `engine host script missing: ${this.hostScript} (run npm run build:ts)`));
    }
    // only a start after a crash counts against the throttle: a host stopped on purpose (a backend
    // switch, close) was no crash
    if (this.afterCrash) {
      const now = Date.now();
      while (this.restarts.length && now - this.restarts[0] > this.bounds.restartWindowMs) this.restarts.shift();
      if (this.restarts.length >= this.bounds.maxRestarts) {
        return Promise.reject(new EngineError('engine_unavailable', 'the engine host keeps crashing; why is in main.log and engine.log (Settings → About → Logs)'));
      }
      this.restarts.push(now);
      this.afterCrash = false;
    }
    const backends = this.choice ? { HEARTH_BACKENDS: this.choice.backends.join(',') } : {};
    const rpc = this.opts.rpcServers ? { [RPC_SERVERS_ENV]: (this.rpc ?? []).filter((r) => r.ok).map((r) => r.endpoint).join(',') } : {};
    this.rpcFresh = false;
    const logDir = this.opts.logDir ? { [ENGINE_LOG_DIR_ENV]: this.opts.logDir } : {};
    let marksDir: string | undefined;
    try {
      marksDir = makeMarksDir();
    } catch (e) {
      this.logger.warn(`engine: no folder for render marks (a crash while rendering a chat template is then not told apart): ${(e as Error).message}`);
    }
    const marks = marksDir ? { [RENDER_MARKS_ENV]: marksDir } : {};
    // libuv's pool runs loads, context creation, estimates and frees: an estimate waiting for llama.cpp's
    // fitting to get its turn (native/src/llama_gate.h) holds a thread, so the host gets more than the 4
    // of the default (a value already in process.env or opts.env is kept: both are spread after it)
    const pool = { UV_THREADPOOL_SIZE: String(HOST_THREADPOOL_SIZE) };
    let proc: ReturnType<HostSpawner>;
    try {
      proc = this.spawner(this.hostScript, { ...pool, ...process.env, ...this.opts.env, ...backends, ...rpc, ...logDir, ...marks });
    } catch (e) {
      if (marksDir) collectMarks(marksDir);
      throw e;
    }
    let stderrTail = '';
    proc.onStderr?.((chunk) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    let isReady = false;
    let watchdog: NodeJS.Timeout | undefined;
    let readyTimer: NodeJS.Timeout | undefined;
    let settle!: { resolve: (ch: HostChannel) => void; reject: (e: EngineError) => void };
    const ready = new Promise<HostChannel>((resolve, reject) => (settle = { resolve, reject }));
    const ch = new HostChannel(proc, this.logger, (msg) => {
      if (isReady) return;
      isReady = true;
      clearTimeout(readyTimer);
      this.logger.info(`engine host ${msg.pid} ready (llama.cpp ${msg.llamaCommit}; backends ${msg.backends.join(', ')})`);
      watchdog = this.watch(ch);
      settle.resolve(ch);
    });
    // the host's task watchdog gave up on native work. New requests go to a new host from now on; the
    // host answers those it has right after this message (the ones concerned with the verdict's code),
    // and is killed once they came (its stuck thread keeps it from ending cleanly), or after
    // HUNG_ANSWERS_MS, when what is left fails; a new host is started when it has exited
    ch.onHung = (msg) => {
      if (ch.failed || hung.has(ch)) return;
      this.logger.error(`engine host ${proc.pid} gave up on native work (${msg.code}): ${msg.message}`);
      hung.add(ch);
      if (this.channel === ch) {
        this.channel = undefined;
        this.ready = undefined;
      }
      const err = new EngineError('engine_hung', `the engine was restarted: ${msg.message}`);
      const kill = () => {
        clearTimeout(late);
        this.detach(ch, err);
        proc.kill('SIGKILL');
      };
      const late = setTimeout(kill, HUNG_ANSWERS_MS);
      try {
        this.onHung?.(msg);
      } catch (e) {
        this.logger.error(`engine: ${(e as Error).message}`);
      }
      ch.closeWhenAnswered(err, kill);
    };
    this.channel = ch;
    this.ready = ready;
    ready.catch(() => undefined);
    readyTimer = setTimeout(() => {
      const err = new EngineError('engine_hung', `the engine host did not start within ${this.bounds.readyTimeoutMs / 1000} s`);
      this.logger.error(err.message);
      this.detach(ch, err);
      settle.reject(err);
      proc.kill('SIGKILL');
    }, this.bounds.readyTimeoutMs);
    proc.onExit((code, signal) => {
      clearTimeout(readyTimer);
      clearInterval(watchdog);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      const wasCurrent = this.channel === ch;
      // a remote device that went away ends the host (ggml-rpc aborts): its abort callback named the endpoint
      const lost = rpcLostLine(stderrTail);
      // a host whose stack overflowed mid-render (not one killed: stopped, closed, or hung, which the
      // watchdog judged; not one that lost a remote device)
      const marked = marksDir ? collectMarks(marksDir) : [];
      const rendering = this.closed || stopping.has(ch) || hung.has(ch) || lost ? undefined : renderCrashFile(marked, { code, signal });
      if (rendering) {
        ch.renderCrash = rendering;
        try {
          this.onRenderCrash?.(rendering, ch);
        } catch (e) {
          this.logger.error(`engine: ${(e as Error).message}`);
        }
      }
      const during = rendering ? ` while rendering a chat with the chat template of "${path.basename(rendering)}"` : '';
      this.detach(
        ch,
        new EngineError('engine_crashed', lost ? `the engine host stopped (${how}): ${lost}; the engine restarts with the devices that still answer` : `the engine host stopped (${how})${during}`),
      );
      settle.reject(ch.failed!);
      if (this.closed || stopping.has(ch)) return;
      this.afterCrash = true;
      this.logger.error(`engine host stopped (${how})`, {
        hostPid: proc.pid,
        exitCode: code,
        signal,
        lastRequest: ch.lastRequest ?? null,
        failedRequests: ch.failedRequests,
        stderrTail: stderrTail.trim() || undefined,
      });
      this.onCrash?.(how);
      // start a fresh host now so the next request finds it warm; models load again on demand. A host
      // that never became ready is not restarted here: the next request tries again (and is throttled).
      if (isReady && (wasCurrent || hung.has(ch)) && !this.channel) {
        this.startShared().catch((e: Error) => this.logger.error(`engine restart failed: ${e.message}`));
      }
    });
    return ready;
  }

  /** Forgets `ch` as the current host and fails what is pending on it. */
  private detach(ch: HostChannel, err: EngineError): void {
    if (this.channel === ch) {
      this.channel = undefined;
      this.ready = undefined;
    }
    ch.fail(err);
  }

  /**
   * The heartbeat: a ping every interval; a host silent for longer than the bound is hung. The verdict
   * waits for one turn of main's event loop (setImmediate), so answers queued while main itself was
   * busy are read first and a slow main never condemns a live host.
   */
  private watch(ch: HostChannel): NodeJS.Timeout {
    const { heartbeatIntervalMs: every, heartbeatTimeoutMs: bound } = this.bounds;
    const timer = setInterval(() => {
      if (Date.now() - ch.lastHeard <= bound) {
        ch.ping();
        return;
      }
      setImmediate(() => {
        if (ch.failed || Date.now() - ch.lastHeard <= bound) return;
        const err = new EngineError('engine_hung', `the engine host stopped answering for ${Math.round((Date.now() - ch.lastHeard) / 1000)} s; it was restarted`);
        this.logger.error(err.message);
        hung.add(ch);
        this.detach(ch, err);
        ch.proc.kill('SIGKILL');
      });
    }, every);
    timer.unref();
    return timer;
  }

  /** Stops `ch` on purpose (no restart); resolves once it exited (SIGKILL after 3 s). */
  private stop(ch: HostChannel, signal: NodeJS.Signals): Promise<void> {
    stopping.add(ch);
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ch.proc.kill('SIGKILL');
        resolve();
      }, 3000);
      ch.proc.onExit(() => {
        clearTimeout(t);
        resolve();
      });
      ch.proc.kill(signal);
    });
  }

  /** Stops the host for good. */
  async close(): Promise<void> {
    this.closed = true;
    const ch = this.channel;
    this.channel = undefined;
    this.ready = undefined;
    if (ch) await this.stop(ch, 'SIGTERM');
  }
}

/** channels killed as hung, and channels stopped on purpose (not restarted by their exit handler) */
const hung = new WeakSet<HostChannel>();
/** how long a host that gave up has to send the answers it owes (it ends itself after 2 s) */
const HUNG_ANSWERS_MS = 1500;
const stopping = new WeakSet<HostChannel>();
