/**
 * A store that cannot take a streamed reply (issue 12, item 16), end to end: real engine host,
 * real model, real SQLite. A trigger RAISEs once the reply passes 40 characters (a permanent write
 * failure, as SQLITE_FULL would be): nothing escapes into the engine client's message listener, the
 * generation stops, the reply ends as an error the UI shows, and the next reply works.
 */
import fs from 'fs';
import path from 'path';
import { composeApp, App } from '../../main/compose';
import { EngineClient } from '../../main/engine/client';
import { EventOf } from '../../main/ipc/contract';
import { ensureDataDir } from '../../main/paths';
import { Store } from '../../main/store';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';
import { nextDone } from '../helpers/chat';

let dir: string;
let engine: EngineClient;
let app: App;
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

const call = <T = any>(channel: string, payload: unknown = {}) => app.services.handle(channel, payload) as Promise<T>;

const MAX_TOKENS = 1000;

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  dir = tempDir();
  const paths = ensureDataDir(dir);
  fs.copyFileSync(TINY_SPM, path.join(paths.models, 'tiny.gguf'));
  // every piece written at once, so the failing write comes early in the reply
  const pre = Store.open(paths.database);
  pre.settings.update({ streamFlushMs: 0 });
  pre.close();
  engine = makeEngine();
  app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), maxTokens: MAX_TOKENS, temperature: 1, seed: 7 } });
  await call('models.load', { path: path.join(paths.models, 'tiny.gguf') });
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await app.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a permanent store failure stops the generation and marks the reply; the next reply works', async () => {
  app.store.db.exec(`CREATE TEMP TRIGGER fail_long BEFORE UPDATE OF content ON main.messages WHEN length(NEW.content) > 40
    BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  const t = await call('threads.create', {});
  const pieces: string[] = [];
  const off = app.services.subscribe((event, payload) => {
    if (event === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === t.id) pieces.push((payload as EventOf<'chat.piece'>).content);
  });
  const done = nextDone(app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a very long story' });
  const t0 = Date.now();
  const reply = await done;
  console.log(`store failure: reply ended after ${Date.now() - t0} ms, ${reply.metrics?.generatedTokens} tokens generated of ${MAX_TOKENS}`);
  off();
  await app.chat.idle();
  expect(uncaught).toEqual([]);
  expect(reply.status).toBe('error');
  expect(reply.error).toMatch(/^store_write_failed: the reply could not be saved \(.*simulated write failure\); generation was stopped$/);
  // stopped within a few tokens of the failure, far from the budget
  expect(reply.metrics!.generatedTokens).toBeLessThan(MAX_TOKENS / 4);
  expect(pieces.join('').length).toBeGreaterThan(40);
  const stored = app.store.messages.get(reply.id);
  expect(stored.status).toBe('error');
  expect(stored.error).toBe(reply.error);
  expect(stored.content.length).toBeLessThanOrEqual(40);
  expect(pieces.join('').startsWith(stored.content)).toBe(true);

  app.store.db.exec('DROP TRIGGER temp.fail_long');
  app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), maxTokens: 16 } });
  const next = nextDone(app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Again' });
  const ok = await next;
  expect(ok.status).toBe('done');
  expect(app.store.messages.get(ok.id).content).toBe(ok.content);
});
