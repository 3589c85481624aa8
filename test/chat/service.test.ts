/**
 * Main's services end to end, through the IPC entry point (Services.handle) with the real store,
 * the real engine host and a generated model: the same path the renderer's calls take.
 */
import fs from 'fs';
import path from 'path';
import { wellFormed } from '../../main/chat/text';
import { EventName, EventOf, MessageDTO, ThreadDTO } from '../../main/ipc/contract';
import { errorOf } from '../helpers/engine';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);
const events: { event: EventName; payload: unknown }[] = [];

beforeAll(() => {
  chat = chatApp({ chatDefaults: { maxTokens: 24 } });
  chat.app.services.subscribe((event, payload) => events.push({ event, payload }));
});

afterAll(() => chat.close());

test('bad input gets typed errors', async () => {
  expect((await errorOf(call('threads.rename', { id: 'x', title: '' }))).code).toBe('invalid_input');
  expect((await errorOf(call('no.such.channel'))).code).toBe('unknown_channel');
  expect((await errorOf(call('threads.get', { id: 'missing' }))).code).toBe('not_found');
  const t = await call('threads.create', {});
  expect((await errorOf(call('chat.send', { threadId: t.id, content: 'hi' }))).code).toBe('no_model');
});

test('models: list, load with progress events, state', async () => {
  const list = await call('models.list');
  expect(list).toEqual([{ path: chat.modelPath, name: 'tiny', fileSize: fs.statSync(chat.modelPath).size, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' }]);
  events.length = 0;
  const state = await call('models.load', { path: chat.modelPath });
  expect(state.loaded.path).toBe(chat.modelPath);
  expect(state.loaded.contextSize).toBe(2048);
  const progress = events.filter((e) => e.event === 'models.state' && (e.payload as any).loading).map((e) => (e.payload as any).loading.progress);
  expect(progress.length).toBeGreaterThan(1);
  expect(progress[progress.length - 1]).toBe(1);
});

test('send: the reply streams, is stored with metrics, and the thread gets a title', async () => {
  const t = await call('threads.create', {});
  events.length = 0;
  const done = nextDone(chat.app, t.id);
  const r = await call('chat.send', { threadId: t.id, content: 'Tell me about the northern lights' });
  expect(r.userMessage.content).toBe('Tell me about the northern lights');
  expect(r.reply.status).toBe('streaming');
  const final = await done;
  expect(final.status).toBe('done');
  expect(final.metrics!.generatedTokens).toBeGreaterThan(0);
  expect(final.metrics!.ttftMs).toBeGreaterThan(0);
  const streamed = events.filter((e) => e.event === 'chat.piece').map((e) => (e.payload as any).content).join('');
  expect(streamed).toBe(final.content);
  await chat.app.chat.idle();
  const view = await call('threads.get', { id: t.id });
  expect(view.messages.map((m: MessageDTO) => m.role)).toEqual(['user', 'assistant']);
  expect(view.messages[1].content).toBe(final.content);
  expect(view.thread.title).not.toBe('New chat');
  expect(view.thread.title.length).toBeLessThanOrEqual(60);
  // the next turn reuses the cached conversation
  const done2 = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'And why are they green?' });
  const second = await done2;
  expect(second.metrics!.cachedTokens).toBeGreaterThan(10);
});

test('regenerate keeps the old reply as an alternative; edit branches; stop keeps the text', async () => {
  const t = await call('threads.create', {});
  let done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Write a poem' });
  const first = await done;
  await chat.app.chat.idle();
  done = nextDone(chat.app, t.id);
  const regen = await call('chat.regenerate', { threadId: t.id, messageId: first.id });
  const second = await done;
  expect(regen.reply.id).toBe(second.id);
  let view = await call('threads.get', { id: t.id });
  expect(view.messages[1].id).toBe(second.id);
  expect(view.messages[1].alternative).toEqual({ index: 1, count: 2 });
  view = await call('messages.switchAlternative', { messageId: second.id, direction: 'prev' });
  expect(view.messages[1].id).toBe(first.id);
  expect(view.messages[1].content).toBe(first.content);

  done = nextDone(chat.app, t.id);
  const edited = await call('chat.edit', { threadId: t.id, messageId: view.messages[0].id, content: 'Write a haiku' });
  await done;
  view = await call('threads.get', { id: t.id });
  expect(view.messages[0].content).toBe('Write a haiku');
  expect(view.messages[0].alternative).toEqual({ index: 1, count: 2 });
  expect(view.messages[1].parentId).toBe(edited.userMessage.id);

  // stop: a long reply stopped midway keeps what was written
  chat.setChatDefaults({ maxTokens: 100000 });
  done = nextDone(chat.app, t.id);
  let pieces = 0;
  const off = chat.app.services.subscribe((event) => {
    if (event === 'chat.piece' && ++pieces === 1) void call('chat.stop', { threadId: t.id });
  });
  await call('chat.send', { threadId: t.id, content: 'Go on forever' });
  const stopped = await done;
  off();
  chat.setChatDefaults({ maxTokens: 24 });
  expect(stopped.status).toBe('aborted');
  expect(stopped.finishReason).toBe('aborted');
  expect(stopped.content.length).toBeGreaterThan(0);
  expect(stopped.metrics!.generatedTokens).toBeLessThan(2000);
});

test('stop answers once the reply ends, without waiting for the title written after it', async () => {
  // found by the IPC fuzz: a stop waited for the new thread's title, queued behind other replies (hung calls)
  chat.setChatDefaults({ maxTokens: 100000 });
  // the random-weight model may end a reply on its own (EOS) before the stop lands: then try again
  // in a new chat, at most five times
  let t!: ThreadDTO;
  let status = '';
  for (let attempt = 0; attempt < 5 && status !== 'aborted'; attempt++) {
    await chat.app.chat.idle();
    t = await call('threads.create', {});
    const done = nextDone(chat.app, t.id);
    const firstPiece = new Promise<void>((resolve) => {
      const off = chat.app.services.subscribe((event, payload) => {
        if (event === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === t.id) {
          off();
          resolve();
        }
      });
    });
    await call('chat.send', { threadId: t.id, content: 'Tell me everything about lighthouses' });
    await firstPiece;
    await call('chat.stop', { threadId: t.id });
    status = (await done).status;
  }
  chat.setChatDefaults({ maxTokens: 24 });
  expect(status).toBe('aborted');
  // the reply has ended; its title comes after (it needs the engine, the stop did not wait for it)
  expect((await call('threads.get', { id: t.id })).thread.title).toBe('New chat');
  await chat.app.chat.idle();
  expect((await call('threads.get', { id: t.id })).thread.title).not.toBe('New chat');
});

test('regenerate, continue and edit take only a message of their own chat, with the right role', async () => {
  // found by the IPC fuzz: regenerating a user message replaced it with a reply that had no prompt
  // (the engine refused the empty chat), and a message of another chat was accepted
  const a = await call('threads.create', {});
  let done = nextDone(chat.app, a.id);
  await call('chat.send', { threadId: a.id, content: 'First chat' });
  const replyA = await done;
  const b = await call('threads.create', { temporary: true });
  done = nextDone(chat.app, b.id);
  await call('chat.send', { threadId: b.id, content: 'Second chat' });
  const replyB = await done;
  await chat.app.chat.idle();
  const userA = (await call('threads.get', { id: a.id })).messages[0].id;
  const userB = (await call('threads.get', { id: b.id })).messages[0].id;
  expect((await errorOf(call('chat.regenerate', { threadId: a.id, messageId: userA }))).code).toBe('invalid_input');
  expect((await errorOf(call('chat.continue', { threadId: a.id, messageId: userA }))).code).toBe('invalid_input');
  expect((await errorOf(call('chat.edit', { threadId: a.id, messageId: replyA.id, content: 'x' }))).code).toBe('invalid_input');
  expect((await errorOf(call('chat.regenerate', { threadId: a.id, messageId: replyB.id }))).code).toBe('not_found');
  expect((await errorOf(call('chat.continue', { threadId: b.id, messageId: replyA.id }))).code).toBe('not_found');
  expect((await errorOf(call('chat.edit', { threadId: a.id, messageId: userB, content: 'x' }))).code).toBe('not_found');
  for (const [t, user, reply] of [[a.id, userA, replyA.id], [b.id, userB, replyB.id]]) {
    const view = await call('threads.get', { id: t });
    expect(view.messages.map((m: MessageDTO) => [m.id, m.alternative.count])).toEqual([[user, 1], [reply, 1]]);
  }
});

test('a lone surrogate in the chat (half an emoji) does not fail this reply or the next ones', async () => {
  // found by the IPC fuzz: the engine could not read the request ("not a JSON object"), so every reply
  // of a temporary thread (kept in memory as sent) holding such a message failed, and so did titles
  const t = await call('threads.create', { temporary: true });
  let done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Half an emoji \ud83d here' });
  const first = await done;
  expect({ status: first.status, error: first.error }).toEqual({ status: 'done', error: null });
  await chat.app.chat.idle();
  done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'And \udc00 another' });
  expect((await done).status).toBe('done');
  expect(wellFormed('a\ud83d\ude00b\ud83dc\ude00')).toBe('a\ud83d\ude00b\ufffdc\ufffd');
});

