/**
 * One file's transfer from the hub into `<target>.part`: an HTTP request from the bytes on disk
 * (`Range: bytes=<size of .part>-`), the SHA-256 run as the bytes arrive (a `.part` found by a new
 * process is hashed once from disk), speed samples and progress, and the free disk space checked
 * before the start and every `diskCheckBytes` written. The download manager (downloads.ts) queues,
 * retries (a Transient error), verifies and renames; this file moves the bytes.
 */
import type { Hash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { partOf, sha256Of, sizeOf } from './disk';
import { HubError, resolveUrl, type HubConfig } from './hub';
import { etagValue, hubGet, parseContentRange, statusError } from './hub-http';

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

/** An error worth retrying: the connection failed (hub_unreachable) or the server had a passing problem (hub_busy: 429, 5xx). */
export class Transient extends Error {
  constructor(
    message: string,
    readonly code: 'hub_unreachable' | 'hub_busy' = 'hub_unreachable',
    /** the server's Retry-After (bounded), when it sent one: the next try waits at least this long */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

/** A commit id as the hub sends it in X-Repo-Commit: a download is pinned to one, so its bytes never come from two versions. */
export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** The file a transfer fetches (a download record's fields). */
export interface TransferFile {
  repo: string;
  /** a branch or tag until the first answer names its commit (X-Repo-Commit), then that commit */
  revision: string;
  file: string;
  target: string;
  size: number;
  /** the LFS SHA-256: the hub's X-Linked-Etag (or ETag) for the file must be this */
  sha256: string;
}

export interface TransferDeps {
  hub: HubConfig;
  timers: Timers;
  /** free bytes on the disk holding `dir` */
  freeBytes: (dir: string) => Promise<number>;
  /** the folder whose disk is checked (the models folder) */
  dir: () => string;
  /** free space left on the disk beyond what the download still needs */
  reserveBytes: number;
  /** free space is checked again after every this many bytes written */
  diskCheckBytes: number;
  /** at most one progress call this often */
  progressIntervalMs: number;
  /** speed is measured over this window */
  speedWindowMs: number;
  /** a progress tick (bytes and speed are read from the transfer) */
  onProgress: () => void;
  /** the revision resolved to this commit (the first answer's X-Repo-Commit): the download is pinned to it */
  onCommit: (commit: string) => void;
}

export class FileTransfer {
  /** bytes on disk */
  bytes: number;
  private hasher: Hash | null = null;
  private hashedBytes = -1;
  private samples: { t: number; bytes: number }[] = [];
  private lastProgress = 0;
  /** the revision asked for: the record's, then the commit it resolved to */
  private revision: string;
  /** the ETag the CDN served this file with in this process: a resume sends it as If-Range */
  private cdnEtag: string | null = null;

  constructor(private readonly f: TransferFile, private readonly deps: TransferDeps, bytes = 0) {
    this.bytes = bytes;
    this.revision = f.revision;
  }

  get part(): string {
    return partOf(this.f.target);
  }

  /** bytes per second over the last few seconds */
  speed(): number {
    const s = this.samples;
    if (s.length < 2) return 0;
    const dt = s[s.length - 1].t - s[0].t;
    return dt > 0 ? ((s[s.length - 1].bytes - s[0].bytes) * 1000) / dt : 0;
  }

  /** Forgets the bytes (the `.part` was deleted). */
  reset(): void {
    this.bytes = 0;
    this.hasher = null;
    this.hashedBytes = -1;
  }

  /** HubError disk_full when the disk has less free than the rest of the file plus the reserve. */
  async checkDisk(): Promise<void> {
    const { f, deps } = this;
    const needed = f.size - this.bytes + deps.reserveBytes;
    const free = await deps.freeBytes(deps.dir());
    if (free < needed) {
      throw new HubError('disk_full',
        `${path.basename(f.target)} needs ${needed} bytes free on the disk of ${deps.dir()} (with ${deps.reserveBytes} to spare); ${free} are`,
        { free, needed, folder: deps.dir() });
    }
  }

  /** The hash of the `.part` up to `bytes`, read again from disk when the running hash is not there (a new process). */
  private async hashUpTo(bytes: number): Promise<void> {
    if (this.hasher && this.hashedBytes === bytes) return;
    this.hasher = await sha256Of(this.part, bytes);
    this.hashedBytes = bytes;
  }

  /** The SHA-256 of the whole `.part` (hex); the running hash is used up. */
  async digest(): Promise<string> {
    const onDisk = await sizeOf(this.part);
    if (onDisk !== this.f.size) {
      // deleted or cut while it downloaded (by hand, another program): nothing whole to hash
      this.reset();
      throw new HubError('invalid_input',
        `${path.basename(this.part)} was deleted or changed while it downloaded (${onDisk} of ${this.f.size} bytes on disk): resume to download it again`);
    }
    await this.hashUpTo(onDisk);
    const hex = this.hasher!.digest('hex');
    this.hasher = null;
    this.hashedBytes = -1;
    return hex;
  }

  /**
   * Called for every chunk written: a speed sample and a progress tick at most once per
   * progressIntervalMs (the first chunk samples too, so the first tick has a speed), so the samples
   * held stay a few dozen over the speed window however small the chunks are.
   */
  private progress(force: boolean): void {
    const t = this.deps.timers.now();
    const due = force || t - this.lastProgress >= this.deps.progressIntervalMs;
    if (!due && this.samples.length > 0) return;
    this.samples.push({ t, bytes: this.bytes });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.deps.speedWindowMs) this.samples.shift();
    if (!due) return;
    this.lastProgress = t;
    this.deps.onProgress();
  }

  /** One request: from the bytes on disk to the end, or until the connection fails (Transient). */
  async request(signal: AbortSignal): Promise<void> {
    const { f, deps } = this;
    const { hub } = deps;
    const part = this.part;
    let offset = await sizeOf(part);
    if (offset > f.size) {
      await fs.promises.truncate(part, 0);
      offset = 0;
    }
    this.bytes = offset;
    if (offset === f.size && f.size > 0) return;
    await this.hashUpTo(offset);

    const url = resolveUrl(hub.hubUrl, f.repo, f.file, this.revision);
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      // the server sends the whole file (200) instead of the range if its ETag changed
      if (this.cdnEtag) headers['If-Range'] = `"${this.cdnEtag}"`;
    }
    let got: Awaited<ReturnType<typeof hubGet>>;
    try {
      got = await hubGet(hub, url, { headers, signal });
    } catch (e) {
      if (signal.aborted || e instanceof HubError) throw e;
      throw new Transient(`cannot reach ${new URL(url).host}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
    }
    const { res } = got;
    const failed = statusError(res.status, `${f.repo}/${f.file} at ${this.revision}`, { token: hub.token, retryAfter: res.headers.get('retry-after'), now: deps.timers.now() });
    if (failed || res.status === 408) await res.body?.cancel().catch(() => undefined);
    if (failed?.code === 'hub_busy') throw new Transient(failed.message, 'hub_busy', (failed.details?.retryAfterMs as number | undefined) ?? null);
    if (failed) throw failed;
    if (res.status === 408) throw new Transient('the hub answered 408');
    // the hub names an LFS file's SHA-256 on the resolve step (X-Linked-Etag) and its CDN in ETag: another one is another version of the file
    const etag = got.linkedEtag ?? etagValue(res.headers.get('etag'));
    if (etag && /^[0-9a-f]{64}$/.test(etag) && etag !== f.sha256) {
      await res.body?.cancel().catch(() => undefined);
      await fs.promises.rm(part, { force: true });
      this.reset();
      throw new HubError('hub_file_changed',
        `${f.file} changed on the hub (${f.repo} at ${this.revision}): its SHA-256 is now ${etag}, not ${f.sha256}; the partial file was deleted`,
        { expected: f.sha256, found: etag });
    }
    if (got.commit && COMMIT_RE.test(got.commit) && got.commit !== this.revision) {
      if (COMMIT_RE.test(this.revision)) {
        await res.body?.cancel().catch(() => undefined);
        throw new HubError('hub_bad_response', `${f.file}: asked for commit ${this.revision}, the hub answered for ${got.commit}`);
      }
      this.revision = got.commit;
      deps.onCommit(got.commit);
    }
    this.cdnEtag = etagValue(res.headers.get('etag'));
    if (res.status === 200 && offset > 0) {
      // the server ignored the Range (or If-Range did not match): start over
      offset = 0;
      this.bytes = 0;
      await this.hashUpTo(0);
    } else if (res.status === 206) {
      const r = parseContentRange(res.headers.get('content-range'));
      if (!r || r.start !== offset || r.total !== f.size) {
        await res.body?.cancel().catch(() => undefined);
        throw new HubError('hub_bad_response', `${f.file}: asked for bytes ${offset}- of ${f.size}, got Content-Range ${res.headers.get('content-range')}`);
      }
    } else if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new HubError('hub_bad_response', `${f.file}: the hub answered ${res.status}`, { status: res.status });
    }
    const length = res.headers.get('content-length');
    if (length !== null && offset + Number(length) !== f.size) {
      throw new HubError('hub_bad_response', `${f.file}: the hub sends ${offset + Number(length)} bytes; it listed ${f.size}`);
    }
    if (!res.body) throw new Transient('the answer has no body');

    const fh = await fs.promises.open(part, offset > 0 ? 'r+' : 'w');
    let pos = offset;
    let sinceDiskCheck = 0;
    try {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (pos + chunk.length > f.size) throw new HubError('hub_bad_response', `${f.file}: the hub sent more than the ${f.size} bytes it listed`);
          await fh.write(chunk, 0, chunk.length, pos);
          this.hasher!.update(chunk);
          pos += chunk.length;
          this.bytes = this.hashedBytes = pos;
          sinceDiskCheck += chunk.length;
          if (sinceDiskCheck >= deps.diskCheckBytes) {
            sinceDiskCheck = 0;
            await this.checkDisk();
          }
          this.progress(false);
        }
      } catch (e) {
        if (signal.aborted || e instanceof HubError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
          throw new HubError('disk_full', `the disk of ${deps.dir()} is full at byte ${pos} of ${f.file}`, { folder: deps.dir() });
        }
        throw new Transient(`the connection broke at byte ${pos}: ${(e as Error).message}`);
      }
    } finally {
      await fh.close();
      this.progress(true);
    }
    if (pos !== f.size) throw new Transient(`the connection ended at byte ${pos} of ${f.size}`);
  }
}
