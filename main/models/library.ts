/**
 * The models in <data>/models (its cached listing: main/models/listing.ts), the model files added by
 * reference (kept where they are: another app's folder, a file the user added; stored in the store's
 * model_refs), and the one chat model loaded in the engine: load with progress, unload, switch.
 * Per-model load settings come from the store.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import type { LoadedModel } from '../engine/methods';
import { EngineError, LoadParamsInput } from '../engine/protocol';
import { IpcError, IpcErrorCode, ModelDTO, ModelState } from '../ipc/contract';
import { GgufHeaderCache } from '../gguf/cache';
import { hparamProblem } from '../gguf/hparams';
import { GgufError } from '../gguf/types';
import type { ModelRef, ModelRefInput, Store } from '../store';
import { REFERENCE_SOURCES } from '../ipc/models';
import { fileRole, headerFacts, headerPooling, notAModel, type HeaderFacts } from './facts';
import { Poolings } from './poolings';
import type { Pooling } from '../params/docs';
import { loadableRole, type FileRole } from '../params/adapters';
import { sameLoadSettings } from '../params';
import { planLoad, refusedAs } from './fit';
import { loadPaired, ProjectorPicker } from './projector-pick';
import { splitParts, withoutSplitSuffix } from '../gguf/split-name';
import { ModelFolder, Truncation, WalkLimits } from './listing';

/** Who keeps a model file added by reference (main/ipc/models.ts): an app discovery found it in, or the user ('file'). */
export { REFERENCE_SOURCES };
export type ReferenceSource = (typeof REFERENCE_SOURCES)[number];

/** Where the library keeps its references (the store's model_refs: main/store/model-refs.ts). */
export interface ReferenceStore {
  add(input: ModelRefInput): ModelRef;
  get(path: string): ModelRef | null;
  remove(path: string): boolean;
  list(): ModelRef[];
}

/** A model of the library: in the models folder, or referenced where it is. */
export interface LibraryEntry extends ModelDTO {
  origin: 'folder' | 'reference';
  /** who keeps a referenced file; null for the models folder's */
  source: ReferenceSource | null;
  /** a referenced file no longer there (moved or deleted by the app that keeps it); its size is then 0 */
  missing: boolean;
  /** how llama.cpp pools it, from its header (an embedding model, a reranker, or none); null: its header could not be read */
  pooling: Pooling | null;
  /** what the file is (a model, or a projector or adapter that goes with one); null: its header could not be read */
  role: FileRole | null;
}

export const CHAT_MODEL_ID = 'chat';

/**
 * A split model (`-00001-of-00003.gguf`) as one model: its first part, named without the suffix, with
 * the listed parts' sizes summed; the other parts are left out while the first is listed.
 */
export function splitAsOne(models: ModelDTO[]): ModelDTO[] {
  const sizes = new Map(models.map((m) => [path.resolve(m.path), m.fileSize]));
  const out: ModelDTO[] = [];
  for (const m of models) {
    const split = splitParts(m.path);
    if (!split) out.push(m);
    else if (split.part === 1) {
      const fileSize = split.parts.reduce((n, p) => n + (sizes.get(path.resolve(p)) ?? 0), 0);
      out.push({ ...m, name: withoutSplitSuffix(m.name), fileSize });
    } else if (!sizes.has(path.resolve(split.parts[0]))) out.push(m);
  }
  return out;
}

/** Engine codes a failed load keeps in its IPC error (the renderer words them); any other is `load_failed`. */
const PASSED_ON: ReadonlySet<string> = new Set<IpcErrorCode>(['invalid_model', 'not_found', 'model_changed', 'template_timeout', 'engine_hung', 'out_of_memory']);

/**
 * The one answer to a model path the library does not know: the same code and words whether the
 * path exists, is not a model, or names any other file, so the renderer learns nothing about the disk.
 */
export function modelUnknown(): IpcError {
  return new IpcError('model_unknown', 'this model is not in the library: put it in the models folder, or open it with the file picker');
}

/** What a library takes from the app's store: its references, each model's load settings, the guardrail. */
export function storeDeps(store: Pick<Store, 'modelRefs' | 'modelSettings' | 'settings'>): Pick<LibraryDeps, 'references' | 'loadSettings' | 'guardrail'> {
  return {
    references: store.modelRefs,
    loadSettings: (modelPath) => store.modelSettings.get(modelPath),
    guardrail: () => ({ mode: store.settings.get('guardrail'), marginMiB: store.settings.get('fitMarginMiB') }),
  };
}

