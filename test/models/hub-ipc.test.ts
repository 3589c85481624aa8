/**
 * Issue 14's back end through the IPC entry point (Services.handle), as composeApp builds the app:
 * the real store, the real engine host with a tiny generated model, the hub client and download
 * manager pointed by HF_ENDPOINT at the local hub of test/helpers/hf-server.ts (real HTTP on
 * loopback), discovery under a fake home. No internet.
 *
 * The one double: the token test's encrypt/decrypt pair stands in for Electron's safeStorage (no
 * Electron binary exists here); main/app passes the real one at that same boundary.
 */
import fs from 'fs';
import path from 'path';
import type { EventName, EventOf } from '../../main/ipc/contract';
import { DOWNLOAD_CONCURRENCY } from '../../main/ipc/contract';
import { FIT_VERDICTS, VERDICT_WORDS } from '../../main/models/remote-fit';
import { PLAIN_TOKEN_WARNING } from '../../main/settings/token';
import { chatApp, nextDone, type ChatApp } from '../helpers/chat';
import { tempDir, untilValue } from '../helpers/engine';
import { sha, useLocalHub } from '../helpers/local-hub';
import { TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

const TOKEN = 'hf_wire_secret_token_123';
const hf = useLocalHub('hearth-hub-ipc-', ({ spm }) => ({
  token: TOKEN,
  repos: [
    { id: 'hearth/tiny-GGUF', downloads: 500, likes: 7, files: [{ path: 'tiny-Q8_0.gguf', data: spm }, { path: 'slow-Q4_0.gguf', data: spm }, { path: 'README.md', data: Buffer.from('# tiny\n') }] },
    { id: 'meta/gated-GGUF', gated: true, downloads: 900, files: [{ path: 'gated-Q4_0.gguf', data: spm }] },
  ],
}));

const apps: ChatApp[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

function open(extra: Parameters<typeof chatApp>[0] = {}): ChatApp {
  const a = chatApp({ model: null, ...extra, compose: { env: { HF_ENDPOINT: hf.server.url }, ...extra.compose } });
  apps.push(a);
  return a;
}

/** Every event the app pushes, in order. */
function record(a: ChatApp): { name: EventName; payload: unknown }[] {
  const seen: { name: EventName; payload: unknown }[] = [];
  a.app.services.subscribe((name, payload) => seen.push({ name, payload }));
  return seen;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

test('search → files → downloads.add → progress → done → models.list lists it, and it loads and answers a chat', async () => {
  const a = open();
  a.setChatDefaults({ maxTokens: 4 });
  const events = record(a);

  const { models } = await a.call('hub.search', { query: 'tiny', sort: 'downloads' });
  expect(models.map((m: { id: string }) => m.id)).toContain('hearth/tiny-GGUF');

  const files = await a.call('hub.files', { repo: 'hearth/tiny-GGUF' });
  const q8 = files.groups.find((g: { quant: string }) => g.quant === 'Q8_0').files[0];
  expect(q8.parts).toEqual([{ path: 'tiny-Q8_0.gguf', size: hf.spm.length, sha256: sha(hf.spm) }]);

  const d = await a.call('downloads.add', { repo: 'hearth/tiny-GGUF', file: q8.parts[0].path, sha256: q8.parts[0].sha256, size: q8.size });
  expect(['queued', 'downloading']).toContain(d.state);
  expect(d).toMatchObject({ repo: 'hearth/tiny-GGUF', size: hf.spm.length, target: path.join(a.paths.models, 'tiny-Q8_0.gguf') });

  const done = await untilValue(() => events.find((e) => e.name === 'downloads.changed' && (e.payload as EventOf<'downloads.changed'>).done), 'the download to finish');
  expect((done.payload as EventOf<'downloads.changed'>).done).toEqual({ id: d.id, path: d.target });
  const progress = events.filter((e) => e.name === 'downloads.progress').map((e) => e.payload as EventOf<'downloads.progress'>);
  expect(progress.length).toBeGreaterThan(0);
  expect(progress[progress.length - 1]).toMatchObject({ id: d.id, bytes: hf.spm.length, size: hf.spm.length });
  const states = events.filter((e) => e.name === 'downloads.changed').flatMap((e) => (e.payload as EventOf<'downloads.changed'>).downloads.map((x) => x.state));
  expect(states).toEqual(expect.arrayContaining(['queued', 'downloading']));
  expect(await a.call('downloads.list')).toEqual([]);
  expect(sha(fs.readFileSync(d.target))).toBe(sha(hf.spm));

  // models.changed follows the new file, and models.list has it
  await untilValue(
    () => events.some((e) => e.name === 'models.changed' && (e.payload as EventOf<'models.changed'>).models.some((m) => m.path === d.target)),
    'models.changed with the downloaded model',
  );
  expect(await a.call('models.list')).toEqual([{ path: d.target, name: 'tiny-Q8_0', fileSize: hf.spm.length, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' }]);

  await a.call('models.load', { path: d.target, force: true });
  const thread = await a.call('threads.create', { modelPath: d.target });
  const reply = nextDone(a.app, thread.id);
  await a.call('chat.send', { threadId: thread.id, content: 'Hello' });
  const message = await reply;
  expect(message.status).toBe('done');
  expect(message.model).toBe('tiny-Q8_0');
  expect(message.metrics!.generatedTokens).toBeGreaterThan(0);
});

test('hub.fit: a verdict from the header alone, one at a time, kept for the session; its estimate equals models.estimate of the file once downloaded', async () => {
  const a = open();
  const events = record(a);
  const before = hf.server.log.length;
  // two asked at once: the second's header is read after the first verdict is done
  const [q8, q4] = await Promise.all([
    a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf' }),
    a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: 'slow-Q4_0.gguf' }),
  ]);
  const cdn = hf.server.log.slice(before).filter((e) => e.path.startsWith('/cdn/'));
  const lastQ8 = cdn.map((e) => e.file).lastIndexOf('hearth/tiny-GGUF/tiny-Q8_0.gguf');
  const firstQ4 = cdn.map((e) => e.file).indexOf('hearth/tiny-GGUF/slow-Q4_0.gguf');
  expect(lastQ8).toBeGreaterThanOrEqual(0);
  expect(firstQ4).toBeGreaterThan(lastQ8);
  for (const f of [q8, q4]) {
    expect(FIT_VERDICTS).toContain(f.verdict);
    expect(f.words).toBe(VERDICT_WORDS[f.verdict as keyof typeof VERDICT_WORDS]);
    // a model this small runs on the CPU of a machine without a GPU
    if (f.estimate.devices.every((d: { type: string }) => d.type !== 'gpu' && d.type !== 'igpu')) expect(f.verdict).toBe('cpu-only');
    expect(f.fetched.bytes).toBeGreaterThan(0);
    expect(f.fetched.bytes).toBeLessThan(hf.spm.length);
  }
  expect(q8).toMatchObject({ repo: 'hearth/tiny-GGUF', revision: 'main', file: 'tiny-Q8_0.gguf', name: 'tiny-Q8_0.gguf', quant: 'Q8_0', size: hf.spm.length });
  expect(cdn.every((e) => e.status === 206)).toBe(true);
  expect(cdn.reduce((s, e) => s + e.bytesSent, 0)).toBe(q8.fetched.bytes + q4.fetched.bytes);

  // asked again: the session's verdict, no request to the hub's bytes
  const again = hf.server.log.length;
  expect(await a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf' })).toEqual(q8);
  expect(hf.server.log.slice(again).filter((e) => e.path.startsWith('/cdn/'))).toEqual([]);

  // the file downloaded, estimated by models.estimate with the verdict's context and layers: the same bytes
  const d = await a.call('downloads.add', { repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
  await untilValue(() => events.some((e) => e.name === 'downloads.changed' && (e.payload as EventOf<'downloads.changed'>).done?.id === d.id), 'the download');
  await untilValue(async () => (await a.call('models.list')).some((m: { path: string }) => m.path === d.target), 'the model in the library');
  const local = await a.call('models.estimate', { path: d.target, settings: { contextSize: q8.contextSize, gpuLayers: q8.gpuLayers } });
  const parts = (e: { devices: { name: string; model: number; context: number; compute: number }[]; host: { model: number; context: number; compute: number } }) =>
    [...e.devices.map((x) => [x.name, x.model, x.context, x.compute]), ['host', e.host.model, e.host.context, e.host.compute]];
  expect(parts(q8.estimate)).toEqual(parts(local));
  expect(local.layers).toBe(q8.layers);
  process.stdout.write(`${JSON.stringify({ hubFit: { file: q8.file, verdict: q8.verdict, size: q8.size, fetched: q8.fetched, estimate: parts(q8.estimate) } })}\n`);
});

test('hub.fit errors: a gated file without a token (kept only until one is set), a file the repository lacks, bad input', async () => {
  const a = open();
  expect(await codeOf(a.call('hub.fit', { repo: 'meta/gated-GGUF', file: 'gated-Q4_0.gguf' }))).toBe('hub_unauthorized');
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: 'nothing-Q4_0.gguf' }))).toBe('hub_not_found');
  expect(await codeOf(a.call('hub.fit', { repo: 'nobody/nothing-GGUF', file: 'x.gguf' }))).toBe('hub_not_found');
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: '../tiny-Q8_0.gguf' }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF' }))).toBe('invalid_input');
  // a revision that could not be put in a URL (a lone surrogate) or climbs out
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF', revision: '\ud800', file: 'tiny-Q8_0.gguf' }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF', revision: 'a/../b', file: 'tiny-Q8_0.gguf' }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.fit', { repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf', extra: 1 }))).toBe('invalid_input');
  await a.call('settings.update', { hfToken: TOKEN });
  const ok = await a.call('hub.fit', { repo: 'meta/gated-GGUF', file: 'gated-Q4_0.gguf' });
  expect(FIT_VERDICTS).toContain(ok.verdict);
});

