/**
 * The models an engine host holds (host.ts): loading (de-duplicated per id, cancellable), unloading
 * and disposing them, and every use of a model file — checked and handed to llama.cpp as the same file
 * (model-file.ts) for loads, metadata reads, estimates and fits, with the load parameters the addon
 * gets made concrete in one place (nativeParams).
 *
 * One loaded model = a llama_model + its context (which owns a worker thread and a task queue: the
 * per-model scheduler). Several models may be loaded at once.
 */
import path from 'path';
import { untilAborted } from '../abort';
import { NativeAddon, NativeContext, NativeModel } from './addon';
import { abortedError, defaultContextSize, EngineError, Estimate, FILE_TYPE_NAMES, FitResult, LoadParams, ModelMetadata, QUANTIZED_CACHE_TYPES } from './protocol';
import type { ResultOf } from './methods';
import { GgufHeaderCache } from '../gguf/cache';
import { GgufError } from '../gguf/types';
import { GgufHeader, ggufNumber, ggufString } from '../gguf/read';
import { adapterProblem, type AdapterKind } from '../gguf/adapters';
import { CheckedModelFile, handOver, LoadGate, passGate, withCheckedModelFile } from './model-file';
import { hparamProblem } from '../gguf/hparams';
import { usesDraftModel } from '../params';
import { hostWithAvailableRam } from './system-memory';

export interface Loaded {
  modelId: string;
  path: string;
  params: LoadParams;
  model: NativeModel;
  ctx: NativeContext;
  /** what llama.cpp's fitting chose (gpuLayers "auto" with a GPU) */
  fit?: ResultOf<'load'>['fit'];
}

/** A load in flight, shared by every request for the same model with the same file and parameters. */
interface Loading {
  modelId: string;
  key: string;
  /** the model file (absolute) */
  file: string;
  promise: Promise<Loaded>;
  /** the requests waiting for it (progress goes to each) */
  requesters: Set<number>;
  cancelled: boolean;
  cancel(): void;
}

/**
 * A file a load names beside the model that llama.cpp opens itself, opened here (null: left out): the
 * draft model, the projector, or the adapter at `index` of a list.
 */
interface Companion {
  key: 'draftModel' | 'mmproj' | AdapterKey;
  index: number;
  f: CheckedModelFile | null;
}
type AdapterKey = 'loraAdapters' | 'controlVectors';
const ADAPTER_KINDS: readonly [AdapterKey, AdapterKind][] = [
  ['loraAdapters', 'lora'],
  ['controlVectors', 'controlVector'],
];

/**
 * The addon's parameters with the companions named by their open files (`nativePath`) and the ones
 * left out removed; for the model's load the draft model as the user knows it (`draftDisplayPath`,
 * which the draft's later messages name), for its context the LoRA adapters so (`loraDisplayPaths`,
 * which a request names them by).
 */
type CompanionNames = (native: Record<string, unknown>, use?: 'model' | 'context') => Record<string, unknown>;

export class HostModels {
  private readonly loaded = new Map<string, Loaded>();
  private readonly loading = new Map<string, Loading>();
  /** every load in flight, also those replaced in `loading` by a newer load of their id (until they end) */
  private readonly loads = new Set<Loading>();
  private readonly headers = new GgufHeaderCache();
  /** native model loads started, native models and contexts alive */
  readonly counts = { loadsStarted: 0, models: 0, contexts: 0 };
  /** the sizes of the model files llama.cpp is loading (the watchdog's bound before a load's first progress) */
  private readonly loadingSizes = new Map<string, number>();
  /** test hook (`loadGate`): the next check of a model file waits here before llama.cpp gets it */
  gate: LoadGate | undefined;

  constructor(
    private readonly addon: NativeAddon,
    /** a load's progress, sent to each request waiting for it */
    private readonly onProgress: (requestId: number, progress: number) => void,
  ) {}

