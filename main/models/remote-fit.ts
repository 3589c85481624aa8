/**
 * A fit verdict for a GGUF file on the hub before it is downloaded: full GPU, partial, CPU only or
 * does not fit on this machine.
 *
 * 1. The header (metadata and tensor list) is read from the hub with HTTP Range requests (the first
 *    of REMOTE_CHUNK bytes, each next twice as large up to REMOTE_CHUNK_MAX, to the CDN address the
 *    first one was redirected to) through the project's own GGUF reader (main/gguf/read.ts, with its caps on
 *    hostile input): a few hundred KB to a few MB, not the file.
 * 2. The header bytes are written to a temporary *header-only* file: the header, then the file
 *    extended to its full size without writing the tensor data (a sparse file on Linux, macOS and
 *    most Unix file systems; its data reads as zeros). llama.cpp refuses a file shorter than its
 *    tensors say ("data is not within the file bounds"), so a cut file could not be estimated.
 * 3. The engine estimates it like any local file (llama.cpp's fit, then its no_alloc estimate:
 *    main/models/fit.ts planLoad). Neither reads tensor data, so the figures are llama.cpp's own for
 *    the real file. A split model gets one header-only file per part, under the parts' own names.
 *
 * On a file system without sparse files (FAT32, NTFS without the sparse flag) the extension takes
 * the disk space of the whole file for as long as the estimate runs.
 */
