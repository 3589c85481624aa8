/**
 * ProviderService over a real store and a real secret file: a provider's key kept with the OS
 * keychain's cipher (a reversible double here: Electron's safeStorage is out of reach in jest) or in a
 * plain 0600 file with a warning (browser mode); kept, replaced and forgotten; shown masked only;
 * never in the settings row or the log. Saves that do not fit are refused with the reason; a model
 * list refresh adds new models and keeps the context sizes the user gave (a stand-in provider).
 */
import fs from 'fs';
import path from 'path';
import type { ProvidersStatusDTO } from '../../main/ipc/contract';
import type { SecretCipher } from '../../main/cipher';
import { SecretStore } from '../../main/secrets';
import { Services } from '../../main/services';
import { dataPaths } from '../../main/paths';
import { ProviderService, maskKey } from '../../main/providers/service';
import { ProviderSave } from '../../main/ipc/providers';
import { MAX_PROVIDERS } from '../../main/params';
import { chosenSettings } from '../../main/chat/turn-inputs';
import { cleanupDirs, closeStores, openStore, recordingLogger, tmpDir } from '../store/helpers';
import { webServer } from '../helpers/web-server';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const KEY = 'sk-proj-secret-value-9876';
/** a reversible stand-in for Electron's safeStorage (the real one needs Electron and an OS keychain) */
const cipher: SecretCipher = { encrypt: (t) => Buffer.from(t.split('').reverse().join('')), decrypt: (b) => b.toString().split('').reverse().join('') };

function service(opts: { cipher?: SecretCipher } = {}) {
  const dir = tmpDir();
  const store = openStore({ file: path.join(dir, 'hearth.db') });
  const logger = recordingLogger();
  const services = new Services({ engine: {} as never, paths: dataPaths(dir), appVersion: '0', logger });
  const events: ProvidersStatusDTO[] = [];
  services.subscribe((e, p) => {
    if (e === 'providers.changed') events.push(p as ProvidersStatusDTO);
  });
  const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json', ...(opts.cipher ? { cipher: opts.cipher } : {}) });
  const svc = new ProviderService({ store, services, secrets, logger, listTimeoutMs: 2000 });
  return { svc, store, logger, events, file: path.join(dir, 'provider-secrets.json') };
}

const openai = { name: 'OpenAI', kind: 'openai' as const, baseUrl: 'https://api.openai.com/v1/' };

test('with the keychain: the key encrypted, masked on the way out, kept on a save without one, replaced, forgotten', () => {
  const { svc, store, logger, events, file } = service({ cipher });
  const st = svc.save({ provider: openai, apiKey: KEY });
  const p = st.providers[0];
  expect(p).toMatchObject({ name: 'OpenAI', baseUrl: 'https://api.openai.com/v1', key: 'set', keyHint: '••••9876', enabled: true, models: [] });
  expect(st).toMatchObject({ keyStorage: 'keychain', warnings: [], allowRemote: true });
  expect(events).toHaveLength(1);
  // nowhere in clear: not in the settings row, the key file, the status, the log
  expect(String(store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get())).not.toContain(KEY);
  expect(fs.readFileSync(file, 'utf8')).not.toContain(KEY);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.stringify(st)).not.toContain(KEY);
  expect(JSON.stringify([logger.infos, logger.warnings])).not.toContain(KEY);
  // what the chat uses: the key itself
  expect(svc.target(`remote:${p.id}/gpt-4o`)!.access.apiKey).toBe(KEY);

  // a save without apiKey keeps it; one with a new key replaces it; null forgets it
  expect(svc.save({ provider: { ...openai, id: p.id, name: 'OpenAI (work)' } }).providers[0]).toMatchObject({ name: 'OpenAI (work)', key: 'set', keyHint: '••••9876' });
  expect(svc.save({ provider: { ...openai, id: p.id }, apiKey: 'sk-another-key-1111' }).providers[0].keyHint).toBe('••••1111');
  expect(svc.save({ provider: { ...openai, id: p.id }, apiKey: null }).providers[0]).toMatchObject({ key: 'not set', keyHint: null });
  expect(svc.target(`remote:${p.id}/gpt-4o`)!.access.apiKey).toBeNull();
  expect(maskKey('short')).toBe('••••');
});

