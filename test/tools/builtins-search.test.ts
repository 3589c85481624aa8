/**
 * web_search against local stand-ins over real HTTP: a SearXNG instance on 127.0.0.1 (configured by
 * URL, so reachable with the private-network rule on), and Brave, Serper and Tavily through an
 * injected fetch that sends their fixed public hosts to the local server instead (the internet is a
 * boundary tests cannot reach; the stand-ins speak each provider's documented request and answer).
 */
import type http from 'http';
import { createBuiltinTools, searchKeyName } from '../../main/tools/builtins';
import { ToolSettings, type SearchProvider } from '../../main/params/tools';
import { webServer, type WebServer } from '../helpers/web-server';

interface Seen {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: WebServer;
const seen: Seen[] = [];
const KEYS: Record<string, string> = { [searchKeyName('brave')]: 'brave-key', [searchKeyName('serper')]: 'serper-key', [searchKeyName('tavily')]: 'tavily-key' };

const json = (res: http.ServerResponse, status: number, body: unknown): void =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));

/** The query's special cases, the same for every provider. */
function special(query: string, res: http.ServerResponse): boolean {
  if (query === 'not json') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>'), true;
  if (query === 'rate limited') return json(res, 429, { error: 'slow down' }), true;
  if (query === 'provider down') return json(res, 503, { error: 'down' }), true;
  if (query === 'forbidden') return json(res, 403, { error: 'no' }), true;
  return false;
}

const hits = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ title: `Hearth result ${i + 1}`, url: `https://example.com/${i + 1}`, text: `About <strong>hearths</strong> &amp; fire, number ${i + 1}.` }));

function route(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: url.pathname + url.search, method: req.method ?? '', headers: req.headers, body });
  if (url.pathname === '/searx/search') {
    const q = url.searchParams.get('q') ?? '';
    if (url.searchParams.get('format') !== 'json') return json(res, 403, 'format');
    if (special(q, res)) return;
    if (q === 'malformed') return json(res, 200, { results: 'nope' });
    if (q === 'nothing') return json(res, 200, { results: [] });
    return json(res, 200, { query: q, results: hits(12).map((h) => ({ title: h.title, url: h.url, content: h.text, engine: 'stand-in' })) });
  }
  if (url.pathname === '/brave/res/v1/web/search') {
    if (req.headers['x-subscription-token'] !== 'brave-key') return json(res, 401, { error: 'key' });
    const q = url.searchParams.get('q') ?? '';
    if (special(q, res)) return;
    if (q === 'nothing') return json(res, 200, { type: 'search' }); // Brave leaves out `web`
    const n = Number(url.searchParams.get('count'));
    return json(res, 200, { web: { results: hits(n).map((h) => ({ title: h.title, url: h.url, description: h.text })) } });
  }
  if (url.pathname === '/serper/search' && req.method === 'POST') {
    if (req.headers['x-api-key'] !== 'serper-key') return json(res, 401, { message: 'Unauthorized' });
    const { q, num } = JSON.parse(body) as { q: string; num: number };
    if (special(q, res)) return;
    return json(res, 200, { organic: hits(num).map((h) => ({ title: h.title, link: h.url, snippet: h.text, position: 1 })) });
  }
  if (url.pathname === '/tavily/search' && req.method === 'POST') {
    if (req.headers.authorization !== 'Bearer tavily-key') return json(res, 401, { detail: 'Unauthorized' });
    const { query, max_results } = JSON.parse(body) as { query: string; max_results: number };
    if (special(query, res)) return;
    if (query === 'malformed') return json(res, 200, { results: [{ title: 7, url: 'https://example.com/' }] });
    return json(res, 200, { query, results: hits(max_results).map((h) => ({ title: h.title, url: h.url, content: h.text, score: 0.9 })) });
  }
  json(res, 404, {});
}

beforeAll(async () => {
  server = await webServer(route);
});
afterAll(() => server.close());
beforeEach(() => (seen.length = 0));

const HOSTS: Record<string, string> = { 'api.search.brave.com': '/brave', 'google.serper.dev': '/serper', 'api.tavily.com': '/tavily' };
/** fetch with the providers' public hosts sent to the local stand-in; the local server as it is; anything else goes nowhere */
const standIn: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.host === `127.0.0.1:${server.port}`) return fetch(url, init);
  const prefix = HOSTS[url.hostname];
  if (url.protocol !== 'https:' || prefix === undefined) return Promise.reject(new Error(`unexpected request to ${url.href}`));
  return fetch(`${server.url(prefix + url.pathname)}${url.search}`, init);
};

function search(provider: SearchProvider, args: Record<string, unknown>, keys: Record<string, string> = KEYS) {
  const settings = ToolSettings.parse({ searchProvider: provider, searxngUrl: server.url('/searx'), allowPrivateNetwork: false });
  const tools = createBuiltinTools({ settings: () => settings, secret: (name) => keys[name] ?? null, fetch: standIn });
  return tools.call('web_search', args, new AbortController().signal);
}

test('SearXNG on localhost (configured by the user, so allowed with the private-network rule on): a numbered list of title, URL and snippet', async () => {
  const settings = ToolSettings.parse({ searchProvider: 'searxng', searxngUrl: server.url('/searx/'), allowPrivateNetwork: false });
  const tools = createBuiltinTools({ settings: () => settings, secret: () => null }); // Node's own fetch
  const out = await tools.call('web_search', { query: 'hearth fire', count: 3 }, new AbortController().signal);
  expect(out).toEqual({
    isError: false,
    text: [
      'Results for "hearth fire" (SearXNG):',
      '',
      '1. Hearth result 1\n   URL: https://example.com/1\n   About hearths & fire, number 1.',
      '',
      '2. Hearth result 2\n   URL: https://example.com/2\n   About hearths & fire, number 2.',
      '',
      '3. Hearth result 3\n   URL: https://example.com/3\n   About hearths & fire, number 3.',
    ].join('\n'),
  });
  expect(seen.map((s) => s.path)).toEqual(['/searx/search?q=hearth+fire&format=json']);
});

