/**
 * The hub client, the download manager and settings.update through a proxy (main/models/net.ts):
 * a real forward proxy on loopback (test/helpers/proxy-server.ts) in front of the local hub
 * (test/helpers/hf-server.ts), real HTTP, the real store. No internet.
 */
import fs from 'fs';
import net from 'net';
import path from 'path';
import { DownloadManager, stoppedByError, type DownloadEvent, type DownloadView } from '../../main/models/downloads';
import { HubClient } from '../../main/models/hub';
import { curlNoProxy, netFetch, shownProxy } from '../../main/models/net';
import { Store } from '../../main/store';
import { chatApp, type ChatApp } from '../helpers/chat';
import { sha, useLocalHub } from '../helpers/local-hub';
import { startProxyServer, type ProxyServer } from '../helpers/proxy-server';

jest.setTimeout(120_000);

const hf = useLocalHub('hearth-proxy-', ({ spm }) => ({
  repos: [{ id: 'hearth/tiny-GGUF', downloads: 5, files: [{ path: 'tiny-Q8_0.gguf', data: spm }] }],
}));
let proxy: ProxyServer;
let dir: string;
beforeAll(async () => {
  proxy = await startProxyServer();
});
afterAll(() => proxy?.close());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(hf.dir, 'case-'));
  proxy.log.length = 0;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const hubHost = () => new URL(hf.server.url).host;

