/**
 * One engine host process and the request channel over it: request ids, pending requests, streamed
 * events, cancellation and heartbeats. A channel lives as long as its process; when the process dies
 * or hangs, `fail` rejects everything pending and every later request with the same error. Every
 * result and event is checked against its method's schema (methods.ts): a result that does not fit
 * rejects the call with `internal` (host and client disagree: a bug, not a crash, and the host goes
 * on serving); an event that does not fit is dropped with a warning.
 */
import { fork } from 'child_process';
import path from 'path';
import { llamaLineJoiner, Logger } from '../logging';
import { toCode } from '../errors/catalogue';
import { projectRoot } from '../paths';
import { abortedError, EngineError, HostMessage, HungMessage } from './protocol';
import { EventOf, issuesText, Method, METHODS, ParamsIn, ResultOf } from './methods';

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
  // a send racing the child's death reports EPIPE here; the exit handler reports the death itself
  child.on('error', () => undefined);
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

/** A result that does not fit its method's schema (code `internal`): the host did the work, main cannot use it. */
export class MalformedResultError extends EngineError {
  constructor(method: Method, why: string) {
    super('internal', `the engine host answered ${method} with a malformed result: ${why}`);
  }
}

export interface RequestOptions<M extends Method = Method> {
  /** what the method streams before its response (methods.ts: a load's progress, a generation's pieces) */
  onEvent?: (ev: EventOf<M>) => void;
  signal?: AbortSignal;
}

interface Pending {
  method: Method;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?: (ev: unknown) => void;
  /** the caller withdrew it (a cancel was sent) */
  cancelled: boolean;
}

let nextRequestId = 1;

/** hosts this process has started a channel to (numbering them: an ended host's pid may be reused) */
let channels = 0;

export class HostChannel {
  /** this host's number among those this process started */
  readonly serial = ++channels;
  /** the model file whose own chat template this host died rendering (render-marks.ts), when it did */
  renderCrash: string | undefined;
  private readonly pending = new Map<number, Pending>();
  private failure: EngineError | undefined;
  private readonly llamaLog = llamaLineJoiner((level, line) => this.logger[level](`llama: ${line}`));
  /** requests failed because the host died or hung */
  failedRequests = 0;
  /** the last request sent to the host, named in the log when the host dies */
  lastRequest: { id: number; method: Method } | undefined;
  /** when the host last proved its JS thread alive (any message it sent) */
  lastHeard = Date.now();
  /** the host's task watchdog gave up (the host answered what it could and ends) */
  onHung?: (msg: HungMessage) => void;

  constructor(
    readonly proc: HostProcess,
    private readonly logger: Logger,
    private readonly onReady: (msg: Extract<HostMessage, { type: 'ready' }>) => void,
  ) {
    proc.onMessage((raw) => {
      try {
        this.onMessage(raw);
      } catch (e) {
        this.logger.error(`engine channel: ${(e as Error).message}`);
      }
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Why the channel stopped (the host died or hung), or undefined while it works. */
  get failed(): EngineError | undefined {
    return this.failure;
  }

  /** the host gave up (`hung`): it takes no new request, and answers those it has */
  private closing: EngineError | undefined;
  private drained: (() => void) | undefined;

  /**
   * The host gave up on native work: later requests are rejected with `err` at once, and `fn` runs once
   * every pending request has its answer (at once when none is pending).
   */
  closeWhenAnswered(err: EngineError, fn: () => void): void {
    this.closing ??= err;
    this.drained = fn;
    this.checkDrained();
  }

  private checkDrained(): void {
    if (!this.drained || this.pending.size > 0) return;
    const fn = this.drained;
    this.drained = undefined;
    fn();
  }

  private onMessage(raw: unknown): void {
    this.lastHeard = Date.now();
    const parsed = HostMessage.safeParse(raw);
    if (!parsed.success) {
      this.logger.warn(`engine host sent an invalid message: ${parsed.error.message}`);
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'ready') return this.onReady(msg);
    if (msg.type === 'pong') return;
    if (msg.type === 'log') return this.llamaLog(msg.level, msg.text);
    if (msg.type === 'hung') return this.onHung?.(msg);
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'event') {
      const spec = METHODS[p.method];
      const ev = 'event' in spec ? spec.event.safeParse(msg.event) : undefined;
      if (ev?.success) p.onEvent?.(ev.data);
      else this.logger.warn(`engine host sent an invalid ${p.method} event${ev ? `: ${issuesText(ev.error)}` : ''}`);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new EngineError(toCode(msg.error.code, 'engine', 'native'), msg.error.message));
    this.checkDrained();
  }

  /**
   * Sends one request. An abort before it is sent rejects with `aborted` and sends nothing; after,
   * it asks the host to cancel (a generation then resolves with what it wrote, stopReason `aborted`).
   */
  request<M extends Method>(method: M, params: ParamsIn<M>, opts: RequestOptions<M> = {}): Promise<ResultOf<M>> {
    const refused = this.failure ?? this.closing;
    if (refused) return Promise.reject(refused);
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortedError());
    const id = nextRequestId++;
    this.lastRequest = { id, method };
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const onAbort = () => {
        pending.cancelled = true;
        this.proc.send({ type: 'cancel', id });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const t0 = Date.now();
      const done = () => signal?.removeEventListener('abort', onAbort);
      const pending: Pending = {
        method,
        cancelled: false,
        resolve: (v) => {
          const malformed = (why: string) => pending.reject(new MalformedResultError(method, why));
          let result;
          try {
            result = METHODS[method].result.safeParse(v);
          } catch (e) {
            return malformed((e as Error).message);
          }
          if (!result.success) return malformed(issuesText(result.error));
          done();
          this.logger.debug(`engine ${method} #${id} done`, { ms: Date.now() - t0 });
          resolve(result.data as ResultOf<M>);
        },
        reject: (e) => {
          done();
          const code = (e as EngineError).code;
          this.logger[code === 'aborted' ? 'debug' : code === 'internal' ? 'error' : 'warn'](`engine ${method} #${id} failed: ${code}`, { ms: Date.now() - t0 });
          reject(e);
        },
        onEvent: opts.onEvent
          ? (ev) => {
              try {
                opts.onEvent!(ev as EventOf<M>);
              } catch (e) {
                this.logger.error(`engine event listener (${method}): ${(e as Error).message}`);
              }
            }
          : undefined,
      };
      this.pending.set(id, pending);
      try {
        this.proc.send({ type: 'request', id, method, params });
      } catch (e) {
        // params the channel cannot carry (nested past its serializer's depth): refused, and not left pending
        this.pending.delete(id);
        pending.reject(new EngineError('invalid_argument', `the request could not be sent to the engine: ${(e as Error).message}`));
        this.checkDrained();
      }
    });
  }

  /** Asks the host to answer from its JS thread (the watchdog's heartbeat). */
  ping(): void {
    this.proc.send({ type: 'ping' });
  }

  /**
   * Rejects every pending request, and every later one, with `err` (the first failure wins); a request
   * its caller had withdrawn ends as `aborted`, which is what the caller asked for. Returns how many
   * were pending.
   */
  fail(err: EngineError): number {
    this.failure ??= err;
    let failed = 0;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(p.cancelled ? abortedError() : this.failure);
      failed++;
    }
    this.failedRequests += failed;
    return failed;
  }
}
