/**
 * The api.* channels through the app's services (composeApp, as the settings page calls them): status,
 * update (start, stop, a refused value, a new key) and the api.changed event. The engine is never asked
 * anything here: no host starts.
 */
import { ApiServerSettings, type ApiStatusDTO } from '../../main/ipc/api';
import { ApiServer, type ApiServerOptions } from '../../main/server/server';
import { chatApp } from '../helpers/chat';

test('api.update starts, restarts and stops the server, refuses a bad value whole, and api.changed follows', async () => {
  const t = chatApp({ model: null });
  const seen: ApiStatusDTO[] = [];
  t.app.services.subscribe((event, payload) => {
    if (event === 'api.changed') seen.push(payload as ApiStatusDTO);
  });
  try {
    const off: ApiStatusDTO = await t.call('api.status');
    expect({ phase: off.phase, url: off.url, enabled: off.settings.enabled, port: off.settings.port }).toEqual({ phase: 'stopped', url: null, enabled: false, port: 1337 });

    const on: ApiStatusDTO = await t.call('api.update', { settings: { enabled: true, port: 0, corsOrigins: ['http://localhost:3000'] } });
    expect(on.phase).toBe('running');
    expect(on.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.app.store.settings.get('apiServer')).toMatchObject({ enabled: true, port: 0, corsOrigins: ['http://localhost:3000'] });
    expect((await fetch(`${on.url}/v1/models`)).status).toBe(200);
    expect(seen.map((s) => s.phase)).toContain('running');

    // a bad value: refused with invalid_input, nothing saved, the server as it was
    await expect(t.call('api.update', { settings: { corsOrigins: ['not an origin'] } })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(t.call('api.update', { settings: { port: 70000 } })).rejects.toMatchObject({ code: 'invalid_input' });
    expect(t.app.store.settings.get('apiServer').corsOrigins).toEqual(['http://localhost:3000']);
    expect((await t.call('api.status')).phase).toBe('running');

    const keyed: ApiStatusDTO = await t.call('api.update', { settings: {}, regenerateKey: true });
    expect(keyed.settings.apiKey).toMatch(/^hearth-[\w-]{40,}$/);
    expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${keyed.url}/v1/models`, { headers: { authorization: `Bearer ${keyed.settings.apiKey}` } })).status).toBe(200);

    const stopped: ApiStatusDTO = await t.call('api.update', { settings: { enabled: false } });
    expect({ phase: stopped.phase, url: stopped.url }).toEqual({ phase: 'stopped', url: null });
    expect(seen[seen.length - 1].phase).toBe('stopped');
    await expect(fetch(`${keyed.url}/v1/models`)).rejects.toThrow();
  } finally {
    await t.close();
  }
});

test('the CORS origin * (any web page) needs a key as a bind beyond loopback does: one is generated, Remove key makes a new one, and pages send it', async () => {
  const t = chatApp({ model: null });
  try {
    const on: ApiStatusDTO = await t.call('api.update', { settings: { enabled: true, port: 0, corsOrigins: ['*'] } });
    expect(on.phase).toBe('running');
    const key = on.settings.apiKey!;
    expect(key).toMatch(/^hearth-[\w-]{40,}$/);
    expect(t.app.store.settings.get('apiServer').apiKey).toBe(key);
    // a page of any origin gets CORS headers, and its request needs the key
    const origin = { origin: 'https://example.com' };
    const refused = await fetch(`${on.url}/v1/models`, { headers: origin });
    expect([refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([401, 'https://example.com']);
    expect((await fetch(`${on.url}/v1/models`, { headers: { ...origin, authorization: `Bearer ${key}` } })).status).toBe(200);
    // removing the key while * is listed gives a new one, never none
    const removed: ApiStatusDTO = await t.call('api.update', { settings: { apiKey: null } });
    expect(removed.settings.apiKey).toMatch(/^hearth-[\w-]{40,}$/);
    expect(removed.settings.apiKey).not.toBe(key);
    // without *, the key may go
    const listed: ApiStatusDTO = await t.call('api.update', { settings: { corsOrigins: ['http://localhost:3000'], apiKey: null } });
    expect(listed.settings.apiKey).toBeNull();
    expect((await fetch(`${listed.url}/v1/models`)).status).toBe(200);
  } finally {
    await t.close();
  }
});

test('the server itself refuses settings that need a key without one (the CORS origin *, a bind beyond loopback)', () => {
  // nothing but the settings is used before the refusal: the other options are left out
  const server = (settings: object) => new ApiServer({ settings: ApiServerSettings.parse(settings) } as ApiServerOptions);
  expect(() => server({ corsOrigins: ['http://localhost:3000', '*'] })).toThrow('the CORS origin * (any web page) needs an API key');
  expect(() => server({ host: '0.0.0.0' })).toThrow('binding 0.0.0.0 (beyond this machine) needs an API key');
  expect(() => server({ corsOrigins: ['*'], apiKey: 'a-key-of-16-chars' })).not.toThrow();
  expect(() => server({ corsOrigins: ['http://localhost:3000'] })).not.toThrow();
});
