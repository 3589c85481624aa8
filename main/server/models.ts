/**
 * The models the API serves: the library's models under their names, loaded just in time with their
 * saved load settings (under engine ids of their own, `api:<path>`, beside the chat's model), each with
 * a SlotPool of `parallel` KV slots, and unloaded after `modelTtlMinutes` without requests. A change of
 * the slots or of the model's load settings applies once the model is idle: it loads again. The timer is
 * a parameter, so tests control time.
 */
import path from 'path';
import type { EngineClient } from '../engine/client';
import type { LoadParamsInput, ModelMetadata } from '../engine/protocol';
import type { ApiServerSettings } from '../ipc/api';
import type { LibraryModelDTO } from '../ipc/contract';
import type { Logger } from '../logging';
import { loadableRole, sameLoadSettings, type AdapterEntry } from '../params';
import { planLoad } from '../models/fit';
import { loadPaired, ProjectorPicker } from '../models/projector-pick';
import { ApiError } from './errors';
import { busyError, SlotPool, type Slot } from './slots';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ApiModelsDeps {
  engine: EngineClient;
  /** the library's models (folder and references) */
  entries: () => Promise<LibraryModelDTO[]>;
  /** the model the chat has loaded (a request naming no model may use it), null: none */
  chatModel: () => string | null;
  /** a model's saved load settings */
  loadSettings: (file: string) => LoadParamsInput;
  guardrail: () => { mode: 'off' | 'warn' | 'strict'; marginMiB: number };
  settings: () => ApiServerSettings;
  logger: Logger;
  timers?: Timers;
  now?: () => number;
  /** called when what `status()` shows changed (a load, an unload, a request starting or ending) */
  onChange?: () => void;
}

/** A model the API named, as /v1/models lists it. */
export interface ApiModelEntry {
  /** the name clients send (the file name without .gguf; a relative path where two files share it) */
  name: string;
  path: string;
  size: number;
  loaded: boolean;
}

interface Loaded {
  name: string;
  path: string;
  modelId: string;
  pool: SlotPool;
  metadata: ModelMetadata | null;
  /** the LoRA adapters it was loaded with (its load settings'; an adapter's id is its index) */
  loraAdapters: AdapterEntry[];
  /** its load settings as it was loaded with them (servedSettings; null: not loaded yet) */
  loadedWith: LoadParamsInput | null;
  /** the load in flight, shared by every request waiting for it */
  loading: Promise<void> | null;
  active: number;
  timer: unknown;
  unloadAt: number | null;
  /** when its last use ended (ms; its load, before any): its time-to-live counts from here */
  idleSince: number;
}

/** What a request holds while it runs on a model. */
export interface Lease {
  name: string;
  path: string;
  modelId: string;
  metadata: ModelMetadata;
  /** the LoRA adapters the model was loaded with (a request's `lora` names them by index) */
  loraAdapters: AdapterEntry[];
  slot: Slot;
  /** gives the slot back; `key`: what the slot's cache holds now */
  release(key?: string): void;
}

const MODEL_ID_PREFIX = 'api:';
/** The engine id the API loads a library model under (beside the chat's own load of it). */
export const apiModelId = (modelPath: string) => MODEL_ID_PREFIX + modelPath;

