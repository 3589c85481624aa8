/**
 * The download manager: model files from the Hugging Face hub into the models folder.
 *
 * Several downloads at once up to a limit (the rest wait in order); progress (bytes, speed, ETA) as
 * events a service can forward; pause, resume with an HTTP Range from the byte on disk, cancel;
 * network errors retried with exponential backoff; each file written to `<name>.part`, its SHA-256
 * checked against the hub's LFS hash, then renamed into place (a mismatch deletes it: checksum_mismatch);
 * free disk space checked before the start and while it runs; every download kept in the store
 * (store.downloads) so it resumes after a restart (restore()).
 *
 * The bytes reached are the `.part` file's size: after a pause, a dropped connection or a restart the
 * next request asks for `Range: bytes=<size of .part>-`. The hash runs as the bytes arrive; a download
 * resumed in a new process hashes the `.part` it finds once, then goes on.
 *
 * Proxy: Node's own fetch ignores HTTP(S)_PROXY (Node 20); pass a fetch that honours one (Electron's
 * net.fetch uses the system's proxy settings) as `fetch`.
 */
import { createHash, type Hash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { silentLogger, type Logger } from '../logging';
import type { DownloadErrorInfo, DownloadRecord, DownloadState, Downloads } from '../store/downloads';
import { checkInput, HubError, hubConfigFromEnv, resolveUrl, type HubConfig } from './hub';
import { z } from 'zod';
import { DOWNLOAD_CONCURRENCY, downloadRequestSchema } from '../ipc/models';

/** The clock and timers the manager uses (tests and a service may pass their own). */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

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
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  reserveBytes?: number;
  diskCheckBytes?: number;
  progressIntervalMs?: number;
}

export { downloadRequestSchema };
export type DownloadRequest = z.input<typeof downloadRequestSchema>;

/** A download as a page shows it. `done` and `cancelled` are reached once and leave the list. */
export interface DownloadView {
  id: string;
  repo: string;
  revision: string;
  file: string;
  /** where the finished file goes */
  target: string;
  size: number;
  sha256: string;
  state: DownloadState | 'verifying' | 'done' | 'cancelled';
  /** bytes on disk */
  bytes: number;
  /** bytes per second over the last few seconds; 0 when not downloading */
  speed: number;
  /** seconds left at that speed; null when unknown */
  etaSeconds: number | null;
  error: DownloadErrorInfo | null;
}

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
  bytes: number;
  hasher: Hash | null;
  hashedBytes: number;
  samples: { t: number; bytes: number }[];
  lastProgress: number;
  controller: AbortController | null;
  stop: StopReason | null;
  running: Promise<void> | null;
}

/** An error worth retrying: the connection failed or the server had a passing problem. */
class Transient extends Error {}

const partOf = (target: string) => `${target}.part`;