  /** The model loaded under an id; `not_loaded` when there is none. */
  get(modelId: string): Loaded {
    const l = this.loaded.get(modelId);
    if (!l) throw new EngineError('not_loaded', `model ${modelId} is not loaded`);
    return l;
  }

  list(): Loaded[] {
    return [...this.loaded.values()];
  }

  /** The ids loaded and loading (for `stats`). */
  ids(): { loaded: string[]; loading: string[] } {
    return { loaded: [...this.loaded.keys()], loading: [...this.loading.keys()] };
  }

  /** The size of a model file llama.cpp is loading now. */
  loadingSize(file: string): number | undefined {
    return this.loadingSizes.get(file);
  }

  /** The file (absolute) of a model loaded or loading under an id. */
  fileOf(modelId: string): string | undefined {
    const l = this.loaded.get(modelId);
    return l ? path.resolve(l.path) : this.loading.get(modelId)?.file;
  }

  /** The ids of the models loaded or loading from any of these files (absolute). */
  idsOn(files: ReadonlySet<string>): string[] {
    const ids = new Set<string>();
    for (const l of this.loaded.values()) if (files.has(path.resolve(l.path))) ids.add(l.modelId);
    for (const j of this.loads) if (files.has(j.file)) ids.add(j.modelId);
    return [...ids];
  }

  metadata(model: NativeModel): ModelMetadata {
    const m = model.metadata();
    return { ...m, fileTypeName: m.fileType === null ? undefined : FILE_TYPE_NAMES[m.fileType] ?? `type ${m.fileType}` };
  }

  /** A model's metadata and parameter count without allocating the weights (nor running the chat template). */
  info(file: string): Promise<ModelMetadata> {
    return this.withModelFile(file, undefined, undefined, async (f) => {
      const model = await this.addon.loadModel(f.nativePath, { gpuLayers: 0, noAlloc: true, useMmap: false, displayPath: f.file }).promise;
      try {
        return this.metadata(model);
      } finally {
        await model.dispose();
      }
    });
  }

  /**
   * A chat rendered with `template` (undefined or blank: the file's own) for a model file, without allocating
   * its weights: the chatTemplate setting's preview.
   */
  previewTemplate(file: string, template: string | undefined, requestJson: string): Promise<ResultOf<'previewTemplate'>> {
    return this.withModelFile(file, undefined, undefined, async (f) => {
      const model = await this.addon.loadModel(f.nativePath, { gpuLayers: 0, noAlloc: true, useMmap: false, displayPath: f.file }).promise;
      try {
        const used = template || model.metadata().chatTemplate;
        if (!used) throw new EngineError('not_supported', 'the model file has no chat template: write one');
        return { ...(await model.applyChatTemplate(requestJson, used)), template: used };
      } finally {
        await model.dispose();
      }
    });
  }

  /** llama.cpp's memory estimate for a load of `file` with these parameters, without loading the weights. */
  estimate(file: string, params: LoadParams, signal: AbortSignal): Promise<Estimate> {
    return this.withModelFile(file, signal, { params, load: false }, async (f, named) => {
      const lp = this.withDefaultContext(f.header, params);
      return hostWithAvailableRam(await this.addon.estimateMemory(f.nativePath, { ...named(this.nativeParams(lp)), displayPath: f.file }));
    });
  }

  /** llama.cpp's parameter fitting for a load of `file`: the offload (and with `autoContext` the context) that fits. */
  fit(file: string, params: LoadParams, opts: { marginMiB: number; autoContext: boolean }, signal: AbortSignal): Promise<FitResult> {
    return this.withModelFile(file, signal, { params, load: false }, async (f, named) => {
      const lp = this.withDefaultContext(f.header, params);
      return this.addon.fitParams(f.nativePath, { ...named(this.nativeParams(lp, { gpuLayers: 'auto' })), displayPath: f.file }, {
        marginMiB: opts.marginMiB,
        contextMode: opts.autoContext ? 'auto' : 'fixed',
      });
    });
  }