export class ApiModels {
  /** each model's projector when its settings choose none */
  private readonly projectors = new ProjectorPicker();
  private readonly models = new Map<string, Loaded>();
  private readonly timers: Timers;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly deps: ApiModelsDeps) {
    this.timers = deps.timers ?? realTimers;
    this.now = deps.now ?? Date.now;
  }

  /** The library's models under the names clients use, each marked loaded when the API holds it. */
  async list(): Promise<ApiModelEntry[]> {
    // projectors and adapters go with a model, and are never served by themselves
    const entries = (await this.deps.entries()).filter((e) => !e.missing && loadableRole(e.role));
    const count = new Map<string, number>();
    for (const e of entries) count.set(e.name, (count.get(e.name) ?? 0) + 1);
    return entries.map((e) => {
      // two files of one name: each by its path (clients may send either form)
      const name = (count.get(e.name) ?? 0) > 1 ? e.path : e.name;
      const m = this.models.get(e.path);
      return { name, path: e.path, size: e.fileSize, loaded: !!m && !m.loading && this.deps.engine.isLoaded(m.modelId) };
    });
  }

  /** The model a request names: by name or path; none named: the one the API holds, else the chat's. */
  async resolve(name: string | undefined | null): Promise<ApiModelEntry> {
    const list = await this.list();
    if (!name) {
      const loaded = [...this.models.values()].map((m) => m.path);
      const chat = this.deps.chatModel();
      const pick = loaded.length === 1 ? loaded[0] : loaded.length === 0 ? chat : null;
      const found = pick ? list.find((m) => m.path === pick) : undefined;
      if (found) return found;
      throw new ApiError(400, 'invalid_request_error', 'name a model: "model" is required (GET /v1/models lists them)', 'model');
    }
    const byName = list.find((m) => m.name === name) ?? list.find((m) => m.path === name || m.path === path.resolve(name));
    // a name with a tag (Ollama's `name:latest`) or a .gguf suffix
    const bare = name.replace(/:latest$/, '').replace(/\.gguf$/i, '');
    const found = byName ?? list.find((m) => m.name === bare);
    if (!found) {
      const names = list.map((m) => m.name).slice(0, 10).join(', ');
      throw new ApiError(404, 'model_not_found', `the model ${JSON.stringify(name)} is not in Hearth's library${names ? ` (it has: ${names})` : ''}; GET /v1/models (Ollama: /api/tags) lists them`, 'model');
    }
    return found;
  }

  /**
   * The LoRA adapters of the model a request names (resolve's rules), in id order: those it is loaded
   * with, else those its load settings would load (nothing is loaded to answer).
   */
  async loraAdapters(name: string | undefined | null): Promise<AdapterEntry[]> {
    const entry = await this.resolve(name);
    const m = this.models.get(entry.path);
    return m?.metadata ? m.loraAdapters : (this.deps.loadSettings(entry.path).loraAdapters ?? []);
  }

  /** What the settings page shows about the API's models. */
  status(): { name: string; path: string; busy: number; queued: number; unloadAt: number | null }[] {
    return [...this.models.values()].map((m) => ({ name: m.name, path: m.path, busy: m.pool.busy, queued: m.pool.queued, unloadAt: m.active > 0 ? null : m.unloadAt }));
  }

  private changed(): void {
    try {
      this.deps.onChange?.();
    } catch (e) {
      this.deps.logger.warn(`api: status listener failed: ${(e as Error).message}`);
    }
  }

  /** Load parameters: the model's settings as served (servedSettings), its projector, its `parallel` slots. */
  private async paramsFor(file: string, info: ModelMetadata, parallel: number): Promise<{ params: LoadParamsInput; paired: string | null; served: LoadParamsInput }> {
    const served = servedSettings(this.deps.loadSettings(file), info.isEmbedding);
    // images: the projector the settings choose, else its folder's (an embedding model takes none)
    const pick = info.isEmbedding ? { params: served, paired: null } : await this.projectors.withProjector(file, served);
    const params: LoadParamsInput = { ...pick.params, parallel, fitMarginMiB: this.deps.guardrail().marginMiB };
    return { params, paired: pick.paired, served };
  }

  /**
   * The entry's load, started or joined (`m.loading` while it runs). A failure nobody waits for any more
   * (its requests went away) is logged here, and the entry forgotten, as a waiting request's catch does.
   */
  private startLoad(m: Loaded): Promise<void> {
    if (m.loading) return m.loading;
    const p = this.load(m).finally(() => {
      m.loading = null;
    });
    p.catch((e: Error) => {
      if (m.active > 0) return; // a waiting request has it
      this.deps.logger.warn(`api: loading ${m.name} failed: ${e.message}`);
      if (!m.metadata && this.models.get(m.path) === m) {
        this.models.delete(m.path);
        this.cancelTimer(m);
        this.changed();
      }
    });
    m.loading = p;
    return p;
  }

  private async load(m: Loaded): Promise<void> {
    const { engine } = this.deps;
    // the entry unloaded (its time-to-live, close) while this ran: nothing more is loaded for it
    const gone = () => this.closed || this.models.get(m.path) !== m;
    const check = () => {
      if (gone()) throw new ApiError(503, 'not_loaded', `${m.name} was unloaded while it loaded`);
    };
    // loaded already: a reload with another number of slots; the old model goes first, so the guardrail
    // counts memory without it and no failure below leaves it loaded under no entry
    if (engine.isLoaded(m.modelId)) await engine.unload(m.modelId);
    check();
    const info = await engine.info(m.path);
    check();
    // as many sequences as its pool has slots, also when it loads again after a crash
    const { params, paired, served } = await this.paramsFor(m.path, info, m.pool.slots.length);
    check();
    const guard = this.deps.guardrail();
    if (guard.mode !== 'off') {
      const plan = await planLoad(engine, m.path, params, guard.marginMiB);
      check();
      // the API cannot ask "load anyway?": warn refuses like strict (the user may set the guardrail off)
      if (!plan.check.fits) {
        throw new ApiError(507, 'insufficient_memory', `${m.name} with its load settings does not fit in memory: ${plan.check.problems.join('; ')}. Unload another model, lower its settings, or set the guardrail off.`, 'model');
      }
    }
    this.deps.logger.info(`api: loading ${m.name}`, { path: m.path, parallel: params.parallel });
    const loaded = await loadPaired((p) => engine.load(m.modelId, m.path, p), params, paired, (why) => this.deps.logger.warn(`api: ${m.name} ${why}`));
    if (gone()) {
      await engine.unload(m.modelId).catch(() => undefined);
      check();
    }
    m.metadata = { ...info, vision: loaded.metadata.vision };
    m.loraAdapters = params.loraAdapters ?? [];
    m.loadedWith = served;
  }

  /**
   * The model named `name`, loaded (requests for one model share its load), held until `release` so
   * its time-to-live does not run meanwhile; no KV slot (a token count, a load-only request).
   */
  async hold(name: string | undefined | null, signal?: AbortSignal): Promise<Omit<Lease, 'slot'>> {
    const { held, finish } = await this.loaded(name, signal);
    return { name: held.name, path: held.path, modelId: held.modelId, metadata: held.metadata!, loraAdapters: held.loraAdapters, release: finish };
  }

  /**
   * A slot on the model named `name`, loading it first when it is not loaded. `key` is the request's
   * conversation: the slot that holds the longest prefix of it is chosen. `signal` withdraws the
   * request at any point.
   */
  async acquire(name: string | undefined | null, key: string, signal?: AbortSignal): Promise<Lease> {
    const { held, finish } = await this.loaded(name, signal);
    try {
      const slot = await held.pool.acquire(key, signal);
      // the engine may have dropped the model while this request waited (its native work hung and the
      // host restarted): load it again before running on it
      if (!this.deps.engine.isLoaded(held.modelId)) {
        try {
          await raceAbort(this.startLoad(held), signal);
        } catch (e) {
          held.pool.release(slot, '');
          throw e;
        }
      }
      return {
        name: held.name,
        path: held.path,
        modelId: held.modelId,
        metadata: held.metadata!,
        loraAdapters: held.loraAdapters,
        slot,
        release: (k?: string) => {
          held.pool.release(slot, k);
          finish();
        },
      };
    } catch (e) {
      finish();
      throw e;
    }
  }

  /**
   * The model named `name` held as `hold` holds it, but only when it is loaded now, as it was loaded:
   * nothing loads or reloads for this (a changed number of slots or load settings applies at the next
   * request's hold). Null when it is not loaded (or still loading); 429 past queueLimit (admit).
   */
  async holdLoaded(name: string | undefined | null): Promise<Omit<Lease, 'slot'> | null> {
    if (this.closed) return null;
    const m = this.models.get((await this.resolve(name)).path);
    // live: in the running host as loaded (after a host restart the engine would load it again for the asker)
    if (!m || m.loading || !m.metadata || !this.deps.engine.isLive(m.modelId)) return null;
    this.admit(m);
    // a question about it is no use of it: its time-to-live runs on from where it was
    return { name: m.name, path: m.path, modelId: m.modelId, metadata: m.metadata, loraAdapters: m.loraAdapters, release: this.take(m, true) };
  }

  /**
   * Every request on a model beyond its slots counts against queueLimit: those waiting for its load or for a
   * slot, and those holding it without one (a token count, a question), so none piles up unbounded: past
   * it, 429 at once.
   */
  private admit(m: Loaded): void {
    if (m.active >= m.pool.slots.length + m.pool.limit) throw busyError(m.pool.busy, m.active - m.pool.busy);
  }

  /**
   * `m` counted as in use (no unload meanwhile) until the returned function is called (once); then its
   * time-to-live counts from that moment, or (`asking`: a question about it, no use of it) runs on from
   * its last use's end, however many ask at once.
   */
  private take(m: Loaded, asking = false): () => void {
    m.active++;
    this.cancelTimer(m);
    this.changed();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      m.active--;
      if (!asking) m.idleSince = this.now();
      this.scheduleUnload(m);
      this.changed();
    };
  }

  /** The model entry, loaded, counted as in use until `finish` is called (once). */
  private async loaded(name: string | undefined | null, signal?: AbortSignal): Promise<{ held: Loaded; finish: () => void }> {
    if (this.closed) throw new ApiError(503, 'engine_closed', 'the API server is stopping');
    const entry = await this.resolve(name);
    let m = this.models.get(entry.path);
    const parallel = this.deps.settings().parallel;
    const pool = () => new SlotPool(parallel, () => this.deps.settings().queueLimit, this.now);
    if (m && m.active === 0 && !m.loading) {
      // a changed number of slots, or changed load settings, apply once the model is idle (no request
      // holds or waits for a slot): it loads again, with as many sequences (its slots' caches go with it)
      const slots = m.pool.slots.length !== parallel;
      if (slots || (m.metadata && !sameLoadSettings(m.loadedWith, servedSettings(this.deps.loadSettings(m.path), m.metadata.isEmbedding)))) {
        this.deps.logger.info(`api: reloading ${m.name} with ${slots ? `${parallel} slots (was ${m.pool.slots.length})` : 'its changed load settings'}`);
        m.pool = pool();
        m.metadata = null;
      }
    }
    if (!m) {
      m = {
        name: entry.name,
        path: entry.path,
        modelId: apiModelId(entry.path),
        pool: pool(),
        metadata: null,
        loraAdapters: [],
        loadedWith: null,
        loading: null,
        active: 0,
        timer: undefined,
        unloadAt: null,
        idleSince: this.now(),
      };
      this.models.set(entry.path, m);
    }
    this.admit(m);
    const held = m;
    const finish = this.take(held);
    try {
      // loaded once, and again after the engine dropped it (its client reloads a model after a crash by itself)
      if (!held.metadata || (!this.deps.engine.isLoaded(held.modelId) && !held.loading)) {
        this.startLoad(held);
      }
      if (held.loading) await raceAbort(held.loading, signal);
      if (!held.metadata) throw new ApiError(503, 'load_failed', `${held.name} is not loaded`);
      return { held, finish };
    } catch (e) {
      // a failed load is forgotten, so the next request tries again; whatever the engine still holds of
      // it goes too (no entry would unload it). A load still running (this request went away) keeps its
      // entry: its time-to-live unloads it, and no second load of the id can race it
      if (!held.metadata && !held.loading && held.active === 1 && this.models.get(held.path) === held) {
        this.models.delete(held.path);
        if (this.deps.engine.isLoaded(held.modelId)) {
          this.deps.engine.unload(held.modelId).catch((u: Error) => this.deps.logger.warn(`api: unloading ${held.name} failed: ${u.message}`));
        }
      }
      finish();
      throw e;
    }
  }

  private cancelTimer(m: Loaded): void {
    if (m.timer !== undefined) this.timers.clear(m.timer);
    m.timer = undefined;
    m.unloadAt = null;
  }

  /** Unloads `m` once its time-to-live has passed since its last use ended. */
  private scheduleUnload(m: Loaded): void {
    this.cancelTimer(m);
    const ttl = this.deps.settings().modelTtlMinutes;
    if (m.active > 0 || ttl <= 0 || this.closed) return;
    const ms = Math.max(0, m.idleSince + ttl * 60_000 - this.now());
    m.unloadAt = this.now() + ms;
    m.timer = this.timers.set(() => {
      m.timer = undefined;
      if (m.active > 0 || this.models.get(m.path) !== m) return;
      this.deps.logger.info(`api: unloading ${m.name} after ${ttl} min without requests`);
      void this.unloadOne(m);
    }, ms);
  }

  private async unloadOne(m: Loaded): Promise<void> {
    this.models.delete(m.path);
    this.cancelTimer(m);
    m.pool.drain(new ApiError(503, 'not_loaded', `${m.name} was unloaded`));
    try {
      await this.deps.engine.unload(m.modelId);
    } catch (e) {
      this.deps.logger.warn(`api: unloading ${m.name} failed: ${(e as Error).message}`);
    }
    this.changed();
  }

  /** Unloads every model the API loaded (the server stops). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.models.values()].map((m) => this.unloadOne(m)));
  }
}

/**
 * A model's saved load settings as the API serves them: its slots are the API's (`parallel` is not the
 * model's), and a pooled sequence of an embedding model is evaluated in one micro-batch (ubatch = batch,
 * as llama-server does).
 */
export function servedSettings(saved: LoadParamsInput, isEmbedding: boolean): LoadParamsInput {
  const { parallel: _slots, ...served } = saved;
  if (!isEmbedding) return served;
  const batch = served.batchSize ?? served.ubatchSize ?? 2048;
  return { ...served, embeddings: true, ubatchSize: batch, batchSize: batch };
}

/** `p`, or an `aborted` ApiError as soon as `signal` fires (p goes on for whoever else waits). */
export function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new ApiError(499, 'aborted', 'the client went away'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ApiError(499, 'aborted', 'the client went away'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
