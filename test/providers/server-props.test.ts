/**
 * Whether a llama.cpp-family server's template keeps earlier turns' reasoning, asked of its /props
 * (main/providers/server-props.ts) — against a local HTTP server that answers as llama-server does, and
 * as servers that are not llama-server or misbehave do: each of those is a no, never a throw. The
 * provider service asks only llama.cpp-family servers, and holds an answer a while. (The real
 * llama-server's answer: test/providers/llama-server.test.ts.)
 */
import type http from 'http';
import path from 'path';
import type { ProviderKind } from '../../main/params';
import { PROPS_MAX_BYTES, serverKeepsReasoning, serverRoot } from '../../main/providers/server-props';
import { ProviderService } from '../../main/providers/service';
import { SecretStore } from '../../main/secrets';
import { Services } from '../../main/services';
import { dataPaths } from '../../main/paths';
import { serverAccess } from '../helpers/llama-server';
import { webServer, type WebServer } from '../helpers/web-server';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const props = (keeps: boolean) => JSON.stringify({ chat_template: '{{ messages }}', chat_template_caps: { supports_preserve_reasoning: keeps, supports_tools: true }, n_ctx: 1024 });


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
    expect(await serverKeepsReasoning(serverAccess(s.url('/v1'), { apiKey: 'sk-local', headers: { 'x-team': 'red' } }), 'glm 4.7', never, 2000)).toBe('keeps');
    expect(await serverKeepsReasoning(serverAccess(s.url('/v1/')), 'qwen', never, 2000)).toBe('drops');
    expect(s.paths).toEqual(['/props?model=glm+4.7&autoload=false', '/props?model=qwen&autoload=false']);
    expect(seen[0]).toMatchObject({ authorization: 'Bearer sk-local', 'x-team': 'red' });
    expect(seen[1].authorization).toBeUndefined();
  });
});