test('a provider moved to another address forgets its key unless one is given with the move; plain http beyond this machine is warned of', () => {
  const { svc } = service({ cipher });
  const id = svc.save({ provider: openai, apiKey: KEY }).providers[0].id;
  // the same origin: kept
  expect(svc.save({ provider: { ...openai, id, baseUrl: 'https://api.openai.com/v2' } }).providers[0].key).toBe('set');
  // another host: forgotten
  const moved = svc.save({ provider: { ...openai, id, baseUrl: 'http://192.168.1.20:8080/v1' } });
  expect(moved.providers[0]).toMatchObject({ key: 'not set', keyHint: null });
  expect(moved.warnings).toEqual([]);
  // given with the move: kept, and the plain-http warning says what travels unencrypted
  const given = svc.save({ provider: { ...openai, id, baseUrl: 'http://192.168.1.20:8080/v1' }, apiKey: KEY });
  expect(given.providers[0].key).toBe('set');
  expect(given.warnings).toEqual([expect.stringMatching(/OpenAI is reached over plain http:\/\/ beyond this machine/)]);
  // loopback is this machine: no warning
  expect(svc.save({ provider: { ...openai, id, baseUrl: 'http://127.0.0.1:8080/v1' }, apiKey: KEY }).warnings).toEqual([]);
});

test('the settings a remote request carries: those the user chose, not Hearth’s starting values for local models', () => {
  const { store } = service();
  const thread = store.threads.create({});
  expect(chosenSettings(store, thread)).toEqual({});
  store.settings.update({ chatDefaults: { ...store.settings.get('chatDefaults'), temperature: 0.3, presencePenalty: 0.5 } });
  expect(chosenSettings(store, thread)).toEqual({ temperature: 0.3, presencePenalty: 0.5 });
  const t2 = store.threads.update(thread.id, { overrides: { sampling: { topP: 0.8 } } });
  expect(chosenSettings(store, t2)).toEqual({ temperature: 0.3, presencePenalty: 0.5, topP: 0.8 });
});

test('extra headers: their values kept like the key (the page sees names only), "" keeps one, left out forgets it, a move forgets them', () => {
  const { svc, store, file } = service({ cipher });
  const GW = 'gateway-token-5555';
  const id = svc.save({ provider: { ...openai, headers: { 'X-Gateway': GW, 'X-Title': 'Hearth' } }, apiKey: KEY }).providers[0].id;
  const dto = svc.status().providers[0];
  expect(dto.headers).toEqual({ 'X-Gateway': '', 'X-Title': '' });
  expect(JSON.stringify(svc.status())).not.toContain(GW);
  expect(String(store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get())).not.toContain(GW);
  expect(fs.readFileSync(file, 'utf8')).not.toContain(GW);
  const sent = () => svc.target(`remote:${id}/m`)!.access.config.headers;
  expect(sent()).toEqual({ 'X-Gateway': GW, 'X-Title': 'Hearth' });
  // "" keeps a kept value; a new one replaces it; a header left out goes
  svc.save({ provider: { ...openai, id, headers: { 'X-Gateway': '', 'X-Title': 'Hearth 2' } } });
  expect(sent()).toEqual({ 'X-Gateway': GW, 'X-Title': 'Hearth 2' });
  svc.save({ provider: { ...openai, id, headers: { 'X-Title': '' } } });
  expect(sent()).toEqual({ 'X-Title': 'Hearth 2' });
  svc.save({ provider: { ...openai, id, headers: { 'X-Gateway': '', 'X-Title': '' } } });
  expect(sent()).toEqual({ 'X-Title': 'Hearth 2' }); // the gateway's value went with it: "" has nothing to keep
  // moved elsewhere: the kept values stay behind, as the key does
  svc.save({ provider: { ...openai, id, baseUrl: 'https://gateway.example.com/v1', headers: { 'X-Title': '' } } });
  expect(sent()).toEqual({});
  expect(() => svc.save({ provider: { ...openai, id, headers: { 'X-A': '1', 'x-a': '2' } } })).toThrow(expect.objectContaining({ code: 'invalid_input', message: expect.stringMatching(/case-insensitive/) }));
  svc.delete(id);
  expect(fs.readFileSync(file, 'utf8')).not.toContain(`provider.${id}.`);
});

