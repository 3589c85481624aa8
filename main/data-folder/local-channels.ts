/**
 * The Data page's channels for this machine's data: data.backups.* (backups.ts), data.folder,
 * data.move (move.ts), data.stray and data.stray.empty (stray.ts) and data.erase (erase.ts). A restore, a move and an erase of everything go
 * through the restart port (restart.ts); without one they are refused and data.folder says so. Each
 * is refused (busy, nothing changed) while another process (a second `hearth serve`, a `hearth`
 * command) has the store open: swapping its files under it would corrupt it. The restart's work checks
 * again before it touches them.
 */
import fs from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { Handlers, Services } from '../services';
import type { Logger } from '../logging';
import type { DataPaths } from '../paths';
import type { Store } from '../store';
import { modelsFolderOf, MOVED_TO_FILE } from '../paths';
import { isStoreError } from '../store';
import { checkSoleUser } from '../store/update-backup';
import { Backups } from './backups';
import { eraseEverythingWork, eraseThreads, type EraseThreadsDeps } from './erase';
import { copyForMove, finishMove, planMove } from './move';
import { emptyStray, strayUsage, type StrayDeps } from './stray';
import type { Restarter } from './restart';

/** Refuses (busy) while a connection other than the store's own has its database open. */
function refuseIfShared(store: Pick<Store, 'db'>, database: string): void {
  try {
    checkSoleUser(store.db, database);
  } catch (e) {
    if (isStoreError(e, 'in_use')) throw new IpcError('busy', e.message);
    throw e;
  }
}

export function backupChannels(deps: { backups: Backups; restarter: Restarter; store: Pick<Store, 'db'>; paths: Pick<DataPaths, 'database'>; logger: Logger }): Handlers {
  const { backups, restarter } = deps;
  return {
    'data.backups.list': () => backups.list(),
    'data.backups.create': async () => {
      await backups.create();
      return backups.list();
    },
    'data.backups.settings': (r) => backups.updateSettings(r),
    'data.backups.delete': (r) => backups.delete(r.name),
    'data.backups.restore': async (r) => {
      await restarter.run(async () => {
        refuseIfShared(deps.store, deps.paths.database);
        const swap = backups.stageRestore(r.name);
        // the data as it is now stays among the backups (not pruned: the one restored may be the oldest)
        const before = await backups.create('before restoring ' + r.name, false);
        deps.logger.info('backups: restoring', { name: r.name, savedFirst: before });
        return { reason: `restoring the backup ${r.name}`, work: swap };
      });
      return { ok: true as const };
    },
  };
}

export function folderChannels(deps: EraseThreadsDeps & StrayDeps & { paths: DataPaths; restarter: Restarter; services: Services; store: Store; logger: Logger }): Handlers {
  const { paths, restarter, store, logger } = deps;
  return {
    'data.folder': () => ({ folder: paths.root, canRestart: restarter.available }),
    'data.stray': (r) => strayUsage(deps, r.keep),
    'data.stray.empty': async (r) => {
      const left = await emptyStray(deps, r.keep);
      logger.info('stray: the files set aside were deleted', { left: left.files });
      return left;
    },
    'data.move': async (r) => {
      await restarter.run(async () => {
        refuseIfShared(store, paths.database);
        const includeModels = path.resolve(modelsFolderOf(paths, store.settings)) === path.resolve(paths.models);
        const plan = await planMove(paths, r.to, { includeModels });
        // the default folder, named: it follows the data folder
        if (includeModels && store.settings.get('modelsFolder') !== null) store.settings.set('modelsFolder', null);
        try {
          await copyForMove(plan, store.db, (p) => deps.services.emit('data.moveProgress', p));
          refuseIfShared(store, paths.database);
        } catch (e) {
          // the target was empty or new (or held only a pointer back here, which stays): what was copied goes, the data stays where it was
          for (const n of fs.existsSync(plan.to) ? fs.readdirSync(plan.to) : []) if (n !== MOVED_TO_FILE) fs.rmSync(path.join(plan.to, n), { recursive: true, force: true });
          throw e;
        }
        return { reason: `moving the data folder to ${plan.to}`, work: finishMove(plan, logger) };
      });
      return { ok: true as const };
    },
    'data.erase': async (r) => {
      if (r.scope === 'threads') {
        const n = await eraseThreads(deps);
        logger.info('erase: every thread was deleted', { threads: n });
        return { ok: true as const };
      }
      await restarter.run(async () => {
        refuseIfShared(store, paths.database);
        return { reason: 'erasing all of Hearth\'s data', work: eraseEverythingWork(paths.root, logger) };
      });
      return { ok: true as const };
    },
  };
}