test('load settings the engine would refuse are invalid input, for estimates and saved settings alike', async () => {
  // found by the IPC fuzz: the engine's refusal (invalid_argument) came back as an untyped error
  const bad = [{ batchSize: 256 }, { ubatchSize: 4096 }, { cacheTypeV: 'q8_0', flashAttention: 'off' }];
  for (const settings of bad) {
    const est = await errorOf(call('models.estimate', { path: chat.modelPath, settings }));
    expect(est.code).toBe('invalid_input');
    expect(est.message).toMatch(/^load settings: (ubatchSize|cacheTypeV) /);
    expect((await errorOf(call('models.settings.update', { path: chat.modelPath, settings }))).code).toBe('invalid_input');
  }
  // nothing was saved, and settings the engine accepts still estimate
  expect((await call('models.settings.get', { path: chat.modelPath })).settings).toEqual({});
  const ok = await call('models.estimate', { path: chat.modelPath, settings: { batchSize: 256, ubatchSize: 256, contextSize: 1024 } });
  expect(ok.contextSize).toBe(1024);
});

test('continue appends to a cut-off reply in place', async () => {
  // greedy decoding: the same reply every run (a sampled one the tiny model sometimes ends before the cut)
  chat.setChatDefaults({ maxTokens: 24, temperature: 0 });
  const t = await call('threads.create', {});
  let done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Write something long' });
  const cut = await done;
  expect(cut.status).toBe('done');
  expect(cut.metrics!.generatedTokens).toBe(24); // cut off by the max tokens
  expect(cut.finishReason).toBe('maxTokens');
  await chat.app.chat.idle();
  done = nextDone(chat.app, t.id);
  const r = await call('chat.continue', { threadId: t.id, messageId: cut.id });
  expect(r.reply.id).toBe(cut.id);
  const more = await done;
  expect(more.id).toBe(cut.id);
  expect(more.content.startsWith(cut.content)).toBe(true);
  expect(more.content.length).toBeGreaterThan(cut.content.length);
  expect(more.finishReason).toBe('maxTokens'); // 24 more
  const view = await call('threads.get', { id: t.id });
  expect(view.messages).toHaveLength(2);
  expect(view.messages[1].content).toBe(more.content);
});

