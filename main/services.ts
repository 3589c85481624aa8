/**
 * The services main owns, built from their dependencies, shared by the Electron face and browser
 * mode. handle() is the one entry for the IPC contract: it validates the request, dispatches to the
 * channel's handler, and validates the response. Events go to every subscriber (windows, sockets).
 */
import { randomUUID } from 'crypto';
import { EngineClient } from './engine/client';
import { Logger, RepeatLimiter } from './logging';
import { toCode } from './errors/catalogue';
import { AppInfo, Channel, Diagnostics, contract, EventName, EventOf, events, IpcError, IpcReply, isChannel, RequestOf, ResponseOf } from './ipc/contract';
import { toReply } from './ipc/reply';
import { collectDiagnostics } from './diagnostics';
import { DataPaths } from './paths';

export interface ServicesDeps {
  engine: EngineClient;
  paths: DataPaths;
  appVersion: string;
  logger: Logger;
}

type Handler<C extends Channel> = (req: z_infer_request<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;
// the parsed (defaults applied) request type of a channel
type z_infer_request<C extends Channel> = import('zod').infer<(typeof contract)[C]['request']>;
export type Handlers = { [C in Channel]?: Handler<C> };

export type EventListener = <E extends EventName>(event: E, payload: EventOf<E>) => void;

export class Services {
  /** app.info's instance: new with each composed App */
  private readonly instance = randomUUID();
  /** set by close (an App closing for a restart or at quit): calls then answer `closed` */
  private closed = false;
  private readonly handlers: Handlers = {};
  private readonly listeners = new Set<EventListener>();
  /** failed calls' log lines, per (channel, code): a page flooding bad calls cannot fill the log */
  private readonly failures: RepeatLimiter;

  constructor(private readonly deps: ServicesDeps) {
    this.failures = new RepeatLimiter(deps.logger);
    this.register({ 'app.info': () => this.appInfo(), 'app.diagnostics': () => this.diagnostics() });
  }

  get engine(): EngineClient {
    return this.deps.engine;
  }

  get paths(): DataPaths {
    return this.deps.paths;
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  /** Adds channel handlers (each feature service registers its own). */
  register(h: Handlers): void {
    Object.assign(this.handlers, h);
  }

  /** The channels with a handler (docs/architecture.md lists who registers each; a test compares). */
  registered(): Channel[] {
    return (Object.keys(this.handlers) as Channel[]).sort();
  }

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit<E extends EventName>(event: E, payload: EventOf<E>): void {
    const checked = events[event].parse(payload) as EventOf<E>;
    for (const l of this.listeners) {
      try {
        l(event, checked);
      } catch (e) {
        this.deps.logger.warn(`event listener failed: ${(e as Error).message}`);
      }
    }
  }

  async appInfo(): Promise<AppInfo> {
    const base = {
      appVersion: this.deps.appVersion,
      dataDir: this.deps.paths.root,
      logsDir: this.deps.paths.logs,
      canOpenLogsFolder: this.handlers['app.openLogsFolder'] !== undefined,
      instance: this.instance,
    };
    try {
      const [v, devices] = await Promise.all([this.deps.engine.version(), this.deps.engine.devices()]);
      return { ...base, llamaCommit: v.llamaCommit, backends: v.backends, devices };
    } catch (e) {
      return { ...base, llamaCommit: 'unavailable', backends: [], devices: [], engineError: (e as Error).message };
    }
  }

  async diagnostics(): Promise<Diagnostics> {
    return collectDiagnostics(await this.appInfo(), this.deps.engine);
  }

  /**
   * Validates and dispatches one IPC call. Every failure is an IpcError whose code is one of
   * IPC_ERROR_CODES: a store or engine error keeps its code when the contract knows it; anything
   * else is `internal` (a bug, logged as an error).
   */
  async handle(channel: string, payload: unknown): Promise<unknown> {
    if (!isChannel(channel)) throw new IpcError('unknown_channel', `unknown channel ${String(channel).slice(0, 100)}`);
    const spec = contract[channel];
    const req = spec.request.safeParse(payload ?? {});
    if (!req.success) throw new IpcError('invalid_input', `${channel}: ${req.error.issues.map((i) => `${i.path.join('.') || 'payload'} ${i.message}`).join('; ')}`);
    const handler = this.handlers[channel] as Handler<typeof channel> | undefined;
    if (!handler) throw new IpcError('unknown_channel', `${channel} is not available`);
    if (this.closed) throw new IpcError('closed', `${channel}: Hearth is restarting or closing; this call was not done`);
    const t0 = Date.now();
    try {
      const result = spec.response.parse(await handler(req.data as never));
      this.deps.logger.debug(`ipc ${channel}`, { ms: Date.now() - t0 });
      return result;
    } catch (e) {
      const err = toIpcError(e);
      // the code and timing only: a message may quote what the user typed (debug has it)
      const level = err.code === 'internal' ? 'error' : 'warn';
      if (this.failures.log(`${channel} ${err.code}`, level, `ipc ${channel} failed`, { code: err.code, ms: Date.now() - t0 }, { code: err.code })) {
        this.deps.logger.debug(`ipc ${channel} failed: ${err.message}`);
      }
      throw err;
    }
  }

  /** Writes the count of failure lines still held back (at shutdown). */
  close(): void {
    this.closed = true;
    this.failures.flush();
  }

  /** handle() settled into the reply every face sends (Electron's IPC, the WebSocket); never rejects. */
  call(channel: string, payload: unknown): Promise<IpcReply> {
    return toReply(() => this.handle(channel, payload));
  }
}

/** The IpcError an error crossing IPC becomes (its own code when the catalogue lets it cross IPC, else `internal`). */
export function toIpcError(e: unknown): IpcError {
  if (e instanceof IpcError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new IpcError(toCode((e as { code?: unknown } | null)?.code, 'ipc'), message);
}

export type { RequestOf };
