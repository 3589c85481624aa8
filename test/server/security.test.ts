/**
 * Who may use the API server and what it refuses, over raw HTTP against the real server: the key,
 * the Host header (DNS rebinding), the Origin header (CORS), another site's page without one
 * (Sec-Fetch-Site), the body limit, invalid bodies and
 * unknown models.
 */
import http from 'http';
import { jsonNestsWithin } from '../../main/params';
import { MAX_BODY_DEPTH } from '../../main/server/http';
import { apiApp, type ApiApp } from '../helpers/api-server';

let api: ApiApp;
const KEY = 'test-key-0123456789abcdef';

beforeAll(async () => {
  api = await apiApp({ apiKey: KEY, bodyLimitMiB: 1, corsOrigins: ['http://localhost:3000'] });
}, 60_000);
afterAll(() => api?.close());

/** One request with exactly these headers (fetch would set Host and Origin itself). */
function raw(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: api.port, method: opts.method ?? 'GET', path: opts.path, headers: { host: `127.0.0.1:${api.port}`, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const auth = { authorization: `Bearer ${KEY}` };
const chat = (body: unknown, headers: Record<string, string> = auth) =>
  raw({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('a missing or wrong key gets 401 in the dialect of the path; the right one passes; /health needs none', async () => {
  const none = await raw({ path: '/v1/models' });
  expect(none.status).toBe(401);
  expect(JSON.parse(none.body).error).toMatchObject({ type: 'authentication_error', code: 'unauthorized' });
  expect((await raw({ path: '/v1/models', headers: { authorization: 'Bearer wrong-key-0123456789abcdef' } })).status).toBe(401);
  expect((await raw({ path: '/v1/models', headers: { authorization: `Bearer ${KEY}x` } })).status).toBe(401);
  const anthropic = await raw({ method: 'POST', path: '/v1/messages', headers: { 'x-api-key': 'nope' }, body: '{}' });
  expect(anthropic.status).toBe(401);
  expect(JSON.parse(anthropic.body)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  const ollama = await raw({ path: '/api/tags' });
  expect(ollama.status).toBe(401);
  expect(typeof JSON.parse(ollama.body).error).toBe('string');
  expect((await raw({ path: '/v1/models', headers: auth })).status).toBe(200);
  expect((await raw({ path: '/v1/models', headers: { 'x-api-key': KEY } })).status).toBe(200);
  expect((await raw({ path: '/health' })).status).toBe(200);
});

test('a foreign Host header is refused (DNS rebinding); loopback names pass', async () => {
  const evil = await raw({ path: '/v1/models', headers: { ...auth, host: `evil.example:${api.port}` } });
  expect(evil.status).toBe(403);
  expect(JSON.parse(evil.body).error.message).toMatch(/Host header/);
  expect((await raw({ path: '/health', headers: { host: `attacker.test` } })).status).toBe(403);
  for (const host of [`localhost:${api.port}`, `127.0.0.1:${api.port}`, `[::1]:${api.port}`]) {
    expect((await raw({ path: '/v1/models', headers: { ...auth, host } })).status).toBe(200);
  }
});

test('a foreign Origin gets no CORS headers and is refused; an allowed one gets them, with preflight', async () => {
  const foreign = await raw({ path: '/v1/models', headers: { ...auth, origin: 'https://evil.example' } });
  expect(foreign.status).toBe(403);
  expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  // a "simple" cross-site POST (text/plain, no preflight) is refused too, before any generation
  const simple = await raw({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: '{}' });
  expect(simple.status).toBe(403);
  const pre = await raw({ method: 'OPTIONS', path: '/v1/chat/completions', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });
  expect(pre.status).toBe(204);
  expect(pre.headers['access-control-allow-origin']).toBe('http://localhost:3000');
  expect(pre.headers['access-control-allow-headers']).toMatch(/authorization/);
  const ok = await raw({ path: '/v1/models', headers: { ...auth, origin: 'http://localhost:3000' } });
  expect(ok.status).toBe(200);
  expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:3000');
});

test("another site's page gets 403 for a request without an Origin (an <img>, a form), even for a GET; a browser's own address bar and clients that are no browser pass", async () => {
  for (const site of ['cross-site', 'same-site']) {
    const r = await raw({ path: '/v1/models', headers: { ...auth, 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' } });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.message).toContain(`Sec-Fetch-Site: ${site}`);
  }
  // typed into the address bar, or the page of the server's own origin; and no header at all (curl, the SDKs)
  for (const site of ['none', 'same-origin']) expect((await raw({ path: '/v1/models', headers: { ...auth, 'sec-fetch-site': site } })).status).toBe(200);
  expect((await raw({ path: '/v1/models', headers: auth })).status).toBe(200);
  // an allowed origin's fetch (cors mode: it sends its Origin) passes, with its CORS headers
  const allowed = await raw({ path: '/v1/models', headers: { ...auth, origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' } });
  expect(allowed.status).toBe(200);
  expect(allowed.headers['access-control-allow-origin']).toBe('http://localhost:3000');
});

test('a body over the limit gets 413; bodies that do not fit get 400 naming the field', async () => {
  const big = await chat({ model: api.modelName, messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] });
  expect(big.status).toBe(413);
  const notJson = await raw({ method: 'POST', path: '/v1/chat/completions', headers: { ...auth, 'content-type': 'application/json' }, body: '{"model": ' });
  expect(notJson.status).toBe(400);
  expect(JSON.parse(notJson.body).error.message).toMatch(/not JSON/);
  const badTemp = await chat({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' });
  expect(badTemp.status).toBe(400);
  expect(JSON.parse(badTemp.body).error.param).toBe('temperature');
  const badRole = await chat({ model: api.modelName, messages: [{ role: 'wizard', content: 'hi' }] });
  expect(JSON.parse(badRole.body).error.param).toBe('messages.0.role');
  const noMessages = await chat({ model: api.modelName });
  expect(noMessages.status).toBe(400);
  expect(JSON.parse(noMessages.body).error.param).toBe('messages');
  const n2 = await chat({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }], n: 2 });
  expect(JSON.parse(n2.body).error.param).toBe('n');
  // a raw grammar belongs to completions: in a chat the template decides the grammar
  const grammar = await chat({ model: api.modelName, messages: [{ role: 'user', content: 'hi' }], grammar: 'root ::= "x"' });
  expect(JSON.parse(grammar.body).error.param).toBe('grammar');
  // fastify's prototype-poisoning guard, and a body nested past zod's stack: 400, not a 500
  const proto = await raw({ method: 'POST', path: '/v1/chat/completions', headers: { ...auth, 'content-type': 'application/json' }, body: '{"model": "x", "__proto__": {"polluted": true}}' });
  expect(proto.status).toBe(400);
  const deepBody = `{"model":"${api.modelName}","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"schema":${'{"items":'.repeat(5_000)}{}${'}'.repeat(5_000)}}}}`;
  const deep = await raw({ method: 'POST', path: '/v1/chat/completions', headers: { ...auth, 'content-type': 'application/json' }, body: deepBody });
  expect(deep.status).toBe(400);
  const image = await chat({ model: api.modelName, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] });
  expect(image.status).toBe(400);
  expect(JSON.parse(image.body).error.message).toMatch(/images/);
});

test('an unknown model gets 404 naming the models there are; an unknown route 404', async () => {
  const r = await chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
  expect(r.status).toBe(404);
  const e = JSON.parse(r.body).error;
  expect(e.param).toBe('model');
  expect(e.message).toContain(api.modelName);
  expect((await raw({ path: '/v1/nothing', headers: auth })).status).toBe(404);
  const pull = await raw({ method: 'POST', path: '/api/pull', headers: auth, body: '{"model":"llama3"}' });
  expect(pull.status).toBe(404);
  expect(JSON.parse(pull.body).error).toMatch(/hearth pull/);
});

test('hostile targets and methods do not end the server', async () => {
  for (const path of ['/%', '/v1/models/%E0%A4%A', '/v1/models/' + 'a'.repeat(5000), '/..%2f..%2fetc/passwd', '//v1//models']) {
    const r = await raw({ path, headers: auth });
    expect(r.status).toBeGreaterThanOrEqual(200);
  }
  expect((await raw({ method: 'DELETE', path: '/v1/chat/completions', headers: auth })).status).toBe(404);
  expect((await raw({ path: '/health' })).status).toBe(200);
});

test('values nested past MAX_BODY_DEPTH anywhere in a body, and tool schemas past the grammar bounds, get 400 on every dialect; an input item type that is a property of every object is no type', async () => {
  const post = (path: string, body: string) => raw({ method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body });
  const m = JSON.stringify(api.modelName);
  const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const D = nested(6_000);
  const user = '{"role":"user","content":"hi"}';
  // where zod does not walk (a schema, a call's input, an unknown field passed through): each would
  // overflow the stack of what walks it next (the log's key, the engine channel's serializer, the reply's)
  const deepBodies: [string, string][] = [
    ['/v1/chat/completions', `{"model":${m},"messages":[${user}],"tools":[{"type":"function","function":{"name":"f","parameters":{"x":${D}}}}]}`],
    ['/v1/messages', `{"model":${m},"max_tokens":8,"messages":[${user},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"x":${D}}}]}]}`],
    ['/v1/messages/count_tokens', `{"model":${m},"messages":[${user}],"tools":[{"name":"f","input_schema":{"x":${D}}}]}`],
    ['/api/chat', `{"model":${m},"stream":false,"messages":[${user}],"tools":[{"type":"function","function":{"name":"f","parameters":{"x":${D}}}}]}`],
    ['/v1/responses', `{"model":${m},"input":"hi","text":{"format":{"type":"text","x":${D}}}}`],
  ];
  for (const [path, body] of deepBodies) {
    const r = await post(path, body);
    expect([path, r.status]).toEqual([path, 400]);
    expect(r.body).toMatch(new RegExp(`more than ${MAX_BODY_DEPTH} deep`));
  }
  expect(jsonNestsWithin(nested(MAX_BODY_DEPTH), MAX_BODY_DEPTH)).toBe(true);
  expect(jsonNestsWithin(nested(MAX_BODY_DEPTH + 1), MAX_BODY_DEPTH)).toBe(false);
  // brackets in strings (escaped quotes too) are text
  expect(jsonNestsWithin(`{"a":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}"}`, 2)).toBe(true);
  expect(jsonNestsWithin(`{"a":"\\\\",${'"b":['.repeat(2)}]]}`, 2)).toBe(false);
  // a body just within the bound is read, and then checked as the route reads it (here: a bad temperature)
  const within = await post('/v1/chat/completions', `{"model":${m},"messages":[${user}],"temperature":"hot","metadata":{"x":${nested(MAX_BODY_DEPTH - 2)}}}`);
  expect([within.status, JSON.parse(within.body).error.param]).toEqual([400, 'temperature']);

  // a tool's parameters are the schema llama.cpp builds the call grammar from: the response format's
  // bounds (a run of optional items it would take exponential time over)
  const pattern = JSON.stringify({ type: 'object', properties: { s: { type: 'string', pattern: `^${'a?'.repeat(40)}$` } } });
  const toolBodies: [string, string][] = [
    ['/v1/chat/completions', `{"model":${m},"messages":[${user}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f","parameters":${pattern}}}]}`],
    ['/v1/messages', `{"model":${m},"max_tokens":8,"messages":[${user}],"tool_choice":{"type":"any"},"tools":[{"name":"f","input_schema":${pattern}}]}`],
    ['/api/chat', `{"model":${m},"stream":false,"messages":[${user}],"tools":[{"type":"function","function":{"name":"f","parameters":${pattern}}}]}`],
    ['/v1/responses', `{"model":${m},"input":"hi","tool_choice":"required","tools":[{"type":"function","name":"f","parameters":${pattern}}]}`],
  ];
  for (const [path, body] of toolBodies) {
    const r = await post(path, body);
    expect([path, r.status]).toEqual([path, 400]);
    expect(r.body).toMatch(/optional items in a row/);
  }

  const item = await post('/v1/responses', `{"model":${m},"input":[{"type":"toString","role":"user","content":"x"}]}`);
  expect(item.status).toBe(400);
  expect(item.body).toMatch(/toString items are not supported/);
}, 120_000);