export interface LibraryDeps {
  engine: EngineClient;
  modelsDir: string;
  logger: Logger;
  /** the saved load settings of a model (by path) */
  loadSettings: (modelPath: string) => LoadParamsInput;
  /** the guardrail setting and the margin kept free on GPUs */
  guardrail: () => { mode: 'off' | 'warn' | 'strict'; marginMiB: number };
  onState: (s: ModelState) => void;
  /** told the models of <data>/models whenever they change (the folder is followed: main/models/listing.ts) */
  onModels?: (models: ModelDTO[]) => void;
  /** the walk's bounds (default MODEL_WALK_LIMITS) */
  walkLimits?: WalkLimits;
  /** the models added by reference; without it the library is the models folder alone */
  references?: ReferenceStore;
  /** the chat model's `parallel` unless its load settings name one (default 2) */
  parallel?: () => number;
  /** runs before the chat model unloads or is replaced (the threads' caches are saved: main/chat/sessions.ts); must not throw */
  beforeUnload?: () => Promise<void>;
  /** the sequence a thread's conversation is cached on (the context meter reads it; default 0) */
  seqOf?: (threadId: string) => number | undefined;
}

/** The chat model as the engine loaded it: which load (each a fresh context), what it answered, the parameters it got. */
export interface LoadedChatModel {
  loadId: number;
  model: LoadedModel;
  params: LoadParamsInput;
}

/** The log line for a walk that stopped short (or null once nothing is left out). */
function truncationNotice(t: Truncation): string {
  return t.reason === 'entries'
    ? `models folder: the listing stopped after ${t.limit} entries, in ${t.folder}; models past it are not listed (move other files out of the models folder)`
    : `models folder: ${t.folder} is more than ${t.limit} folders deep; models in it are not listed`;
}

export class ModelLibrary {
  private state: ModelState = { loaded: null, loading: null, error: null };
  private loadedSettings: { path: string; settings: LoadParamsInput } | null = null;
  private loadJob: Promise<void> | undefined;
  /**
   * Loads asked for and not settled yet, from the call on (before the guardrail's estimate): a reply
   * asked for after a model switch waits for the switch and runs on the model the user picked.
   */
  private readonly switching = new Set<Promise<unknown>>();
  /** counts the switches asked for: a switch that is no longer the last one asked for gives way */
  private asked = 0;
  /** the model of the last switch asked for (its path as given, resolved) */
  private lastAsked: string | null = null;
  /** the load whose progress and outcome the state shows */
  private loadToken: object | undefined;
  /** the projector each model loads with when its settings choose none (its folder's pair) */
  private readonly projectors = new ProjectorPicker();
  private contextSize = 0;
  private loads = 0;
  private loadedModel: LoadedChatModel | null = null;
  /** Files the user picked in a file dialog this session (main/app adds them). */
  private readonly picked = new Set<string>();
  /** each listed file's pooling, kept by (path, size, mtime) while its header reads (main/models/poolings.ts) */
  private readonly poolings: Poolings;
  /** headers of files offered by reference, read once while unchanged */
  private readonly headers = new GgufHeaderCache({ maxEntries: 4, maxBytes: 64 * 1024 * 1024 });

  private modelFolder: ModelFolder;
  /** stops listening for the engine's lost models (at close: a restarted App's library replaces this one) */
  private readonly stopLost: () => void;

  constructor(private readonly deps: LibraryDeps) {
    this.poolings = new Poolings(deps.logger);
    this.modelFolder = this.follow(deps.modelsDir);
    // the engine dropped the chat model (its native work hung, the engine restarted without it): say so
    this.stopLost = deps.engine.onModelLost((modelId, error) => {
      if (modelId !== CHAT_MODEL_ID) return;
      this.loadToken = undefined;
      this.loadedSettings = null;
      this.loadedModel = null;
      this.set({ loaded: null, loading: null, error: `${error.code}: ${error.message}` });
    });
  }

  private follow(dir: string): ModelFolder {
    const { deps } = this;
    return new ModelFolder(dir, {
      limits: deps.walkLimits,
      onTruncated: (t) => (t ? deps.logger.warn(truncationNotice(t)) : deps.logger.info('models folder: listed in full again')),
      onModels: deps.onModels,
      onFollowError: (e) => deps.logger.warn(`models folder: could not follow its changes: ${e.message}`),
    });
  }

  /** The listing of the models folder, cached and refreshed on change (main/models/listing.ts). */
  get folder(): ModelFolder {
    return this.modelFolder;
  }

  /** Follows another models folder (library.moveFolder moved the files there): the old one's watcher stops. */
  setFolder(dir: string): void {
    this.modelFolder.close();
    this.modelFolder = this.follow(dir);
  }

