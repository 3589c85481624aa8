/**
 * A store that cannot take a streamed reply (issue 12, item 16), end to end: real engine host,
 * real model, real SQLite. A trigger RAISEs once the reply passes 40 characters (a permanent write
 * failure, as SQLITE_FULL would be): nothing escapes into the engine client's message listener, the
 * generation stops, the reply ends as an error the UI shows, and the next reply works.
 */
import { EventOf } from '../../main/ipc/contract';
import { Store } from '../../main/store';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

const MAX_TOKENS = 4000;

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  chat = chatApp({
    // every piece written at once, so the failing write comes early in the reply
    prepare(paths) {
      const pre = Store.open(paths.database);
      pre.settings.update({ streamFlushMs: 0 });
      pre.close();
    },
    chatDefaults: { maxTokens: MAX_TOKENS, temperature: 1, seed: 7 },
  });
  await call('models.load', { path: chat.modelPath });
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await chat.close();
});

test('a permanent store failure stops the generation and marks the reply; the next reply works', async () => {
  chat.app.store.db.exec(`CREATE TEMP TRIGGER fail_long BEFORE UPDATE OF content ON main.messages WHEN length(NEW.content) > 40
    BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  const t = await call('threads.create', {});
  const pieces: string[] = [];
  const off = chat.app.services.subscribe((event, payload) => {
    if (event === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === t.id) pieces.push((payload as EventOf<'chat.piece'>).content);
  });
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a very long story' });
  const t0 = Date.now();
  const reply = await done;
  console.log(`store failure: reply ended after ${Date.now() - t0} ms, ${reply.metrics?.generatedTokens} tokens generated of ${MAX_TOKENS}`);
  off();
  await chat.app.chat.idle();
  expect(uncaught).toEqual([]);
  expect(reply.status).toBe('error');
  expect(reply.error).toMatch(/^store_write_failed: the reply could not be saved \(.*simulated write failure\); generation was stopped$/);
  // stopped soon after the failure: unstopped, the reply runs until the model's 2,048-token context
  // is full (about 1,990 tokens); stopped, 160-270 were counted here and in CI (the stop's latency
  // in tokens grows with the machine's load, so the bound leaves room for it)
  expect(reply.metrics!.generatedTokens).toBeLessThan(1000);
  expect(pieces.join('').length).toBeGreaterThan(40);
  const stored = chat.app.store.messages.get(reply.id);
  expect(stored.status).toBe('error');
  expect(stored.error).toBe(reply.error);
  expect(stored.content.length).toBeLessThanOrEqual(40);
  expect(pieces.join('').startsWith(stored.content)).toBe(true);

  chat.app.store.db.exec('DROP TRIGGER temp.fail_long');
  chat.setChatDefaults({ maxTokens: 16 });
  const next = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Again' });
  const ok = await next;
  expect(ok.status).toBe('done');
  expect(chat.app.store.messages.get(ok.id).content).toBe(ok.content);
});
