/**
 * fetch_url over real HTTP against a local server on 127.0.0.1 (which the private-network rule
 * refuses, so most tests allow private addresses; the rule itself is tested with a routed name that
 * the injected DNS calls public, and with a direct private URL).
 */
import type http from 'http';
import { createBuiltinTools, type BuiltinToolDeps } from '../../main/tools/builtins';
import { MAX_BODY_BYTES } from '../../main/tools/builtins/fetch-url';
import { ToolSettings } from '../../main/params/tools';
import { webServer, type WebServer } from '../helpers/web-server';

const ARTICLE_TEXT = [
  'The hearth was the centre of the home for most of human history, the place where food was cooked and where people gathered for warmth.',
  'Early hearths were simple rings of stones on the floor of a hut, with a hole in the roof to let the smoke escape into the open air above.',
  'Later the chimney drew the smoke away, and the hearth moved to the wall, where it stayed until stoves and central heating replaced it.',
];

const ARTICLE = `<!doctype html><html><head><title>The Hearth – History</title><style>.x{color:red}</style>
<script>window.TRACKER_SCRIPT_CODE = 1;</script></head><body>
<nav><ul><li><a href="/">HOME_NAV_LINK</a></li><li><a href="/about">ABOUT_NAV_LINK</a></li></ul></nav>
<article><h1>The Hearth</h1>${ARTICLE_TEXT.map((p) => `<p>${p} ${p}</p>`).join('\n')}
<ul><li>stone rings</li><li>chimneys</li></ul></article>
<script>console.log("INLINE_SCRIPT_CODE")</script><footer>FOOTER_COPYRIGHT_LINE</footer></body></html>`;

let server: WebServer;
/** bytes the /huge handler wrote before its client went away */
let hugeWritten = 0;

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '').split('?')[0];
  const html = (body: string): void => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  if (path === '/article') return html(ARTICLE);
  if (path === '/short') return html('<html><head><title>Short</title></head><body><script>SHORT_SCRIPT</script><div>Just one short line.</div></body></html>');
  if (path === '/r1') return void res.writeHead(302, { location: '/r2' }).end();
  if (path === '/r2') return void res.writeHead(301, { location: server.url('/article') }).end();
  if (path.startsWith('/loop/')) return void res.writeHead(307, { location: `/loop/${Number(path.slice(6)) + 1}` }).end();
  if (path === '/to-file') return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
  if (path === '/to-private') return void res.writeHead(302, { location: server.url('/secret') }).end();
  if (path === '/to-mixed') return void res.writeHead(302, { location: `http://mixed.test:${server.port}/secret` }).end();
  if (path === '/secret') return html('<p>SECRET</p>');
  if (path === '/json') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"answer": 42}');
  if (path === '/png') return void res.writeHead(200, { 'content-type': 'image/png', 'content-length': '4096' }).end(Buffer.alloc(4096));
  if (path === '/octets') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(1000));
    return void res.end(Buffer.alloc(1000));
  }
  if (path === '/untyped-binary') return void res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
  if (path === '/missing') return void res.writeHead(404, { 'content-type': 'text/html' }).end('<p>not here</p>');
  if (path === '/hang') return; // never answers
  if (path === '/slow-body') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return void res.write('the first part, then nothing more');
  }
  if (path === '/huge') {
    // 50 MB streamed, with backpressure: what the client does not read is never produced
    const chunk = Buffer.from(`${'<p>filler text in a very large page</p>\n'.repeat(1638)}`);
    const total = 50 * 1024 * 1024;
    hugeWritten = 0;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.write('<html><head><title>Huge</title></head><body>');
    const pump = () => {
      while (hugeWritten < total && !res.destroyed) {
        hugeWritten += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end('</body></html>');
    };
    return pump();
  }
  res.writeHead(500).end();
}

beforeAll(async () => {
  server = await webServer(route);
});
afterAll(() => server.close());

function tools(over: Partial<ToolSettings> & Partial<Omit<BuiltinToolDeps, 'settings'>> = {}) {
  const { allowPrivateNetwork = true, ...deps } = over;
  const settings = ToolSettings.parse({ allowPrivateNetwork });
  return createBuiltinTools({ settings: () => settings, secret: () => null, ...deps });
}

const fetchUrl = (url: string, t = tools(), signal = new AbortController().signal) => t.call('fetch_url', { url }, signal);

