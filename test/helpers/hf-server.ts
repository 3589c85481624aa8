/**
 * A local Hugging Face hub for tests (loopback, port 0), speaking the API shapes `@huggingface/hub`
 * and the download manager use, as huggingface.co sends them:
 *
 * - `GET /api/models?search=&author=&filter=&sort=&direction=&limit=&expand=&cursor=`: a page of
 *   models, the next page's address in `Link: <…>; rel="next"`
 * - `GET /api/models/{owner}/{repo}[/revision/{rev}]`: model info with `siblings`
 * - `GET /api/models/{owner}/{repo}/tree/{rev}[/{path}]?recursive=`: `{type, path, size, oid, lfs: {oid, size, pointerSize}}`
 * - `GET|HEAD /{owner}/{repo}/resolve/{rev}/{path}`: 302 to `/cdn/…` on this server with `ETag`,
 *   `X-Linked-Etag`, `X-Linked-Size`, `X-Repo-Commit`; 401 (`X-Error-Code: GatedRepo`) for a gated repo
 *   without the token; 404 with `X-Error-Code: RepoNotFound | EntryNotFound`
 * - `GET /cdn/{sha256}`: the bytes, with `Range: bytes=a-[b]` (206, `Content-Range`), `Accept-Ranges`, `ETag`
 *
 * Faults per file (`fault(repo, path, …)`): drop the connection after N bytes of a response, wrong
 * bytes (the content differs from its sha256), slow (bytes per second), or an error status (429,
 * 503…) with `Retry-After` on the resolve step; `fault(repo, '', {status})` answers the repository's
 * file listing (tree) so. A CDN answer may also be an endless 206 body (`endless`) or a valid 206 of a
 * few bytes whatever the Range asked (`rangeBytes`); the listing's or the search's pages may link to
 * themselves, to empty pages without end, or to another origin (`next`). `replace(repo, path, data)` commits new bytes for a file: the branch
 * (`main`) serves them from then on, the old commit still serves the old ones (as the hub's
 * `resolve/<commit>` does). A CDN answer honours `If-Range` (another ETag: the whole file, 200).
 * Every request is logged.
 */
import { createHash } from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';

export interface HfFileSpec {
  path: string;
  data: Buffer;
  /** stored with LFS (default for .gguf files): the tree lists its sha256 */
  lfs?: boolean;
}

export interface HfRepoSpec {
  /** owner/name */
  id: string;
  files: HfFileSpec[];
  /** the files need the server's token (401 without it) */
  gated?: boolean;
  downloads?: number;
  likes?: number;
  lastModified?: string;
  tags?: string[];
}

/** The repository the fit and pull suites serve: tiny-spm as Q8_0, tiny-embed as Q4_K_M and as a vision projector. */
export const TINY_HUB_REPO = 'hearth/tiny-GGUF';
export function tinyHubRepo(spm: Buffer, embed: Buffer): HfRepoSpec {
  return {
    id: TINY_HUB_REPO,
    files: [
      { path: 'tiny-Q8_0.gguf', data: spm },
      { path: 'tiny-Q4_K_M.gguf', data: embed },
      { path: 'mmproj-tiny-f16.gguf', data: embed },
    ],
  };
}

export interface HfFault {
  /** end the connection after this many bytes of a response body */
  dropAfter?: number;
  /** serve content that differs from the file's sha256 (one byte flipped in the middle) */
  corrupt?: boolean;
  /** send at most this many bytes a second */
  bytesPerSecond?: number;
  /** answer the resolve step (or, for path '', the tree listing) with this status instead */
  status?: number;
  /** the Retry-After header sent with `status` */
  retryAfter?: string;
  /** CDN: answer a Range with its 206 and Content-Range, then a chunked body that does not end (until the client goes, or ENDLESS_BYTES) */
  endless?: boolean;
  /** CDN: answer every Range with a valid 206 of at most this many bytes (a hub that makes the client ask again and again) */
  rangeBytes?: number;
  /**
   * The file listing (`fault(repo, '', …)`) or the search (`fault('', '', …)`): the `Link: rel="next"`
   * of every page: 'self' (the page links to itself), 'empty' (an empty page linking to another, without
   * end), or an address (another origin)
   */
  next?: 'self' | 'empty' | string;
  /** apply to this many responses, then stop (default: every one) */
  times?: number;
}

