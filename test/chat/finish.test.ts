/**
 * Why a reply ended, from the engine to the store and the renderer's message: a reply that fills the
 * context, and one cut at the max tokens limit, through the real services, store and engine host
 * with a generated model (a 256-token context, so filling it is quick).
 */
import { MessageDTO } from '../../main/ipc/contract';
import { DEFAULT_SETTINGS } from '../../main/store/settings';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

const CONTEXT = 256;
let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(async () => {
  chat = chatApp();
  await call('models.settings.update', { path: chat.modelPath, settings: { contextSize: CONTEXT } });
  expect((await call('models.load', { path: chat.modelPath })).loaded.contextSize).toBe(CONTEXT);
});

afterAll(() => chat.close());

test('by default a reply runs until the context is full, and is saved as cut off by it', async () => {
  expect(DEFAULT_SETTINGS.chatDefaults.maxTokens).toBe(-1); // until the context is full
  // a fixed seed: the random-weight model then never happens to end the reply itself (EOS)
  await call('settings.update', { chatDefaults: { seed: 3 } });
  const t = await call('threads.create', {});
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a story that never ends' });
  const final = await done;
  expect(final.status).toBe('done');
  expect(final.finishReason).toBe('contextFull');
  expect(final.metrics!.contextSize).toBe(CONTEXT);
  // every cell was used: the prompt and the reply (whose last token had no room left)
  expect(final.metrics!.promptTokens + final.metrics!.generatedTokens).toBeGreaterThanOrEqual(CONTEXT);
  await chat.app.chat.idle();
  // stored: what the thread shows after a reload
  const view = await call<{ messages: MessageDTO[] }>('threads.get', { id: t.id });
  expect(view.messages[1]).toMatchObject({ id: final.id, finishReason: 'contextFull', metrics: { contextSize: CONTEXT } });
  expect(chat.app.store.messages.get(final.id).finishReason).toBe('contextFull');
});

test('a reply cut at the max tokens limit is saved as such; one stopped by the user as aborted', async () => {
  await call('settings.update', { chatDefaults: { maxTokens: 6 } });
  const t = await call('threads.create', { temporary: true });
  let done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Count to one hundred' });
  const cut = await done;
  expect(cut).toMatchObject({ status: 'done', finishReason: 'maxTokens', metrics: { generatedTokens: 6, contextSize: CONTEXT } });
  await chat.app.chat.idle();
  // a stop while the reply streams
  await call('settings.update', { chatDefaults: { maxTokens: -1 } });
  done = nextDone(chat.app, t.id);
  const off = chat.app.services.subscribe((event) => {
    if (event === 'chat.piece') void call('chat.stop', { threadId: t.id });
  });
  await call('chat.continue', { threadId: t.id, messageId: cut.id });
  const stopped = await done;
  off();
  expect(stopped.id).toBe(cut.id);
  if (stopped.status === 'aborted') expect(stopped.finishReason).toBe('aborted');
  else expect(stopped.finishReason).toBe('contextFull'); // the whole context filled before the stop landed
});
