/**
 * Whether a llama.cpp-family server's template keeps earlier turns' reasoning, asked of its /props
 * (main/providers/server-props.ts) — against a local HTTP server that answers as llama-server does, and
 * as servers that are not llama-server or misbehave do: each of those is a no, never a throw. The
 * provider service asks only llama.cpp-family servers, and holds an answer a while. (The real
 * llama-server's answer: test/providers/llama-server.test.ts.)
 */
import type http from 'http';
import path from 'path';
import type { ProviderConfig } from '../../main/params';
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

function accessTo(baseUrl: string, apiKey: string | null = null, headers: Record<string, string> = {}): ProviderAccess {
  return { config: { id: 'p1', name: 'Local', kind: 'openai-server', baseUrl, headers, enabled: true, models: [] } as unknown as ProviderConfig, apiKey };
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

test('every other answer is a no, never a throw: an error, not JSON, not llama-server\'s shape, too long, a redirect, no answer, a stall mid-body, no server', async () => {
  const answers: Record<string, (res: http.ServerResponse) => void> = {
    '/401': (res) => res.writeHead(401).end('{"error":"no"}'),
    '/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    '/shape': (res) => res.writeHead(200).end(JSON.stringify({ chat_template_caps: { supports_preserve_reasoning: 'yes' } })),
    '/none': (res) => res.writeHead(200).end('{}'),
    '/long': (res) => res.writeHead(200).end(`${props(true).slice(0, -1)}, "pad": "${'x'.repeat(PROPS_MAX_BYTES)}"}`),
    '/redirect': (res) => res.writeHead(302, { location: '/ok/props' }).end(),
    '/ok': (res) => res.writeHead(200).end(props(true)),
    '/silent': () => undefined,
    '/stall': (res) => res.writeHead(200).write(props(true).slice(0, 20)),
  };
  await withServer((req, res) => answers[`/${req.url!.split('/')[1]}`](res), async (s) => {
    const ask = (prefix: string) => serverKeepsReasoning(accessTo(s.url(`${prefix}/v1`)), 'm', never, 1000);
    expect(await ask('/ok')).toBe(true);
    for (const k of ['/401', '/html', '/shape', '/none', '/long', '/redirect', '/silent', '/stall']) expect([k, await ask(k)]).toEqual([k, false]);
  });
  // a port nothing listens on
  const gone = await webServer(() => undefined);
  const url = gone.url('/v1');
  await gone.close();
  expect(await serverKeepsReasoning(accessTo(url), 'm', never, 1000)).toBe(false);
  // the caller's stop: a no at once
  const stop = new AbortController();
  stop.abort();
  expect(await serverKeepsReasoning(accessTo(url), 'm', stop.signal, 1000)).toBe(false);
});

test('the provider service asks a llama.cpp-family server only, once a minute per provider and model', async () => {
  const dir = tmpDir();
  const store = openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json' });
  const svc = new ProviderService({ store, services, secrets, logger, listTimeoutMs: 2000 });
  await withServer((_req, res) => res.writeHead(200).end(props(true)), async (s) => {
    const target = (kind: string, model: string) => ({ access: { ...accessTo(s.url('/v1')), config: { ...accessTo(s.url('/v1')).config, kind } as ProviderConfig }, model, contextSize: 1024 });
    expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(true);
    expect(await svc.keepsReasoning(target('openai-server', 'a'), never)).toBe(true);
    expect(await svc.keepsReasoning(target('openai-server', 'b'), never)).toBe(true);
    for (const kind of ['openai', 'deepseek', 'kimi', 'mistral', 'anthropic']) expect(await svc.keepsReasoning(target(kind, 'a'), never)).toBe(false);
    expect(s.paths).toEqual(['/props?model=a', '/props?model=b']);
  });
});