  /** The parameters with the context a load would get (defaultContextSize). */
  private withDefaultContext(h: GgufHeader, p: LoadParams): LoadParams {
    if (p.contextSize !== undefined) return p;
    const arch = ggufString(h, 'general.architecture') ?? '';
    return { ...p, contextSize: defaultContextSize(ggufNumber(h, `${arch}.context_length`) ?? 0) };
  }

  /**
   * A model file checked and handed to llama.cpp as the same file (model-file.ts), and with `params` the
   * files a load, an estimate or a fit reads beside it checked too (openAdapters, openCompanions): `use`
   * gets the function that names the companions' open files in the addon's parameters. The test
   * hook's gate applies once, after every check.
   */
  private withModelFile<T>(
    file: string,
    signal: AbortSignal | undefined,
    companions: { params: LoadParams; load: boolean } | undefined,
    use: (f: CheckedModelFile, named: CompanionNames) => Promise<T>,
    discard?: (r: T) => void | Promise<void>,
  ): Promise<T> {
    const gate = this.gate;
    this.gate = undefined;
    return withCheckedModelFile(
      file,
      this.headers,
      { signal, forceIdentity: gate?.identity },
      async (f) => {
        if (!companions) {
          if (gate) await passGate(gate, signal);
          if (signal?.aborted) throw abortedError();
          return use(f, (native) => native);
        }
        const opened: Companion[] = [];
        try {
          opened.push(...(await this.openAdapters(f.header, companions.params, signal, gate?.identity)));
          opened.push(...(await this.openCompanions(companions.params, signal, companions.load, f.file, gate?.identity)));
          if (gate) await passGate(gate, signal);
          // withdrawn meanwhile: no native work for a request no one waits for (a projector's reckoning loads it whole)
          if (signal?.aborted) throw abortedError();
          const named: CompanionNames = (native, use) => {
            const r = { ...native };
            for (const [key] of ADAPTER_KINDS) if (Array.isArray(r[key])) r[key] = (r[key] as object[]).map((a) => ({ ...a }));
            for (const c of opened) {
              if (c.key === 'loraAdapters' || c.key === 'controlVectors') (r[c.key] as { path: string }[])[c.index].path = c.f!.nativePath;
              else if (c.f) r[c.key] = c.f.nativePath;
              else delete r[c.key];
              if (c.key === 'draftModel' && c.f && use === 'model') r.draftDisplayPath = c.f.file;
            }
            if (use === 'context') r.loraDisplayPaths = companions.params.loraAdapters.map((a) => a.path);
            return r;
          };
          const files = opened.flatMap((c) => (c.f ? [c.f] : []));
          return await handOver(files, () => use(f, named), discard);
        } finally {
          for (const c of opened) await c.f?.close();
        }
      },
      discard,
    );
  }

  /**
   * The LoRA adapters and control vectors a load names, each opened once here and its header read from
   * that open file (main/gguf's reader, built for hostile files) before llama.cpp gets the same file
   * (model-file.ts), when the context starts: a file that is no adapter for this model is refused naming
   * it (`invalid_argument`). The engine checks what llama.cpp loaded of each LoRA (every tensor's shape
   * and type) and each control vector's layout again there (native/src/adapters.cpp). Closed by the caller.
   */
  private async openAdapters(model: GgufHeader, p: LoadParams, signal: AbortSignal | undefined, forceIdentity?: boolean): Promise<Companion[]> {
    const opened: Companion[] = [];
    try {
      for (const [key, kind] of ADAPTER_KINDS) {
        for (const [index, a] of p[key].entries()) {
          const what = kind === 'lora' ? 'LoRA adapter' : 'control vector';
          // an adapter is read alone, whatever split.count its header says
          const f = await CheckedModelFile.open(a.path, this.headers, { signal, forceIdentity, single: true }).catch((e: Error) => {
            if (signal?.aborted) throw abortedError();
            throw new EngineError('invalid_argument', `${what} ${a.path}: ${e.message}`);
          });
          opened.push({ key, index, f });
          const problem = adapterProblem(f.header, model, kind);
          if (problem) throw new EngineError('invalid_argument', problem);
        }
      }
      return opened;
    } catch (e) {
      for (const c of opened) await c.f?.close();
      throw e;
    }
  }

