/**
 * The Data page's channels for this machine's data: data.backups.* (backups.ts), data.folder,
 * data.move (move.ts) and data.erase (erase.ts). A restore, a move and an erase of everything go
 * through the restart port (restart.ts); without one they are refused and data.folder says so.
 */
import fs from 'fs';
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { Handlers, Services } from '../services';
import type { Logger } from '../logging';
import type { DataPaths } from '../paths';
import type { Store } from '../store';
import { modelsFolderOf } from '../paths';
import { Backups } from './backups';
import { eraseEverythingWork, eraseThreads, type EraseThreadsDeps } from './erase';
import { copyForMove, finishMove, planMove } from './move';
import type { Restarter } from './restart';

export function backupChannels(deps: { backups: Backups; restarter: Restarter; logger: Logger }): Handlers {
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
      restarter.check();
      const swap = backups.stageRestore(r.name);
      // the data as it is now stays among the backups
      const before = await backups.create('before restoring ' + r.name);
      deps.logger.info('backups: restoring', { name: r.name, savedFirst: before });
      restarter.request(`restoring the backup ${r.name}`, swap);
      return { ok: true as const };
    },
  };
}

export function folderChannels(deps: EraseThreadsDeps & { paths: DataPaths; restarter: Restarter; services: Services; store: Store; logger: Logger }): Handlers {
  const { paths, restarter, store, logger } = deps;
  let moving = false;
  return {
    'data.folder': () => ({ folder: paths.root, canRestart: restarter.available }),
    'data.move': async (r) => {
      restarter.check();
      if (moving) throw new IpcError('busy', 'the data folder is already being moved');
      moving = true;
      try {
        const includeModels = path.resolve(modelsFolderOf(paths, store.settings)) === path.resolve(paths.models);
        // the default folder, named: it follows the data folder
        if (includeModels && store.settings.get('modelsFolder') !== null) store.settings.set('modelsFolder', null);
        const plan = await planMove(paths, r.to, { includeModels });
        try {
          await copyForMove(plan, store.db, (p) => deps.services.emit('data.moveProgress', p));
        } catch (e) {
          // the target was empty or new: what was copied goes, the data stays where it was
          for (const n of fs.existsSync(plan.to) ? fs.readdirSync(plan.to) : []) fs.rmSync(path.join(plan.to, n), { recursive: true, force: true });
          throw e;
        }
        restarter.request(`moving the data folder to ${plan.to}`, finishMove(plan, logger));
        return { ok: true as const };
      } finally {
        moving = false;
      }
    },
    'data.erase': async (r) => {
      if (r.scope === 'threads') {
        const n = await eraseThreads(deps);
        logger.info('erase: every thread was deleted', { threads: n });
        return { ok: true as const };
      }
      restarter.request('erasing all of Hearth\'s data', eraseEverythingWork(paths.root, logger));
      return { ok: true as const };
    },
  };
}