  async list(): Promise<ModelDTO[]> {
    return (await this.folder.listing()).models;
  }

  /** Stops watching the models folder. */
  close(): void {
    this.folder.close();
    this.stopLost();
  }

  /** Accepts `file` for this session as if it were in the library: only for a file the user picked in a dialog. */
  addPicked(file: string): void {
    this.picked.add(path.resolve(file));
  }

  /**
   * The model a request names, as an absolute path: one in the library's listing (<data>/models) or
   * a file picked this session. Anything else is refused with model_unknown before any file is
   * opened, so no IPC request can make native code parse an arbitrary file. Answered from the
   * cached listing when it can be (no walk of the folder on main's thread, ever).
   */
  async known(modelPath: string): Promise<string> {
    const file = path.resolve(modelPath);
    if (this.picked.has(file) || (await this.folder.has(file)) || (await this.referenced(file))) return file;
    throw modelUnknown();
  }

  /** Whether `file` is referenced and still a regular file where the reference says. */
  private async referenced(file: string): Promise<boolean> {
    if (!this.deps.references?.get(file)) return false;
    return (await fsp.stat(file).catch(() => undefined))?.isFile() ?? false;
  }

  /** Every model of the library: the models folder's, then the references (each stat'ed: gone ones say so), each with its pooling. */
  async entries(): Promise<LibraryEntry[]> {
    const folder = splitAsOne(await this.list()).map(async (m): Promise<LibraryEntry> => {
      const st = await fsp.stat(m.path).catch(() => undefined);
      return { ...m, origin: 'folder', source: null, missing: false, ...(await this.poolings.of(m.path, st)) };
    });
    const refs = (this.deps.references?.list() ?? []).map(async (r): Promise<LibraryEntry> => {
      const st = await fsp.stat(r.path).catch(() => undefined);
      const source = (REFERENCE_SOURCES as readonly string[]).includes(r.source) ? (r.source as ReferenceSource) : 'file';
      const there = st?.isFile() === true;
      return { path: r.path, name: r.name, fileSize: there ? st!.size : 0, origin: 'reference', source, missing: !there, ...(await this.poolings.of(r.path, st)) };
    });
    return Promise.all([...folder, ...refs]);
  }

  /**
   * Adds a model file to the library where it is, without copying it. The file is checked first: a
   * regular file, a GGUF header main/gguf reads, hyperparameters llama.cpp accepts, not a vision
   * projector, not already in the models folder. Refused with the reason (not_found, invalid_model,
   * invalid_input). `name` defaults to the header's general.name, else the file's name.
   */
  async addReference(modelPath: string, opts: { source: ReferenceSource; name?: string }): Promise<LibraryEntry> {
    const refs = this.deps.references;
    if (!refs) throw new IpcError('invalid_input', 'this library keeps no references');
    const { file, size, pooling } = await this.checkModelFile(modelPath);
    // by default its file name, as the models folder's models are named (the header's general.name is
    // shared by every quantization of a model)
    const name = opts.name ?? path.basename(file).replace(/\.gguf$/i, '');
    const r = refs.add({ path: file, name, source: opts.source });
    return { path: r.path, name: r.name, fileSize: size, origin: 'reference', source: opts.source, missing: false, pooling, role: 'model' };
  }

