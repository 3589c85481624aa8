/**
 * What every HTTP request to the hub shares (the hub client, the download transfer and remote fit's
 * range reads): HubError, the hub config and its fetch, the Authorization header, redirects followed
 * by hand (so the resolve step's X-Linked-Etag and X-Repo-Commit are read, and the token never
 * reaches another origin), Content-Range and Retry-After parsing, and the mapping of an HTTP status
 * to a HubError code (401/403 hub_unauthorized, 404 hub_not_found, 429/5xx hub_busy).
 */
import type { HubErrorCode } from '../errors/catalogue';
import { hfTokenSchema } from '../ipc/models';
import { envFetch } from './net';

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: HubErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
    if (details) this.details = details;
  }
}

/** Where the hub is and who asks: `HF_ENDPOINT` and `HF_TOKEN` unless given. */
export interface HubConfig {
  hubUrl: string;
  token?: string;
  /** the fetch to use (net.ts's netFetch with the proxy setting); default: envFetch, the environment's proxy */
  fetch?: typeof fetch;
}

/** The fetch a hub config uses. */
export const hubFetch = (hub: HubConfig): typeof fetch => hub.fetch ?? envFetch;

/** The longest Retry-After honoured: a longer one (or a date far ahead) waits this long. */
export const RETRY_AFTER_MAX_MS = 5 * 60_000;

/** Redirects followed for one request (the hub: one to its CDN). */
export const MAX_REDIRECTS = 5;

/** Why a token cannot be sent to the hub (the rule of hfTokenSchema), or null when it can. */
export function tokenProblem(token: string | undefined): string | null {
  if (token === undefined) return null;
  const r = hfTokenSchema.safeParse(token);
  return r.success ? null : r.error.issues[0]?.message ?? 'not a Hugging Face token';
}

/** The Authorization header for the hub (none without a token). */
export function authHeader(hub: HubConfig): Record<string, string> {
  return hub.token ? { Authorization: `Bearer ${hub.token}` } : {};
}

/** `bytes a-b/total` → its numbers; null for anything else. */
export function parseContentRange(value: string | null): { start: number; end: number; total: number } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value?.trim() ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) } : null;
}

/** A Retry-After header (seconds, or an HTTP date) as milliseconds from `now`, at most RETRY_AFTER_MAX_MS; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | null {
  const v = value?.trim();
  if (!v) return null;
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    ms = Math.max(0, at - now);
  }
  return Math.min(RETRY_AFTER_MAX_MS, ms);
}

/** An ETag's value without `W/` and quotes. */
export function etagValue(value: string | null): string | null {
  const v = value?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return v ? v : null;
}

/**
 * The HubError an HTTP status means (401/403 hub_unauthorized, 404 hub_not_found, 429 and 5xx
 * hub_busy with the Retry-After wait in details.retryAfterMs); null for any other status.
 */
export function statusError(status: number, what: string, opts: { token?: string; retryAfter?: string | null; now?: number } = {}): HubError | null {
  if (status === 401 || status === 403) {
    return new HubError('hub_unauthorized', `${what}: the hub answered ${status}${opts.token ? '' : ' (no token was given)'}`, { status });
  }
  if (status === 404) return new HubError('hub_not_found', `${what}: the hub answered 404 (no such repository, revision or file)`, { status });
  if (status === 429 || status >= 500) {
    const wait = retryAfterMs(opts.retryAfter ?? null, opts.now);
    return new HubError('hub_busy', `${what}: the hub answered ${status}${status === 429 ? ' (too many requests)' : ''}${wait !== null ? `; it asks to wait ${Math.ceil(wait / 1000)} s` : ''}`,
      { status, ...(wait !== null ? { retryAfterMs: wait } : {}) });
  }
  return null;
}

export interface HubResponse {
  res: Response;
  /** the address that answered (after redirects): a later range read of the same file goes there */
  url: string;
  /** X-Linked-Etag of a hop (the hub's resolve step: an LFS file's SHA-256), else null */
  linkedEtag: string | null;
  /** X-Repo-Commit of a hop (the commit the revision resolved to), else null */
  commit: string | null;
}

/**
 * A GET to the hub following redirects by hand: Authorization goes only to the first address's
 * origin (as fetch does when the hub sends the request on to its CDN), and the resolve step's
 * X-Linked-Etag and X-Repo-Commit are kept. Network errors are thrown as fetch throws them.
 */
