/**
 * The api.* channels through the app's services (composeApp, as the settings page calls them): status,
 * update (start, stop, a refused value, a new key) and the api.changed event. The engine is never asked
 * anything here: no host starts.
 */
import type { ApiStatusDTO } from '../../main/ipc/api';
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