  /**
   * The draft model and the projector a load names, which llama.cpp opens itself beside the model: each
   * opened once here and its header read from that open file (as the model's: model-file.ts), so llama.cpp
   * gets the file that was checked. The draft model: a malformed header or hyperparameters llama.cpp
   * asserts on are refused (`invalid_model`); a missing or unreadable file fails (`load_failed`). The
   * projector: one that is missing or whose header does not read fails a load (`load_failed`, which drops
   * a projector the folder paired: projector-pick.ts), and an estimate or a fit counts none, as
   * llama.cpp's reckoning of a projector it cannot read does; another failure to open it (no permission,
   * no descriptors left) fails either. Closed by the caller; `f` null: left out.
   */
  private async openCompanions(p: LoadParams, signal: AbortSignal | undefined, load: boolean, model: string, forceIdentity?: boolean): Promise<Companion[]> {
    const wanted: { key: 'draftModel' | 'mmproj'; file: string; what: string }[] = [];
    if (usesDraftModel(p)) wanted.push({ key: 'draftModel', file: p.draftModel, what: 'the draft model' });
    if (p.mmproj) wanted.push({ key: 'mmproj', file: p.mmproj, what: 'the projector' });
    const opened: Companion[] = [];
    try {
      for (const w of wanted) {
        let f: CheckedModelFile | null;
        try {
          // mtmd reads a projector alone, whatever split.count its header says
          f = await CheckedModelFile.open(w.file, this.headers, { signal, forceIdentity, single: w.key === 'mmproj' });
        } catch (e) {
          if (signal?.aborted) throw abortedError();
          const err = e as NodeJS.ErrnoException;
          const missing = err.code === 'ENOENT' || err.code === 'ENOTDIR';
          // what llama.cpp could not read either: an estimate counts no projector, as its own reckoning would
          if (w.key === 'mmproj' && !load && (missing || e instanceof GgufError)) f = null;
          else if (missing) throw new EngineError('load_failed', `${w.what} ${w.file} was not found (named for ${path.basename(model)})`);
          else if (e instanceof GgufError && w.key === 'draftModel') throw new EngineError('invalid_model', `${w.what} ${w.file}: ${e.detail}`);
          else throw new EngineError('load_failed', `${w.what} ${w.file} cannot be read: ${e instanceof GgufError ? e.detail : err.message}`);
        }
        opened.push({ key: w.key, index: 0, f });
        const problem = f && w.key === 'draftModel' ? hparamProblem(f.header) : null;
        if (problem) throw new EngineError('invalid_model', `${w.what} ${w.file}: ${problem}`);
      }
      return opened;
    } catch (e) {
      for (const c of opened) await c.f?.close();
      throw e;
    }
  }

  /** Whether the host has a GPU device: read once (the devices a host loaded do not change while it runs). */
  private hasGpu(): boolean {
    this.gpu ??= this.addon.devices().some((d) => d.type === 'gpu' || d.type === 'igpu');
    return this.gpu;
  }
  private gpu: boolean | undefined;

