/**
 * The Library page's channels: library.facts (each model's files and header facts), library.import
 * (a file checked, then copied, moved or referenced: main/models/import.ts) and library.delete (a
 * model of the models folder deleted from disk, every part of a split model, unloaded first when it
 * is the chat model). After an import or a delete the folder is checked at once and models.changed
 * is pushed (onLibraryChanged), without waiting for the folder's watcher.
 *
 * A model in a linked subfolder is refused (its real folder lies outside the models folder: the link is
 * the user's to remove); a linked file is deleted as a link (its target stays).
 *
 * What delete keeps: the model's load settings (the store's model_settings row, keyed by path), so
 * the same file downloaded again gets them back; and any other file (projectors are models of the
 * folder like any other; the pairing is by folder, name and width: main/models/projector.ts).
 */
import { promises as fsp } from 'fs';
import path from 'path';
import type { EngineClient } from '../engine/client';
import { IpcError, type ResponseOf } from '../ipc/contract';
import type { Logger } from '../logging';
import type { Services } from '../services';
import { readGgufHeader } from '../gguf/read';
import { headerFacts, type HeaderFacts } from './facts';
import type { FolderLock } from './folder-lock';
import { importModel } from './import';
import { inside } from './inside';
import type { LibraryEntry, ModelLibrary } from './library';
import { splitParts } from '../gguf/split-name';
import { pairProjectors } from './projector';
import { PROGRESS_EVERY_MS } from '../progress-pace';

/** the least time between two library.importProgress events of one import */
export const IMPORT_PROGRESS_MS = PROGRESS_EVERY_MS;

/** Facts kept at most for this many files (a bigger library reads the rest again). */
const FACTS_KEPT = 2000;

export interface LibraryServiceDeps {
  services: Services;
  library: ModelLibrary;
  engine: EngineClient;
  /** the models folder as of now (library.moveFolder changes it) */
  modelsDir: () => string;
  /** the models folder's writers (shared with downloads and the folder move) */
  lock?: FolderLock;
  /** other apps' models folders (import.ts: a file there is never moved) */
  peerFolders?: () => string[];
  /** the library changed: push models.changed */
  onLibraryChanged: () => void;
  logger: Logger;
}

type Facts = { facts: HeaderFacts } | { error: string };