export interface HfRequestLog {
  method: string;
  path: string;
  /** the Range header, if any */
  range: string | null;
  /** the start of `bytes=N-`, if any */
  rangeStart: number | null;
  authorization: string | null;
  status: number;
  /** body bytes written (for /cdn/: file bytes) */
  bytesSent: number;
  /** for /resolve/ and /cdn/: which file */
  file?: string;
}

interface File {
  repo: HfRepoSpec;
  spec: HfFileSpec;
  sha256: string;
  gitOid: string;
  pointer: string;
}

export interface HfServer {
  url: string;
  /** every request, in arrival order (a response's bytesSent is final once it ended) */
  log: HfRequestLog[];
  /** requests to the CDN for one repo file */
  cdnLog(repo: string, path: string): HfRequestLog[];
  fault(repo: string, path: string, fault: HfFault | null): void;
  /** New bytes for a file in a new commit of its repository (the old commit keeps the old bytes); returns the new commit */
  replace(repo: string, path: string, data: Buffer): string;
  /** the commit `main` of a repository is at */
  commitOf(repo: string): string;
  /** CDN responses with bytes still to send, and the most at once since the last reset */
  inFlight(reset?: boolean): { now: number; max: number };
  close(): Promise<void>;
}

export interface HfServerOptions {
  repos: HfRepoSpec[];
  /** the token gated repos want (Authorization: Bearer …) */
  token?: string;
  /** models per search page before `Link: rel="next"` (default 2, so tests see pagination) */
  pageSize?: number;
}

/** The most an `endless` body sends before it ends after all (a test without the client's bound ends anyway). */
export const ENDLESS_BYTES = 512 * 1024 * 1024;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');
const COMMIT = sha1('hearth-test-commit');