  /**
   * What the addon takes: the load parameters without the host-only ones, and flash attention "auto"
   * made concrete for a load that runs only on the CPU: off there (llama.cpp's CPU flash-attention
   * kernels generate much slower once the conversation is long; the figures are in
   * docs/benchmarks.md), unless a quantized V cache needs it.
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
  load(requestId: number, modelId: string, file: string, params: LoadParams, signal: AbortSignal): Promise<Loaded> {
    const key = JSON.stringify([path.resolve(file), params]);
    let job = this.loading.get(modelId);
    if (!job || job.key !== key || job.cancelled) job = this.startLoad(modelId, file, params, key, job);
    const j = job;
    j.requesters.add(requestId);
    const leave = () => {
      j.requesters.delete(requestId);
      if (j.requesters.size === 0) j.cancel();
    };
    return untilAborted(j.promise, signal, { reason: abortedError, onAbort: leave }).finally(() => j.requesters.delete(requestId));
  }

  private startLoad(modelId: string, file: string, params: LoadParams, key: string, previous: Loading | undefined): Loading {
    previous?.cancel();
    let handle: { promise: Promise<NativeModel>; cancel(): void } | undefined;
    // a cancel during the header check stops the parse between chunks
    const parse = new AbortController();
    const job: Loading = {
      modelId,
      key,
      file: path.resolve(file),
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
      if (job.cancelled) throw abortedError();
    };
    job.promise = (async (): Promise<Loaded> => {
      // one load per id at a time: wait for the one this replaces to end
      if (previous) await previous.promise.catch(() => undefined);
      await this.disposeLoaded(modelId);
      check();
      const gpu = this.hasGpu();
      // the model and its context: the adapters the context loads are files the check opened too
      const { model, ctx } = await this.withModelFile(
        file,
        parse.signal,
        { params, load: true },
        async (f, named) => {
          check();
          // the context the load gets follows the checked file's trained context (defaultContextSize)
          const native = this.nativeParams(this.withDefaultContext(f.header, params));
          // gpuLayers "auto" with a GPU: the addon runs llama.cpp's own fitting (--fit) right before the load,
          // the largest offload that leaves the margin free on every device
          const modelParams = params.gpuLayers === 'auto' && gpu ? { ...native, fitMarginMiB: params.fitMarginMiB } : native;
          this.counts.loadsStarted++;
          handle = this.addon.loadModel(f.nativePath, { ...named(modelParams, 'model'), displayPath: f.file }, (progress) => {
            for (const id of job.requesters) this.onProgress(id, progress);
          });
          this.loadingSizes.set(f.file, f.size);
          const m = await handle.promise.finally(() => this.loadingSizes.delete(f.file));
          this.counts.models++;
          try {
            check();
            const c = await this.addon.createContext(m, named(native, 'context'));
            this.counts.contexts++;
            return { model: m, ctx: c };
          } catch (e) {
            await this.disposeModel(m);
            throw e;
          }
        },
        (r) => this.disposeContext(r.ctx).finally(() => this.disposeModel(r.model)),
      );
      try {
        check();
        const fit = model.fitResult();
        const l: Loaded = { modelId, path: file, params, model, ctx, fit: fit ?? undefined };
        await this.disposeLoaded(modelId);
        this.loaded.set(modelId, l);
        return l;
      } catch (e) {
        await this.disposeContext(ctx);
        await this.disposeModel(model);
        throw e;
      }
    })();
    job.promise
      .catch(() => undefined)
      .finally(() => {
        if (this.loading.get(modelId) === job) this.loading.delete(modelId);
        this.loads.delete(job);
      });
    this.loading.set(modelId, job);
    this.loads.add(job);
    return job;
  }

  /** Settles once the context's worker has stopped and its memory is freed (off the JS thread). */
  private async disposeContext(ctx: NativeContext): Promise<void> {
    this.counts.contexts--;
    await ctx.dispose().catch(() => undefined);
  }

  /** Settles once the weights are freed, off the JS thread (contexts are disposed first, so none holds them). */
  private async disposeModel(model: NativeModel): Promise<void> {
    this.counts.models--;
    await model.dispose().catch(() => undefined);
  }

  private async disposeLoaded(modelId: string): Promise<boolean> {
    const l = this.loaded.get(modelId);
    if (!l) return false;
    this.loaded.delete(modelId);
    await this.disposeContext(l.ctx); // aborts what runs; the join and the free happen off this thread
    await this.disposeModel(l.model);
    return true;
  }

  /** Unloads a model; a load of it in flight is cancelled first (or, if it got through, undone). Whether there was one. */
  async unload(modelId: string): Promise<boolean> {
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
}
