/**
 * Settings that need no new bind (the key, allowed hosts, CORS origins) apply to the running server
 * at once, without a restart: a stream in flight goes on to its end. A new port restarts it.
 */
import { apiApp, type ApiApp } from '../helpers/api-server';

let api: ApiApp;
beforeAll(async () => {
  api = await apiApp();
}, 60_000);
afterAll(() => api?.close());

test('a CORS origin, an allowed host and a key apply at once, and a stream in flight finishes', async () => {
  const res = await fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: api.modelName, messages: [{ role: 'user', content: 'long' }], max_tokens: 400, ignore_eos: true, stream: true }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  const status = await api.app.api.update({ corsOrigins: ['http://localhost:5173'], allowedHosts: ['box.local'], apiKey: 'live-key-0123456789abcdef' });
  expect(status.url).toBe(api.url);
  // the stream goes on to its end
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  expect(text).toContain('"finish_reason":"length"');
  // and the new settings hold for the next request
  expect((await fetch(`${api.url}/v1/models`)).status).toBe(401);
  const ok = await fetch(`${api.url}/v1/models`, { headers: { authorization: 'Bearer live-key-0123456789abcdef', origin: 'http://localhost:5173' } });
  expect(ok.status).toBe(200);
  expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  // a new port is a new bind: the server moves
  const moved = await api.app.api.update({ port: 0, prefix: '/hearth' });
  expect(moved.phase).toBe('running');
  expect(moved.url).toMatch(/\/hearth$/);
  expect((await fetch(`${moved.url}/health`)).status).toBe(200);
}, 60_000);
