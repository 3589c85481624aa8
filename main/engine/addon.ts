/** Loads the native addon (build/bin/hearth.node) and describes its JS surface. Only the engine host imports this. */
import fs from 'fs';
import path from 'path';
import { projectRoot } from '../paths';

export interface NativeModel {
  metadata(): Record<string, unknown>;
  tokenize(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(tokens: ArrayLike<number>, special?: boolean): string;
  applyChatTemplate(requestJson: string): { prompt: string; tokens: number; format: string; supportsThinking: boolean };
  fitResult(): { fits: boolean; gpuLayers: number; contextSize: number } | null;
  dispose(): void;
}

export interface NativeContext {
  generate(requestJson: string, onEvent?: (ev: { content?: string; reasoning?: string }) => void): Promise<Record<string, unknown>>;
  abort(id: number): 'queued' | 'running' | 'unknown';
  /** `id` names the task for abort(id) */
  embed(texts: string[], opts?: { id?: number }): Promise<Float32Array[]>;
  saveSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  restoreSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  clearSequence(opts?: { seq?: number }): Promise<void>;
  info(): Record<string, unknown>;
  memoryBreakdown(): unknown;
  /** Aborts what runs, fails what is queued; settles once the worker has stopped and the memory is freed (off the JS thread). */
  dispose(): Promise<void>;
}

export interface NativeAddon {
  llamaCommit: string;
  init(opts: { backendDir?: string; backends?: string[] }): void;
  setLogger(fn: ((level: string, text: string) => void) | null): void;
  devices(): Array<{ backend: string; name: string; description: string; type: string; memoryTotal: number; memoryFree: number }>;
  backends(): string[];
  systemInfo(): string;
  loadModel(path: string, params: Record<string, unknown>, onProgress?: (p: number) => void): { promise: Promise<NativeModel>; cancel(): void };
  createContext(model: NativeModel, params: Record<string, unknown>): Promise<NativeContext>;
  estimateMemory(path: string, params: Record<string, unknown>): Promise<unknown>;
  fitParams(path: string, params: Record<string, unknown>, opts: { marginMiB?: number; minContext?: number }): Promise<unknown>;
}

/** HEARTH_ADDON overrides the location (a packaged app sets it to its resources folder). */
export function addonPath(): string {
  return process.env.HEARTH_ADDON || path.join(projectRoot(), 'build', 'bin', 'hearth.node');
}

/** The backend modules (libggml-<name>.so and its CPU variants) next to the addon, by backend name. */
export function backendModules(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const f of files) {
    const m = /^(?:lib)?ggml-([a-z0-9]+)(?:-[a-z0-9_.]+)?\.(?:so|dll|dylib)$/.exec(f);
    if (!m || m[1] === 'base') continue;
    const list = out.get(m[1]) ?? [];
    list.push(path.join(dir, f));
    out.set(m[1], list);
  }
  return out;
}

let loaded: NativeAddon | undefined;

/**
 * Loads the addon and its ggml backends. HEARTH_BACKENDS (e.g. "vulkan,cpu") loads only those backend
 * modules: how the client pins a backend, or leaves out one whose driver crashed a probe.
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
  if (only.length) {
    const mods = backendModules(dir);
    const files = only.flatMap((name) => mods.get(name) ?? []);
    addon.init({ backendDir: dir, backends: files });
  } else {
    addon.init({ backendDir: dir });
  }
  loaded = addon;
  return addon;
}