  /**
   * The checks a file passes before it joins the library (by reference or as an import): a regular
   * file outside the models folder, a well-formed GGUF header with hyperparameters llama.cpp accepts,
   * not a vision projector. Refuses with IpcError (not_found, invalid_model, invalid_input) and the reason.
   */
  async checkModelFile(modelPath: string): Promise<{ file: string; size: number; facts: HeaderFacts; pooling: Pooling }> {
    const file = path.resolve(modelPath);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) throw new IpcError('not_found', `${file} does not exist`);
    if (!st.isFile()) throw new IpcError('invalid_model', `${file} is not a regular file`);
    if (await this.folder.has(file)) throw new IpcError('invalid_input', `${file} is in the models folder: it is in the library already`);
    let facts, pooling, role;
    try {
      const header = await this.headers.read(file);
      role = fileRole(header);
      const problem = role === 'model' ? hparamProblem(header) : null;
      if (problem) throw new IpcError('invalid_model', `${file}: ${problem}`);
      facts = headerFacts(header);
      pooling = headerPooling(header);
    } catch (e) {
      if (e instanceof GgufError) throw new IpcError('invalid_model', e.message);
      throw e;
    }
    if (role !== 'model') throw new IpcError('invalid_model', notAModel(file, role));
    return { file, size: st.size, facts, pooling };
  }

  /** Removes a reference from the library (the file stays where it is); false when `modelPath` was not referenced. */
  removeReference(modelPath: string): boolean {
    return this.deps.references?.remove(path.resolve(modelPath)) ?? false;
  }

  /**
   * The current state, with the context use read from the engine when a model is loaded: a reply of
   * thread `by` was the last to use it (unless given, the thread it was last read for).
   */
  async current(by?: string): Promise<ModelState> {
    const loaded = this.state.loaded;
    if (loaded) {
      try {
        const info = await this.deps.engine.contextInfo(CHAT_MODEL_ID);
        const thread = by ?? loaded.tokensUsedBy;
        const used = info.sequenceTokens[(thread && this.deps.seqOf?.(thread)) || 0] ?? 0;
        // only for the model it was read from (not one loaded, or unloaded, meanwhile)
        if (this.state.loaded === loaded) this.state = { ...this.state, loaded: { ...loaded, tokensUsed: used, tokensUsedBy: by ?? loaded.tokensUsedBy } };
      } catch {
        /* engine restarting: report what we know */
      }
    }
    return this.state;
  }

  /**
   * Reads the context use again (a reply of thread `threadId` streamed or ended) and pushes the state
   * to every window when it changed, so the header's meter follows that conversation. Never throws.
   */
  async refreshUsage(threadId: string): Promise<void> {
    const before = this.state.loaded;
    const now = await this.current(threadId);
    if (now.loaded && now.loaded !== before && (now.loaded.tokensUsed !== before?.tokensUsed || now.loaded.tokensUsedBy !== before?.tokensUsedBy)) {
      try {
        this.deps.onState(now);
      } catch (e) {
        this.deps.logger.warn(`models: the context use could not be sent: ${(e as Error).message}`);
      }
    }
  }

  get loadedPath(): string | null {
    return this.state.loaded?.path ?? null;
  }

  /** The vision projector the loaded model reads images with, or null (none loaded, or it reads no images). */
  get loadedProjector(): string | null {
    return this.state.loaded?.projector ?? null;
  }

  /**
   * The model a reply asked for now would run on, known without waiting (see ready()): the one a
   * switch under way loads (the last asked for), else the loaded one; null when neither.
   */
  get expected(): string | null {
    if (this.state.loading) return this.state.loading.path;
    if (this.switching.size > 0 || this.loadJob) return this.lastAsked ?? this.loadedPath;
    return this.loadedPath;
  }

  /** The chat model as loaded (null while none is), for the threads' caches. */
  get loadedChat(): LoadedChatModel | null {
    return this.state.loaded ? this.loadedModel : null;
  }

  /** Tells beforeUnload that the loaded chat model is about to go (never throws). */
  private async leaving(): Promise<void> {
    if (!this.state.loaded || !this.deps.beforeUnload) return;
    try {
      await this.deps.beforeUnload();
    } catch (e) {
      this.deps.logger.warn(`models: before unloading: ${(e as Error).message}`);
    }
  }

  /** The loaded chat model's context size in tokens (all sequences share it), 0 when none is loaded. */
  get loadedContextSize(): number {
    return this.state.loaded?.contextSize ?? 0;
  }

  private set(s: Partial<ModelState>): void {
    this.state = { ...this.state, ...s };
    this.deps.onState(this.state);
  }

  /** The settings the loaded model runs with, when `modelPath` is the loaded one. */
  loadedWith(modelPath: string): LoadParamsInput | null {
    return this.loadedSettings && this.loadedSettings.path === path.resolve(modelPath) ? this.loadedSettings.settings : null;
  }

  /**
   * Loads a model as the chat model (replacing the one loaded). Resolves when it is ready. Loading
   * again with changed settings reloads. The guardrail checks llama.cpp's estimate first: strict
   * refuses a load that would not fit, warn asks once (needs_confirmation unless `force`).
   */
  load(modelPath: string, force = false): Promise<ModelState> {
    // claimed before anything is awaited: IPC calls are dispatched in the order they came in
    this.lastAsked = path.resolve(modelPath);
    const job = this.loadModel(modelPath, force, ++this.asked);
    this.switching.add(job);
    const settled = () => void this.switching.delete(job);
    job.then(settled, settled);
    return job;
  }

  /** The settings of a load of `file` with its projector (ProjectorPicker.withProjector); models.estimate takes them too. */
  async withProjector(file: string, settings: LoadParamsInput): Promise<LoadParamsInput> {
    return (await this.projectors.withProjector(file, settings)).params;
  }

  private async loadModel(modelPath: string, force: boolean, seq: number): Promise<ModelState> {
    const file = await this.known(modelPath);
    // a projector or an adapter goes with a model: said so, not handed to llama.cpp as one
    const { role } = await this.poolings.of(file, await fsp.stat(file).catch(() => undefined));
    if (!loadableRole(role)) throw new IpcError('invalid_model', notAModel(file, role));
    const settings = this.deps.loadSettings(file);
    const same = sameLoadSettings(this.loadedWith(file), settings);
    // the loaded model picked again: nothing to do only while no other switch is under way (one is
    // about to replace it: picking it again is a switch back, which cancels that one)
    const alone = this.switching.size <= 1 && !this.loadJob;
    if (this.state.loaded?.path === file && same && alone) return this.current();
    if (this.loadJob && this.state.loading?.path === file) {
      await this.loadJob;
      return this.current();
    }
    const guard = this.deps.guardrail();
    const pick = await this.projectors.withProjector(file, settings);
    const params: LoadParamsInput = { parallel: this.deps.parallel?.() ?? 2, fitMarginMiB: guard.marginMiB, ...pick.params };
    const paired = pick.paired;
    if (guard.mode !== 'off') {
      // a file the settings name that the engine refuses: the load fails saying why, as without the guardrail
      const plan = await planLoad(this.deps.engine, file, params, guard.marginMiB).catch(refusedAs('load_failed'));
      if (!plan.check.fits && (guard.mode === 'strict' || !force)) {
        const what = plan.check.problems.join('; ');
        throw guard.mode === 'strict'
          ? new IpcError('insufficient_memory', `this model and these settings do not fit: ${what}`)
          : new IpcError('needs_confirmation', `this model may not fit: ${what}. Load anyway?`);
      }
    }
    // a switch asked for while the estimate ran is the user's last pick: it loads, this one does not
    if (seq !== this.asked) return this.current();
    await this.leaving();
    if (seq !== this.asked) return this.current();
    this.set({ loading: { path: file, progress: 0 }, error: null });
    const token = {};
    this.loadToken = token;
    const job = (async () => {
      try {
        const progress = (p: number) => {
          if (this.loadToken === token) this.set({ loading: { path: file, progress: p } });
        };
        // a projector paired by the folder that llama.cpp refuses: the model loads without images
        const r = await loadPaired((p) => this.deps.engine.load(CHAT_MODEL_ID, file, p, progress), params, paired, (why) => this.deps.logger.warn(`models: ${file} ${why}`));
        this.contextSize = r.context.contextSize;
        this.loadedSettings = { path: file, settings };
        this.loadedModel = { loadId: ++this.loads, model: r, params };
        const projector = r.metadata.vision ? (params.mmproj ?? null) : null;
        this.set({ loaded: { path: file, contextSize: this.contextSize, tokensUsed: 0, tokensUsedBy: null, projector }, loading: null, error: null });
      } catch (e) {
        const err = e as EngineError;
        // cancelled by an unload, or replaced by a load of another model: that one says what happens
        if (err.code === 'aborted' && this.loadToken !== token) return;
        this.set({ loading: null, loaded: null, error: `${err.code ?? 'load_failed'}: ${err.message}` });
        throw new IpcError(PASSED_ON.has(err.code) ? (err.code as IpcErrorCode) : 'load_failed', err.message);
      }
    })();
    this.loadJob = job;
    try {
      await job;
    } finally {
      if (this.loadJob === job) this.loadJob = undefined;
    }
    return this.current();
  }

  /** Unloads the chat model; a load in progress is cancelled. */
  async unload(): Promise<ModelState> {
    // a load asked for before the unload, still pairing its projector or estimating, gives way too
    this.asked++;
    this.lastAsked = null;
    await this.leaving();
    const loading = this.loadJob;
    this.loadToken = undefined;
    this.loadedSettings = null;
    this.loadedModel = null;
    this.set({ loaded: null, loading: null, error: null });
    await this.deps.engine.unload(CHAT_MODEL_ID);
    if (loading) await loading.catch(() => undefined);
    return this.state;
  }

  /**
   * Waits for the switches asked for before this call (each from the moment it was asked, including
   * the guardrail's check) to succeed or fail, then for the load they led to (one a later switch
   * started when it replaced theirs); returns the loaded model's path or null. Switches asked for
   * meanwhile are not waited for, so a stream of them cannot hold a reply back.
   */
  async ready(): Promise<string | null> {
    await Promise.allSettled([...this.switching, this.loadJob]);
    if (this.loadJob) await this.loadJob.catch(() => undefined);
    return this.loadedPath;
  }
}
