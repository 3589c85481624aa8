/**
 * Loads the native addon (build/bin/hearth.node) and describes its JS surface. Only the engine host
 * imports this. The shapes the addon returns are declared here, not checked: the client checks each
 * result against its method's schema (methods.ts).
 */
import fs from 'fs';
import path from 'path';
import { projectRoot } from '../paths';
import { rpcServersFromEnv } from './rpc';
import type { ContextInfo } from './methods';
import type { Device, Estimate, FitResult, GenerateResult, LoadedModule, MemoryBreakdown, ModelMetadata, TokenLogprobs } from './protocol';
import type { ImageSize } from '../params';

export interface LlamaGateStats {
  fits: number;
  waited: number;
  foreignLogs: number;
}

export interface NativeModel {
  metadata(): Omit<ModelMetadata, 'fileTypeName'>;
  tokenize(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(tokens: ArrayLike<number>, special?: boolean): string;
  /** rendered on the libuv pool: a template may run long, and the host's watchdog times it there */
  applyChatTemplate(requestJson: string, template?: string): Promise<{ prompt: string; tokens: number; format: string; supportsThinking: boolean; thinkingStart: string; thinkingEnd: string[] }>;
  fitResult(): { fits: boolean; gpuLayers: number; contextSize: number; tensorOverrides: string[] } | null;
  /** the positions an image of each size takes in a chat prompt (the projector's layout, counted on the libuv pool); rejects not_supported without a projector */
  imageTokens(sizes: readonly ImageSize[]): Promise<number[]>;
  /** Settles once the weights are freed (on the libuv pool), or at once when a context still holds them. */
  dispose(): Promise<void>;
}

export interface NativeContext {
  /**
   * `probs`: the tokens since the last event, with their log-probabilities (sampling.nProbs > 0); the
   * result repeats them all (the host drops that copy: the events carried them)
   */
  generate(requestJson: string, onEvent?: (ev: { content?: string; reasoning?: string; probs?: TokenLogprobs[] }) => void): Promise<GenerateResult & { probs?: TokenLogprobs[] }>;
  abort(id: number): 'queued' | 'running' | 'unknown';
  /** `id` names the task for abort(id); `parseSpecial` as the embed method's (methods.ts) */
  embed(texts: string[], opts?: { id?: number; parseSpecial?: boolean }): Promise<Float32Array[]>;
  /** a reranker (rank pooling): a relevance score per document, and the tokens of all the query/document pairs; `id` and `parseSpecial` as embed's */
  rerank(query: string, documents: string[], opts?: { id?: number; parseSpecial?: boolean }): Promise<{ scores: number[]; tokens: number }>;
  saveSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  restoreSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  clearSequence(opts?: { seq?: number }): Promise<void>;
  info(): ContextInfo;
  memoryBreakdown(): MemoryBreakdown;
  /** Aborts what runs, fails what is queued; settles once the worker has stopped and the memory is freed (off the JS thread). */
  dispose(): Promise<void>;
}

/**
 * Native work in progress, as the host's task watchdog reads it (native/src/activity.h): a model load,
 * context creation, a context's worker while it works ("work"), a chat template render ("render").
 */
export interface NativeActivity {
  kind: string;
  /** the model file it works on */
  model: string;
  runningMs: number;
  /** since its last progress (a load's progress, a decode, a graph node on the CPU) */
  idleMs: number;
  /** how long the chat template render in progress has run; null outside one */
  templateMs: number | null;
  /** that template is the user's (a chatTemplate setting or its preview), not the model file's own */
  templateGiven: boolean;
}

export interface NativeAddon {
  llamaCommit: string;
  /** ggml_backend_score of a backend module: 0 when it refuses this machine, -1 when it exports none; throws backend_failed when it cannot be opened */
  backendScore(path: string): number;
  init(opts: { backendDir?: string; backends?: string[] }): void;
  setLogger(fn: ((level: string, text: string) => void) | null): void;
  devices(): Device[];
  backends(): string[];
  systemInfo(): string;
  /** the threads a context gets when none are asked for (llama.cpp's common_cpu_get_num_math: on Linux and macOS the physical performance cores, at most the CPUs this process may run on: affinity, cgroup quota) */
  defaultThreads(): number;
  /** `params.displayPath` names the file in messages and metadata when `path` is another name of it (/proc/self/fd/N); `params.draftDisplayPath` the draft model when `params.draftModel` is */
  loadModel(path: string, params: Record<string, unknown>, onProgress?: (p: number) => void): { promise: Promise<NativeModel>; cancel(): void };
  activities(): NativeActivity[];
  /** what the gate around llama.cpp's fitting has seen (native/src/llama_gate.h): foreignLogs must stay 0 */
  llamaGate(): LlamaGateStats;
  /** `params.loraDisplayPaths` names each of `params.loraAdapters` as the user knows it (a request names it so) when its path is another name of it */
  createContext(model: NativeModel, params: Record<string, unknown>): Promise<NativeContext>;
  /** `params.displayPath`: the model as the user knows it, which the watchdog's activity names, when `path` is another name of it */
  estimateMemory(path: string, params: Record<string, unknown>): Promise<Estimate>;
  /** contextMode "auto": the fit may shrink the context (down to minContext); `params.displayPath` as estimateMemory's */
  fitParams(path: string, params: Record<string, unknown>, opts: { marginMiB?: number; minContext?: number; contextMode?: 'auto' | 'fixed' }): Promise<FitResult>;
  /** every parameter family the addon parses: its keys and defaults (null: decided at run time) */
  describeParams(): Record<'sampling' | 'load' | 'context' | 'request', Record<string, unknown>>;
  /** llama.cpp's own defaults of each n-gram kind's limits (common_params_speculative), for the drift test */
  ngramKindDefaults(): Record<'ngram-simple' | 'ngram-map-k' | 'ngram-map-k4v', { sizeN: number; sizeM: number; minHits: number }> & { 'ngram-mod': { match: number; max: number; min: number } };
  /** a family's parameters as the addon parsed them (unknown keys refused), for the drift test */
  echoParams(family: 'sampling' | 'load' | 'context' | 'request', params: Record<string, unknown>): Record<string, unknown>;
  /** registers an rpc-server's devices (native/src/rpc.cpp): their names; ggml-rpc ends the process when the server cannot be reached (the client probes first: rpc.ts) */
  addRpcServer(endpoint: string): string[];
  /** the RPC protocol version this build speaks (ggml-rpc.h) */
  rpcProtocol: { major: number; minor: number; patch: number };
  /** the names of the samplers in the chain a generation with these sampling parameters runs (llama_sampler_name) */
  samplerChain(model: NativeModel, sampling: Record<string, unknown>): string[];
  /** the index plain greedy sampling picks from these logits: the first largest; -1 when any is NaN or +Infinity (for the tests) */
  argmaxLogits(logits: Float32Array): number;
  /** whether a sampler chain may read these logits: none NaN or +Infinity, some above -Infinity (for the tests) */
  finiteLogits(logits: Float32Array): boolean;
  /** text's tokens as a chat prompt's after previousText's, reusing the shared text's where safe, and how many were reused (for the tests) */
  promptTokens(model: NativeModel, previousText: string, text: string): { tokens: number[]; reused: number };
  /** A rendered prompt's tokens, the text between data marks as text (native/src/data_text.h tokenizeMarked); for the tests. */
  markedTokens(model: NativeModel, text: string): number[];
  /** The bytes with each ill-formed UTF-8 part replaced by U+FFFD, as a model's reply is parsed (native/src/util.h validUtf8); for the tests. */
  validUtf8(bytes: Buffer): Buffer;
}

/** HEARTH_ADDON overrides the location (a packaged app sets it to its resources folder). */
export function addonPath(): string {
  return process.env.HEARTH_ADDON || path.join(projectRoot(), 'build', 'bin', 'hearth.node');
}

/** One ggml backend module file: `libggml-<backend>.so` (the base module) or `libggml-<backend>-<variant>.so` (e.g. the CPU's `haswell`). */
export interface BackendModule {
  backend: string;
  variant?: string;
  path: string;
}

/** A backend module's file name (ggml-backend-reg.cpp looks for `[lib]ggml-<name>[-<variant>].so|.dll`). */
const MODULE_NAME = /^(?:lib)?ggml-([a-z0-9]+)(?:-([a-z0-9_.]+))?\.(?:so|dll|dylib)$/;

/** The backend modules (libggml-<name>.so and its CPU variants) in `dir`, by backend name. */
export function backendModules(dir: string): Map<string, BackendModule[]> {
  const out = new Map<string, BackendModule[]>();
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const f of files) {
    const m = MODULE_NAME.exec(f);
    if (!m || m[1] === 'base') continue;
    const list = out.get(m[1]) ?? [];
    list.push({ backend: m[1], ...(m[2] ? { variant: m[2] } : {}), path: path.join(dir, f) });
    out.set(m[1], list);
  }
  return out;
}

