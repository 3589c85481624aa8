/**
 * The files set aside (<data>/images/.stray, <data>/documents/.stray: ../file-sweep.ts), for Settings → Data:
 * how many there are and their bytes, and deleting them before their time (data.stray, data.stray.empty).
 */
import type { ImageSweep } from '../chat/image-sweep';
import type { DocGarbage } from '../docs/garbage';
import { STRAY_KEEP_MS, type StrayUsage } from '../file-sweep';
import type { StrayDTO } from '../ipc/data';

export interface StrayDeps {
  imageSweep: Pick<ImageSweep, 'emptyStray' | 'strayUsage'>;
  documents: Pick<DocGarbage, 'emptyStray' | 'strayUsage'>;
}

/** The images' and the documents' set-aside files together, but those a chat names or `keep` holds (they go back, not away). */
export async function strayUsage(deps: StrayDeps, keep: readonly string[] = []): Promise<StrayDTO> {
  const parts: StrayUsage[] = await Promise.all([deps.imageSweep.strayUsage(keep), deps.documents.strayUsage(keep)]);
  return {
    files: parts.reduce((n, p) => n + p.files, 0),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    keepDays: Math.round(STRAY_KEEP_MS / 86_400_000),
  };
}

/**
 * Deletes the set-aside files nothing names and `keep` does not hold (the page's message boxes' images and
 * documents, not yet sent); a file a chat names again is put back, and the files in place are left to the
 * sweeps. What is left (a file that could not be deleted, logged).
 */
export async function emptyStray(deps: StrayDeps, keep: readonly string[] = []): Promise<StrayDTO> {
  await Promise.all([deps.imageSweep.emptyStray(keep), deps.documents.emptyStray(keep)]);
  return strayUsage(deps, keep);
}
