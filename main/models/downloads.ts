/**
 * The download manager: model files from the Hugging Face hub into the models folder.
 *
 * Several downloads at once up to a limit (the rest wait in order); progress (bytes, speed, ETA) as
 * events a service can forward; pause, resume with an HTTP Range from the byte on disk, cancel;
 * network errors retried with exponential backoff; each file written to `<name>.part`, its SHA-256
 * checked against the hub's LFS hash, then made durable under its name (flushed, renamed, the folder
 * flushed: disk.ts commitPart) before its record is deleted (a mismatch deletes it: checksum_mismatch);
 * free disk space checked before the start and while it runs (too little, or ENOSPC on a write, pauses
 * the download with a disk_full error: the `.part` stays, nothing retries, Resume goes on from its
 * bytes once space is freed, as a browser's interrupted download does); every download kept in the store
 * (store.downloads) so it resumes after a restart (restore()). A download never replaces a file of the
 * folder: one found under its name fails it (invalid_input, the file left as it is); restore() drops
 * the record of a download that had finished (no `.part`, the target whole by size and SHA-256: the app
 * died between the rename and the record's delete) instead of fetching it again.
 *
 * The bytes reached are the `.part` file's size: after a pause, a dropped connection or a restart the
 * next request asks for `Range: bytes=<size of .part>-`. The hash runs as the bytes arrive; a download
 * resumed in a new process hashes the `.part` it finds once, then goes on.
 *
 * One file's request, hashing and free-space watch are download-transfer.ts's; the fetch (and so the
 * proxy) is the hub config's (net.ts).
 */
import fs from 'fs';
import path from 'path';
import { silentLogger, type Logger } from '../logging';
import type { DownloadErrorInfo, DownloadRecord, Downloads } from '../store/downloads';
import type { DownloadDTO } from '../ipc/models';
import { checkInput, HubError, hubConfigFromEnv, type HubConfig } from './hub';
import { commitPart, partOf, sha256Of, sizeOf, statfsFree } from './disk';
import { FileTransfer, realTimers, Transient, type Timers } from './download-transfer';
import { FolderLock } from './folder-lock';
import { z } from 'zod';
import { DOWNLOAD_CONCURRENCY, downloadNameSchema, downloadRequestSchema } from '../ipc/models';

export { realTimers, type Timers };

export const DOWNLOAD_DEFAULTS = {
  /** downloads running at once (the setting's default: main/ipc/models.ts) */
  concurrency: DOWNLOAD_CONCURRENCY.default,
  /** retries of a network error before the download fails (hub_unreachable) */
  retries: 6,
  /** the first retry's delay; each next one doubles, up to retryMaxMs */
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
  /** free space left on the disk beyond what the download still needs */
  reserveBytes: 128 * 1024 * 1024,
  /** free space is checked again after every this many bytes written */
  diskCheckBytes: 64 * 1024 * 1024,
  /** at most one progress event per download this often */
  progressIntervalMs: 250,
  /** speed is measured over this window */
  speedWindowMs: 5000,
} as const;

export interface DownloadManagerOptions {
  downloads: Downloads;
  modelsDir: string;
  hub?: HubConfig;
  timers?: Timers;
  logger?: Logger;
  /** free bytes on the disk holding `dir` (default fs.statfs) */
  freeBytes?: (dir: string) => Promise<number>;
  concurrency?: number;
  /** the models folder's writers (shared with imports and the folder move); a lock of its own by default */
  lock?: FolderLock;
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  reserveBytes?: number;
  diskCheckBytes?: number;
  progressIntervalMs?: number;
  /** the OS whose file-name rules apply (default process.platform): on win32 and darwin `Model.gguf` and `model.gguf` are one file */
  platform?: NodeJS.Platform;
}

export { downloadRequestSchema };
export type DownloadRequest = z.input<typeof downloadRequestSchema>;

/** A download as a page shows it (the contract's DownloadDTO): `done` and `cancelled` are reached once and leave the list. */
export type DownloadView = DownloadDTO;

/** A download an error stopped: failed, or paused by one (disk_full) until the user resumes it. */
export const stoppedByError = (d: DownloadView): boolean => d.state === 'failed' || (d.state === 'paused' && d.error !== null);

export type DownloadEvent =
  | { type: 'state'; download: DownloadView }
  | { type: 'progress'; id: string; bytes: number; size: number; speed: number; etaSeconds: number | null }
  | { type: 'retry'; id: string; attempt: number; delayMs: number; offset: number; error: DownloadErrorInfo }
  | { type: 'done'; id: string; path: string; download: DownloadView }
  | { type: 'removed'; id: string };

type StopReason = 'pause' | 'cancel' | 'close';