/**
 * The one module to load for a backend, picked as ggml_backend_load_best picks it: the variant with
 * the highest score (`score(path)`: 0 when the variant refuses this CPU), else the base module.
 * `refused` lists the variants passed over because they scored 0 or could not be opened.
 */
export function bestModule(modules: BackendModule[], score: (path: string) => number): { chosen?: LoadedModule; refused: string[] } {
  let chosen: LoadedModule | undefined;
  const refused: string[] = [];
  for (const m of modules) {
    if (!m.variant) continue;
    let s = 0;
    try {
      s = score(m.path);
    } catch {
      s = 0;
    }
    if (s > 0 && (!chosen || s > chosen.score!)) chosen = { ...m, score: s };
    else if (s <= 0) refused.push(m.variant);
  }
  chosen ??= modules.find((m) => !m.variant);
  return { chosen, refused };
}

let loaded: NativeAddon | undefined;
let modules: LoadedModule[] = [];
let rpcProblems: string[] = [];

/** Endpoints of HEARTH_RPC_SERVERS the addon could not register (loadAddon goes on without them). */
export function rpcRegisterProblems(): string[] {
  return rpcProblems;
}

/** The file name of llama.cpp's rpc-server program, built and shipped next to the addon (CMakeLists.txt). */
export const RPC_SERVER_FILE = process.platform === 'win32' ? 'ggml-rpc-server.exe' : 'ggml-rpc-server';

