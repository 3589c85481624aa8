/**
 * Stop and unload reach a turn or a load wherever it is, through the services with the real store and
 * engine: a stop pressed while the chat model still loads ends the turn as stopped before anything is
 * generated; an unload pressed while a model loads cancels the load and leaves nothing loaded.
 */
import fs from 'fs';
import path from 'path';
import { writeTestModel } from '../../scripts/make-test-model';
import { hostStats, untilValue } from '../helpers/engine';
import { TEST_MODELS_DIR } from '../helpers/models';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(async () => {
  // the bench-size model (~270 MB) without mmap: its load takes long enough to act during it
  const big = path.join(TEST_MODELS_DIR, 'bench.gguf');
  if (!fs.existsSync(big)) await writeTestModel({ out: big, size: 'bench', vocab: 'llama-spm', seed: 1 });
  chat = chatApp({ model: big, modelAs: 'bench.gguf', link: true, chatDefaults: { maxTokens: 100000 } });
  chat.app.store.settings.update({ guardrail: 'off' });
  chat.app.store.modelSettings.set(chat.modelPath, { contextSize: 512, threads: 1, useMmap: false });
  await chat.engine.start();
});

afterAll(() => chat.close());

test('a stop while the chat model loads: the turn ends as stopped, nothing is generated', async () => {
  const before = await hostStats(chat.engine);
  const loading = call('models.load', { path: chat.modelPath });
  const t = await call('threads.create', { modelPath: chat.modelPath });
  await call('threads.rename', { id: t.id, title: 'Stop' });
  const done = nextDone(chat.app, t.id);
  const sending = call('chat.send', { threadId: t.id, content: 'Tell me a long story' });
  // the turn now waits for the load (a second message is refused as busy): stopped once the load is under way
  await untilValue(async () => (await call('models.state')).loading, 'the load under way');
  await call('chat.stop', { threadId: t.id });
  const sent = await sending;
  const reply = await done;
  expect(reply.id).toBe(sent.reply.id);
  expect(reply.status).toBe('aborted');
  expect(reply.content).toBe('');
  await loading;
  expect((await call('models.state')).loaded.path).toBe(chat.modelPath);
  expect((await hostStats(chat.engine)).generationsStarted).toBe(before.generationsStarted);
  // the thread is free again and the next message streams
  await chat.app.chat.idle();
  chat.setChatDefaults({ maxTokens: 4 });
  const next = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Short, please' });
  expect((await next).status).toBe('done');
  await chat.app.chat.idle();
});

test('an unload while a model loads cancels the load: nothing loaded, no copy left in the host', async () => {
  await call('models.unload');
  const before = await hostStats(chat.engine);
  const loading = call('models.load', { path: chat.modelPath });
  await new Promise((r) => setTimeout(r, 50));
  const unloaded = await call('models.unload');
  const loadResult = await loading;
  expect(unloaded).toEqual({ loaded: null, loading: null, error: null });
  expect(loadResult).toEqual({ loaded: null, loading: null, error: null });
  expect(await call('models.state')).toEqual({ loaded: null, loading: null, error: null });
  const after = await hostStats(chat.engine);
  expect(after.loaded).toEqual([]);
  expect(after.loading).toEqual([]);
  expect(after.models).toBe(before.models);
  expect(after.loadsStarted - before.loadsStarted).toBeLessThanOrEqual(1);
});
