/**
 * The library.moveFolder channel: moves the models folder's files to another folder (folder-move.ts),
 * pushing library.moveProgress as it goes, then points the library (its listing and watcher) and the
 * download manager at the new folder and saves the modelsFolder setting, last. Refused while any
 * download is kept (queued, running, paused or failed: their `.part` files and records name the old
 * folder; finish or cancel them first), and while another move runs. A model loaded from the folder
 * is unloaded first (its file is about to move). A move that fails midway leaves the files it moved
 * in the new folder and the rest in the old one, whole; the setting and the library stay on the old folder.
 */
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { Logger } from '../logging';
import type { Services } from '../services';
import type { Store } from '../store';
import type { DownloadManager } from './downloads';
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
  /** the library changed: push models.changed */
  onLibraryChanged: () => void;
  logger: Logger;
  freeBytes?: MoveOptions['freeBytes'];
}

export class FolderService {
  private current: string;
  private moving = false;

  constructor(private readonly deps: FolderServiceDeps) {
    this.current = deps.folder;
  }

  /** The models folder in use now. */
  get folder(): string {
    return this.current;
  }

  async move(to: string): Promise<{ folder: string; files: number; bytes: number }> {
    const { services, library, downloads, store, logger } = this.deps;
    if (this.moving) throw new IpcError('invalid_input', 'the models folder is being moved already');
    if (downloads.busy()) throw new IpcError('invalid_input', 'downloads are kept in the models folder: let them finish or cancel them, then move it');
    this.moving = true;
    try {
      const from = this.current;
      const loaded = library.expected;
      if (loaded && inside(from, loaded)) {
        logger.info(`models folder: unloading ${loaded} before the move`);
        await library.unload();
      }
      const r = await moveFolder(from, to, { freeBytes: this.deps.freeBytes, onProgress: (p) => services.emit('library.moveProgress', p) });
      const dest = path.resolve(to);
      library.setFolder(dest);
      downloads.setModelsDir(dest);
      store.settings.set('modelsFolder', dest);
      this.current = dest;
      logger.info(`models folder: moved ${r.files} files (${r.bytes} bytes) from ${from} to ${dest}`);
      this.deps.onLibraryChanged();
      return { folder: dest, ...r };
    } finally {
      this.moving = false;
    }
  }

  register(): void {
    this.deps.services.register({ 'library.moveFolder': (r) => this.move(r.to) });
  }
}