test('search finds a message of another thread; pin, rename, delete', async () => {
  const a = await call('threads.create', {});
  let done = nextDone(chat.app, a.id);
  await call('chat.send', { threadId: a.id, content: 'The quokka is a small marsupial' });
  await done;
  const b = await call('threads.create', {});
  done = nextDone(chat.app, b.id);
  await call('chat.send', { threadId: b.id, content: 'Something else entirely' });
  await done;
  await chat.app.chat.idle();
  const res = await call('search.query', { q: 'quokka' });
  expect(res.hits[0].threadId).toBe(a.id);
  expect(res.hits[0].snippet).toContain('\u0001quokka\u0002');
  await call('threads.pin', { id: a.id, pinned: true });
  await call('threads.rename', { id: b.id, title: 'Renamed' });
  const list = await call('threads.list', {});
  expect(list.threads[0].id).toBe(a.id);
  expect(list.threads.find((t: any) => t.id === b.id).title).toBe('Renamed');
  await call('threads.delete', { id: b.id });
  expect((await errorOf(call('threads.get', { id: b.id }))).code).toBe('not_found');
});

test('the engine dying mid-reply: the reply says it was cut off by the restart, the next message works', async () => {
  const t = await call('threads.create', {});
  chat.setChatDefaults({ maxTokens: 100000 });
  let done = nextDone(chat.app, t.id);
  let killed = false;
  const off = chat.app.services.subscribe((event) => {
    if (event === 'chat.piece' && !killed) {
      killed = true;
      process.kill(chat.engine.pid!, 'SIGKILL');
    }
  });
  await call('chat.send', { threadId: t.id, content: 'Tell me a long story' });
  const failed = await done;
  off();
  chat.setChatDefaults({ maxTokens: 24 });
  expect(failed).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
  expect(failed.error).toMatch(/^engine_crashed/);
  await chat.app.chat.idle();
  done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Are you back?' });
  const ok = await done;
  expect(ok.status).toBe('done');
});