function pointerOf(hash: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${hash}\nsize ${size}\n`;
}

export async function startHfServer(opts: HfServerOptions): Promise<HfServer> {
  const files = new Map<string, File>(); // `${repo}/${path}`
  const bySha = new Map<string, File>();
  for (const repo of opts.repos) {
    for (const spec of repo.files) {
      const hash = sha256(spec.data);
      const pointer = pointerOf(hash, spec.data.length);
      const lfs = spec.lfs ?? spec.path.endsWith('.gguf');
      const blob = lfs ? Buffer.from(pointer) : spec.data;
      const f: File = { repo, spec: { ...spec, lfs }, sha256: hash, gitOid: sha1(Buffer.concat([Buffer.from(`blob ${blob.length}\0`), blob])), pointer };
      files.set(`${repo.id}/${spec.path}`, f);
      bySha.set(hash, f);
    }
  }
  const faults = new Map<string, HfFault & { used: number }>();
  /** the commit each repository's `main` is at, and the files of its older commits */
  const heads = new Map<string, string>();
  const history = new Map<string, Map<string, File>>();
  let commits = 0;
  const headOf = (repoId: string) => heads.get(repoId) ?? COMMIT;
  /** the fault for a key that is active now (counted as used) */
  const take = (key: string, pick: (f: HfFault) => boolean): HfFault | undefined => {
    const f = faults.get(key);
    if (!f || !pick(f) || (f.times !== undefined && f.used >= f.times)) return undefined;
    f.used++;
    return f;
  };
  const log: HfRequestLog[] = [];
  const pageSize = opts.pageSize ?? 2;
  let now = 0;
  let max = 0;
  let url = '';

  const modelJson = (r: HfRepoSpec) => ({
    _id: sha1(r.id).slice(0, 24),
    id: r.id,
    author: r.id.split('/')[0],
    private: false,
    gated: r.gated ? 'manual' : false,
    downloads: r.downloads ?? 0,
    likes: r.likes ?? 0,
    lastModified: r.lastModified ?? '2026-01-01T00:00:00.000Z',
    createdAt: '2025-01-01T00:00:00.000Z',
    library_name: 'gguf',
    pipeline_tag: 'text-generation',
    // the hub tags a repository holding GGUF files `gguf`
    tags: [...(r.files.some((f) => f.path.endsWith('.gguf')) ? ['gguf'] : []), ...(r.tags ?? [])],
  });

  function authorized(req: http.IncomingMessage, repo: HfRepoSpec): boolean {
    return !repo.gated || (opts.token !== undefined && req.headers.authorization === `Bearer ${opts.token}`);
  }

  function json(res: http.ServerResponse, entry: HfRequestLog, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    entry.status = status;
    entry.bytesSent = Buffer.byteLength(text);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** A page answered by a `next` fault: `body` linking to itself, an empty page linking to the next empty one, or `body` linking to the fault's address. */
  function pageFault(u: URL, res: http.ServerResponse, entry: HfRequestLog, next: string, body: unknown[]): void {
    const self = new URL(u.toString(), url);
    if (next === 'empty') {
      self.searchParams.set('page', String(Number(u.searchParams.get('page') ?? '0') + 1));
      return json(res, entry, 200, [], { Link: `<${self.toString()}>; rel="next"` });
    }
    json(res, entry, 200, body, { Link: `<${next === 'self' ? self.toString() : next}>; rel="next"` });
  }

  function search(u: URL, res: http.ServerResponse, entry: HfRequestLog): void {
    const q = (u.searchParams.get('search') ?? '').toLowerCase();
    const author = u.searchParams.get('author');
    const filters = u.searchParams.getAll('filter');
    const sort = u.searchParams.get('sort');
    const dir = u.searchParams.get('direction') === '1' ? 1 : -1;
    const limit = Math.min(Number(u.searchParams.get('limit') ?? '500') || 500, 500);
    const cursor = Number(u.searchParams.get('cursor') ?? '0') || 0;
    const models = opts.repos.map(modelJson).filter((m) =>
      (!q || m.id.toLowerCase().includes(q)) && (!author || m.author === author) && filters.every((f) => m.tags.includes(f)));
    if (sort === 'downloads' || sort === 'likes') models.sort((a, b) => dir * (a[sort] - b[sort]));
    else if (sort === 'lastModified' || sort === 'createdAt') models.sort((a, b) => dir * a[sort].localeCompare(b[sort]));
    const page = Math.min(limit, pageSize);
    const slice = models.slice(cursor, cursor + page);
    const headers: Record<string, string> = {};
    if (cursor + page < models.length) {
      const next = new URL(u.toString(), url);
      next.searchParams.set('cursor', String(cursor + page));
      headers.Link = `<${next.toString()}>; rel="next"`;
    }
    const paged = take('/', (x) => x.next !== undefined);
    if (paged) return pageFault(u, res, entry, paged.next!, slice);
    json(res, entry, 200, slice, headers);
  }

  function tree(repo: HfRepoSpec, sub: string, recursive: boolean) {
    const out: unknown[] = [];
    const dirs = new Set<string>();
    const prefix = sub ? `${sub}/` : '';
    for (const spec of repo.files) {
      if (!spec.path.startsWith(prefix)) continue;
      const rest = spec.path.slice(prefix.length);
      if (!recursive && rest.includes('/')) {
        const d = prefix + rest.split('/')[0];
        if (!dirs.has(d)) out.push({ type: 'directory', oid: sha1(d), size: 0, path: d });
        dirs.add(d);
        continue;
      }
      const f = files.get(`${repo.id}/${spec.path}`)!;
      out.push({
        type: 'file', oid: f.gitOid, size: f.spec.lfs ? Buffer.byteLength(f.pointer) : spec.data.length, path: spec.path,
        ...(f.spec.lfs ? { lfs: { oid: f.sha256, size: spec.data.length, pointerSize: Buffer.byteLength(f.pointer) } } : {}),
      });
    }
    return out;
  }

  function serveCdn(req: http.IncomingMessage, res: http.ServerResponse, entry: HfRequestLog, f: File): void {
    const key = `${f.repo.id}/${f.spec.path}`;
    entry.file = key;
    const total = f.spec.data.length;
    let start = 0;
    let end = total - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= total) {
        entry.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${total}` });
        res.end();
        return;
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), total - 1) : total - 1;
      status = 206;
    }
    const ifRange = req.headers['if-range'];
    if (status === 206 && typeof ifRange === 'string' && ifRange !== `"${f.sha256}"`) {
      // If-Range names another version: the whole file
      start = 0;
      end = total - 1;
      status = 200;
    }
    const active = take(key, (x) => x.status === undefined);
    if (status === 206 && active?.rangeBytes !== undefined) end = Math.min(end, start + active.rangeBytes - 1);
    if (status === 206 && active?.endless && req.method !== 'HEAD') return serveEndless(res, entry, `bytes ${start}-${end}/${total}`);
    let body = f.spec.data.subarray(start, end + 1);
    if (active?.corrupt) {
      body = Buffer.from(body);
      const i = Math.floor(body.length / 2);
      body[i] ^= 0xff;
    }
    entry.status = status;
    res.writeHead(status, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Accept-Ranges': 'bytes',
      ETag: `"${f.sha256}"`,
      'Last-Modified': 'Thu, 01 Jan 2026 00:00:00 GMT',
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${total}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const limit = active?.dropAfter !== undefined ? Math.min(active.dropAfter, body.length) : body.length;
    const rate = active?.bytesPerSecond;
    const chunk = rate ? Math.max(1, Math.floor(rate / 20)) : 256 * 1024;
    let pos = 0;
    const finish = inFlight(res);
    const step = () => {
      if (res.destroyed) return finish();
      if (pos >= limit) {
        if (limit < body.length) {
          // all bytes up to the drop are flushed to the socket first, then it is cut
          finish();
          res.socket?.destroy();
        } else res.end(finish);
        return;
      }
      const piece = body.subarray(pos, Math.min(limit, pos + chunk));
      pos += piece.length;
      entry.bytesSent += piece.length;
      // the client may see its last byte before this write's callback: the response counts as done now
      if (pos >= body.length) finish();
      const more = res.write(piece, () => {
        if (rate) setTimeout(step, 50);
        else if (more) setImmediate(step);
      });
      if (!rate && !more) res.once('drain', () => setImmediate(step));
    };
    step();
  }

  /** Counts a response as in flight (the concurrency figures) until the returned finish runs or it closes. */
  function inFlight(res: http.ServerResponse): () => void {
    now++;
    max = Math.max(max, now);
    let ended = false;
    const finish = () => {
      if (!ended) {
        ended = true;
        now--;
      }
    };
    res.on('close', finish);
    return finish;
  }

  /** A 206 with `contentRange`, then zeros without end (written as the client reads them) until the client goes or ENDLESS_BYTES. */
  function serveEndless(res: http.ServerResponse, entry: HfRequestLog, contentRange: string): void {
    entry.status = 206;
    res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Range': contentRange, 'Accept-Ranges': 'bytes' });
    const zeros = Buffer.alloc(64 * 1024);
    const finish = inFlight(res);
    const step = () => {
      if (res.destroyed) return finish();
      if (entry.bytesSent >= ENDLESS_BYTES) return void res.end(finish);
      entry.bytesSent += zeros.length;
      if (res.write(zeros)) setImmediate(step);
      else res.once('drain', step);
    };
    step();
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', url);
    const range = req.headers.range ?? null;
    const m0 = range ? /^bytes=(\d+)-/.exec(range) : null;
    const entry: HfRequestLog = {
      method: req.method ?? 'GET', path: u.pathname + u.search, range, rangeStart: m0 ? Number(m0[1]) : null,
      authorization: req.headers.authorization ?? null, status: 0, bytesSent: 0,
    };
    log.push(entry);
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const repoOf = (owner: string, name: string) => opts.repos.find((r) => r.id === `${owner}/${name}`);
    const notFound = (code: string, message: string) => json(res, entry, 404, { error: message }, { 'X-Error-Code': code });

    if (u.pathname === '/api/models') return search(u, res, entry);
    if (parts[0] === 'api' && parts[1] === 'models' && parts.length >= 4) {
      const repo = repoOf(parts[2], parts[3]);
      if (!repo) return notFound('RepoNotFound', 'Repository not found');
      if (parts.length === 4 || parts[4] === 'revision') {
        return json(res, entry, 200, { ...modelJson(repo), sha: headOf(repo.id), siblings: repo.files.map((f) => ({ rfilename: f.path })) });
      }
      if (parts[4] === 'tree' && parts.length >= 6) {
        const busy = take(`${repo.id}/`, (x) => x.status !== undefined && x.next === undefined);
        if (busy) return json(res, entry, busy.status!, { error: 'busy' }, busy.retryAfter ? { 'Retry-After': busy.retryAfter } : {});
        const listed = tree(repo, parts.slice(6).join('/'), u.searchParams.get('recursive') === 'true');
        const paged = take(`${repo.id}/`, (x) => x.next !== undefined);
        if (paged) return pageFault(u, res, entry, paged.next!, listed);
        return json(res, entry, 200, listed);
      }
      return notFound('EntryNotFound', 'not found');
    }
    if (parts[0] === 'cdn' && parts.length === 2) {
      // one content may be several files: the query names which (for its faults and the log)
      const named = files.get(`${u.searchParams.get('repo')}/${u.searchParams.get('path')}`);
      const f = named?.sha256 === parts[1] ? named : bySha.get(parts[1]);
      if (!f) return notFound('EntryNotFound', 'not found');
      return serveCdn(req, res, entry, f);
    }
    if (parts.length >= 5 && parts[2] === 'resolve') {
      const repo = repoOf(parts[0], parts[1]);
      if (!repo) return notFound('RepoNotFound', 'Repository not found');
      const filePath = parts.slice(4).join('/');
      const rev = parts[3];
      // a branch or tag (anything but a commit id) is `main`; an older commit serves its own files
      const commit = /^[0-9a-f]{40}$/.test(rev) ? rev : headOf(repo.id);
      const f = commit === headOf(repo.id) ? files.get(`${repo.id}/${filePath}`) : history.get(commit)?.get(filePath);
      entry.file = `${repo.id}/${filePath}`;
      if (commit !== headOf(repo.id) && !history.has(commit)) return notFound('RevisionNotFound', 'Invalid rev id');
      if (!f) return notFound('EntryNotFound', 'Entry not found');
      const busy = take(entry.file, (x) => x.status !== undefined);
      if (busy) return json(res, entry, busy.status!, { error: 'busy' }, busy.retryAfter ? { 'Retry-After': busy.retryAfter } : {});
      if (!authorized(req, repo)) {
        return json(res, entry, 401, { error: `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.` },
          { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': 'Access to this resource is restricted' });
      }
      entry.status = 302;
      const location = `${url}/cdn/${f.sha256}?repo=${encodeURIComponent(repo.id)}&path=${encodeURIComponent(filePath)}`;
      res.writeHead(302, {
        Location: location,
        ETag: `"${f.gitOid}"`,
        'X-Linked-Etag': `"${f.sha256}"`,
        'X-Linked-Size': String(f.spec.data.length),
        'X-Repo-Commit': commit,
        'Content-Length': 0,
      });
      return void res.end();
    }
    return notFound('EntryNotFound', 'not found');
  }

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    log,
    cdnLog: (repo, path) => log.filter((e) => e.path.startsWith('/cdn/') && e.file === `${repo}/${path}`),
    fault(repo, path, fault) {
      const key = `${repo}/${path}`;
      if (fault) faults.set(key, { ...fault, used: 0 });
      else faults.delete(key);
    },
    replace(repoId, filePath, data) {
      const repo = opts.repos.find((r) => r.id === repoId)!;
      const old = new Map<string, File>();
      for (const spec of repo.files) old.set(spec.path, files.get(`${repoId}/${spec.path}`)!);
      history.set(headOf(repoId), old);
      const prev = files.get(`${repoId}/${filePath}`)!;
      const hash = sha256(data);
      const pointer = pointerOf(hash, data.length);
      const blob = prev.spec.lfs ? Buffer.from(pointer) : data;
      const spec = { ...prev.spec, data };
      repo.files = repo.files.map((x) => (x.path === filePath ? spec : x));
      const f: File = { repo, spec, sha256: hash, gitOid: sha1(Buffer.concat([Buffer.from(`blob ${blob.length}\0`), blob])), pointer };
      files.set(`${repoId}/${filePath}`, f);
      bySha.set(hash, f);
      const commit = sha1(`hearth-test-commit-${++commits}`);
      heads.set(repoId, commit);
      return commit;
    },
    commitOf: (repoId) => headOf(repoId),
    inFlight(reset) {
      const r = { now, max };
      if (reset) max = now;
      return r;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