test('pause, resume and cancel over IPC; a resumed download asks for the bytes after those on disk', async () => {
  const a = open();
  const events = record(a);
  hf.server.fault('hearth/tiny-GGUF', 'slow-Q4_0.gguf', { bytesPerSecond: 200_000 });
  try {
    const add = () => a.call('downloads.add', { repo: 'hearth/tiny-GGUF', file: 'slow-Q4_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
    const d = await add();
    await untilValue(() => events.some((e) => e.name === 'downloads.progress' && (e.payload as EventOf<'downloads.progress'>).bytes > 0), 'some bytes');
    const paused = await a.call('downloads.pause', { id: d.id });
    expect(paused.state).toBe('paused');
    expect(paused.bytes).toBeGreaterThan(0);
    expect(paused.bytes).toBeLessThan(hf.spm.length);
    expect((await a.call('downloads.list')).map((x: { state: string }) => x.state)).toEqual(['paused']);

    const before = hf.server.cdnLog('hearth/tiny-GGUF', 'slow-Q4_0.gguf').length;
    expect(['queued', 'downloading']).toContain((await a.call('downloads.resume', { id: d.id })).state);
    await untilValue(() => hf.server.cdnLog('hearth/tiny-GGUF', 'slow-Q4_0.gguf').length > before, 'the resumed request');
    expect(hf.server.cdnLog('hearth/tiny-GGUF', 'slow-Q4_0.gguf')[before].rangeStart).toBe(paused.bytes);

    expect(await a.call('downloads.cancel', { id: d.id })).toEqual({ ok: true });
    expect(await a.call('downloads.list')).toEqual([]);
    expect(fs.existsSync(`${d.target}.part`)).toBe(false);
    expect(fs.existsSync(d.target)).toBe(false);
    expect(events.some((e) => e.name === 'downloads.changed' && (e.payload as EventOf<'downloads.changed'>).downloads.length === 0)).toBe(true);
    // a cancelled download is gone: its id names nothing
    expect(await codeOf(a.call('downloads.pause', { id: d.id }))).toBe('invalid_input');
  } finally {
    hf.server.fault('hearth/tiny-GGUF', 'slow-Q4_0.gguf', null);
  }
});

test('bad payloads get typed errors, and hub errors cross IPC with their own codes', async () => {
  const a = open();
  expect(await codeOf(a.call('hub.search', { limit: 0 }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.search', { sort: 'random' }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.files', { repo: '../etc/passwd' }))).toBe('invalid_input');
  expect(await codeOf(a.call('hub.files', { repo: 'nobody/nothing-GGUF' }))).toBe('hub_not_found');
  const file = { repo: 'hearth/tiny-GGUF', file: 'tiny-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length };
  expect(await codeOf(a.call('downloads.add', { ...file, file: '../../x.gguf' }))).toBe('invalid_input');
  expect(await codeOf(a.call('downloads.add', { ...file, sha256: 'abc' }))).toBe('invalid_input');
  expect(await codeOf(a.call('downloads.add', { ...file, name: '../evil.gguf' }))).toBe('invalid_input');
  expect(await codeOf(a.call('downloads.add', { ...file, extra: 1 }))).toBe('invalid_input');
  expect(await codeOf(a.call('downloads.resume', { id: 'no-such-download' }))).toBe('invalid_input');
  expect(await codeOf(a.call('downloads.cancel', {}))).toBe('invalid_input');
  expect(await codeOf(a.call('library.addReference', { path: TINY_SPM }))).toBe('model_unknown');
  expect(await codeOf(a.call('settings.update', { downloadConcurrency: DOWNLOAD_CONCURRENCY.max + 1 }))).toBe('invalid_input');
  expect(await codeOf(a.call('settings.update', { downloadConcurrency: DOWNLOAD_CONCURRENCY.min - 1 }))).toBe('invalid_input');
  expect((await a.call('settings.update', { downloadConcurrency: 3 })).downloadConcurrency).toBe(3);
  expect((await a.call('settings.get')).downloadConcurrency).toBe(3);
  // a gated file without a token fails with hub_unauthorized, kept in the list
  const d = await a.call('downloads.add', { repo: 'meta/gated-GGUF', file: 'gated-Q4_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
  const failed = await untilValue(async () => (await a.call('downloads.list')).find((x: { id: string; state: string }) => x.id === d.id && x.state === 'failed'), 'the gated download to fail');
  expect(failed.error.code).toBe('hub_unauthorized');
});

test('the Hugging Face token: plain file with a warning without a keychain, never returned in clear; used for gated files', async () => {
  const a = open();
  const events = record(a);
  const calls: unknown[] = [];
  const call = async (c: string, p: unknown = {}) => {
    const r = await a.call(c, p);
    calls.push(r);
    return r;
  };
  expect(await call('settings.get')).toMatchObject({ hfToken: 'not set', hfTokenStorage: 'none', warnings: [] });
  const after = await call('settings.update', { hfToken: TOKEN });
  expect(after).toMatchObject({ hfToken: 'set', hfTokenStorage: 'file', warnings: [PLAIN_TOKEN_WARNING] });
  expect(await call('settings.get')).toMatchObject({ hfToken: 'set', hfTokenStorage: 'file' });
  // the gated repository's file now downloads (the hub got the token)
  const d = await call('downloads.add', { repo: 'meta/gated-GGUF', file: 'gated-Q4_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
  await untilValue(() => fs.existsSync((d as { target: string }).target), 'the gated download');
  expect(hf.server.log.some((r) => r.path.includes('gated-Q4_0.gguf') && r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  expect(await call('hub.files', { repo: 'meta/gated-GGUF' })).toBeTruthy();
  await call('downloads.list');
  // no answer and no event carries it
  expect(JSON.stringify(calls)).not.toContain(TOKEN);
  expect(JSON.stringify(events)).not.toContain(TOKEN);
  // forgotten
  expect(await call('settings.update', { hfToken: null })).toMatchObject({ hfToken: 'not set', hfTokenStorage: 'none', warnings: [] });
  expect(await codeOf(a.call('settings.update', { hfToken: 'has space' }))).toBe('invalid_input');
});

test('the token with a keychain (a double of Electron safeStorage) is stored encrypted, without a warning; HF_TOKEN is used when none is saved', async () => {
  // test double for Electron's safeStorage (no Electron here): reverses and base64s the bytes
  const secrets = {
    encrypt: (t: string) => Buffer.from(Buffer.from(t, 'utf8').reverse().toString('base64')),
    decrypt: (b: Buffer) => Buffer.from(b.toString(), 'base64').reverse().toString('utf8'),
  };
  const a = open({ compose: { secrets, env: { HF_ENDPOINT: hf.server.url, HF_TOKEN: 'hf_from_env_456' } } });
  expect(await a.call('settings.get')).toMatchObject({ hfToken: 'set', hfTokenStorage: 'environment', warnings: [] });
  const s = await a.call('settings.update', { hfToken: TOKEN });
  expect(s).toMatchObject({ hfToken: 'set', hfTokenStorage: 'keychain', warnings: [] });
  expect(JSON.stringify(s)).not.toContain(TOKEN);
  const stored = fs.readFileSync(path.join(a.paths.root, 'hf-token'), 'utf8');
  expect(stored).not.toContain(TOKEN);
  expect(stored.length).toBeGreaterThan(0);
  // it reaches the hub decrypted
  await a.call('hub.files', { repo: 'meta/gated-GGUF' });
  expect(hf.server.log.some((r) => r.path.includes('gated-GGUF') && r.authorization === `Bearer ${TOKEN}`)).toBe(true);
});

test('discovery under a fake home; a discovered model is added by reference, listed with its source, missing when gone, removed', async () => {
  const home = tempDir('hearth-home-');
  try {
    const file = path.join(home, '.lmstudio', 'models', 'pub', 'tiny-GGUF', 'tiny-Q8_0.gguf');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(TINY_SPM, file);
    const a = open({ compose: { discoverEnv: () => ({ platform: 'linux', home, env: {}, root: home }) } });
    const events = record(a);
    const found = await a.call('library.discover');
    expect(found.searched.every((s: { folder: string }) => s.folder.startsWith(home))).toBe(true);
    expect(found.models).toHaveLength(1);
    expect(found.models[0]).toMatchObject({ size: hf.spm.length, inLibrary: false, locations: [{ app: 'lmstudio', path: file }] });

    const entry = await a.call('library.addReference', { path: file });
    // named as discovery showed it (LM Studio's publisher/repo/file), not by the header's general.name
    expect(found.models[0].locations[0].name).toBe('pub/tiny-GGUF/tiny-Q8_0');
    expect(entry).toMatchObject({ path: file, name: 'pub/tiny-GGUF/tiny-Q8_0', origin: 'reference', source: 'lmstudio', missing: false, fileSize: hf.spm.length });
    expect(await a.call('models.list')).toEqual([entry]);
    await untilValue(() => events.some((e) => e.name === 'models.changed' && (e.payload as EventOf<'models.changed'>).models.some((m) => m.path === file)), 'models.changed');
    expect((await a.call('library.discover')).models[0].inLibrary).toBe(true);
    // a referenced model loads
    expect((await a.call('models.load', { path: file, force: true })).loaded.path).toBe(file);
    await a.call('models.unload');

    fs.rmSync(file);
    expect(await a.call('models.list')).toEqual([{ ...entry, fileSize: 0, missing: true, pooling: null, role: null }]);
    expect(await a.call('library.removeReference', { path: file })).toEqual({ removed: true });
    expect(await a.call('library.removeReference', { path: file })).toEqual({ removed: false });
    expect(await a.call('models.list')).toEqual([]);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