test('temporary chats work like others and leave nothing on disk', async () => {
  const t = await call('threads.create', { temporary: true });
  expect(t.temporary).toBe(true);
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'A secret zebra message' });
  await done;
  await chat.app.chat.idle();
  expect((await call('threads.get', { id: t.id })).messages).toHaveLength(2);
  expect((await call('search.query', { q: 'zebra' })).hits).toHaveLength(0);
  const row = chat.app.store.db.prepare("SELECT count(*) AS n FROM messages WHERE content LIKE '%zebra%'").get() as { n: number };
  expect(row.n).toBe(0);
});

test("the chat's settings round trip; the default model must be one of the library's", async () => {
  expect(await call('settings.get')).toMatchObject({ sendOnEnter: true, fontSize: 15, showReasoning: false, defaultModel: null });
  const s = await call('settings.update', { sendOnEnter: false, fontSize: 18, showReasoning: true });
  expect(s).toMatchObject({ sendOnEnter: false, fontSize: 18, showReasoning: true, theme: 'system' });
  expect(chat.app.store.settings.get('fontSize')).toBe(18);
  expect((await errorOf(call('settings.update', { fontSize: 9 }))).code).toBe('invalid_input');
  expect((await errorOf(call('settings.update', { sendOnEnter: 'yes' }))).code).toBe('invalid_input');
  // a file outside the library is refused with the library's one answer, and nothing is saved
  for (const p of ['/etc/passwd', path.join(chat.dir, 'hearth.db'), path.join(chat.dir, 'models', 'missing.gguf')]) {
    expect((await errorOf(call('settings.update', { defaultModel: p, fontSize: 20 }))).code).toBe('model_unknown');
  }
  expect(chat.app.store.settings.get('defaultModel')).toBeNull();
  expect(chat.app.store.settings.get('fontSize')).toBe(18);
  const withModel = await call('settings.update', { defaultModel: path.join(chat.dir, 'models', '.', 'tiny.gguf') });
  expect(withModel.defaultModel).toBe(chat.modelPath);
  expect((await call('settings.update', { defaultModel: null })).defaultModel).toBeNull();
  await call('settings.update', { sendOnEnter: true, fontSize: 15, showReasoning: false });
});

test('assistants and settings round trip through the contract', async () => {
  const a = await call('assistants.create', { name: 'Pirate', emoji: '🏴‍☠️', instructions: 'Talk like a pirate.', sampling: { temperature: 0.3 } });
  expect(a).toMatchObject({ name: 'Pirate', emoji: '🏴‍☠️', isDefault: false, sampling: { temperature: 0.3 } });
  const u = await call('assistants.update', { id: a.id, patch: { name: 'Captain' } });
  expect(u.name).toBe('Captain');
  expect((await call('assistants.list')).some((x: any) => x.isDefault)).toBe(true);
  const until = await call('settings.update', { chatDefaults: { maxTokens: -1, seed: 42 } });
  expect(until.chatDefaults).toMatchObject({ maxTokens: -1, seed: 42 });
  expect((await call('settings.get')).chatDefaults).toMatchObject({ maxTokens: -1, seed: 42 });
  await call('settings.update', { chatDefaults: { maxTokens: 24 } });
  const s = await call('settings.update', { theme: 'dark' });
  expect(s.theme).toBe('dark');
  // the data folder is app.info's (it is not a setting: the store lives in it)
  expect('dataDir' in s).toBe(false);
  expect((await call('app.info')).dataDir).toBe(chat.dir);
  expect((await errorOf(call('settings.update', { theme: 'neon' }))).code).toBe('invalid_input');
  // a repeat penalty of 0 fails every reply in llama.cpp: refused where it is set (found by the IPC fuzz)
  expect((await errorOf(call('settings.update', { chatDefaults: { repeatPenalty: 0 } }))).code).toBe('invalid_input');
  expect((await errorOf(call('assistants.create', { name: 'Zero', sampling: { repeatPenalty: 0 } }))).code).toBe('invalid_input');
  expect((await errorOf(call('assistants.update', { id: a.id, patch: { sampling: { repeatPenalty: 0 } } }))).code).toBe('invalid_input');
});
