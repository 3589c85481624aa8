/**
 * The models in <data>/models (any depth) and the one chat model loaded in the engine: load with
 * progress, unload, switch. Per-model load settings come from the store.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { EngineError, LoadParamsInput } from '../engine/protocol';
import { IpcError, ModelDTO, ModelState } from '../ipc/contract';
import { planLoad } from './fit';

export const CHAT_MODEL_ID = 'chat';

/**
 * The one answer to a model path the library does not know: the same code and words whether the
 * path exists, is not a model, or names any other file, so the renderer learns nothing about the disk.
 */
export function modelUnknown(): IpcError {
  return new IpcError('model_unknown', 'this model is not in the library: put it in the models folder, or open it with the file picker');
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
}

/** Whether a file starts with GGUF's magic (a symlink must lead to a model, not to any file). */
function isGguf(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Walks a folder for .gguf files, skipping hidden folders; bounded so a huge tree cannot stall main.
 * Symlinks are followed as users expect (a model linked in from another disk or app): a linked file
 * counts when it is a GGUF, a linked folder is walked once.
 */
export function findModels(dir: string, limit = 2000): ModelDTO[] {
  const out: ModelDTO[] = [];
  const seen = new Set<string>();
  const walk = (d: string, depth: number) => {
    if (depth > 6 || out.length >= limit) return;
    let entries: fs.Dirent[];
    try {
      const real = fs.realpathSync(d);
      if (seen.has(real)) return; // a link back into the tree
      seen.add(real);
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      let st: fs.Stats | undefined;
      if (e.isSymbolicLink()) {
        try {
          st = fs.statSync(p);
        } catch {
          continue; // a dangling link
        }
      }
      if (st ? st.isDirectory() : e.isDirectory()) walk(p, depth + 1);
      else if ((st ? st.isFile() : e.isFile()) && e.name.toLowerCase().endsWith('.gguf') && (!st || isGguf(p))) {
        try {
          out.push({ path: p, name: e.name.replace(/\.gguf$/i, ''), fileSize: (st ?? fs.statSync(p)).size });
        } catch {
          /* vanished while listing */
        }
      }
    }
  };
  walk(dir, 0);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export class ModelLibrary {
  private state: ModelState = { loaded: null, loading: null, error: null };
  private loadedSettings: { path: string; settings: LoadParamsInput } | null = null;
  private loadJob: Promise<void> | undefined;
  /** the load whose progress and outcome the state shows */
  private loadToken: object | undefined;
  private contextSize = 0;
  /** Files the user picked in a file dialog this session (main/app adds them). */
  private readonly picked = new Set<string>();

  constructor(private readonly deps: LibraryDeps) {}

  list(): ModelDTO[] {
    return findModels(this.deps.modelsDir);
  }

  /** Accepts `file` for this session as if it were in the library: only for a file the user picked in a dialog. */
  addPicked(file: string): void {
    this.picked.add(path.resolve(file));
  }

  /**
   * The model a request names, as an absolute path: one in the library's listing (<data>/models) or
   * a file picked this session. Anything else is refused with model_unknown before any file is
   * opened, so no IPC request can make native code parse an arbitrary file.
   */
  known(modelPath: string): string {
    const file = path.resolve(modelPath);
    if (this.picked.has(file) || this.list().some((m) => m.path === file)) return file;
    throw modelUnknown();
  }

  /** The current state, with the context use read from the engine when a model is loaded. */
  async current(): Promise<ModelState> {
    if (this.state.loaded) {
      try {
        const info = await this.deps.engine.contextInfo(CHAT_MODEL_ID);
        const used = (info.sequenceTokens as number[] | undefined)?.[0] ?? 0;
        this.state = { ...this.state, loaded: { ...this.state.loaded, tokensUsed: used } };
      } catch {
        /* engine restarting: report what we know */
      }
    }
    return this.state;
  }

  get loadedPath(): string | null {
    return this.state.loaded?.path ?? null;
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
  async load(modelPath: string, force = false): Promise<ModelState> {
    const file = this.known(modelPath);
    const settings = this.deps.loadSettings(file);
    const same = JSON.stringify(this.loadedWith(file)) === JSON.stringify(settings);
    if (this.state.loaded?.path === file && same) return this.current();
    if (this.loadJob && this.state.loading?.path === file) {
      await this.loadJob;
      return this.current();
    }
    const guard = this.deps.guardrail();
    const params: LoadParamsInput = { parallel: 2, fitMarginMiB: guard.marginMiB, ...settings };
    if (guard.mode !== 'off') {
      const plan = await planLoad(this.deps.engine, file, params, guard.marginMiB);
      if (!plan.check.fits && (guard.mode === 'strict' || !force)) {
        const what = plan.check.problems.join('; ');
        throw guard.mode === 'strict'
          ? new IpcError('insufficient_memory', `this model and these settings do not fit: ${what}`)
          : new IpcError('needs_confirmation', `this model may not fit: ${what}. Load anyway?`);
      }
    }
    this.set({ loading: { path: file, progress: 0 }, error: null });
    const token = {};
    this.loadToken = token;
    const job = (async () => {
      try {
        const r = await this.deps.engine.load(CHAT_MODEL_ID, file, params, (p) => {
          if (this.loadToken === token) this.set({ loading: { path: file, progress: p } });
        });
        this.contextSize = Number(r.context.contextSize ?? 0);
        this.loadedSettings = { path: file, settings };
        this.set({ loaded: { path: file, contextSize: this.contextSize, tokensUsed: 0 }, loading: null, error: null });
      } catch (e) {
        const err = e as EngineError;
        // cancelled by an unload, or replaced by a load of another model: that one says what happens
        if (err.code === 'aborted' && this.loadToken !== token) return;
        this.set({ loading: null, loaded: null, error: `${err.code ?? 'load_failed'}: ${err.message}` });
        throw new IpcError(err.code === 'invalid_model' || err.code === 'not_found' ? err.code : 'load_failed', err.message);
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
    const loading = this.loadJob;
    this.loadToken = undefined;
    this.loadedSettings = null;
    this.set({ loaded: null, loading: null, error: null });
    await this.deps.engine.unload(CHAT_MODEL_ID);
    if (loading) await loading.catch(() => undefined);
    return this.state;
  }

  /** Waits for a load in progress; returns the loaded model's path or null. */
  async ready(): Promise<string | null> {
    if (this.loadJob) await this.loadJob.catch(() => undefined);
    return this.loadedPath;
  }
}
