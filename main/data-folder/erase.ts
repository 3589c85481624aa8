/**
 * Erasing (data.erase): every saved thread, live (a running chats import stopped first; each goes as threads.delete deletes one: its
 * messages and their search index, its saved cache, then the images no message refers to); or all of
 * Hearth's data, as the restart's work once everything is closed (erase-scope.ts lists what goes; the
 * models stay, and the next start makes a fresh store).
 */
import fs from 'fs';
import path from 'path';
import type { ImageSweep } from '../chat/image-sweep';
import type { ThreadSessions } from '../chat/sessions';
import type { ChatService } from '../chat/turns';
import type { Logger } from '../logging';
import type { Services } from '../services';
import type { Store } from '../store';
import { checkNobodyHas } from '../store/update-backup';
import type { ImportJobs } from '../data/import-job';
import { DATABASE_FILE } from '../database-files';
import { storedAttachmentRefs } from '../store/attachment-refs';
import type { DocGarbage } from '../docs/garbage';
import { ERASED_EVERYTHING } from './erase-scope';

export interface EraseThreadsDeps {
  store: Store;
  chat: Pick<ChatService, 'stopAll'>;
  sessions: Pick<ThreadSessions, 'forget'>;
  services: Pick<Services, 'emit'>;
  imageSweep: Pick<ImageSweep, 'run'>;
  /** the documents: the chats' go, and the files set aside */
  documents: Pick<DocGarbage, 'erase'>;
  /** the chats imports: one running would go on writing threads */
  imports: Pick<ImportJobs, 'close'>;
}

/**
 * Deletes every saved thread (one transaction), then their caches, their images and documents, and the
 * files set aside in <data>/images/.stray and <data>/documents/.stray (what every chat erased means);
 * threads.deleted for each. The count.
 */
export async function eraseThreads(deps: EraseThreadsDeps): Promise<number> {
  await deps.chat.stopAll();
  await deps.imports.close();
  const ids = deps.store.db.prepare('SELECT id FROM threads').pluck().all() as string[];
  // their images and documents go with them (an open temporary chat's stay: referenced)
  const discarded = storedAttachmentRefs(deps.store.db);
  const documents = deps.store.docs.threadsHashes(ids);
  deps.store.db.transaction(() => {
    for (const id of ids) deps.store.threads.delete(id);
  })();
  for (const id of ids) {
    await deps.sessions.forget(id);
    deps.services.emit('threads.deleted', { id });
  }
  await deps.imageSweep.run(discarded, { emptyStray: true });
  await deps.documents.erase(documents);
  return ids.length;
}

/**
 * Removes everything ERASED_EVERYTHING lists from the data folder `root` (the store closed); refuses,
 * nothing deleted, while another process has the store open.
 */
export function eraseEverythingWork(root: string, logger: Logger): () => Promise<void> {
  return async () => {
    checkNobodyHas(path.join(root, DATABASE_FILE));
    for (const entry of ERASED_EVERYTHING.flatMap((i) => i.entries)) {
      try {
        fs.rmSync(path.join(root, entry), { recursive: true, force: true });
      } catch (e) {
        logger.warn('erase: could not delete', { entry, error: (e as Error).message });
      }
    }
    logger.info('erase: all of Hearth\'s data was erased (the models stay)', { root });
  };
}