/** Names the injected DNS resolves; a request to one of them is sent to the local server (the internet is out of reach in tests). */
const DNS: Record<string, string[]> = { 'public.test': ['203.0.113.7'], 'mixed.test': ['203.0.113.8', '10.0.0.5'] };
const lookup: BuiltinToolDeps['lookup'] = async (host) => {
  const addresses = DNS[host];
  if (!addresses) throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: 4 }));
};
const routed: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname in DNS) url.host = `127.0.0.1:${server.port}`;
  return fetch(url, init);
};

test('an HTML article becomes its readable text: URL and title first, without navigation, scripts or styles', async () => {
  const out = await fetchUrl(server.url('/article'));
  expect(out.isError).toBe(false);
  const lines = out.text.split('\n');
  expect(lines[0]).toBe(`URL: ${server.url('/article')}`);
  expect(lines[1]).toMatch(/^Title: The Hearth/);
  for (const p of ARTICLE_TEXT) expect(out.text).toContain(p);
  expect(out.text).toMatch(/^- stone rings$/m);
  for (const junk of ['HOME_NAV_LINK', 'ABOUT_NAV_LINK', 'TRACKER_SCRIPT_CODE', 'INLINE_SCRIPT_CODE', 'color:red', '<p>']) expect(out.text).not.toContain(junk);
});

test('a page without an article is read whole, less its scripts', async () => {
  const out = await fetchUrl(server.url('/short'));
  expect(out.isError).toBe(false);
  expect(out.text).toContain('Title: Short');
  expect(out.text).toContain('Just one short line.');
  expect(out.text).not.toContain('SHORT_SCRIPT');
});

test('redirects are followed (relative and absolute), and the final URL is the one given', async () => {
  const out = await fetchUrl(server.url('/r1'));
  expect(out.isError).toBe(false);
  expect(out.text.split('\n')[0]).toBe(`URL: ${server.url('/article')}`);
  expect(out.text).toContain(ARTICLE_TEXT[0]);
});

test('a redirect chain longer than 5 hops is refused after the 6th request', async () => {
  const before = server.paths.length;
  const out = await fetchUrl(server.url('/loop/0'));
  expect(out).toEqual({ isError: true, text: expect.stringMatching(/too many redirects \(more than 5\)/) });
  expect(server.paths.slice(before)).toEqual(['/loop/0', '/loop/1', '/loop/2', '/loop/3', '/loop/4', '/loop/5']);
});

test('a redirect to another scheme is refused', async () => {
  const out = await fetchUrl(server.url('/to-file'));
  expect(out).toEqual({ isError: true, text: expect.stringMatching(/only http:\/\/ and https:\/\/ URLs .* file:/) });
});

describe('the private-network rule (allowPrivateNetwork off)', () => {
  test('a loopback URL is refused before any request, with a message that says why and what allows it', async () => {
    const before = server.paths.length;
    const out = await fetchUrl(server.url('/article'), tools({ allowPrivateNetwork: false }));
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/refused: 127\.0\.0\.1 is a private-network address/);
    expect(out.text).toMatch(/Allow private network/);
    expect(server.paths.length).toBe(before);
  });

  test('a public name is fetched (the control), but its redirect into a private address is refused before the hop', async () => {
    const t = tools({ allowPrivateNetwork: false, lookup, fetch: routed });
    const control = await fetchUrl(`http://public.test:${server.port}/article`, t);
    expect(control.isError).toBe(false);
    expect(control.text).toContain(ARTICLE_TEXT[1]);

    const before = server.paths.length;
    const out = await fetchUrl(`http://public.test:${server.port}/to-private`, t);
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/refused: 127\.0\.0\.1 is a private-network address/);
    expect(server.paths.slice(before)).toEqual(['/to-private']); // /secret never asked for
  });

  test('a name with any private address among its addresses is refused, first or after a redirect', async () => {
    const t = tools({ allowPrivateNetwork: false, lookup, fetch: routed });
    const direct = await fetchUrl(`http://mixed.test:${server.port}/secret`, t);
    expect(direct).toEqual({ isError: true, text: expect.stringMatching(/refused: mixed\.test \(10\.0\.0\.5\) is a private-network address/) });
    const before = server.paths.length;
    const hop = await fetchUrl(`http://public.test:${server.port}/to-mixed`, t);
    expect(hop.text).toMatch(/refused: mixed\.test \(10\.0\.0\.5\)/);
    expect(server.paths.slice(before)).toEqual(['/to-mixed']);
  });

  test('DNS rebinding: a name that answers public at the check and private at the connection is refused by the connection', async () => {
    let asked = 0;
    const rebinding: BuiltinToolDeps['lookup'] = async (host) => {
      if (host !== 'rebind.test') throw Object.assign(new Error(host), { code: 'ENOTFOUND' });
      return [{ address: asked++ === 0 ? '203.0.113.7' : '127.0.0.1', family: 4 }];
    };
    const before = server.paths.length;
    const out = await fetchUrl(`http://rebind.test:${server.port}/secret`, tools({ allowPrivateNetwork: false, lookup: rebinding }));
    expect(out).toEqual({ isError: true, text: 'refused: rebind.test (127.0.0.1) is a private-network address (it resolved to a public one a moment before)' });
    expect(asked).toBe(2); // the check's lookup, then the connection's
    expect(server.paths.length).toBe(before);
  });

  test('a name that does not resolve is an error outcome', async () => {
    const out = await fetchUrl('http://nowhere.test/', tools({ allowPrivateNetwork: false, lookup }));
    expect(out).toEqual({ isError: true, text: 'could not resolve the host nowhere.test (ENOTFOUND)' });
  });
});