async function statfsFree(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.promises.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
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

  constructor(private readonly opts: DownloadManagerOptions) {
    this.modelsDir = opts.modelsDir;
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
    const speed = job.state === 'downloading' ? this.speedOf(job) : 0;
    return {
      id: rec.id, repo: rec.repo, revision: rec.revision, file: rec.file, target: rec.target, size: rec.size, sha256: rec.sha256,
      state: job.state, bytes: job.bytes, speed, etaSeconds: speed > 0 ? (rec.size - job.bytes) / speed : null, error: rec.error,
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

  private job(id: string): Job {
    const j = this.jobs.get(id);
    if (!j) throw new HubError('invalid_input', `no download ${id}`);
    return j;
  }

  private newJob(rec: DownloadRecord, bytes: number): Job {
    const job: Job = {
      rec, state: rec.state, bytes, hasher: null, hashedBytes: -1, samples: [], lastProgress: 0, controller: null, stop: null, running: null,
    };
    this.jobs.set(rec.id, job);
    return job;
  }

  /**
   * Takes up the downloads the store holds (after a restart): the ones that were running or waiting
   * go on from the bytes on disk; paused and failed ones wait for resume(). `only` takes up just the
   * downloads it accepts (the command line's `pull` takes up its own file, not the app's other downloads).
   */
  async restore(only?: (rec: DownloadRecord) => boolean): Promise<DownloadView[]> {
    for (const rec of this.opts.downloads.list()) {
      if (this.jobs.has(rec.id) || (only && !only(rec))) continue;
      const job = this.newJob(rec, await sizeOf(partOf(rec.target)));
      if (rec.state === 'downloading') this.setState(job, 'queued');
    }
    this.pump();
    return this.list();
  }

  /** Queues a file of a repository (its size and SHA-256 as HubClient.files lists them). */
  add(request: DownloadRequest): DownloadView {
    if (this.closed) throw new HubError('invalid_input', 'the download manager is closed');
    const r = checkInput(downloadRequestSchema, request, 'download');
    const target = path.join(this.modelsDir, r.name ?? path.posix.basename(r.file));
    if (!/\.gguf$/i.test(target)) throw new HubError('invalid_input', `${r.file} is not a .gguf file`);
    if (fs.existsSync(target)) throw new HubError('invalid_input', `${path.basename(target)} is already in the models folder`);
    if ([...this.jobs.values()].some((j) => j.rec.target === target)) {
      throw new HubError('invalid_input', `${path.basename(target)} is already being downloaded`);
    }
    const rec = this.opts.downloads.add({ repo: r.repo, revision: r.revision, file: r.file, target, size: r.size, sha256: r.sha256 });
    const job = this.newJob(rec, 0);
    // a .part left by a download the store no longer knows is not this one's
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
    this.jobs.delete(id);
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
      const part = partOf(job.rec.target);
      job.bytes = await sizeOf(part);
      await this.checkDisk(job);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.transfer(job, signal);
          break;
        } catch (e) {
          if (signal.aborted || !(e instanceof Transient)) throw e;
          if (attempt >= this.o.retries) throw new HubError('hub_unreachable', `${job.rec.file}: ${e.message} (after ${attempt} retries)`);
          const delayMs = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** attempt);
          this.logger.warn('downloads: retrying', { id: job.rec.id, attempt: attempt + 1, delayMs, error: e.message });
          this.emit({ type: 'retry', id: job.rec.id, attempt: attempt + 1, delayMs, offset: await sizeOf(part), error: { code: 'hub_unreachable', message: e.message } });
          await this.sleep(delayMs, signal);
        }
      }
      this.setState(job, 'verifying');
      const digest = await this.digest(job, part);
      if (signal.aborted) return;
      if (digest !== job.rec.sha256) {
        await fs.promises.rm(part, { force: true });
        job.bytes = 0;
        job.hasher = null;
        throw new HubError('checksum_mismatch',
          `${job.rec.file} from ${job.rec.repo}: SHA-256 ${digest} is not the hub's ${job.rec.sha256}; the file was deleted`);
      }
      await fs.promises.rename(part, job.rec.target);
      this.opts.downloads.delete(job.rec.id);
      this.jobs.delete(job.rec.id);
      job.state = 'done';
      this.emit({ type: 'done', id: job.rec.id, path: job.rec.target, download: this.view(job) });
    } catch (e) {
      if (signal.aborted) return; // pause, cancel or close: the caller says what the download is now
      const err = e instanceof HubError ? e : new HubError('hub_unreachable', (e as Error).message, undefined, { cause: e });
      this.logger.warn('downloads: failed', { id: job.rec.id, code: err.code, error: err.message });
      this.setState(job, 'failed', { code: err.code, message: err.message });
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

  private async checkDisk(job: Job): Promise<void> {
    const needed = job.rec.size - job.bytes + this.o.reserveBytes;
    const free = await this.freeBytes(this.modelsDir);
    if (free < needed) {
      throw new HubError('disk_full',
        `${path.basename(job.rec.target)} needs ${needed} bytes free on the models folder's disk (with ${this.o.reserveBytes} to spare); ${free} are`,
        { free, needed });
    }
  }

  /** The hash of the `.part` up to `bytes`, read again from disk when the running hash is not there (a new process). */
  private async hashUpTo(job: Job, part: string, bytes: number): Promise<void> {
    if (job.hasher && job.hashedBytes === bytes) return;
    const h = createHash('sha256');
    if (bytes > 0) {
      for await (const chunk of fs.createReadStream(part, { start: 0, end: bytes - 1 })) h.update(chunk as Buffer);
    }
    job.hasher = h;
    job.hashedBytes = bytes;
  }

  private async digest(job: Job, part: string): Promise<string> {
    await this.hashUpTo(job, part, await sizeOf(part));
    const hex = job.hasher!.digest('hex');
    job.hasher = null;
    job.hashedBytes = -1;
    return hex;
  }

  private speedOf(job: Job): number {
    const s = job.samples;
    if (s.length < 2) return 0;
    const dt = s[s.length - 1].t - s[0].t;
    return dt > 0 ? ((s[s.length - 1].bytes - s[0].bytes) * 1000) / dt : 0;
  }

  /**
   * Called for every chunk written: a speed sample and a progress event at most once per
   * progressIntervalMs (the first chunk samples too, so the first event has a speed), so the samples
   * held stay a few dozen over the speed window however small the chunks are.
   */
  private progress(job: Job, force: boolean): void {
    const t = this.timers.now();
    const due = force || t - job.lastProgress >= this.o.progressIntervalMs;
    if (!due && job.samples.length > 0) return;
    job.samples.push({ t, bytes: job.bytes });
    while (job.samples.length > 2 && t - job.samples[1].t >= DOWNLOAD_DEFAULTS.speedWindowMs) job.samples.shift();
    if (!due) return;
    job.lastProgress = t;
    const v = this.view(job);
    this.emit({ type: 'progress', id: v.id, bytes: v.bytes, size: v.size, speed: v.speed, etaSeconds: v.etaSeconds });
  }

  /** One request: from the bytes on disk to the end, or until the connection fails (Transient). */
  private async transfer(job: Job, signal: AbortSignal): Promise<void> {
    const { rec } = job;
    const part = partOf(rec.target);
    let offset = await sizeOf(part);
    if (offset > rec.size) {
      await fs.promises.truncate(part, 0);
      offset = 0;
    }
    job.bytes = offset;
    if (offset === rec.size && rec.size > 0) return;
    await this.hashUpTo(job, part, offset);

    const url = resolveUrl(this.hub.hubUrl, rec.repo, rec.file, rec.revision);
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    // fetch drops Authorization when the hub redirects to another origin (its CDN)
    if (this.hub.token) headers.Authorization = `Bearer ${this.hub.token}`;
    let res: Response;
    try {
      res = await (this.hub.fetch ?? fetch)(url, { headers, signal, redirect: 'follow' });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new Transient(`cannot reach ${new URL(url).host}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new HubError('hub_unauthorized', `${rec.repo}: the hub answered ${res.status} for ${rec.file}${this.hub.token ? '' : ' (no token was given)'}`, { status: res.status });
    }
    if (res.status === 404) throw new HubError('hub_not_found', `${rec.repo} has no ${rec.file} at ${rec.revision}`, { status: 404 });
    if (res.status === 408 || res.status === 429 || res.status >= 500) throw new Transient(`the hub answered ${res.status}`);
    if (res.status === 200 && offset > 0) {
      // the server ignored the Range: start over
      offset = 0;
      job.bytes = 0;
      await this.hashUpTo(job, part, 0);
    } else if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== offset || Number(m[3]) !== rec.size) {
        throw new HubError('hub_bad_response', `${rec.file}: asked for bytes ${offset}- of ${rec.size}, got Content-Range ${res.headers.get('content-range')}`);
      }
    } else if (res.status !== 200) {
      throw new HubError('hub_bad_response', `${rec.file}: the hub answered ${res.status}`, { status: res.status });
    }
    const length = res.headers.get('content-length');
    if (length !== null && offset + Number(length) !== rec.size) {
      throw new HubError('hub_bad_response', `${rec.file}: the hub sends ${offset + Number(length)} bytes; it listed ${rec.size}`);
    }
    if (!res.body) throw new Transient('the answer has no body');

    const fh = await fs.promises.open(part, offset > 0 ? 'r+' : 'w');
    let pos = offset;
    let sinceDiskCheck = 0;
    try {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (pos + chunk.length > rec.size) throw new HubError('hub_bad_response', `${rec.file}: the hub sent more than the ${rec.size} bytes it listed`);
          await fh.write(chunk, 0, chunk.length, pos);
          job.hasher!.update(chunk);
          pos += chunk.length;
          job.bytes = job.hashedBytes = pos;
          sinceDiskCheck += chunk.length;
          if (sinceDiskCheck >= this.o.diskCheckBytes) {
            sinceDiskCheck = 0;
            await this.checkDisk(job);
          }
          this.progress(job, false);
        }
      } catch (e) {
        if (signal.aborted || e instanceof HubError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new HubError('disk_full', `the models folder's disk is full at byte ${pos} of ${rec.file}`);
        throw new Transient(`the connection broke at byte ${pos}: ${(e as Error).message}`);
      }
    } finally {
      await fh.close();
      this.progress(job, true);
    }
    if (pos !== rec.size) throw new Transient(`the connection ended at byte ${pos} of ${rec.size}`);
  }
}
