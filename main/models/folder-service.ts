/**
 * The library.moveFolder channel: moves the models folder's files to another folder (folder-move.ts:
 * what moves, what is refused), pushing library.moveProgress as it goes, then switches the download
 * manager, the library (its listing and watcher) and the modelsFolder setting to the new folder, in
 * one step that nothing can refuse by then. Refused while any download is kept (queued, running,
 * paused or failed: their `.part` files and records name the old folder; finish or cancel them first),
 * while an import runs, and while another move runs. The move holds the folder lock (folder-lock.ts)
 * from its checks to its switch: a download added or resumed and an import asked meanwhile are refused
 * ("the models folder is being moved"). A model loaded from the folder is unloaded first (its file is
 * about to move). A move that fails midway leaves the files it moved in the new folder and the rest in
 * the old one, whole; the setting, the library and the download manager stay on the old folder.
 */
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { Logger } from '../logging';
import type { Services } from '../services';
import type { Store } from '../store';
import type { DownloadManager } from './downloads';
import type { FolderLock } from './folder-lock';
import { moveFolder, type MoveOptions } from './folder-move';
import { inside } from './inside';
import type { ModelLibrary } from './library';

export interface FolderServiceDeps {
  services: Services;
  store: Store;
  library: ModelLibrary;
  downloads: DownloadManager;
  /** the models folder in use when the app started (modelsFolderOf) */
  folder: string;
  /** the app's data folder (never inside the models folder's target) */
  dataDir: string;
  /** the models folder's writers (shared with downloads and imports) */
  lock: FolderLock;
  /** the library changed: push models.changed */
  onLibraryChanged: () => void;
  logger: Logger;
  freeBytes?: MoveOptions['freeBytes'];
}

export class FolderService {
  private current: string;

  constructor(private readonly deps: FolderServiceDeps) {
    this.current = deps.folder;
  }

  /** The models folder in use now. */
  get folder(): string {
    return this.current;
  }

  async move(to: string): Promise<{ folder: string; files: number; bytes: number }> {
    const { services, library, downloads, store, logger, lock } = this.deps;
    // held from here to the switch: no download or import starts in the folder meanwhile
    const endMove = lock.beginMove();
    try {
      if (downloads.busy()) throw new IpcError('invalid_input', 'downloads are kept in the models folder: let them finish or cancel them, then move it');
      const from = this.current;
      const loaded = library.expected;
      if (loaded && inside(from, loaded)) {
        logger.info(`models folder: unloading ${loaded} before the move`);
        await library.unload();
      }
      const r = await moveFolder(from, to, {
        freeBytes: this.deps.freeBytes, dataDir: this.deps.dataDir, onProgress: (p) => services.emit('library.moveProgress', p),
      });
      const dest = path.resolve(to);
      // every part switches, or none: the lock kept downloads from being added, so nothing refuses here
      downloads.setModelsDir(dest);
      try {
        library.setFolder(dest);
        store.settings.set('modelsFolder', dest);
      } catch (e) {
        downloads.setModelsDir(from);
        library.setFolder(from);
        throw e;
      }
      this.current = dest;
      logger.info(`models folder: moved ${r.files} files (${r.bytes} bytes) from ${from} to ${dest}`);
      this.deps.onLibraryChanged();
      return { folder: dest, ...r };
    } finally {
      endMove();
    }
  }

  register(): void {
    this.deps.services.register({ 'library.moveFolder': (r) => this.move(r.to) });
  }
}
