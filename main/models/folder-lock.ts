/**
 * Who writes into the models folder now, the one place the folder's writers consult each other
 * (shared by the download manager, imports and the folder move, within one process):
 * - a move holds the folder (beginMove): meanwhile a new download, a resumed one and an import are
 *   refused (FOLDER_MOVING), as they would write into a folder about to be left;
 * - each file name being written is claimed by one writer (a download from add or restore until done
 *   or cancelled, an import while it copies or moves), so a download and an import never write one
 *   name; the second is refused with who holds it.
 */
import path from 'path';
import { IpcError } from '../ipc/contract';

export type FolderWriter = 'download' | 'import';

/** Why a write is refused while the folder moves. */
export const FOLDER_MOVING = 'the models folder is being moved: try again once the move is done';

export class FolderLock {
  private moving = false;
  private readonly claims = new Map<string, FolderWriter>();

  /** Throws invalid_input (FOLDER_MOVING) while a move runs. */
  checkNotMoving(): void {
    if (this.moving) throw new IpcError('invalid_input', FOLDER_MOVING);
  }

  /** Holds the folder for a move; the returned function lets it go. Refused while a move or an import runs. */
  beginMove(): () => void {
    if (this.moving) throw new IpcError('invalid_input', 'the models folder is being moved already');
    if ([...this.claims.values()].includes('import')) throw new IpcError('invalid_input', 'a model is being imported into the models folder: let it finish, then move it');
    this.moving = true;
    return () => {
      this.moving = false;
    };
  }

  /**
   * Claims `target` (a file of the folder) for `by`; the returned function releases it. Refused while
   * a move runs, and when another writer holds that name.
   */
  claim(target: string, by: FolderWriter): () => void {
    this.checkNotMoving();
    const key = path.resolve(target);
    const holder = this.claims.get(key);
    if (holder) {
      throw new IpcError('invalid_input', `${path.basename(target)} is being ${holder === 'download' ? 'downloaded' : 'imported'} into the models folder: let that finish or cancel it, or give this one another name`);
    }
    this.claims.set(key, by);
    let held = true;
    return () => {
      if (held && this.claims.get(key) === by) this.claims.delete(key);
      held = false;
    };
  }
}
