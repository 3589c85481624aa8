/**
 * fetch_url: one http(s) page as text. Every hop of a redirect chain (followed here, at most
 * MAX_REDIRECTS) is checked against the private-network rule before it is requested; the body is
 * read up to MAX_BODY_BYTES and no further; HTML becomes readable text (./readable.ts), text types
 * are given as they are, and binary content is refused without being read.
 *
 * Rebinding: the check resolves the name, and the connection resolves it again; the default fetch
 * (./pinned-fetch.ts) refuses a private answer at the connection too.
 */
import { z } from 'zod/v4';
import type { ToolOutcome } from '../types';
import { charsetOf, decodeText, discard, mediaType, readCapped, withTimeLimit } from './http';
import { failed, ok, ToolFailure } from './outcome';
import { checkPublicHost, type Lookup } from './private-address';
import { readableHtml } from './readable';

export const MAX_REDIRECTS = 5;
/** The most of a body read (2 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export const FetchUrlArgs = z.object({
  url: z.string().trim().min(1).max(8192).describe('the full address of the page, starting with http:// or https://'),
});
export type FetchUrlArgs = z.output<typeof FetchUrlArgs>;

export interface FetchUrlContext {
  fetch: typeof fetch;
  lookup: Lookup;
  allowPrivateNetwork: boolean;
  timeoutMs: number;
  signal: AbortSignal;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const HTML = new Set(['text/html', 'application/xhtml+xml']);
const TEXT_APPLICATIONS = new Set(['application/json', 'application/xml', 'application/javascript', 'application/x-javascript', 'application/ecmascript', 'application/x-yaml', 'application/yaml', 'application/toml', 'application/x-ndjson', 'application/ld+json']);

type Kind = 'html' | 'text' | 'binary';

/** How a media type is read; without one, the first bytes decide (a NUL byte: binary). */
function kindOf(type: string, head: Uint8Array): Kind {
  if (HTML.has(type)) return 'html';
  if (type.startsWith('text/') || TEXT_APPLICATIONS.has(type) || /^application\/[\w.+-]+\+(json|xml)$/.test(type)) return 'text';
  if (type !== '') return 'binary';
  if (head.subarray(0, 1024).includes(0)) return 'binary';
  return /^\s*<(!doctype html|html)/i.test(new TextDecoder().decode(head.subarray(0, 256))) ? 'html' : 'text';
}

/** An http(s) URL, or a ToolFailure saying why not. */
function httpUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new ToolFailure(`"${raw}" is not a valid URL (give a full address starting with https://)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ToolFailure(`only http:// and https:// URLs can be fetched, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new ToolFailure('URLs with a user name or password are not fetched');
  url.hash = '';
  return url;
}

/** The final response of a redirect chain, each hop checked before it is requested. */
async function follow(start: URL, ctx: FetchUrlContext, signal: AbortSignal): Promise<{ url: URL; res: Response }> {
  let url = start;
  for (let hop = 0; ; hop++) {
    if (!ctx.allowPrivateNetwork) await checkPublicHost(url, ctx.lookup);
    const res = await ctx.fetch(url, {
      redirect: 'manual',
      signal,
      headers: { accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5', 'user-agent': 'Hearth (fetch_url)' },
    });
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || location === null) return { url, res };
    await discard(res);
    if (hop >= MAX_REDIRECTS) throw new ToolFailure(`too many redirects (more than ${MAX_REDIRECTS}), last to ${location}`);
    url = httpUrl(location, url);
  }
}

function header(url: URL, title: string, truncated: boolean): string {
  const lines = [`URL: ${url.href}`, `Title: ${title || '(none)'}`];
  if (truncated) lines.push(`Note: truncated — the content is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB; only its first ${MAX_BODY_BYTES / 1024 / 1024} MiB were read.`);
  return `${lines.join('\n')}\n\n`;
}

export async function fetchUrl(args: FetchUrlArgs, ctx: FetchUrlContext): Promise<ToolOutcome> {
  const start = httpUrl(args.url);
  return withTimeLimit(ctx.signal, ctx.timeoutMs, `fetching ${start.href}`, async (signal) => {
    const { url, res } = await follow(start, ctx, signal);
    if (!res.ok) {
      await discard(res);
      return failed(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${url.href}`);
    }
    const contentType = res.headers.get('content-type');
    const type = mediaType(contentType);
    if (type !== '' && kindOf(type, new Uint8Array(0)) === 'binary') {
      await discard(res);
      return failed(binaryRefusal(type, res.headers.get('content-length')));
    }
    const { bytes, truncated } = await readCapped(res, MAX_BODY_BYTES);
    const kind = kindOf(type, bytes);
    if (kind === 'binary') return failed(binaryRefusal('no content type', truncated ? null : String(bytes.byteLength)));
    let text = decodeText(bytes, charsetOf(contentType) ?? (kind === 'html' ? metaCharset(bytes) : null));
    if (kind === 'html') {
      const page = readableHtml(text, url.href);
      return ok(header(url, page.title, truncated) + (page.text || '(the page has no readable text)'));
    }
    text = text.trim();
    return ok(header(url, '', truncated) + (text || '(empty)'));
  });
}

function binaryRefusal(type: string, length: string | null): string {
  const size = length !== null && /^\d+$/.test(length) ? `${length} bytes` : 'size unknown';
  return `binary content (${type}, ${size}) is not read: fetch_url reads web pages and text only`;
}

/** The charset a page declares in a <meta> within its first 1024 bytes. */
function metaCharset(bytes: Uint8Array): string | null {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  const m = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head);
  return m ? m[1] : null;
}