/** A loopback port nothing listens on (a proxy that refuses connections). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function download(fetch: typeof globalThis.fetch, o: { retries?: number } = {}): Promise<{ end: DownloadEvent; m: DownloadManager; store: Store }> {
  const store = Store.open(path.join(dir, 'hearth.db'));
  const models = path.join(dir, 'models');
  fs.mkdirSync(models, { recursive: true });
  const m = new DownloadManager({ downloads: store.downloads, modelsDir: models, hub: { hubUrl: hf.server.url, fetch }, reserveBytes: 0, retryBaseMs: 10, ...o });
  const v = m.add({ repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
  const end = await new Promise<DownloadEvent>((resolve) => m.on((e) => {
    if ((e.type === 'done' && e.id === v.id) || (e.type === 'state' && e.download.id === v.id && stoppedByError(e.download))) resolve(e);
  }));
  await m.close();
  store.close();
  return { end, m, store };
}

test('HTTP_PROXY: hub search and a download go through the proxy (its log shows them); the file is whole', async () => {
  const fetch = netFetch({ env: { HTTP_PROXY: proxy.url } });
  const models = await new HubClient({ hubUrl: hf.server.url, fetch }).search({});
  expect(models.map((x) => x.id)).toEqual(['hearth/tiny-GGUF']);
  expect(proxy.log).toContain(`CONNECT ${hubHost()}`);
  proxy.log.length = 0;
  const { end } = await download(fetch);
  expect(end).toMatchObject({ type: 'done' });
  expect(proxy.log).toContain(`CONNECT ${hubHost()}`);
  expect(sha(fs.readFileSync(path.join(dir, 'models', 'tiny-Q8_0.gguf')))).toBe(sha(hf.spm));
});

test('NO_PROXY bypasses the proxy; the setting wins over the environment and a new one applies to the next request', async () => {
  const direct = netFetch({ env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
  const before = hf.server.log.length;
  expect(await new HubClient({ hubUrl: hf.server.url, fetch: direct }).search({})).toHaveLength(1);
  expect(hf.server.log.length).toBeGreaterThan(before);
  expect(proxy.log).toEqual([]);

  let setting: string | null = `http://127.0.0.1:${await closedPort()}`;
  const fetch = netFetch({ env: { HTTP_PROXY: proxy.url }, proxy: () => setting });
  const hub = new HubClient({ hubUrl: hf.server.url, fetch });
  await expect(hub.search({})).rejects.toMatchObject({ code: 'hub_unreachable' });
  expect(proxy.log).toEqual([]);
  setting = proxy.url;
  expect(await hub.search({})).toHaveLength(1);
  expect(proxy.log).toContain(`CONNECT ${hubHost()}`);
});

test('a proxy named in a message or the log carries no credentials: neither a password nor a user name (which may be a token)', async () => {
  expect(shownProxy('http://user:pw@proxy.example:3128')).toBe('http://***@proxy.example:3128');
  expect(shownProxy('http://ghp_SECRETTOKEN@proxy.example:3128')).toBe('http://***@proxy.example:3128');
  expect(shownProxy('http://proxy.example:3128')).toBe('http://proxy.example:3128');
  expect(shownProxy('http://ghp_SECRET@[::1')).toBe('(a proxy URL that cannot be read)');
  // a refused connection's error, as a download would record it
  const port = await closedPort();
  const f = netFetch({ env: {}, proxy: () => `http://ghp_SECRETTOKEN@127.0.0.1:${port}` });
  const err = await f(`${hf.server.url}/api/models`).then(() => null, (e: Error) => e);
  expect(err?.message).toMatch(/the proxy is http:\/\/\*\*\*@127\.0\.0\.1/);
  expect(err?.message).not.toContain('SECRET');
});

test("NO_PROXY is read as curl reads it: a host name covers its subdomains (undici alone matches it exactly)", () => {
  expect(curlNoProxy('hf.co')).toBe('hf.co,.hf.co');
  expect(curlNoProxy(' hf.co, .example.org,*.corp ,10.0.0.1, 127.0.0.1:8080,localhost:3000,[::1],*')).toBe(
    'hf.co,.hf.co,.example.org,*.corp,10.0.0.1,127.0.0.1:8080,localhost:3000,.localhost:3000,[::1],*',
  );
  expect(curlNoProxy('')).toBe('');
});

test('a proxy that refuses connections: a clear network error for search; the download retries, then fails cleanly', async () => {
  const bad = `http://user:secret@127.0.0.1:${await closedPort()}`;
  const fetch = netFetch({ env: { HTTPS_PROXY: bad, HTTP_PROXY: bad } });
  const err = await new HubClient({ hubUrl: hf.server.url, fetch }).search({}).catch((e) => e);
  expect(err).toMatchObject({ code: 'hub_unreachable' });
  expect(err.message).toMatch(/the proxy is http:\/\/\*\*\*@127\.0\.0\.1:\d+\): connect ECONNREFUSED/);
  expect(err.message).not.toContain('secret');
  const { end } = await download(fetch, { retries: 2 });
  const failed = (end as { download: DownloadView }).download;
  expect(failed.state).toBe('failed');
  expect(failed.error?.code).toBe('hub_unreachable');
  expect(failed.error?.message).toMatch(/the proxy is .*ECONNREFUSED.*after 2 retries/);
  expect(fs.existsSync(path.join(dir, 'models', 'tiny-Q8_0.gguf'))).toBe(false);
});

describe('the proxy setting through IPC', () => {
  let a: ChatApp;
  afterEach(() => a?.close());

  test('settings.update refuses a bad proxy URL with a clear error, takes a good one (used from the next request), and null clears it', async () => {
    a = chatApp({ model: null, compose: { env: { HF_ENDPOINT: hf.server.url } } });
    expect((await a.call('settings.get')).proxy).toBeNull();
    for (const bad of ['ftp://proxy.example:21', 'not a url', 'socks5://127.0.0.1:1080']) {
      const e = await a.call('settings.update', { proxy: bad }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'invalid_input' });
      expect(String((e as Error).message)).toMatch(/proxy/);
    }
    expect((await a.call('hub.search', {})).models).toHaveLength(1);
    expect(proxy.log).toEqual([]);
    expect((await a.call('settings.update', { proxy: proxy.url })).proxy).toBe(proxy.url);
    expect((await a.call('settings.get')).proxy).toBe(proxy.url);
    expect((await a.call('hub.search', {})).models).toHaveLength(1);
    expect(proxy.log).toContain(`CONNECT ${hubHost()}`);
    proxy.log.length = 0;
    expect((await a.call('settings.update', { proxy: null })).proxy).toBeNull();
    expect((await a.call('hub.search', {})).models).toHaveLength(1);
    expect(proxy.log).toEqual([]);
  });
});
