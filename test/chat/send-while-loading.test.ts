/**
 * A message sent while the chat model loads, through the services with the real store and engine
 * host: the send answers at once with the stored message and a streaming reply, Stop ends that reply
 * during the load (which goes on), and a load that fails ends the reply as an error, the message kept.
 * The load is held in progress by the host's `loadGate` test hook (HEARTH_TEST_HOOKS=1), so nothing
 * here depends on how long a load takes.
 */
import fs from 'fs';
import path from 'path';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';
import { errorOf } from '../helpers/engine';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(async () => {
  chat = chatApp({ chatDefaults: { maxTokens: 4 } });
  // no guardrail estimate: the gate holds the load itself (an estimate checks the file too)
  chat.app.store.settings.update({ guardrail: 'off' });
  await chat.engine.start();
});

afterAll(() => chat.close());

/** Starts a load of the library's model that the host holds after the file check until `release()`. */
async function heldLoad(): Promise<{ loading: Promise<any>; release: () => void }> {
  const gate = fs.mkdtempSync(path.join(chat.dir, 'gate-'));
  await chat.engine.request('loadGate', { dir: gate });
  const loading = call('models.load', { path: chat.modelPath });
  loading.catch(() => undefined);
  for (let i = 0; i < 1500 && !fs.existsSync(path.join(gate, 'checked')); i++) await new Promise((r) => setTimeout(r, 20));
  expect(fs.existsSync(path.join(gate, 'checked'))).toBe(true);
  return { loading, release: () => fs.writeFileSync(path.join(gate, 'go'), '') };
}