test('a 50 MB page is read only up to the cap: truncated, said so, fast, and mostly never sent', async () => {
  const t0 = Date.now();
  const out = await fetchUrl(server.url('/huge'));
  const ms = Date.now() - t0;
  expect(out.isError).toBe(false);
  expect(out.text).toMatch(/^URL: .*\/huge\nTitle: Huge\nNote: truncated — the content is larger than 2 MiB/);
  expect(out.text).toContain('filler text in a very large page');
  // the server stopped when the client did: what it wrote is the cap plus socket buffers, far from 50 MB
  await new Promise((r) => setTimeout(r, 100));
  expect(hugeWritten).toBeGreaterThanOrEqual(MAX_BODY_BYTES);
  expect(hugeWritten).toBeLessThan(16 * 1024 * 1024);
  expect(ms).toBeLessThan(15_000);
});

test('binary content is refused without being read, with its type and size', async () => {
  expect(await fetchUrl(server.url('/png'))).toEqual({ isError: true, text: expect.stringMatching(/^binary content \(image\/png, 4096 bytes\) is not read/) });
  expect(await fetchUrl(server.url('/octets'))).toEqual({ isError: true, text: expect.stringMatching(/^binary content \(application\/octet-stream, size unknown\) is not read/) });
  expect(await fetchUrl(server.url('/untyped-binary'))).toEqual({ isError: true, text: expect.stringMatching(/^binary content \(no content type, 8 bytes\)/) });
});

test('JSON is given as text; an HTTP error status is an error outcome', async () => {
  const json = await fetchUrl(server.url('/json'));
  expect(json).toEqual({ isError: false, text: `URL: ${server.url('/json')}\nTitle: (none)\n\n{"answer": 42}` });
  expect(await fetchUrl(server.url('/missing'))).toEqual({ isError: true, text: `HTTP 404 Not Found from ${server.url('/missing')}` });
});

test('a server that cannot be reached is an error outcome saying why', async () => {
  const gone = await webServer(() => undefined);
  const url = gone.url('/');
  await gone.close();
  expect(await fetchUrl(url)).toEqual({ isError: true, text: expect.stringMatching(/^fetch_url failed: fetch failed: .*ECONNREFUSED/) });
});

test('only http(s) URLs are fetched; a URL that is not one is an error outcome', async () => {
  for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'javascript:alert(1)', 'data:text/plain,hi']) {
    const out = await fetchUrl(url);
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/^only http:\/\/ and https:\/\/ URLs can be fetched/);
  }
  expect(await fetchUrl('not a url')).toEqual({ isError: true, text: expect.stringMatching(/is not a valid URL/) });
  expect(await fetchUrl(`http://user:pw@127.0.0.1:${server.port}/article`)).toEqual({ isError: true, text: expect.stringMatching(/user name or password/) });
});

describe('abort and time limit', () => {
  test('the caller\'s abort rejects the call, waiting for headers or mid-body; an aborted signal rejects at once', async () => {
    for (const path of ['/hang', '/slow-body']) {
      const ac = new AbortController();
      const reason = new Error(`stop ${path}`);
      setTimeout(() => ac.abort(reason), 150);
      await expect(fetchUrl(server.url(path), tools(), ac.signal)).rejects.toBe(reason);
    }
    const done = new AbortController();
    done.abort(new Error('already'));
    await expect(fetchUrl(server.url('/article'), tools(), done.signal)).rejects.toThrow('already');
  });

  test('the time limit is an error outcome, not a rejection', async () => {
    const t0 = Date.now();
    const out = await fetchUrl(server.url('/slow-body'), tools({ httpTimeoutMs: 300 }));
    expect(out).toEqual({ isError: true, text: `fetching ${server.url('/slow-body')} timed out after 0.3 s` });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
