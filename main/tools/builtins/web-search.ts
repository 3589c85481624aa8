/**
 * web_search: one query to the provider the user chose (SearXNG, Brave, Serper or Tavily), its
 * answer checked with zod and given back as a numbered list of title, URL and snippet.
 */
import { z } from 'zod/v4';
import type { SearchProvider, ToolSettings } from '../../params/tools';
import type { ToolOutcome } from '../types';
import { discard, readCapped, withTimeLimit } from './http';
import { ok, ToolFailure } from './outcome';

export const DEFAULT_SEARCH_RESULTS = 5;
export const MAX_SEARCH_RESULTS = 10;
/** The most of a provider's answer read (a search answer is a few KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_SNIPPET_CHARS = 500;

export const WebSearchArgs = z.object({
  query: z.string().trim().min(1).max(400).describe('what to search for: keywords or a short question'),
  count: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_SEARCH_RESULTS)
    .optional()
    .describe(`how many results to return (1 to ${MAX_SEARCH_RESULTS}, default ${DEFAULT_SEARCH_RESULTS})`),
});
export type WebSearchArgs = z.output<typeof WebSearchArgs>;

/** The secret store's name of a provider's API key. */
export function searchKeyName(provider: SearchProvider): string {
  return `search.${provider}`;
}

interface Result {
  title: string;
  url: string;
  snippet: string;
}

interface Provider {
  label: string;
  /** the request for a query, given the provider's key (or, for SearXNG, its instance URL) */
  request(query: string, count: number, credential: string): { url: string; init: RequestInit };
  /** the answer's shape, and its results */
  answer: z.ZodType<Result[]>;
}

const snippet = z.string().nullish().transform((s) => s ?? '');

const PROVIDERS: Record<SearchProvider, Provider> = {
  searxng: {
    label: 'SearXNG',
    request(query, _count, instance) {
      // the instance may live under a path (https://host/searx/): the search page is relative to it
      const url = new URL('search', instance.endsWith('/') ? instance : `${instance}/`);
      url.searchParams.set('q', query);
      url.searchParams.set('format', 'json');
      return { url: url.href, init: { method: 'GET', headers: { accept: 'application/json' } } };
    },
    answer: z
      .object({ results: z.array(z.object({ title: z.string(), url: z.string(), content: snippet })) })
      .transform((a) => a.results.map((r) => ({ title: r.title, url: r.url, snippet: r.content }))),
  },
  brave: {
    label: 'Brave Search',
    request(query, count, key) {
      const url = new URL('https://api.search.brave.com/res/v1/web/search');
      url.searchParams.set('q', query);
      url.searchParams.set('count', String(count));
      return { url: url.href, init: { method: 'GET', headers: { accept: 'application/json', 'x-subscription-token': key } } };
    },
    // Brave leaves `web` out when nothing was found
    answer: z
      .object({ web: z.object({ results: z.array(z.object({ title: z.string(), url: z.string(), description: snippet })) }).optional() })
      .transform((a) => (a.web?.results ?? []).map((r) => ({ title: r.title, url: r.url, snippet: r.description }))),
  },
  serper: {
    label: 'Serper',
    request(query, count, key) {
      return {
        url: 'https://google.serper.dev/search',
        init: { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ q: query, num: count }) },
      };
    },
    answer: z
      .object({ organic: z.array(z.object({ title: z.string(), link: z.string(), snippet })).optional() })
      .transform((a) => (a.organic ?? []).map((r) => ({ title: r.title, url: r.link, snippet: r.snippet }))),
  },
  tavily: {
    label: 'Tavily',
    request(query, count, key) {
      return {
        url: 'https://api.tavily.com/search',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, max_results: count }),
        },
      };
    },
    answer: z
      .object({ results: z.array(z.object({ title: z.string(), url: z.string(), content: snippet })) })
      .transform((a) => a.results.map((r) => ({ title: r.title, url: r.url, snippet: r.content }))),
  },
};

/** What the chosen provider needs (SearXNG's URL or the provider's key), or null when it is not set. */
export function searchCredential(settings: ToolSettings, secret: (name: string) => string | null): string | null {
  if (settings.searchProvider === 'searxng') return settings.searxngUrl;
  const key = secret(searchKeyName(settings.searchProvider));
  return key && key.trim() ? key.trim() : null;
}

export interface WebSearchContext {
  fetch: typeof fetch;
  settings: ToolSettings;
  secret: (name: string) => string | null;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Text as a snippet: tags (Brave marks matches with <strong>) and runs of white space out, cut to length. */
function plain(text: string): string {
  const s = text
    .replace(/<[^>]*>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|apos|nbsp);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'", nbsp: ' ' })[e] ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > MAX_SNIPPET_CHARS ? `${s.slice(0, MAX_SNIPPET_CHARS)}…` : s;
}

function statusHint(provider: SearchProvider, status: number): string {
  if (status === 401 || status === 403) {
    return provider === 'searxng' ? ' (the instance may not allow the JSON format: enable "json" in search.formats of its settings.yml)' : ' (the API key was refused)';
  }
  if (status === 429) return ' (rate limit or quota reached; try again later)';
  if (status >= 500) return ' (the provider failed; try again later)';
  return '';
}

export async function webSearch(args: WebSearchArgs, ctx: WebSearchContext): Promise<ToolOutcome> {
  const provider = ctx.settings.searchProvider;
  const { label, request, answer } = PROVIDERS[provider];
  const credential = searchCredential(ctx.settings, ctx.secret);
  if (credential === null) {
    throw new ToolFailure(
      provider === 'searxng' ? 'web search is not set up: no SearXNG URL in the tool settings' : `web search is not set up: no ${label} API key in the tool settings`,
    );
  }
  const count = args.count ?? DEFAULT_SEARCH_RESULTS;
  // No private-network check here: SearXNG's URL is one the user configured, so an instance on
  // localhost or the LAN is allowed; the other providers are fixed public hosts.
  const { url, init } = request(args.query, count, credential);
  const results = await withTimeLimit(ctx.signal, ctx.timeoutMs, `searching with ${label}`, async (signal) => {
    // a keyed provider's answer is never a redirect: following one would send its key's header to another host
    const res = await ctx.fetch(url, { ...init, signal, redirect: provider === 'searxng' ? 'follow' : 'error' });
    if (!res.ok) {
      await discard(res);
      throw new ToolFailure(`${label} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${statusHint(provider, res.status)}`);
    }
    const { bytes } = await readCapped(res, MAX_ANSWER_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new ToolFailure(`${label} answered something that is not JSON`);
    }
    const parsed = answer.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ToolFailure(`${label} answered JSON that is not a search result (${issue.path.join('.') || 'the answer'}: ${issue.message})`);
    }
    return parsed.data;
  });
  const shown = results.filter((r) => /^https?:\/\//i.test(r.url)).slice(0, count);
  if (shown.length === 0) return ok(`No results for "${args.query}" (${label}).`);
  const list = shown.map((r, i) => `${i + 1}. ${plain(r.title) || '(untitled)'}\n   URL: ${r.url}${r.snippet ? `\n   ${plain(r.snippet)}` : ''}`);
  return ok(`Results for "${args.query}" (${label}):\n\n${list.join('\n\n')}`);
}