/** `p`, or a rejection naming `what` when it has not settled within 10 s (a send that waits for the load never does). */
function answered<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within 10 s`)), 10_000)))]).finally(() =>
    clearTimeout(timer),
  );
}

test('a message sent while the model loads is stored and answered at once; Stop ends its reply during the load, which goes on', async () => {
  const { loading, release } = await heldLoad();
  try {
    const t = await call('threads.create', { modelPath: chat.modelPath });
    const done = nextDone(chat.app, t.id);
    const sent = await answered(call('chat.send', { threadId: t.id, content: 'Hello while loading' }), 'chat.send');
    expect(sent.userMessage).toMatchObject({ role: 'user', content: 'Hello while loading', status: 'done' });
    expect(sent.reply).toMatchObject({ role: 'assistant', status: 'streaming', content: '', model: 'tiny' });
    // both are in the thread already, and the load is still under way
    const view = await call('threads.get', { id: t.id });
    expect(view.messages.map((m: any) => [m.id, m.status])).toEqual([
      [sent.userMessage.id, 'done'],
      [sent.reply.id, 'streaming'],
    ]);
    expect((await call('models.state')).loading).toMatchObject({ path: chat.modelPath });
    // a second message waits for this turn (busy), as during any reply
    expect((await errorOf(call('chat.send', { threadId: t.id, content: 'again' }))).code).toBe('busy');
    await answered(call('chat.stop', { threadId: t.id }), 'chat.stop');
    const reply = await done;
    expect(reply).toMatchObject({ id: sent.reply.id, status: 'aborted', finishReason: 'aborted', content: '' });
    // the load was not cancelled by the stop
    expect((await call('models.state')).loading).toMatchObject({ path: chat.modelPath });
    release();
    expect((await loading).loaded.path).toBe(chat.modelPath);
    const after = await call('threads.get', { id: t.id });
    expect(after.messages.map((m: any) => [m.content, m.status])).toEqual([
      ['Hello while loading', 'done'],
      ['', 'aborted'],
    ]);
    // the thread is free again: the next message is answered by the loaded model
    await chat.app.chat.idle();
    const next = nextDone(chat.app, t.id);
    await call('chat.send', { threadId: t.id, content: 'And now?' });
    expect(await next).toMatchObject({ status: 'done', model: 'tiny' });
    await chat.app.chat.idle();
  } finally {
    release();
    await loading.catch(() => undefined);
  }
});

test('a reply waiting for a load streams once the load ends', async () => {
  await call('models.unload');
  const { loading, release } = await heldLoad();
  try {
    const t = await call('threads.create', {});
    const done = nextDone(chat.app, t.id);
    const sent = await answered(call('chat.send', { threadId: t.id, content: 'Wait for it' }), 'chat.send');
    expect(sent.reply.status).toBe('streaming');
    release();
    const reply = await done;
    expect(reply).toMatchObject({ id: sent.reply.id, status: 'done', model: 'tiny' });
    expect(reply.metrics?.generatedTokens).toBeGreaterThan(0);
    await chat.app.chat.idle();
  } finally {
    release();
    await loading.catch(() => undefined);
  }
});

test('a load that fails ends the waiting reply as an error naming why; the message stays', async () => {
  await call('models.unload');
  // a thread whose model is not in the library: the turn's load of it is refused
  const t = await call('threads.create', {});
  chat.app.store.threads.update(t.id, { model: path.join(chat.dir, 'gone.gguf') });
  const done = nextDone(chat.app, t.id);
  const sent = await answered(call('chat.send', { threadId: t.id, content: 'Anyone there?' }), 'chat.send');
  const reply = await done;
  expect(reply).toMatchObject({ id: sent.reply.id, status: 'error' });
  expect(reply.error).toMatch(/^model_unknown: /);
  const view = await call('threads.get', { id: t.id });
  expect(view.messages.map((m: any) => [m.role, m.content, m.status])).toEqual([
    ['user', 'Anyone there?', 'done'],
    ['assistant', '', 'error'],
  ]);
  await chat.app.chat.idle();
});

test('nothing loaded, nothing loading, no model for the thread: refused at once, nothing stored', async () => {
  await call('models.unload');
  const t = await call('threads.create', {});
  expect((await errorOf(call('chat.send', { threadId: t.id, content: 'hi' }))).code).toBe('no_model');
  expect((await call('threads.get', { id: t.id })).messages).toEqual([]);
});

test('a continue whose model fails to load leaves the finished reply as it was (status, text, finish reason)', async () => {
  await call('models.load', { path: chat.modelPath });
  const t = await call('threads.create', { modelPath: chat.modelPath });
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Say something' });
  const before = await done;
  expect(before).toMatchObject({ status: 'done', finishReason: 'maxTokens' });
  await chat.app.chat.idle();
  // the model goes, and the thread's own model is a file the library does not have
  await call('models.unload');
  chat.app.store.threads.update(t.id, { model: path.join(chat.dir, 'gone.gguf') });
  expect((await errorOf(call('chat.continue', { threadId: t.id, messageId: before.id }))).code).toBe('model_unknown');
  const after = (await call('threads.get', { id: t.id })).messages.find((m: any) => m.id === before.id);
  expect(after).toMatchObject({ status: 'done', content: before.content, finishReason: 'maxTokens' });
  await chat.app.chat.idle();
});

test("a pick made while a reply waits for its thread's model: the reply runs on the model picked, and names it", async () => {
  await call('models.unload');
  const other = path.join(path.dirname(chat.modelPath), 'other.gguf');
  fs.copyFileSync(chat.modelPath, other);
  try {
    const t = await call('threads.create', { modelPath: chat.modelPath });
    // the turn's own load of the thread's model (tiny) is held after its file check
    const gate = fs.mkdtempSync(path.join(chat.dir, 'gate-'));
    await chat.engine.request('loadGate', { dir: gate });
    const done = nextDone(chat.app, t.id);
    const sent = await answered(call('chat.send', { threadId: t.id, content: 'Which model are you?' }), 'chat.send');
    for (let i = 0; i < 1500 && !fs.existsSync(path.join(gate, 'checked')); i++) await new Promise((r) => setTimeout(r, 20));
    const picked = call('models.load', { path: other });
    picked.catch(() => undefined);
    fs.writeFileSync(path.join(gate, 'go'), '');
    await picked;
    const reply = await done;
    expect((await call('models.state')).loaded).toMatchObject({ path: other });
    expect(reply).toMatchObject({ id: sent.reply.id, status: 'done', model: 'other' });
    await chat.app.chat.idle();
  } finally {
    await call('models.unload');
    fs.rmSync(other, { force: true });
  }
});
