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
  embed(texts: string[]): Promise<Float32Array[]>;
  saveSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  restoreSession(path: string, opts?: { seq?: number }): Promise<{ tokens: number }>;
  clearSequence(opts?: { seq?: number }): Promise<void>;
  info(): Record<string, unknown>;
  memoryBreakdown(): unknown;
  dispose(): void;
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

let loaded: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (loaded) return loaded;
  const file = addonPath();
  if (!fs.existsSync(file)) {
    throw Object.assign(new Error(`the native addon is missing at ${file}: run npm run build:native`), { code: 'addon_missing' });
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const addon = require(file) as NativeAddon;
  addon.init({ backendDir: path.dirname(file) });
  loaded = addon;
  return addon;
}
