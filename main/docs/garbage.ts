/**
 * What goes when nothing keeps it: the documents no live link refers to (their rows, chunks and vectors,
 * then their files: `collect`), the files of the documents' folder no row names (a crash's, a failed
 * delete's, or `hearth chats import` killed between a document's file and its row: the sweep at start,
 * ../file-sweep.ts), and the space deleted vectors leave in the index (`compact`, in short steps after
 * start, so the main thread is never held for long). Nothing here throws into its caller: a failure is
 * logged and the next pass tries again.
 */
import type { Logger } from '../logging';
import type { Store } from '../store';
import { FileSweep, type StrayUsage } from '../file-sweep';
import { MAX_DOC_BYTES } from '../params';
import { type DocFiles, docFileOf } from './files';

/** A document stored and not yet linked to a message is kept this long (the composer's attachment not yet sent). */
export const UNSENT_GRACE_MS = 60 * 60_000;
/**
 * A file in the documents' folder no document's row names is left this long after its last write (its
 * row is written right after it, here or by `hearth chats import`); older, it is a leftover, and the
 * sweep at start sets it aside (../file-sweep.ts: STRAY_FOLDER, deleted after STRAY_KEEP_MS).
 */
export const STRAY_FILE_GRACE_MS = 60 * 60_000;
/** A step of giving back deleted vectors' space takes about this long… */
const COMPACT_STEP_MS = 20;
/** …and the next waits this long (the first: after start). */
const COMPACT_PAUSE_MS = 50;

export interface DocGarbageDeps {
  store: Store;
  files: DocFiles;
  logger: Logger;
  /** a document deleted: its indexing, if under way or queued, stops */
  cancelHash: (hash: string) => void;
  /** the sweep's clock (tests) */
  clock?: () => number;
}

export class DocGarbage {
  private readonly sweep: FileSweep;
  /** the next step of giving back deleted vectors' space (compact) */
  private compactTimer: NodeJS.Timeout | null = null;
  private closing = false;
  /** a sweep asked for by sweepSoon has not begun (another would do nothing more) */
  private sweepWaiting = false;
  /**
   * documents deleted for good (a temporary chat's) not yet collected, as stored within the grace (a composer
   * may hold the same file): discarded again by every collect after, at close whatever their age
   */
  private readonly pending = new Set<string>();

  constructor(private readonly deps: DocGarbageDeps) {
    const docs = deps.store.docs;
    this.sweep = new FileSweep({
      dir: deps.files.dir, label: 'docs', refersTo: 'no document is', fileOf: docFileOf, referenced: () => docs.hashes(), refers: (hash) => docs.documentByHash(hash) !== null, graceMs: STRAY_FILE_GRACE_MS, logger: deps.logger, clock: deps.clock,
      setAside: true, maxBytes: MAX_DOC_BYTES,
    });
  }

  /** At start: what is no longer linked goes, then what a crash or a killed import left in the folder; the index's space is given back. */
  start(): void {
    this.collect();
    void this.sweep.run();
    this.compact();
  }

  /**
   * Deletes the documents nothing links (a temporary chat's kept while it is open; one stored for a message
   * not yet sent, a while); their files are set aside (../file-sweep.ts: a backup restored may name them
   * again). Those of `discard` (a temporary chat deleted, every chat erased: DocsStore.threadsHashes) are
   * deleted — once past the grace like any (remembered until then: `pending`), or at once with `now`. (A
   * temporary chat's documents left by a crash, or by another process on the same folder, are set aside:
   * nothing here tells whose they were.)
   */
  collect(opts: { discard?: Iterable<string>; now?: boolean } = {}): void {
    const { store, logger } = this.deps;
    try {
      const discard = new Set([...this.pending, ...(opts.discard ?? [])]);
      const gone = store.docs.collectGarbage(store.temporary.ids(), { storedBefore: Date.now() - UNSENT_GRACE_MS, discard, now: opts.now });
      for (const { hash, discard: goes } of gone) {
        this.deps.cancelHash(hash);
        discard.delete(hash);
        void this.sweep.dispose(hash, { discard: goes });
      }
      // (one a live link holds again is no longer the deleted chat's: when it goes, it is set aside)
      this.pending.clear();
      for (const hash of store.docs.unlinkedHashes(discard)) this.pending.add(hash);
    } catch (e) {
      logger.warn(`docs: unlinked documents could not be collected: ${(e as Error).message}`);
    }
  }

  /**
   * Every chat erased (their links dropped): their documents `hashes` go whatever their age, their files
   * deleted, and so do the files set aside; resolves when done.
   */
  erase(hashes: Iterable<string>): Promise<unknown> {
    this.collect({ discard: hashes, now: true });
    return this.sweep.run([], { emptyStray: true });
  }

  /** The files set aside now deleted but those of `keep` (Settings → Data: FileSweep.emptyStray); resolves when done. */
  emptyStray(keep: Iterable<string> = []): Promise<void> {
    return this.sweep.emptyStray(keep);
  }

  /** What the documents' STRAY_FOLDER holds that nothing names nor `keep` holds. */
  strayUsage(keep: Iterable<string> = []): Promise<StrayUsage> {
    return this.sweep.strayUsage(keep);
  }

  /**
   * A sweep after those under way (a chat deleted: what was set aside 30 days ago goes while Hearth runs),
   * one for any number asked for before it begins (every chat erased asks once a chat).
   */
  sweepSoon(): void {
    if (this.sweepWaiting) return;
    this.sweepWaiting = true;
    void this.sweep.idle().then(() => {
      this.sweepWaiting = false;
      if (!this.closing) return this.sweep.run();
    });
  }

  /** The open temporary chats (this process's) closing: their links go, and their documents, as when one is deleted. */
  private dropTemporary(): void {
    try {
      const { docs, temporary } = this.deps.store;
      const ids = [...temporary.ids()];
      const discard = docs.threadsHashes(ids);
      for (const id of ids) docs.dropThread(id);
      this.collect({ discard, now: true });
    } catch (e) {
      this.deps.logger.warn(`docs: the temporary chats' documents could not be collected: ${(e as Error).message}`);
    }
  }

  /** Sweeps the documents' folder now (start does it once); resolves when it has ended. */
  sweepFiles(): Promise<unknown> {
    return this.sweep.run();
  }

  /** Resolves once the folder's sweeps asked for so far have ended. */
  swept(): Promise<void> {
    return this.sweep.idle();
  }

  /**
   * The vectors' space left by deleted ones, given back after start in steps of COMPACT_STEP_MS, one every
   * COMPACT_PAUSE_MS (../store/docs-compact.ts); stopped by close.
   */
  private compact(): void {
    const step = () => {
      this.compactTimer = null;
      if (this.closing) return;
      let more = false;
      try {
        more = this.deps.store.docs.compactVectors(COMPACT_STEP_MS);
      } catch (e) {
        this.deps.logger.warn(`docs: the vectors' space could not be given back: ${(e as Error).message}`);
      }
      if (more) later();
    };
    // (unref'd: giving back space is no reason for a process to stay)
    const later = () => {
      this.compactTimer = setTimeout(step, COMPACT_PAUSE_MS);
      this.compactTimer.unref?.();
    };
    later();
  }

  /** Hearth closing: this process's temporary chats' documents go with them (their files deleted); then the sweeps asked for end. */
  async close(): Promise<void> {
    if (!this.closing) this.dropTemporary();
    this.closing = true;
    if (this.compactTimer) clearTimeout(this.compactTimer);
    this.compactTimer = null;
    await this.sweep.idle();
  }
}