test("another server's answer is a no; no answer and a time-out are told apart; never a throw", async () => {
  const answers: Record<string, (res: http.ServerResponse) => void> = {
    '/404': (res) => res.writeHead(404).end('Not Found'),
    '/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    '/shape': (res) => res.writeHead(200).end(JSON.stringify({ chat_template_caps: { supports_preserve_reasoning: 'yes' } })),
    '/none': (res) => res.writeHead(200).end('{}'),
    '/long': (res) => res.writeHead(200).end(`${props(true).slice(0, -1)}, "pad": "${'x'.repeat(PROPS_MAX_BYTES)}"}`),
    '/deep': (res) => res.writeHead(200).end(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    '/401': (res) => res.writeHead(401).end('{"error":"no"}'),
    '/408': (res) => res.writeHead(408).end(),
    '/429': (res) => res.writeHead(429).end(),
    '/loading': (res) => res.writeHead(503).end('{"error":{"message":"Loading model"}}'),
    '/redirect': (res) => res.writeHead(302, { location: '/ok/props' }).end(),
    '/ok': (res) => res.writeHead(200).end(props(true)),
    '/silent': () => undefined,
    '/stall': (res) => res.writeHead(200).write(props(true).slice(0, 20)),
    // a router whose model is not loaded, then (asked as a request would load it) a failed load, a model
    // gone meanwhile, a load past the time given
    '/fails': (res) => res.writeHead(500).end('{"error":{"message":"failed to load"}}'),
    '/gone': (res) => res.writeHead(400).end('{"error":{"message":"model name=m is not running"}}'),
    '/forever': () => undefined,
  };
  const notLoaded = (res: http.ServerResponse) => res.writeHead(400).end('{"error":{"code":400,"message":"model is not loaded","type":"invalid_request_error"}}');
  await withServer((req, res) => {
    const k = `/${req.url!.split('/')[1]}`;
    if (['/fails', '/gone', '/forever'].includes(k) && req.url!.endsWith('&autoload=false')) return notLoaded(res);
    answers[k](res);
  }, async (s) => {
    const ask = (prefix: string, signal = never, timeoutMs = 1000) => serverKeepsReasoning(serverAccess(s.url(`${prefix}/v1`)), 'm', signal, timeoutMs);
    expect(await ask('/ok')).toBe('keeps');
    // a server that is not llama-server, or does not answer as llama-server does
    for (const k of ['/404', '/html', '/shape', '/none', '/long', '/deep']) expect([k, await ask(k)]).toEqual([k, 'drops']);
    // llama-server maybe, asked with a key it refuses, too often, while loading; a redirect (not followed: the key would go with it)
    for (const k of ['/401', '/408', '/429', '/loading', '/redirect']) expect([k, await ask(k)]).toEqual([k, 'no-answer']);
    // nothing within the time given, or a stall mid-body
    for (const k of ['/silent', '/stall']) expect([k, await ask(k)]).toEqual([k, 'timed-out']);
    // any error once asked to load is the load's failure (held as long as a time-out), not a no
    for (const k of ['/fails', '/gone', '/forever']) expect([k, await serverKeepsReasoning(serverAccess(s.url(`${k}/v1`)), 'm', never, 1000, 500)]).toEqual([k, 'load-failed']);
    // asked as a request asks llama-server's router: its own default, no autoload
    expect(s.paths.filter((p) => p.startsWith('/fails'))).toEqual(['/fails/props?model=m&autoload=false', '/fails/props?model=m']);
    // the caller's stop ends a wait at once
    const stop = new AbortController();
    const t0 = Date.now();
    const asked = ask('/silent', stop.signal, 60_000);
    setTimeout(() => stop.abort(), 50);
    expect(await asked).toBe('no-answer');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
  // a port nothing listens on
  const gone = await webServer(() => undefined);
  const url = gone.url('/v1');
  await gone.close();
  expect(await serverKeepsReasoning(serverAccess(url), 'm', never, 1000)).toBe('no-answer');
});

test('the provider service asks a llama.cpp-family server only, one question at a time; holds an answer a minute, no answer 10 s, a time-out or a failed load 5 minutes; forgets a changed provider\'s', async () => {
  const dir = tmpDir();
  const store = openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json' });
  const svc = new ProviderService({ store, services, secrets, logger, listTimeoutMs: 2000 });
  let now = 1_000_000;
  const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
  let answer: 'yes' | 'loading' | 'silent' | 'slow' | 'unloadable' = 'yes';
  try {
    await withServer((req, res) => {
      if (answer === 'unloadable') {
        if (req.url!.endsWith('&autoload=false')) res.writeHead(400).end('{"error":{"code":400,"message":"model is not loaded"}}');
        else res.writeHead(500).end('{"error":{"message":"failed to load"}}');
      } else if (answer === 'yes') res.writeHead(200).end(props(true));
      else if (answer === 'loading') res.writeHead(503).end();
      else if (answer === 'slow') setTimeout(() => res.writeHead(200).end(props(true)), 300);
    }, async (s) => {
      const saved = svc.save({ provider: { name: 'Local', kind: 'openai-server', baseUrl: s.url('/v1') } }).providers[0];
      const target = (model: string, kind: ProviderKind = 'openai-server') => ({ access: { ...serverAccess(s.url('/v1'), { kind }), config: { ...serverAccess(s.url('/v1'), { kind }).config, id: saved.id } }, model, contextSize: 1024 });
      expect(await svc.keepsReasoning(target('a'), never)).toBe(true);
      expect(await svc.keepsReasoning(target('a'), never)).toBe(true);
      expect(await svc.keepsReasoning(target('b'), never)).toBe(true);
      for (const kind of ['openai', 'deepseek', 'kimi', 'mistral', 'anthropic'] as const) expect(await svc.keepsReasoning(target('a', kind), never)).toBe(false);
      expect(s.paths).toEqual(['/props?model=a&autoload=false', '/props?model=b&autoload=false']);
      // a minute on, asked again: a server still loading does not answer, a no held 10 s
      answer = 'loading';
      now += 60_001;
      expect(await svc.keepsReasoning(target('a'), never)).toBe(false);
      now += 9_000;
      expect(await svc.keepsReasoning(target('a'), never)).toBe(false);
      expect(s.paths).toHaveLength(3);
      answer = 'yes';
      now += 1_001;
      expect(await svc.keepsReasoning(target('a'), never)).toBe(true);
      expect(s.paths).toHaveLength(4);
      // three turns at once ask once; one of them stopped meanwhile stops waiting, and the answer is still held
      answer = 'slow';
      now += 60_001;
      const stop = new AbortController();
      const turns = [svc.keepsReasoning(target('a'), never), svc.keepsReasoning(target('a'), stop.signal), svc.keepsReasoning(target('a'), never)];
      stop.abort();
      expect(await turns[1]).toBe(false);
      expect(await Promise.all([turns[0], turns[2]])).toEqual([true, true]);
      expect(s.paths).toHaveLength(5);
      // a server that does not answer in time: a no held 5 minutes
      answer = 'silent';
      now += 60_001;
      expect(await svc.keepsReasoning(target('a'), never)).toBe(false);
      answer = 'yes';
      now += 299_000;
      expect(await svc.keepsReasoning(target('a'), never)).toBe(false);
      expect(s.paths).toHaveLength(6);
      // the provider changed (a key fixed, say): asked afresh
      svc.save({ provider: { id: saved.id, name: 'Local', kind: 'openai-server', baseUrl: s.url('/v1') }, apiKey: 'sk-new' });
      expect(await svc.keepsReasoning(target('a'), never)).toBe(true);
      expect(s.paths).toHaveLength(7);
      // changed while a question is asked: that answer goes to its turn, and is not held
      answer = 'slow';
      const asked = svc.keepsReasoning(target('d'), never);
      svc.save({ provider: { id: saved.id, name: 'Local', kind: 'openai-server', baseUrl: s.url('/v1') }, apiKey: 'sk-newer' });
      expect(await asked).toBe(true);
      answer = 'yes';
      expect(await svc.keepsReasoning(target('d'), never)).toBe(true);
      expect(s.paths).toHaveLength(9);
      // a router whose load of the model fails: a no held 5 minutes too (the next turns do not wait for it again)
      answer = 'unloadable';
      expect(await svc.keepsReasoning(target('e'), never)).toBe(false);
      expect(s.paths.slice(9)).toEqual(['/props?model=e&autoload=false', '/props?model=e']);
      answer = 'yes';
      now += 299_000;
      expect(await svc.keepsReasoning(target('e'), never)).toBe(false);
      now += 1_001;
      expect(await svc.keepsReasoning(target('e'), never)).toBe(true);
      expect(s.paths).toHaveLength(12);
    });
  } finally {
    clock.mockRestore();
  }
});