test('browser mode (no keychain): a 0600 file, and the status warns', () => {
  const { svc, file } = service();
  const st = svc.save({ provider: openai, apiKey: KEY });
  expect(st.keyStorage).toBe('file');
  expect(st.warnings).toEqual([expect.stringContaining('provider-secrets.json')]);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
});

test('saves that do not fit are refused with the reason, and nothing changes', () => {
  const { svc } = service();
  svc.save({ provider: openai });
  const refused = (p: object, why: RegExp) => expect(() => svc.save({ provider: p as never })).toThrow(expect.objectContaining({ code: 'invalid_input', message: expect.stringMatching(why) }));
  refused({ ...openai, name: 'openai' }, /already named/);
  refused({ ...openai, name: 'X', baseUrl: 'ftp://example.com' }, /http:\/\/ or https:\/\//);
  refused({ ...openai, name: 'X', baseUrl: 'not a url' }, /http:\/\/ or https:\/\//);
  refused({ ...openai, name: 'X', baseUrl: 'https://user:pw@example.com/v1' }, /API key field/);
  refused({ ...openai, name: 'X', headers: { Authorization: 'Bearer x' } }, /set by Hearth/);
  refused({ ...openai, name: 'X', headers: { 'X-A': 'one\r\ntwo' } }, /one line/);
  refused({ ...openai, name: 'X', models: [{ id: 'a' }, { id: 'a' }] }, /listed twice/);
  refused({ ...openai, name: 'X', baseUrl: 'https://example.com/v1?x=1' }, /no \?query/);
  refused({ ...openai, name: 'X', headers: { 'X-A': 'nul\u0000byte' } }, /printable ASCII/);
  // a key is what a header can carry: a paste with a newline, a space or a NUL is refused before it is kept
  for (const apiKey of ['sk-abc\ndef', 'sk abc', 'sk-\u0000x', 'ключ']) expect(ProviderSave.safeParse({ provider: openai, apiKey }).success).toBe(false);
  expect(ProviderSave.safeParse({ provider: openai, apiKey: ' sk-ok-123 ' }).data?.apiKey).toBe('sk-ok-123');
  expect(() => svc.save({ provider: { ...openai, id: 'no-such-id' } })).toThrow(expect.objectContaining({ code: 'not_found' }));
  expect(svc.status().providers.map((p) => p.name)).toEqual(['OpenAI']);
});

test('refresh: the provider’s new models added, the listed ones keep their context size; a removed provider takes its key', async () => {
  const server = await webServer((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // odd ids a server may list (padded, empty, too long, not text, twice) are left out or taken once
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'alpha', object: 'model' }, { id: 'beta', object: 'model' }, { id: ' gamma' }, { id: 'gamma' }, { id: '' }, { id: 'x'.repeat(301) }, { id: 42 }] }));
  });
  try {
    const { svc, file } = service({ cipher });
    const id = svc.save({ provider: { name: 'Box', kind: 'openai-server', baseUrl: server.url('/v1'), models: [{ id: 'alpha', contextSize: 8192 }, { id: 'mine' }] }, apiKey: KEY }).providers[0].id;
    const st = await svc.refreshModels(id);
    expect(st.providers[0].models).toEqual([
      { id: 'alpha', contextSize: 8192 },
      { id: 'mine', contextSize: null },
      { id: 'beta', contextSize: null },
      { id: 'gamma', contextSize: null },
    ]);
    // forbidden: nothing is asked of any provider
    const asked = server.paths.length;
    svc.allow(false);
    await expect(svc.refreshModels(id)).rejects.toMatchObject({ code: 'remote_forbidden' });
    expect(server.paths.length).toBe(asked);
    svc.allow(true);
    expect(svc.target(`remote:${id}/alpha`)!.contextSize).toBe(8192);
    expect(svc.target(`remote:${id}/beta`)!.contextSize).toBe(32_768);
    svc.delete(id);
    expect(svc.status().providers).toEqual([]);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(id);
    expect(() => svc.target(`remote:${id}/alpha`)).toThrow(expect.objectContaining({ code: 'provider_unknown' }));
  } finally {
    await server.close();
  }
});