/** Where the rpc-server program is: next to the addon. */
export function rpcServerPath(): string {
  return path.join(path.dirname(addonPath()), RPC_SERVER_FILE);
}

/** The backend modules loadAddon chose (empty when ggml chose them itself: no HEARTH_BACKENDS). */
export function loadedModules(): LoadedModule[] {
  return modules;
}

/**
 * The llama.cpp commit the addon was built from (its `llamaCommit` export), without loading any
 * backend or starting an engine: loading the addon runs no llama.cpp work (InitModule only installs
 * its logger). Throws addon_missing like loadAddon.
 */
export function addonLlamaCommit(): string {
  const file = addonPath();
  if (!fs.existsSync(file)) {
    throw Object.assign(new Error(`the native addon is missing at ${file}: run npm run build:native`), { code: 'addon_missing' });
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require(file) as NativeAddon).llamaCommit;
}

/**
 * Loads the addon and its ggml backends. HEARTH_BACKENDS (e.g. "vulkan,cpu") loads only those backends:
 * how the client pins a backend, or leaves out one whose driver crashed a probe. Of a backend built in
 * several variants (HEARTH_CPU_ALL_VARIANTS) only the best one this CPU accepts is loaded; without
 * HEARTH_BACKENDS ggml's own ggml_backend_load_all_from_path chooses the same way.
 */
export function loadAddon(): NativeAddon {
  if (loaded) return loaded;
  const file = addonPath();
  if (!fs.existsSync(file)) {
    throw Object.assign(new Error(`the native addon is missing at ${file}: run npm run build:native`), { code: 'addon_missing' });
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const addon = require(file) as NativeAddon;
  const dir = path.dirname(file);
  const only = (process.env.HEARTH_BACKENDS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  // remote devices need the RPC backend module, loaded only then (it adds a backend to every list)
  const rpcServers = rpcServersFromEnv();
  if (only.length && rpcServers.length && !only.includes('rpc')) only.push('rpc');
  if (only.length) {
    const mods = backendModules(dir);
    const chosen: LoadedModule[] = [];
    for (const name of only) {
      const list = mods.get(name);
      if (!list) continue; // not built: the probe already told the client
      const best = bestModule(list, (p) => addon.backendScore(p));
      if (!best.chosen) {
        throw Object.assign(new Error(`no ${name} backend module in ${dir} supports this machine (refused: ${best.refused.join(', ')})`), { code: 'backend_failed' });
      }
      chosen.push(best.chosen);
    }
    addon.init({ backendDir: dir, backends: chosen.map((m) => m.path) });
    modules = chosen;
  } else {
    addon.init({ backendDir: dir });
  }
  rpcProblems = [];
  for (const endpoint of rpcServers) {
    try {
      addon.addRpcServer(endpoint);
    } catch (e) {
      rpcProblems.push(`${endpoint}: ${(e as Error).message}`);
    }
  }
  loaded = addon;
  return addon;
}