export class LibraryService {
  /** facts by (path, size, mtime): a header is parsed once while its file is unchanged */
  private readonly facts = new Map<string, Facts>();
  /** one header parse at a time (a big vocabulary takes a while to decode) */
  private reading: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: LibraryServiceDeps) {}

  /** The files of a library entry: every part of a split model of the folder that exists, else the file. */
  private async filesOf(entry: LibraryEntry): Promise<string[]> {
    const split = entry.origin === 'folder' ? splitParts(entry.path) : null;
    if (!split) return [entry.path];
    const there = await Promise.all(split.parts.map(async (p) => ((await fsp.stat(p).catch(() => undefined))?.isFile() ? p : null)));
    return there.filter((p): p is string => p !== null);
  }

  private async factsOf(file: string): Promise<Facts> {
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st?.isFile()) return { error: 'the file is not there' };
    const key = `${file}\0${st.size}\0${st.mtimeMs}`;
    const kept = this.facts.get(key);
    if (kept) return kept;
    const run = this.reading.then(async (): Promise<Facts> => {
      try {
        return { facts: headerFacts(await readGgufHeader(file)) };
      } catch (e) {
        return { error: (e as Error).message };
      }
    });
    this.reading = run;
    const got = await run;
    if (this.facts.size >= FACTS_KEPT) this.facts.clear();
    this.facts.set(key, got);
    return got;
  }

  /** Each model of the library with its files and facts (a split model's parameters summed over its parts). */
  private async allFacts() {
    const out: ResponseOf<'library.facts'> = [];
    const models = new Set<string>(); // the entries that are models (not projectors nor adapters: fileRole)
    for (const entry of await this.deps.library.entries()) {
      const files = await this.filesOf(entry);
      const each = await Promise.all(files.map((f) => this.factsOf(f)));
      const bad = each.find((f): f is { error: string } => 'error' in f);
      const first = each[0];
      if (bad || !first || 'error' in first) {
        out.push({ path: entry.path, files, facts: null, projector: null, error: bad?.error ?? 'the file is not there' });
        continue;
      }
      const parameters = each.reduce((n, f) => n + ('facts' in f ? f.facts.parameters : 0), 0);
      if (first.facts.role === 'model') models.add(entry.path);
      out.push({ path: entry.path, files, facts: { ...first.facts, parameters }, projector: null, error: null });
    }
    // each model with the vision projector of its folder that goes with it
    const projectors = out.filter((e) => e.facts?.projector).map((e) => ({ path: e.path, name: e.facts!.name, width: e.facts!.width }));
    const pairs = pairProjectors(out.filter((e) => models.has(e.path)).map((e) => ({ path: e.path, name: e.facts!.name, width: e.facts!.width })), projectors);
    for (const e of out) e.projector = pairs.get(e.path) ?? null;
    return out;
  }

  /** Deletes a model of the models folder from disk (see the file's comment). */
  private async remove(modelPath: string): Promise<{ files: string[]; bytes: number; unloaded: boolean }> {
    const { library, modelsDir } = this.deps;
    const file = path.resolve(modelPath);
    const entry = (await library.entries()).find((e) => e.path === file);
    if (!entry) throw new IpcError('model_unknown', 'this model is not in the library');
    if (entry.origin === 'reference') throw new IpcError('invalid_input', `${path.basename(file)} was added by reference: remove it from the library instead (its file stays where it is)`);
    if (!inside(modelsDir(), file, { orSelf: false })) throw new IpcError('invalid_input', `${file} is not in the models folder`);
    const files = await this.filesOf(entry);
    // by real paths: a model in a linked subfolder lies outside the models folder; as with a linked
    // file (its link goes, not its target), nothing outside the folder is deleted: the link is the user's to remove
    const realDir = await fsp.realpath(modelsDir()).catch(() => path.resolve(modelsDir()));
    for (const f of files) {
      const realParent = await fsp.realpath(path.dirname(f)).catch(() => path.dirname(f));
      if (!inside(realDir, realParent)) {
        throw new IpcError('invalid_input', `${path.basename(f)} lies in a linked folder (its files are in ${realParent}, outside the models folder): remove the link to take it out of the library; its files stay`);
      }
    }
    let unloaded = false;
    const state = await library.current();
    const inUse = [state.loaded?.path, state.loading?.path].some((p) => p !== undefined && files.includes(p));
    if (inUse) {
      await library.unload();
      unloaded = true;
    }
    let bytes = 0;
    for (const f of files) {
      const st = await fsp.lstat(f).catch(() => undefined);
      // a link into the folder goes, not the file it points to
      await fsp.rm(f, { force: true });
      bytes += st?.isFile() ? st.size : 0;
    }
    this.deps.logger.info(`library: deleted ${files.map((f) => path.basename(f)).join(', ')}`);
    await this.changed();
    return { files, bytes, unloaded };
  }

  /** The folder checked now (the listing drops or adds at once), then models.changed. */
  private async changed(): Promise<void> {
    await this.deps.library.folder.listing().catch((e: Error) => this.deps.logger.warn(`models folder: ${e.message}`));
    this.deps.onLibraryChanged();
  }

  register(): void {
    const { services, library, engine, modelsDir, lock, peerFolders } = this.deps;
    services.register({
      'library.facts': () => this.allFacts(),
      'library.delete': (r) => this.remove(r.path),
      'library.import': async (r) => {
        // progress to every window, at most every IMPORT_PROGRESS_MS and at the end
        let last = 0;
        const onProgress = (bytes: number, total: number) => {
          const now = Date.now();
          if (bytes < total && now - last < IMPORT_PROGRESS_MS) return;
          last = now;
          services.emit('library.importProgress', { path: r.path, bytes, total });
        };
        const res = await importModel(r.path, r.mode, {
          library, modelsDir: modelsDir(), loadable: (f) => engine.info(f), lock, onProgress, ...(peerFolders ? { peerFolders: peerFolders() } : {}),
        });
        await this.changed();
        return { mode: res.mode, path: res.path, files: res.files, size: res.size };
      },
    });
  }
}