import fs, { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import { LOAD_FIELDS } from '../params/load';
import { parseGgufHeader, type GgufByteSource, type GgufHeader } from '../gguf/read';
import { GGUF_LIMITS } from '../gguf/types';
import type { Estimate, FitResult, LoadParamsInput } from '../engine/protocol';
import { gpuDevices, planLoad, type PlannedLoad } from './fit';
import { FIT_VERDICTS, VERDICT_WORDS } from '../ipc/models';
import { HubError, hubConfigFromEnv, resolveUrl, type HubConfig, type HubQuantFile } from './hub';
import { hubGet, parseContentRange, statusError } from './hub-http';

/** Bytes asked for by the first Range request while a header is read; each next one asks for twice as many, up to REMOTE_CHUNK_MAX. */
export const REMOTE_CHUNK = 256 * 1024;
export const REMOTE_CHUNK_MAX = 4 * 1024 * 1024;

/**
 * The most bytes one header read fetches. The reader charges every header byte it reads (each
 * string at twice its length, each number at its size, each entry and tensor at more than its
 * encoding) against GGUF_LIMITS.maxMetadataBytes before it reads it, so a header it accepts is
 * shorter than that; the source reads ahead at most one request of REMOTE_CHUNK_MAX beyond.
 */
export const REMOTE_HEADER_MAX_BYTES = GGUF_LIMITS.maxMetadataBytes + REMOTE_CHUNK_MAX;

/** The requests REMOTE_HEADER_MAX_BYTES takes with the doubling ranges (each request gets all it asked for, or the read stops). */
export const REMOTE_HEADER_MAX_REQUESTS = (() => {
  let n = 0;
  for (let got = 0, ask = REMOTE_CHUNK; got < REMOTE_HEADER_MAX_BYTES; ask = Math.min(REMOTE_CHUNK_MAX, ask * 2), n++) got += ask;
  return n;
})();

/** How long the header reads of one verdict may take in all (every part of a split model): a hub that stalls fails the verdict then. */
export const REMOTE_FIT_DEADLINE_MS = 120_000;

export { FIT_VERDICTS };
export type FitVerdict = (typeof FIT_VERDICTS)[number];

export { VERDICT_WORDS };

/** What reading remote headers cost. */
export interface FetchCount {
  requests: number;
  /** body bytes received */
  bytes: number;
}

/**
 * A GGUF byte source over HTTP Range requests to a file's resolve URL. It reads forward from byte 0
 * (as the header reader does) and keeps what it fetched: `prefix`. The first request follows the
 * hub's redirect to its CDN; the next ones go to the address that answered. Each request asks for
 * twice the bytes of the one before (REMOTE_CHUNK up to REMOTE_CHUNK_MAX), so a large header (a big
 * vocabulary) costs a handful of requests.
 */
export class HttpRangeSource implements GgufByteSource {
  /** what the header reader asks for at once (it reads from `prefix` when fetched already) */
  readonly chunkSize = REMOTE_CHUNK;
  /** bytes the next request asks for at least: doubles after each */
  private fetchSize = REMOTE_CHUNK;
  private buf = Buffer.alloc(0);
  readonly count: FetchCount = { requests: 0, bytes: 0 };
  /** where the bytes are: the resolve URL, then the address its redirect led to */
  private url: string;

  constructor(
    url: string,
    readonly size: number,
    private readonly hub: HubConfig,
    private readonly signal?: AbortSignal,
  ) {
    this.url = url;
  }

  /** The bytes fetched so far, from byte 0. */
  get prefix(): Buffer {
    return this.buf;
  }

  async read(out: Buffer, offset: number, length: number, position: number): Promise<number> {
    const end = Math.min(this.size, position + length);
    if (position >= end) return 0;
    if (end > this.buf.length) await this.fetchTo(Math.max(end, Math.min(this.size, this.buf.length + this.fetchSize)));
    return this.buf.copy(out, offset, position, end);
  }

  /**
   * Fetches bytes [prefix.length, end): one 206 whose Content-Range is exactly that range (a shorter
   * one would make the reader ask again and again), its body read as it comes and stopped at the
   * first byte past the range. At most REMOTE_HEADER_MAX_REQUESTS requests and REMOTE_HEADER_MAX_BYTES.
   */
  private async fetchTo(end: number): Promise<void> {
    const start = this.buf.length;
    if (end > REMOTE_HEADER_MAX_BYTES || this.count.requests >= REMOTE_HEADER_MAX_REQUESTS) {
      throw new HubError('hub_bad_response', `${this.url}: the header is longer than Hearth reads (${REMOTE_HEADER_MAX_BYTES / (1024 * 1024)} MiB in ${REMOTE_HEADER_MAX_REQUESTS} requests)`);
    }
    let got: Awaited<ReturnType<typeof hubGet>>;
    try {
      got = await hubGet(this.hub, this.url, { headers: { Range: `bytes=${start}-${end - 1}`, 'Accept-Encoding': 'identity' }, signal: this.signal });
    } catch (e) {
      if (this.signal?.aborted || e instanceof HubError) throw e;
      throw new HubError('hub_unreachable', `cannot reach ${new URL(this.url).host}: ${(e as Error).message}`, undefined, { cause: e });
    }
    const { res } = got;
    this.count.requests++;
    const failed = statusError(res.status, this.url, { token: this.hub.token, retryAfter: res.headers.get('retry-after') });
    const range = parseContentRange(res.headers.get('content-range'));
    if (failed || res.status !== 206 || !range || range.start !== start || range.end !== end - 1 || range.total !== this.size) {
      // a 200 would be the whole file: the point is not to download it
      await res.body?.cancel().catch(() => undefined);
      if (failed) throw failed;
      if (res.status !== 206) throw new HubError('hub_bad_response', `${this.url}: asked for a byte range, the hub answered ${res.status}`, { status: res.status });
      throw new HubError('hub_bad_response', `${this.url}: asked for bytes ${start}-${end - 1} of ${this.size}, got Content-Range ${res.headers.get('content-range')}`);
    }
    const want = end - start;
    const body = Buffer.alloc(want);
    let n = 0;
    const reader = res.body?.getReader();
    try {
      for (;;) {
        const r = await reader?.read();
        if (!r || r.done) break;
        const kept = Math.min(r.value.byteLength, want - n);
        body.set(r.value.subarray(0, kept), n);
        n += kept;
        this.count.bytes += kept;
        if (kept < r.value.byteLength) {
          throw new HubError('hub_bad_response', `${this.url}: the range ${start}-${end - 1} came with more than its ${want} bytes`);
        }
      }
    } finally {
      await reader?.cancel().catch(() => undefined);
    }
    if (n !== want) throw new HubError('hub_bad_response', `${this.url}: the range ${start}-${end - 1} came with ${n} bytes`);
    this.buf = Buffer.concat([this.buf, body]);
    // the next reads go straight to where the bytes are, and ask for more at once
    this.url = got.url;
    this.fetchSize = Math.min(REMOTE_CHUNK_MAX, this.fetchSize * 2);
  }
}

/** A remote file's header, read with Range requests, and the bytes that hold it. */
export interface RemoteHeader {
  header: GgufHeader;
  /** bytes [0, header.dataOffset) as far as fetched (the padding before the data may be missing: it is zeros) */
  bytes: Buffer;
  count: FetchCount;
}

/** Reads the GGUF header of `file` in `repo` (of `size` bytes, as the hub lists it) with Range requests. */
export async function readRemoteHeader(hub: HubConfig, repo: string, file: string, size: number, opts: { revision?: string; signal?: AbortSignal } = {}): Promise<RemoteHeader> {
  const url = resolveUrl(hub.hubUrl, repo, file, opts.revision);
  const src = new HttpRangeSource(url, size, hub, opts.signal);
  const header = await parseGgufHeader(src, `${repo}/${file}`, { signal: opts.signal });
  return { header, bytes: src.prefix.subarray(0, Math.min(src.prefix.length, header.dataOffset)), count: src.count };
}

/**
 * Writes a header-only file: `bytes` then the file extended to `size` without writing the rest
 * (sparse where the file system has sparse files).
 */
export async function writeHeaderOnlyFile(file: string, bytes: Buffer, size: number): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(bytes, 0, bytes.length, 0);
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/** The verdict a planned load gives. */
export function verdictOf(plan: PlannedLoad): FitVerdict {
  if (!plan.check.fits || (plan.fit && !plan.fit.fits)) return 'does-not-fit';
  if (gpuDevices(plan.estimate).length === 0) return 'cpu-only';
  // llama.cpp counts the output layer as one more offloadable layer
  const total = plan.estimate.layers + 1;
  const layers = plan.gpuLayers === 'max' ? total : plan.gpuLayers;
  if (layers >= total) return 'full-gpu';
  return layers === 0 ? 'cpu-only' : 'partial';
}

/** The engine calls a verdict needs (EngineClient has them). */
export interface FitEngine {
  fit(file: string, params: LoadParamsInput, opts: { marginMiB?: number }): Promise<FitResult>;
  estimate(file: string, params: LoadParamsInput): Promise<Estimate>;
}

export interface RemoteFit {
  repo: string;
  /** the model's name (a split model's name without the part suffix) */
  name: string;
  quant: string | null;
  /** the file's size (all parts) */
  size: number;
  verdict: FitVerdict;
  /** the fit's reason in one sentence (null without a GPU) */
  reason: string | null;
  gpuLayers: number | 'max';
  contextSize: number;
  layers: number;
  /** llama.cpp's estimate of the header-only file(s) */
  estimate: Estimate;
  /** the problems that make it not fit, one line each */
  problems: string[];
  /** what the verdict fetched from the hub: requests and body bytes */
  fetched: FetchCount;
  /** the header's size (bytes before the tensor data), summed over the parts */
  headerBytes: number;
  /** how the estimate was made */
  method: 'llama.cpp estimate of a header-only file';
}

export interface RemoteFitOptions {
  hub?: HubConfig;
  revision?: string;
  params?: LoadParamsInput;
  /** memory kept free on every GPU (default: the fit margin setting's default) */
  marginMiB?: number;
  /** where the temporary header-only files go (default: the OS's temp folder) */
  tmpDir?: string;
  signal?: AbortSignal;
  /** the deadline of the header reads (default REMOTE_FIT_DEADLINE_MS) */
  deadlineMs?: number;
}

/** The verdict for a model on the hub (HubClient.ggufFiles's entry), from its header(s) alone. */
export async function remoteFit(engine: FitEngine, repo: string, model: HubQuantFile, opts: RemoteFitOptions = {}): Promise<RemoteFit> {
  const hub = opts.hub ?? hubConfigFromEnv();
  const marginMiB = opts.marginMiB ?? LOAD_FIELDS.fitMarginMiB.default;
  const dir = await fsp.mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'hearth-remote-fit-'));
  const fetched: FetchCount = { requests: 0, bytes: 0 };
  let headerBytes = 0;
  const deadlineMs = opts.deadlineMs ?? REMOTE_FIT_DEADLINE_MS;
  const deadline = AbortSignal.timeout(deadlineMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  try {
    const files: string[] = [];
    for (const part of model.parts) {
      const r = await readRemoteHeader(hub, repo, part.path, part.size, { revision: opts.revision, signal }).catch((e: unknown) => {
        if (deadline.aborted && !opts.signal?.aborted) {
          throw new HubError('hub_unreachable', `${repo}/${part.path}: the hub did not send the header within ${deadlineMs / 1000} s`, undefined, { cause: e });
        }
        throw e;
      });
      fetched.requests += r.count.requests;
      fetched.bytes += r.count.bytes;
      headerBytes += r.header.dataOffset;
      const local = path.join(dir, path.posix.basename(part.path));
      await writeHeaderOnlyFile(local, r.bytes, part.size);
      files.push(local);
    }
    const plan = await planLoad(engine, files[0], { ...(opts.params ?? {}), fitMarginMiB: marginMiB }, marginMiB);
    return {
      repo, name: model.name, quant: model.quant, size: model.size, verdict: verdictOf(plan), reason: plan.reason,
      gpuLayers: plan.gpuLayers, contextSize: plan.contextSize, layers: plan.estimate.layers, estimate: plan.estimate,
      problems: plan.check.problems, fetched, headerBytes, method: 'llama.cpp estimate of a header-only file',
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const RANK: Record<FitVerdict, number> = { 'full-gpu': 3, partial: 2, 'cpu-only': 1, 'does-not-fit': 0 };

/**
 * The best model of a repository for this machine: the largest that runs fully on the GPU, else the
 * largest partly offloaded, else the largest that runs on the CPU; null when none fits. Verdicts are
 * taken from the largest model down and stop as soon as no smaller one can do better. Projectors are
 * not models on their own and are skipped.
 */
export async function bestFit(
  engine: FitEngine, repo: string, models: readonly HubQuantFile[], opts: RemoteFitOptions = {},
): Promise<{ best: RemoteFit | null; tried: RemoteFit[] }> {
  const tried: RemoteFit[] = [];
  let best: RemoteFit | null = null;
  for (const m of [...models].filter((x) => !x.projector).sort((a, b) => b.size - a.size)) {
    const f = await remoteFit(engine, repo, m, opts);
    tried.push(f);
    if (f.verdict !== 'does-not-fit' && (!best || RANK[f.verdict] > RANK[best.verdict])) best = f;
    const noGpu = gpuDevices(f.estimate).length === 0;
    if (best && (best.verdict === 'full-gpu' || noGpu)) break;
  }
  return { best, tried };
}