export async function hubGet(hub: HubConfig, url: string, opts: { headers?: Record<string, string>; signal?: AbortSignal; method?: string } = {}): Promise<HubResponse> {
  const origin = new URL(url).origin;
  let current = url;
  let linkedEtag: string | null = null;
  let commit: string | null = null;
  for (let hop = 0; ; hop++) {
    const headers = { ...(opts.headers ?? {}), ...(new URL(current).origin === origin ? authHeader(hub) : {}) };
    const res = await hubFetch(hub)(current, { method: opts.method ?? 'GET', headers, signal: opts.signal, redirect: 'manual' });
    linkedEtag ??= etagValue(res.headers.get('x-linked-etag'));
    commit ??= res.headers.get('x-repo-commit');
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new HubError('hub_bad_response', `${url}: more than ${MAX_REDIRECTS} redirects`);
      current = new URL(location, current).toString();
      continue;
    }
    return { res, url: current, linkedEtag, commit };
  }
}

/** What bounds one listing call of the hub client (hub.files, hub.search): a hub whose pages loop, never end or never stop growing stops there. */
export interface HubListingLimits {
  /** entries of one listing (a repository's files and folders) */
  maxEntries: number;
  /** pages (requests) of one listing */
  maxPages: number;
  /** body bytes of one page */
  maxPageBytes: number;
  /** the whole call */
  deadlineMs: number;
}

export const HUB_LISTING_LIMITS: Readonly<HubListingLimits> = {
  maxEntries: 50_000,
  maxPages: 500,
  maxPageBytes: 32 * 1024 * 1024,
  deadlineMs: 60_000,
};

/** One call of `@huggingface/hub` (a listing and its pages): the fetch to give it, and what it saw. */
export interface LibraryCall {
  fetch: typeof fetch;
  /** the X-Error-Code header of the last answer (RepoNotFound, RevisionNotFound…), else null */
  errorCode: string | null;
  /** the call's error as a HubError when its deadline passed, else null */
  timedOut(e: unknown): HubError | null;
}

/**
 * The fetch `@huggingface/hub` gets for one call (every call the hub client makes goes through it):
 * Authorization only to the hub's own origin (the library sends it to every page, whatever origin a
 * `Link: rel="next"` names), at most `maxPages` requests, none to an address already asked (a page
 * that links to itself), each page's body cut at `maxPageBytes`, and the whole call within
 * `deadlineMs`.
 */
export function libraryCall(hub: HubConfig, what: string, limits: Readonly<HubListingLimits> = HUB_LISTING_LIMITS): LibraryCall {
  const origin = new URL(hub.hubUrl).origin;
  const deadline = AbortSignal.timeout(limits.deadlineMs);
  const seen = new Set<string>();
  const call: LibraryCall = {
    errorCode: null,
    timedOut: (e) => (deadline.aborted && !(e instanceof HubError)
      ? new HubError('hub_unreachable', `${what}: the hub did not answer within ${limits.deadlineMs / 1000} s`, undefined, { cause: e })
      : null),
    fetch: (async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (seen.has(url.href)) throw new HubError('hub_bad_response', `${what}: the hub's next page is one already read (${url.host}${url.pathname})`);
      if (seen.size >= limits.maxPages) throw new HubError('hub_bad_response', `${what}: the hub sent more than ${limits.maxPages} pages`);
      seen.add(url.href);
      const headers = Object.fromEntries(new Headers(init?.headers).entries());
      if (url.origin !== origin) delete headers.authorization;
      const res = await hubFetch(hub)(url.href, { ...init, headers, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
      call.errorCode = res.headers.get('x-error-code');
      return cappedBody(res, limits.maxPageBytes, `${what}: a page of the hub's answer is larger than ${limits.maxPageBytes / (1024 * 1024)} MiB`);
    }) as typeof fetch,
  };
  return call;
}

/** `res` with its body cut at `max` bytes (an error reading past them: `message`, and the connection cancelled). */
function cappedBody(res: Response, max: number, message: string): Response {
  if (!res.body || [101, 204, 205, 304].includes(res.status)) return res;
  let n = 0;
  const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      n += chunk.byteLength;
      if (n > max) ctl.error(new HubError('hub_bad_response', message));
      else ctl.enqueue(chunk);
    },
  }));
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
