/**
 * The API server as the app runs it: its settings (the store's `apiServer`), started with the app when
 * enabled and by `hearth serve --api`, restarted when its settings change, and its status (phase, URL,
 * the API's models, the last requests) for the settings page, pushed on every change.
 */
import crypto from 'crypto';
import { ApiServerSettings, type ApiServerSettingsInput, type ApiStatusDTO, keyNeeded } from '../ipc/api';
import { issuesText } from '../engine/methods';
import { ApiError } from './errors';
import { ApiModels, type ApiModelsDeps } from './models';
import { ApiServer } from './server';
import { isLoopbackHost } from '../browser/guard';

/** What the API's models need (models.ts), and the saved settings, the version and the status event. */
export interface ApiServiceDeps extends Pick<ApiModelsDeps, 'engine' | 'entries' | 'chatModel' | 'loadSettings' | 'guardrail' | 'logger' | 'timers'> {
  /** the saved settings, and saving them */
  read: () => ApiServerSettings;
  write: (s: ApiServerSettings) => void;
  version: string;
  /** the status changed (the api.changed event) */
  emit?: (s: ApiStatusDTO) => void;
}

/** A new API key: 32 random bytes, URL-safe, with a prefix that says whose it is. */
export function newApiKey(): string {
  return `hearth-${crypto.randomBytes(32).toString('base64url')}`;
}

export class ApiService {
  private server: ApiServer | null = null;
  private phase: ApiStatusDTO['phase'] = 'stopped';
  private error: string | null = null;
  /** host and port given for this run (`hearth serve --api-host/--api-port`), over the saved ones */
  private overrides: Partial<Pick<ApiServerSettings, 'host' | 'port'>> = {};
  private readonly models: ApiModels;
  /** one start or stop at a time */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ApiServiceDeps) {
    const { engine, entries, chatModel, loadSettings, guardrail, logger, timers } = deps;
    this.models = new ApiModels({ engine, entries, chatModel, loadSettings, guardrail, logger, timers, settings: () => this.settings(), onChange: () => this.changed() });
  }

  /** The settings this run uses: the saved ones with this run's host and port. */
  settings(): ApiServerSettings {
    return { ...this.deps.read(), ...this.overrides };
  }

  status(): ApiStatusDTO {
    return {
      phase: this.phase,
      url: this.server && this.phase === 'running' ? this.server.url : null,
      error: this.error,
      settings: this.settings(),
      models: this.models.status(),
      requests: this.server?.requests() ?? [],
    };
  }

  private changed(): void {
    try {
      this.deps.emit?.(this.status());
    } catch (e) {
      this.deps.logger.warn(`api: status could not be sent: ${(e as Error).message}`);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Starts the server with the saved settings (and `overrides` for this run). Settings that need a key
   * (keyNeeded: a bind beyond loopback, the CORS origin `*`) without one get one generated and saved
   * first. Resolves with the status (phase failed and the reason when it could not listen).
   */
  start(overrides: Partial<Pick<ApiServerSettings, 'host' | 'port'>> = {}): Promise<ApiStatusDTO> {
    return this.serial(async () => {
      this.overrides = { ...this.overrides, ...overrides };
      await this.stopNow();
      let s = this.settings();
      const why = keyNeeded(s, isLoopbackHost(s.host));
      if (why && !s.apiKey) {
        this.deps.write({ ...this.deps.read(), apiKey: newApiKey() });
        s = this.settings();
        this.deps.logger.info(`api: generated an API key (${why} requires one)`);
      }
      this.phase = 'starting';
      this.error = null;
      this.changed();
      const server = new ApiServer({ settings: s, models: this.models, engine: this.deps.engine, version: this.deps.version, logger: this.deps.logger, onRequest: () => this.changed() });
      try {
        await server.listen();
        this.server = server;
        this.phase = 'running';
        this.deps.logger.info(`api: listening on ${server.url}`);
      } catch (e) {
        this.phase = 'failed';
        this.error = (e as Error).message;
        this.deps.logger.warn(`api: ${this.error}`);
      }
      this.changed();
      return this.status();
    });
  }

  private async stopNow(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await server.close();
    this.phase = 'stopped';
  }

  /** Stops the server (API-loaded models stay until their time-to-live, or close()). */
  stop(): Promise<ApiStatusDTO> {
    return this.serial(async () => {
      await this.stopNow();
      this.error = null;
      this.changed();
      return this.status();
    });
  }

  /**
   * Saves changed settings (checked whole: a bad value is refused and nothing is saved); `enabled`
   * starts or stops the server, any other change restarts a running one. `regenerateKey` makes a new key.
   */
  async update(patch: Partial<ApiServerSettingsInput>, opts: { regenerateKey?: boolean } = {}): Promise<ApiStatusDTO> {
    const r = ApiServerSettings.safeParse({ ...this.deps.read(), ...patch, ...(opts.regenerateKey ? { apiKey: newApiKey() } : {}) });
    if (!r.success) throw new ApiError(400, 'invalid_input', `API server settings: ${issuesText(r.error)}`);
    const merged = r.data;
    if (keyNeeded(merged, isLoopbackHost(merged.host)) && !merged.apiKey) merged.apiKey = newApiKey();
    this.deps.write(merged);
    // a saved host or port replaces this run's override
    for (const k of ['host', 'port'] as const) if (k in patch) delete this.overrides[k];
    if (!merged.enabled) return this.stop();
    // the key, allowed hosts, CORS origins and model settings apply to the running server at once: a
    // restart would cut every stream in flight; a new bind (host, port, prefix, body limit) restarts it
    const running = this.server;
    const s = this.settings();
    if (running && this.phase === 'running' && running.sameBind(s)) {
      running.configure(s);
      this.changed();
      return this.status();
    }
    return this.start();
  }

  /** Starts the server when its saved settings say so (the app starting). */
  async startIfEnabled(): Promise<void> {
    if (this.deps.read().enabled) await this.start();
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      await this.stopNow();
      await this.models.close();
    });
  }
}
