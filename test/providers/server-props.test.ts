/**
 * Whether a llama.cpp-family server's template keeps earlier turns' reasoning, asked of its /props
 * (main/providers/server-props.ts) — against a local HTTP server that answers as llama-server does, and
 * as servers that are not llama-server or misbehave do: each of those is a no, never a throw. The
 * provider service asks only llama.cpp-family servers, and holds an answer a while. (The real
 * llama-server's answer: test/providers/llama-server.test.ts.)
 */
import type http from 'http';
import path from 'path';
import { ProviderConfig } from '../../main/params';
import type { ProviderAccess } from '../../main/providers/client';
import { PROPS_MAX_BYTES, serverKeepsReasoning, serverRoot } from '../../main/providers/server-props';
import { ProviderService } from '../../main/providers/service';
import { SecretStore } from '../../main/secrets';
import { Services } from '../../main/services';
import { dataPaths } from '../../main/paths';
import { webServer, type WebServer } from '../helpers/web-server';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const props = (keeps: boolean) => JSON.stringify({ chat_template: '{{ messages }}', chat_template_caps: { supports_preserve_reasoning: keeps, supports_tools: true }, n_ctx: 1024 });

function accessTo(baseUrl: string, apiKey: string | null = null, headers: Record<string, string> = {}, kind = 'openai-server'): ProviderAccess {
  return { config: ProviderConfig.parse({ id: 'p1', name: 'Local', kind, baseUrl, headers }), apiKey };
}

async function withServer<T>(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, fn: (s: WebServer) => Promise<T>): Promise<T> {
  const s = await webServer(handler);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const never = new AbortController().signal;

test("the server root: the base URL without its /v1", () => {
  expect(serverRoot('http://127.0.0.1:8080/v1')).toBe('http://127.0.0.1:8080');
  expect(serverRoot('http://127.0.0.1:8080/v1/')).toBe('http://127.0.0.1:8080');
  expect(serverRoot('http://h/api/v1')).toBe('http://h/api');
  expect(serverRoot('http://h:1234')).toBe('http://h:1234');
  expect(serverRoot('http://h:1234/v10')).toBe('http://h:1234/v10');
});

test("llama-server's answer, asked with the model, the key and the extra headers", async () => {
  const seen: http.IncomingHttpHeaders[] = [];
  await withServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end(props(req.url!.includes('model=glm')));
  }, async (s) => {
    expect(await serverKeepsReasoning(accessTo(s.url('/v1'), 'sk-local', { 'x-team': 'red' }), 'glm 4.7', never, 2000)).toBe(true);
    expect(await serverKeepsReasoning(accessTo(s.url('/v1/')), 'qwen', never, 2000)).toBe(false);
    expect(s.paths).toEqual(['/props?model=glm+4.7', '/props?model=qwen']);
    expect(seen[0]).toMatchObject({ authorization: 'Bearer sk-local', 'x-team': 'red' });
    expect(seen[1].authorization).toBeUndefined();
  });
});

test("another server's answer is a no; no answer is null; never a throw", async () => {
  const answers: Record<string, (res: http.ServerResponse) => void> = {
    '/401': (res) => res.writeHead(401).end('{"error":"no"}'),
    '/404': (res) => res.writeHead(404).end('Not Found'),
    '/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    '/shape': (res) => res.writeHead(200).end(JSON.stringify({ chat_template_caps: { supports_preserve_reasoning: 'yes' } })),
    '/none': (res) => res.writeHead(200).end('{}'),
    '/long': (res) => res.writeHead(200).end(`${props(true).slice(0, -1)}, "pad": "${'x'.repeat(PROPS_MAX_BYTES)}"}`),
    '/deep': (res) => res.writeHead(200).end(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    '/loading': (res) => res.writeHead(503).end('{"error":{"message":"Loading model"}}'),
    '/redirect': (res) => res.writeHead(302, { location: '/ok/props' }).end(),
    '/ok': (res) => res.writeHead(200).end(props(true)),
    '/silent': () => undefined,
    '/stall': (res) => res.writeHead(200).write(props(true).slice(0, 20)),
  };
  await withServer((req, res) => answers[`/${req.url!.split('/')[1]}`](res), async (s) => {
    const ask = (prefix: string, signal = never, timeoutMs = 1000) => serverKeepsReasoning(accessTo(s.url(`${prefix}/v1`)), 'm', signal, timeoutMs);
    expect(await ask('/ok')).toBe(true);
    // answers from a server that is not llama-server, or not as llama-server answers
    for (const k of ['/401', '/404', '/html', '/shape', '/none', '/long', '/deep']) expect([k, await ask(k)]).toEqual([k, false]);
    // no answer: a router still loading, a redirect (not followed: the key would go with it), silence, a stall mid-body
    for (const k of ['/loading', '/redirect', '/silent', '/stall']) expect([k, await ask(k)]).toEqual([k, null]);
    // the caller's stop ends a wait at once
    const stop = new AbortController();
    const t0 = Date.now();
    const asked = ask('/silent', stop.signal, 60_000);
    setTimeout(() => stop.abort(), 50);
    expect(await asked).toBeNull();
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
  // a port nothing listens on
  const gone = await webServer(() => undefined);
  const url = gone.url('/v1');
  await gone.close();
  expect(await serverKeepsReasoning(accessTo(url), 'm', never, 1000)).toBeNull();
});

test("the provider service asks a llama.cpp-family server only; holds an answer a minute and no answer 10 s, a stopped turn's not at all", async () => {
  const dir = tmpDir();
  const store = openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json' });
  const svc = new ProviderService({ store, services, secrets, logger, listTimeoutMs: 2000 });
  let now = 1_000_000;
  const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
  let answer: 'yes' | 'loading' | 'silent' = 'yes';
  try {
    await withServer((_req, res) => (answer === 'yes' ? res.writeHead(200).end(props(true)) : answer === 'loading' ? res.writeHead(503).end() : undefined), async (s) => {
      const target = (kind: string, model: string) => ({ access: accessTo(s.url('/v1'), null, {}, kind), model, contextSize: 1024 });
      expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(true);
      expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(true);
      expect(await svc.keepsReasoning(target('openai-server', 'b'), never)).toBe(true);
      for (const kind of ['openai', 'deepseek', 'kimi', 'mistral', 'anthropic']) expect(await svc.keepsReasoning(target(kind, 'a'), never)).toBe(false);
      expect(s.paths).toEqual(['/props?model=a', '/props?model=b']);
      // a minute on, asked again: a router loading the model does not answer, a no held 10 s
      answer = 'loading';
      now += 60_001;
      expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(false);
      now += 9_000;
      expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(false);
      expect(s.paths).toHaveLength(3);
      answer = 'yes';
      now += 1_001;
      expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(true);
      expect(s.paths).toHaveLength(4);
      // a turn stopped while it asks: a no for it, nothing held
      answer = 'silent';
      const stop = new AbortController();
      const asked = svc.keepsReasoning(target('openai-server', 'c'), stop.signal);
      setTimeout(() => stop.abort(), 50);
      expect(await asked).toBe(false);
      answer = 'yes';
      expect(await svc.keepsReasoning(target('openai-server', 'c'), never)).toBe(true);
      expect(s.paths).toHaveLength(6);
    });
  } finally {
    clock.mockRestore();
  }
});