test('the default count is 5; a count given as a string is taken', async () => {
  expect((await search('searxng', { query: 'hearth' })).text.match(/^\d+\. /gm)).toHaveLength(5);
  expect((await search('searxng', { query: 'hearth', count: '2' })).text.match(/^\d+\. /gm)).toHaveLength(2);
});

test('Brave: GET with the key in X-Subscription-Token and the count; snippets lose their markup', async () => {
  const out = await search('brave', { query: 'hearth', count: 2 });
  expect(out.isError).toBe(false);
  expect(out.text).toBe('Results for "hearth" (Brave Search):\n\n1. Hearth result 1\n   URL: https://example.com/1\n   About hearths & fire, number 1.\n\n2. Hearth result 2\n   URL: https://example.com/2\n   About hearths & fire, number 2.');
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({ method: 'GET', path: '/brave/res/v1/web/search?q=hearth&count=2', headers: { 'x-subscription-token': 'brave-key' } });
});

test('Serper: POST {q, num} with X-API-KEY', async () => {
  const out = await search('serper', { query: 'hearth', count: 4 });
  expect(out.text.match(/^\d+\. Hearth result \d$/gm)).toEqual(['1. Hearth result 1', '2. Hearth result 2', '3. Hearth result 3', '4. Hearth result 4']);
  expect(seen[0]).toMatchObject({ method: 'POST', path: '/serper/search', headers: { 'x-api-key': 'serper-key', 'content-type': 'application/json' } });
  expect(JSON.parse(seen[0].body)).toEqual({ q: 'hearth', num: 4 });
});

test('Tavily: POST {query, max_results} with a Bearer key', async () => {
  const out = await search('tavily', { query: 'hearth' });
  expect(out.isError).toBe(false);
  expect(out.text).toContain('5. Hearth result 5\n   URL: https://example.com/5');
  expect(seen[0]).toMatchObject({ method: 'POST', path: '/tavily/search', headers: { authorization: 'Bearer tavily-key' } });
  expect(JSON.parse(seen[0].body)).toEqual({ query: 'hearth', max_results: 5 });
});

test('no results is an answer, not an error', async () => {
  expect(await search('searxng', { query: 'nothing' })).toEqual({ isError: false, text: 'No results for "nothing" (SearXNG).' });
  expect(await search('brave', { query: 'nothing' })).toEqual({ isError: false, text: 'No results for "nothing" (Brave Search).' });
});

test('a malformed answer is an error outcome naming the provider', async () => {
  expect(await search('searxng', { query: 'malformed' })).toEqual({ isError: true, text: expect.stringMatching(/^SearXNG answered JSON that is not a search result \(results: /) });
  expect(await search('tavily', { query: 'malformed' })).toEqual({ isError: true, text: expect.stringMatching(/^Tavily answered JSON that is not a search result \(results\.0\.title: /) });
  for (const provider of ['searxng', 'brave', 'serper', 'tavily'] as const) {
    const out = await search(provider, { query: 'not json' });
    expect(out).toEqual({ isError: true, text: expect.stringMatching(/^(SearXNG|Brave Search|Serper|Tavily) answered something that is not JSON$/) });
  }
});

test('HTTP errors are error outcomes with the status and what it likely means', async () => {
  expect(await search('brave', { query: 'hearth' }, { [searchKeyName('brave')]: 'wrong' })).toEqual({
    isError: true,
    text: 'Brave Search failed: HTTP 401 Unauthorized (the API key was refused)',
  });
  expect((await search('serper', { query: 'rate limited' })).text).toBe('Serper failed: HTTP 429 Too Many Requests (rate limit or quota reached; try again later)');
  expect((await search('tavily', { query: 'provider down' })).text).toBe('Tavily failed: HTTP 503 Service Unavailable (the provider failed; try again later)');
  expect((await search('searxng', { query: 'forbidden' })).text).toMatch(/^SearXNG failed: HTTP 403 Forbidden \(the instance may not allow the JSON format/);
});

test('a provider without its key (or SearXNG without a URL) is an error outcome saying what to set up', async () => {
  expect(await search('tavily', { query: 'hearth' }, {})).toEqual({ isError: true, text: 'web search is not set up: no Tavily API key in the tool settings' });
  const tools = createBuiltinTools({ settings: () => ToolSettings.parse({}), secret: () => null, fetch: standIn });
  expect(await tools.call('web_search', { query: 'x' }, new AbortController().signal)).toEqual({ isError: true, text: 'web search is not set up: no SearXNG URL in the tool settings' });
  expect(seen).toHaveLength(0);
});

test('an aborted search rejects', async () => {
  const ac = new AbortController();
  const reason = new Error('user stopped');
  const hang = await webServer(() => undefined);
  try {
    const settings = ToolSettings.parse({ searchProvider: 'searxng', searxngUrl: hang.url('/') });
    const tools = createBuiltinTools({ settings: () => settings, secret: () => null });
    setTimeout(() => ac.abort(reason), 100);
    await expect(tools.call('web_search', { query: 'x' }, ac.signal)).rejects.toBe(reason);
  } finally {
    await hang.close();
  }
});