interface Job {
  rec: DownloadRecord;
  state: DownloadView['state'];
  transfer: FileTransfer;
  controller: AbortController | null;
  stop: StopReason | null;
  running: Promise<void> | null;
  /** lets go of the target's name (FolderLock.claim) */
  release: () => void;
}

export class DownloadManager {
  private readonly jobs = new Map<string, Job>();
  private readonly listeners = new Set<(e: DownloadEvent) => void>();
  private readonly hub: HubConfig;
  private readonly timers: Timers;
  private readonly logger: Logger;
  private readonly freeBytes: (dir: string) => Promise<number>;
  private readonly o: Required<Pick<DownloadManagerOptions, 'retries' | 'retryBaseMs' | 'retryMaxMs' | 'reserveBytes' | 'diskCheckBytes' | 'progressIntervalMs'>>;
  private limit: number;
  private closed = false;
  private modelsDir: string;
  private readonly lock: FolderLock;

  constructor(private readonly opts: DownloadManagerOptions) {
    this.modelsDir = opts.modelsDir;
    this.lock = opts.lock ?? new FolderLock();
    this.hub = opts.hub ?? hubConfigFromEnv();
    this.timers = opts.timers ?? realTimers;
    this.logger = opts.logger ?? silentLogger;
    this.freeBytes = opts.freeBytes ?? statfsFree;
    this.limit = Math.max(1, opts.concurrency ?? DOWNLOAD_DEFAULTS.concurrency);
    this.o = {
      retries: opts.retries ?? DOWNLOAD_DEFAULTS.retries,
      retryBaseMs: opts.retryBaseMs ?? DOWNLOAD_DEFAULTS.retryBaseMs,
      retryMaxMs: opts.retryMaxMs ?? DOWNLOAD_DEFAULTS.retryMaxMs,
      reserveBytes: opts.reserveBytes ?? DOWNLOAD_DEFAULTS.reserveBytes,
      diskCheckBytes: opts.diskCheckBytes ?? DOWNLOAD_DEFAULTS.diskCheckBytes,
      progressIntervalMs: opts.progressIntervalMs ?? DOWNLOAD_DEFAULTS.progressIntervalMs,
    };
  }

  /** Whether a download is transferring now (the updater's install waits for it; `on`'s state events tell when this changes). */
  active(): boolean {
    return [...this.jobs.values()].some((j) => j.state === 'downloading');
  }

