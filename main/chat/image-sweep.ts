/**
 * The image sweep: the files of <data>/images (the image store, ./images.ts) that no message refers to.
 * A deleted temporary chat's images, those of the temporary chats open when Hearth closes, and every
 * saved chat's when they are all erased (the refs `run` is given) are deleted at once, unless a message
 * still refers to them. Any other stored image no saved message (SQLite, every thread) and no open
 * temporary chat refers to (a deleted saved chat's, one a restored backup does not name) is set aside
 * (../file-sweep.ts: STRAY_FOLDER, deleted after STRAY_KEEP_MS) once older than IMAGE_GRACE_MS, so an
 * image attached in a composer and not yet sent survives, and a backup restored finds its images again
 * (the sweep or ImageStore.find takes them back); a temporary file a crashed write left is deleted once as old.
 *
 * It touches nothing but regular files (lstat: a link is left alone) directly in the folder whose names
 * are the store's (`<sha256>.<ext>` of IMAGE_KINDS, `.<sha256>.<12 hex>.tmp`), and never throws into
 * its caller (../file-sweep.ts, which the documents' folder is swept with too). The app runs it at startup, after a
 * thread is deleted and at close (main/compose.ts, ./channels.ts).
 */
import { FileSweep, TEMPORARY_NAME, type StoredFileName } from '../file-sweep';
import type { Logger } from '../logging';
import { STORED_IMAGE_NAME } from './images';
import { MAX_IMAGE_BYTES } from '../params';

export { filesToDelete, type SweepFile, type SweepResult, type SweepRules } from '../file-sweep';

/**
 * How long an image no message refers to is kept after it was stored: an image attached in a
 * composer (stored at once, images.store) and sent within it is never lost.
 */
export const IMAGE_GRACE_MS = 60 * 60 * 1000;

/** What a name in the images folder is to the sweep; null for any other name (never touched). */
export function imageFileOf(name: string): StoredFileName | null {
  const stored = STORED_IMAGE_NAME.exec(name);
  if (stored) return { kind: 'stored', ref: stored[1] };
  const tmp = TEMPORARY_NAME.exec(name);
  return tmp ? { kind: 'temporary', ref: tmp[1] } : null;
}

export interface ImageSweepDeps {
  /** the image store's folder, <data>/images */
  dir: string;
  /** the refs messages make now (Store.attachmentRefs: saved chats and open temporary chats); may throw */
  referenced: () => ReadonlySet<string>;
  logger: Logger;
  /** default IMAGE_GRACE_MS */
  graceMs?: number;
  clock?: () => number;
}

/** The images folder's sweep (images.store tells it each image stored: noteStored). */
export class ImageSweep extends FileSweep {
  constructor(deps: ImageSweepDeps) {
    super({ ...deps, label: 'images', refersTo: 'no message refers to', fileOf: imageFileOf, graceMs: deps.graceMs ?? IMAGE_GRACE_MS, setAside: true, maxBytes: MAX_IMAGE_BYTES });
  }
}
