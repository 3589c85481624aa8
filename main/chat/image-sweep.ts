/**
 * The image sweep: deletes the files of <data>/images (the image store, ./images.ts) that no message
 * refers to. A stored image no saved message (SQLite, every thread) and no open temporary chat refers
 * to goes once it is older than IMAGE_GRACE_MS, so an image attached in a composer and not yet sent
 * survives; so does a temporary file a crashed write left. A temporary chat's images go as soon as the
 * chat is discarded (deleted, or dropped when Hearth closes), unless a message still refers to them.
 *
 * It touches nothing but regular files (lstat: a link is left alone) directly in the folder whose names
 * are the store's (`<sha256>.<ext>` of IMAGE_KINDS, `.<sha256>.<12 hex>.tmp`), and never throws into
 * its caller: a failure is logged and the next sweep tries again. The app runs it at startup, after a
 * thread is deleted and at close (main/compose.ts, ./channels.ts).
 */
import { promises as fsp } from 'fs';
import path from 'path';
import type { Logger } from '../logging';
import { STORED_IMAGE_NAME, TEMPORARY_IMAGE_NAME } from './images';

/**
 * How long an image no message refers to is kept after it was stored: an image attached in a
 * composer (stored at once, images.store) and sent within it is never lost.
 */
export const IMAGE_GRACE_MS = 60 * 60 * 1000;


/** A file of the image store: a stored image, or a write's temporary file; with the image's hash. */
export interface ImageFileName {
  kind: 'image' | 'temporary';
  ref: string;
}

/** What a name in the images folder is to the sweep; null for any other name (never touched). */
export function imageFileOf(name: string): ImageFileName | null {
  const stored = STORED_IMAGE_NAME.exec(name);
  if (stored) return { kind: 'image', ref: stored[1] };
  const tmp = TEMPORARY_IMAGE_NAME.exec(name);
  return tmp ? { kind: 'temporary', ref: tmp[1] } : null;
}

/** A regular file of the image store, as the sweep found it. */
export interface SweepFile extends ImageFileName {
  name: string;
  mtimeMs: number;
}

export interface SweepRules {
  now: number;
  graceMs: number;
  /** the refs messages make (saved chats, open temporary chats): their images are kept */
  referenced: ReadonlySet<string>;
  /** images stored within the grace period (images.store of an image kept before: its file keeps its old time) */
  recent: ReadonlySet<string>;
  /** a discarded temporary chat's images: deleted whatever their age, unless referenced (or, before close, stored again within the grace period) */
  discarded: ReadonlySet<string>;
  /** Hearth is closing: no composer outlives it, so a discarded chat's images go even if stored again lately */
  closing?: boolean;
}

/**
 * The files to delete: a temporary file older than the grace period; a stored image no message
 * refers to, when its chat was discarded or it is older than the grace period and was not stored
 * again within it.
 */
export function filesToDelete(files: readonly SweepFile[], r: SweepRules): SweepFile[] {
  return files.filter((f) => {
    const old = r.now - f.mtimeMs >= r.graceMs;
    if (f.kind === 'temporary') return old;
    if (r.referenced.has(f.ref)) return false;
    const recent = r.recent.has(f.ref);
    return (r.discarded.has(f.ref) && (r.closing === true || !recent)) || (old && !recent);
  });
}

export interface SweepResult {
  /** the names of the files deleted */
  deleted: string[];
  /** the store's files left */
  kept: number;
}

const NOTHING: SweepResult = { deleted: [], kept: 0 };

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

export class ImageSweep {
  private chain: Promise<unknown> = Promise.resolve();
  /** ref → when images.store last kept it (dropped past the grace period) */
  private readonly stored = new Map<string, number>();
  private readonly graceMs: number;
  private readonly clock: () => number;

  constructor(private readonly deps: ImageSweepDeps) {
    this.graceMs = deps.graceMs ?? IMAGE_GRACE_MS;
    this.clock = deps.clock ?? Date.now;
  }

  /**
   * images.store kept this image now: the grace period counts from now (the same image stored before
   * is not written again, so its file keeps its old time).
   */
  noteStored(ref: string): void {
    this.stored.delete(ref);
    this.stored.set(ref, this.clock());
    this.forgetOld();
  }

  /**
   * Sweeps once, after any sweep under way. `discarded`: the refs of a temporary chat just discarded
   * (its images go now unless a message refers to them). Never rejects: a failure is logged.
   */
  run(discarded: Iterable<string> = [], opts: { closing?: boolean } = {}): Promise<SweepResult> {
    const gone = new Set(discarded);
    const closing = opts.closing === true;
    const next = this.chain.then(() => this.sweep(gone, closing)).catch((e: unknown) => {
      this.deps.logger.warn(`images: the sweep of ${this.deps.dir} failed: ${(e as Error | null)?.message ?? String(e)}`);
      return NOTHING;
    });
    this.chain = next;
    return next;
  }

  /** Resolves once every sweep asked for so far has ended. */
  async idle(): Promise<void> {
    await this.chain;
  }

  private forgetOld(): void {
    const since = this.clock() - this.graceMs;
    // in the order noted: the oldest first
    for (const [ref, at] of this.stored) {
      if (at > since) break;
      this.stored.delete(ref);
    }
  }

  private async sweep(discarded: ReadonlySet<string>, closing: boolean): Promise<SweepResult> {
    const { dir, logger } = this.deps;
    const at = await fsp.lstat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // no image stored yet
      throw e;
    });
    if (!at) return NOTHING;
    if (!at.isDirectory()) {
      logger.warn(`images: ${dir} is not a folder (a link?): not swept`);
      return NOTHING;
    }
    const files: SweepFile[] = [];
    for (const name of await fsp.readdir(dir)) {
      const what = imageFileOf(name);
      if (!what) continue;
      const st = await fsp.lstat(path.join(dir, name)).catch(() => undefined);
      // a link, a folder, or gone meanwhile
      if (!st?.isFile()) continue;
      files.push({ name, ...what, mtimeMs: st.mtimeMs });
    }
    if (!files.length) return NOTHING;
    this.forgetOld();
    // the refs last, after the folder was read: a message sent meanwhile counts
    const doomed = filesToDelete(files, {
      now: this.clock(), graceMs: this.graceMs, referenced: this.deps.referenced(), recent: new Set(this.stored.keys()), discarded, closing,
    });
    const deleted: string[] = [];
    for (const f of doomed) {
      // stored again while the sweep ran: kept
      if (f.kind === 'image' && this.stored.has(f.ref) && !(closing && discarded.has(f.ref))) continue;
      const file = path.join(dir, f.name);
      // kept again since it was listed (ImageStore.add restarts its time; another process's too): kept
      const now = await fsp.lstat(file).catch(() => undefined);
      if (!now?.isFile() || now.mtimeMs !== f.mtimeMs) continue;
      try {
        await fsp.unlink(file);
        deleted.push(f.name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`images: ${f.name} could not be deleted: ${(e as Error).message}`);
      }
    }
    if (deleted.length) logger.info('images: deleted the files no message refers to', { deleted: deleted.length, kept: files.length - deleted.length });
    return { deleted, kept: files.length - deleted.length };
  }
}