  /** Every event (state changes, progress, retries, done, removed); returns the unsubscribe. */
  on(listener: (e: DownloadEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: DownloadEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.error('downloads: a listener threw', { error: (err as Error).message });
      }
    }
  }

  private view(job: Job): DownloadView {
    const { rec } = job;
    const speed = job.state === 'downloading' ? job.transfer.speed() : 0;
    const bytes = job.transfer.bytes;
    return {
      id: rec.id, repo: rec.repo, revision: rec.revision, file: rec.file, target: rec.target, size: rec.size, sha256: rec.sha256,
      state: job.state, bytes, speed, etaSeconds: speed > 0 ? (rec.size - bytes) / speed : null, error: rec.error,
    };
  }

  private setState(job: Job, state: DownloadView['state'], error: DownloadErrorInfo | null = null): void {
    job.state = state;
    job.rec = { ...job.rec, error };
    if (state !== 'verifying' && state !== 'done' && state !== 'cancelled') this.opts.downloads.setState(job.rec.id, state, error);
    this.emit({ type: 'state', download: this.view(job) });
  }

  list(): DownloadView[] {
    return [...this.jobs.values()].map((j) => this.view(j));
  }

  get(id: string): DownloadView | null {
    const j = this.jobs.get(id);
    return j ? this.view(j) : null;
  }

  /** Forgets a job that is done or cancelled, letting go of its target's name. */
  private drop(job: Job): void {
    this.jobs.delete(job.rec.id);
    job.release();
  }

  private job(id: string): Job {
    const j = this.jobs.get(id);
    if (!j) throw new HubError('invalid_input', `no download ${id}`);
    return j;
  }

  /** A job for `rec`, holding its target's name (FolderLock.claim: throws when an import writes it). */
  private newJob(rec: DownloadRecord, bytes: number): Job {
    const release = this.lock.claim(rec.target, 'download');
    const job: Job = { rec, state: rec.state, transfer: null as unknown as FileTransfer, controller: null, stop: null, running: null, release };
    job.transfer = new FileTransfer(rec, {
      hub: this.hub, timers: this.timers, freeBytes: this.freeBytes, dir: () => this.modelsDir,
      reserveBytes: this.o.reserveBytes, diskCheckBytes: this.o.diskCheckBytes, progressIntervalMs: this.o.progressIntervalMs,
      speedWindowMs: DOWNLOAD_DEFAULTS.speedWindowMs,
      onProgress: () => {
        const v = this.view(job);
        this.emit({ type: 'progress', id: v.id, bytes: v.bytes, size: v.size, speed: v.speed, etaSeconds: v.etaSeconds });
      },
      onCommit: (commit) => {
        job.rec = { ...job.rec, revision: commit };
        this.opts.downloads.setRevision(rec.id, commit);
      },
    }, bytes);
    this.jobs.set(rec.id, job);
    return job;
  }

  /**
   * Takes up the downloads the store holds (after a restart): the ones that were running or waiting
   * go on from the bytes on disk; paused and failed ones wait for resume(). `only` takes up just the
   * downloads it accepts (the command line's `pull` takes up its own file, not the app's other downloads).
   * One that had finished (finishedBefore) is dropped and reported done without a request.
   */
  async restore(only?: (rec: DownloadRecord) => boolean): Promise<DownloadView[]> {
    for (const rec of this.opts.downloads.list()) {
      if (this.jobs.has(rec.id) || (only && !only(rec))) continue;
      if (await this.finishedBefore(rec)) continue;
      const job = this.newJob(rec, await sizeOf(partOf(rec.target)));
      if (rec.state === 'downloading') this.setState(job, 'queued');
    }
    this.pump();
    return this.list();
  }

  /**
   * Whether a kept download had finished before the app stopped (it died between the rename and the
   * record's delete): no `.part`, and the target has the record's size and SHA-256. Its record is then
   * deleted and done is emitted, with no request. A target that differs stays as it is: run() refuses
   * to rename over it (the download fails and says so).
   */
  private async finishedBefore(rec: DownloadRecord): Promise<boolean> {
    if (fs.existsSync(partOf(rec.target))) return false;
    const st = await fs.promises.stat(rec.target).catch(() => undefined);
    if (!st?.isFile() || st.size !== rec.size) return false;
    if ((await sha256Of(rec.target)).digest('hex') !== rec.sha256) return false;
    this.logger.info('downloads: finished before the restart; its record is dropped', { id: rec.id, target: rec.target });
    this.opts.downloads.delete(rec.id);
    const job = this.newJob(rec, rec.size);
    this.drop(job);
    job.state = 'done';
    this.emit({ type: 'done', id: rec.id, path: rec.target, download: this.view(job) });
    return true;
  }

  /** HubError invalid_input when a file by the download's name is in the folder: a download never replaces one. */
  private async refuseOverwrite(rec: DownloadRecord): Promise<void> {
    if (await fs.promises.lstat(rec.target).then(() => true, () => false)) {
      throw new HubError('invalid_input',
        `${path.basename(rec.target)} is already in the models folder and is not this download (${rec.repo}: ${rec.file}); it was left as it is: move or delete it, then resume`);
    }
  }

  /**
   * Queues a file of a repository (its size and SHA-256 as HubClient.files lists them). Refused while
   * the models folder moves and while an import writes that name (FolderLock).
   */
  add(request: DownloadRequest): DownloadView {
    if (this.closed) throw new HubError('invalid_input', 'the download manager is closed');
    const r = checkInput(downloadRequestSchema, request, 'download');
    const base = path.posix.basename(r.file);
    if (!r.name && !/\.gguf$/i.test(base)) throw new HubError('invalid_input', `${r.file} is not a .gguf file`);
    // the repository file's own name is refused, not rewritten, when it is not safe everywhere: the user gives a name
    const name = checkInput(downloadNameSchema, r.name ?? base, r.name ? 'file name' : `${r.file}'s name (give another name)`);
    const target = path.join(this.modelsDir, name);
    if (fs.existsSync(target)) throw new HubError('invalid_input', `${path.basename(target)} is already in the models folder`);
    const platform = this.opts.platform ?? process.platform;
    const key = (p: string) => (platform === 'win32' || platform === 'darwin' ? p.toLowerCase() : p);
    if ([...this.jobs.values(), ...this.opts.downloads.list().map((rec) => ({ rec }))].some((j) => key(j.rec.target) === key(target))) {
      throw new HubError('invalid_input', `${path.basename(target)} is already being downloaded`);
    }
    // refused while the folder moves, or while an import writes this name
    const release = this.lock.claim(target, 'download');
    let rec: DownloadRecord;
    try {
      rec = this.opts.downloads.add({ repo: r.repo, revision: r.revision, file: r.file, target, size: r.size, sha256: r.sha256 });
    } finally {
      release();
    }
    const job = this.newJob(rec, 0);
    // a download's .part (partOf: never a copy's name) that no kept download owns is a leftover
    fs.rmSync(partOf(target), { force: true });
    this.emit({ type: 'state', download: this.view(job) });
    this.pump();
    return this.view(job);
  }

  /** Whether any download is kept (queued, running, paused or failed): its `.part` lies in the models folder. */
  busy(): boolean {
    return this.jobs.size > 0 || this.opts.downloads.list().length > 0;
  }

  /** Downloads into another folder from now on (library.moveFolder, which refuses while busy()). */
  setModelsDir(dir: string): void {
    if (this.busy()) throw new HubError('invalid_input', 'the models folder cannot change while downloads are kept');
    this.modelsDir = dir;
  }

  /** How many downloads run at once; more wait in the queue. */
  setConcurrency(n: number): void {
    this.limit = Math.max(1, Math.floor(n));
    this.pump();
  }

  private async halt(job: Job, reason: StopReason): Promise<void> {
    if (job.running) {
      job.stop = reason;
      job.controller?.abort();
      await job.running;
    }
  }

  /** Stops a running or waiting download; its bytes stay on disk for resume(). */
  async pause(id: string): Promise<DownloadView> {
    const job = this.job(id);
    if (job.state === 'queued' || job.state === 'downloading') {
      await this.halt(job, 'pause');
      if (this.jobs.has(id)) this.setState(job, 'paused');
    }
    this.pump();
    return this.view(job);
  }

  /** Puts a paused or failed download back in the queue; it asks for the bytes after those on disk. */
  resume(id: string): DownloadView {
    const job = this.job(id);
    if (job.state === 'paused' || job.state === 'failed') {
      this.lock.checkNotMoving();
      this.setState(job, 'queued');
      this.pump();
    }
    return this.view(job);
  }

  /** Stops a download and deletes its `.part` and its record. */
  async cancel(id: string): Promise<void> {
    const job = this.job(id);
    await this.halt(job, 'cancel');
    await fs.promises.rm(partOf(job.rec.target), { force: true });
    this.opts.downloads.delete(id);
    this.drop(job);
    job.state = 'cancelled';
    this.emit({ type: 'removed', id });
    this.pump();
  }

  /** Stops every running download, leaving each as the store has it: the next restore() takes them up. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.jobs.values()].map((j) => this.halt(j, 'close')));
  }

  private pump(): void {
    if (this.closed) return;
    let running = [...this.jobs.values()].filter((j) => j.running).length;
    for (const job of this.jobs.values()) {
      if (running >= this.limit) break;
      if (job.state !== 'queued' || job.running) continue;
      running++;
      job.stop = null;
      job.controller = new AbortController();
      job.running = this.run(job).finally(() => {
        job.running = null;
        job.controller = null;
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const signal = job.controller!.signal;
    this.setState(job, 'downloading');
    try {
      const t = job.transfer;
      const part = t.part;
      t.bytes = await sizeOf(part);
      await this.refuseOverwrite(job.rec);
      await t.checkDisk();
      for (let attempt = 0; ; attempt++) {
        try {
          await t.request(signal);
          break;
        } catch (e) {
          if (signal.aborted || !(e instanceof Transient)) throw e;
          if (attempt >= this.o.retries) throw new HubError(e.code, `${job.rec.file}: ${e.message} (after ${attempt} retries)`);
          // the server's Retry-After (bounded in hub-http.ts) when longer than the backoff
          const delayMs = Math.max(Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** attempt), e.retryAfterMs ?? 0);
          this.logger.warn('downloads: retrying', { id: job.rec.id, attempt: attempt + 1, delayMs, error: e.message });
          this.emit({ type: 'retry', id: job.rec.id, attempt: attempt + 1, delayMs, offset: await sizeOf(part), error: { code: e.code, message: e.message } });
          await this.sleep(delayMs, signal);
        }
      }
      this.setState(job, 'verifying');
      const digest = await t.digest();
      if (signal.aborted) return;
      if (digest !== job.rec.sha256) {
        await fs.promises.rm(part, { force: true });
        t.reset();
        throw new HubError('checksum_mismatch',
          `${job.rec.file} from ${job.rec.repo}: SHA-256 ${digest} is not the hub's ${job.rec.sha256}; the file was deleted`);
      }
      await this.refuseOverwrite(job.rec);
      // flushed, renamed, the folder flushed: only then is the record (the way to fetch it again) deleted
      await commitPart(part, job.rec.target);
      this.opts.downloads.delete(job.rec.id);
      this.drop(job);
      job.state = 'done';
      this.emit({ type: 'done', id: job.rec.id, path: job.rec.target, download: this.view(job) });
    } catch (e) {
      if (signal.aborted) return; // pause, cancel or close: the caller says what the download is now
      const err = e instanceof HubError ? e : new HubError('hub_unreachable', (e as Error).message, undefined, { cause: e });
      // a full disk pauses (the bytes stay; Resume after freeing space goes on from them): retrying would only fill it again
      const state = err.code === 'disk_full' ? 'paused' : 'failed';
      this.logger.warn(`downloads: ${state}`, { id: job.rec.id, code: err.code, error: err.message });
      this.setState(job, state, { code: err.code, message: err.message });
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.timers.clearTimeout(h);
        reject(new Error('aborted'));
      };
      const h = this.timers.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