test("a provider another version wrote that this one cannot read is kept as saved through this one's changes, told in a warning, and taken back once it reads", () => {
  const { svc, store } = service();
  const put = store.db.prepare('INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, 0)');
  const future = { id: 'p-new', name: 'Newer', kind: 'future-kind', baseUrl: 'https://future.example/v1', headers: {}, models: [{ id: 'm' }], enabled: true, region: 'eu' };
  put.run('providers', JSON.stringify({ allowRemote: true, list: [future] }));
  const st = svc.status();
  expect(st.providers).toEqual([]);
  expect(st.warnings).toEqual([expect.stringMatching(/^One provider is kept as saved but not shown: this version cannot list it \(saved by another version of Hearth/)]);
  // a provider added and removed, remote providers turned off and on: the shelved one is written back as it was
  const added = svc.save({ provider: openai });
  svc.allow(false);
  svc.delete(added.providers[0].id);
  svc.allow(true);
  const raw = JSON.parse(store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get() as string);
  expect(raw).toEqual({ allowRemote: true, list: [], shelved: [future] });
  // a shelved provider this version reads (what a version that knows its kind sees) is listed again, and written in the list
  const { region: _newer, ...rest } = future;
  const known = { ...rest, kind: 'openai' };
  put.run('providers', JSON.stringify({ ...raw, shelved: [future, known].map((p, i) => ({ ...p, id: `p${i}` })) }));
  expect(svc.status().providers.map((p) => [p.id, p.kind])).toEqual([['p1', 'openai']]);
  svc.allow(false);
  const after = JSON.parse(store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get() as string);
  expect(after.list.map((p: { id: string }) => p.id)).toEqual(['p1']);
  expect(after.shelved.map((p: { id: string }) => p.id)).toEqual(['p0']);
  // one that reads but is named like a listed provider stays shelved (two of one name could not be edited)
  put.run('providers', JSON.stringify({ allowRemote: true, list: [{ ...known, id: 'x1', name: 'NEWER' }], shelved: [{ ...known, id: 'x2' }] }));
  expect(svc.status().providers.map((p) => p.id)).toEqual(['x1']);
  expect(svc.settings().shelved).toEqual([{ ...known, id: 'x2' }]);
  // one that reads but finds the list full stays shelved (never dropped); a shelf emptied is not written
  const full = Array.from({ length: MAX_PROVIDERS }, (_, i) => ({ ...known, id: `f${i}`, name: `F${i}` }));
  put.run('providers', JSON.stringify({ allowRemote: true, list: full, shelved: [{ ...known, id: 'late' }] }));
  expect(svc.status().providers).toHaveLength(MAX_PROVIDERS);
  svc.delete('f0');
  expect(svc.status().providers.map((p) => p.id)).toContain('late');
  svc.allow(true);
  const unshelved = JSON.parse(store.db.prepare("SELECT value FROM settings WHERE key = 'providers'").pluck().get() as string);
  expect(unshelved.list).toHaveLength(MAX_PROVIDERS);
  expect('shelved' in unshelved).toBe(false);
});
