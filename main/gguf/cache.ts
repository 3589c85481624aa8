/**
 * Parsed GGUF headers kept by (path, device, inode, size, mtime, ctime), so a file is parsed once while it is
 * unchanged, not on every request that needs it (every memory estimate as a slider moves). A
 * malformed file's GgufError is kept the same way. Small LRU, bounded in entries and in the
 * metadata memory it holds.
 */
import { promises as fsp } from 'fs';
import { openForReading } from '../regular-file';
import { untilAborted } from '../abort';
import { fileSource, GgufHeader, parseGgufHeader, ReadOptions } from './read';
import { GgufError } from './types';

export interface HeaderCacheOptions {
  /** most files kept */
  maxEntries: number;
  /** most decoded metadata kept, summed over entries (GgufHeader.metadataBytes) */
  maxBytes: number;
}

export const DEFAULT_HEADER_CACHE: HeaderCacheOptions = { maxEntries: 16, maxBytes: 128 * 1024 * 1024 };

/** Opens a model file for reading without blocking: a FIFO or a device named like a model cannot hold a thread forever. */
export function openModelFile(filePath: string, opts: { signal?: AbortSignal; waitMs?: number } = {}): Promise<fsp.FileHandle> {
  return openForReading(filePath, opts);
}

type Entry = { header: GgufHeader; bytes: number } | { error: GgufError; bytes: number };

export class GgufHeaderCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly inFlight = new Map<string, Promise<GgufHeader>>();
  private queue: Promise<void> = Promise.resolve();
  /** Parses done (misses), for tests and diagnostics. */
  parses = 0;

  constructor(private readonly opts: HeaderCacheOptions = DEFAULT_HEADER_CACHE) {}

  /**
   * The header of `filePath`, parsed now or kept from an earlier parse of the same unchanged file.
   * Throws like readGgufHeader (a kept GgufError is thrown again).
   */
  async read(filePath: string, opts: ReadOptions = {}): Promise<GgufHeader> {
    const fh = await openModelFile(filePath, { signal: opts.signal });
    try {
      return await this.readOpen(fh, filePath, opts);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * The header of a file the caller opened (and keeps open: the engine host checks and loads the same
   * open file). Kept by (path, device, inode, size, mtime, ctime): the ctime, which no one can set, tells
   * a file put in another's place apart even when it reuses the inode and copies size and mtime.
   */
  async readOpen(fh: fsp.FileHandle, filePath: string, opts: ReadOptions = {}): Promise<GgufHeader> {
    const st = await fh.stat();
    if (!st.isFile()) throw new GgufError('corrupt', filePath, 'not a regular file');
    const key = `${filePath}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit); // most recently used last
      if ('error' in hit) throw hit.error;
      return hit.header;
    }
    // the same file asked for again while it is parsed (estimates as a slider moves): one parse
    const joined = this.inFlight.get(key);
    if (!joined) {
      const parse = this.parse(fh, st.size, key, filePath, opts);
      this.inFlight.set(key, parse);
      void parse.catch(() => undefined).finally(() => this.inFlight.delete(key));
      return parse;
    }
    // the parse joined was withdrawn by its own caller, not by this one: parse again
    const result = joined.catch((e: unknown) => {
      if ((e as Error | null)?.name === 'AbortError' && !opts.signal?.aborted) return this.readOpen(fh, filePath, opts);
      throw e;
    });
    // a reader that withdraws stops waiting, whoever started the parse it joined
    return untilAborted(result, opts.signal);
  }

  /**
   * One parse at a time (each holds up to the reader's metadata cap in memory): a parse waits for the
   * one before it to end.
   */
  private parse(fh: fsp.FileHandle, size: number, key: string, filePath: string, opts: ReadOptions): Promise<GgufHeader> {
    const run = this.queue.then(async () => {
      opts.signal?.throwIfAborted();
      this.parses++;
      try {
        const header = await parseGgufHeader(fileSource(fh, size), filePath, opts);
        this.put(key, { header, bytes: header.metadataBytes });
        return header;
      } catch (e) {
        if (e instanceof GgufError) this.put(key, { error: e, bytes: 0 });
        throw e;
      }
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private put(key: string, entry: Entry): void {
    if (entry.bytes > this.opts.maxBytes) return;
    // entries of an older version of the same file go at once
    const prefix = key.slice(0, key.indexOf('\0') + 1);
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) this.drop(k, e);
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break;
      this.drop(k, e);
    }
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
