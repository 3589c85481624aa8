/**
 * A reply and the engine host under it, through the services with the real store, the real engine
 * host and generated models: a host killed mid-reply, or one that hangs while the user presses Stop
 * (the heartbeat kills it), leaves the reply `interrupted` with finishReason `engineRestarted` (what
 * the renderer words as "the engine stopped unexpectedly and was restarted"), never a bare stop, and
 * it can be continued in place; a stop the host obeys stays `aborted`. The context use reaches the
 * renderer (`models.state`) while a reply streams and once it ended. A message sent right after a
 * model switch was asked for runs on the new model. The heartbeat's bounds are shortened so a hung
 * host is found within seconds.
 */
import fs from 'fs';
import path from 'path';
import { EventOf, MessageDTO } from '../../main/ipc/contract';
import { alive, makeEngine } from '../helpers/engine';
import { TINY_BPE, TINY_SPM } from '../helpers/models';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

let chat: ChatApp;
let spm: string;
let bpe: string;

const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

/** Runs `fn` once, at the thread's first streamed piece. */
function atFirstPiece(threadId: string, fn: () => void): () => void {
  let fired = false;
  return chat.app.services.subscribe((event, payload) => {
    if (event !== 'chat.piece' || fired || (payload as EventOf<'chat.piece'>).threadId !== threadId) return;
    fired = true;
    fn();
  });
}

async function newThread(title: string): Promise<{ id: string }> {
  const t = await call('threads.create', {});
  await call('threads.rename', { id: t.id, title }); // no title generation after the first reply
  return t;
}

beforeAll(async () => {
  chat = chatApp({
    model: TINY_SPM,
    modelAs: 'tiny-spm.gguf',
    prepare: ({ models }) => fs.copyFileSync(TINY_BPE, path.join(models, 'tiny-bpe.gguf')),
    engine: makeEngine({}, undefined, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1500 }),
    usageRefreshMs: 100,
  });
  spm = chat.modelPath;
  bpe = path.join(chat.paths.models, 'tiny-bpe.gguf');
  for (const m of [spm, bpe]) chat.app.store.modelSettings.set(m, { contextSize: 1024, threads: 1 });
  await call('models.load', { path: spm });
});

afterAll(() => chat.close());

test('the host killed mid-reply: the reply is interrupted by an engine restart, keeps its text, and continues in place', async () => {
  const t = await newThread('Killed');
  chat.setChatDefaults({ maxTokens: 100000 }); // runs until the kill
  const done = nextDone(chat.app, t.id);
  let streamed = '';
  const offText = chat.app.services.subscribe((event, payload) => {
    if (event === 'chat.piece') streamed += (payload as EventOf<'chat.piece'>).content;
  });
  const pid = chat.engine.pid!;
  const off = atFirstPiece(t.id, () => process.kill(pid, 'SIGKILL'));
  const sent = await call('chat.send', { threadId: t.id, content: 'Tell me a long story' });
  const reply = await done;
  off();
  offText();
  await chat.app.chat.idle();
  expect(reply.id).toBe(sent.reply.id);
  expect(reply).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
  expect(reply.error).toMatch(/^engine_crashed: .*SIGKILL/);
  const stored = (await call('threads.get', { id: t.id })).messages.find((m: MessageDTO) => m.id === reply.id) as MessageDTO;
  expect(stored).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted', content: streamed });
  expect(streamed.length).toBeGreaterThan(0);

  // Continue: the same reply goes on after its text, on the restarted host
  chat.setChatDefaults({ maxTokens: 6 });
  const continued = nextDone(chat.app, t.id);
  await call('chat.continue', { threadId: t.id, messageId: reply.id });
  const after = await continued;
  await chat.app.chat.idle();
  expect(after.id).toBe(reply.id);
  expect(after.status).toBe('done');
  expect(after.content.startsWith(streamed)).toBe(true);
  expect(after.content.length).toBeGreaterThan(streamed.length);
  expect(chat.engine.pid).not.toBe(pid);
});

test('Stop pressed while the host hangs: the host is killed and restarted, and the reply says it was cut off by that, not stopped', async () => {
  const t = await newThread('Hung');
  chat.setChatDefaults({ maxTokens: 100000 });
  const done = nextDone(chat.app, t.id);
  const pid = chat.engine.pid!;
  let stopping: Promise<unknown> | undefined;
  const off = atFirstPiece(t.id, () => {
    // the host's JS thread no longer answers (as when it is stuck), and the user presses Stop
    process.kill(pid, 'SIGSTOP');
    stopping = call('chat.stop', { threadId: t.id });
  });
  await call('chat.send', { threadId: t.id, content: 'Tell me a long story' });
  const reply = await done;
  off();
  await stopping;
  await chat.app.chat.idle();
  // the heartbeat killed it
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  expect(alive(pid)).toBe(false);
  expect(reply).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
  expect(reply.content.length).toBeGreaterThan(0);

  // control: a stop the (new) host obeys is a plain stop
  const t2 = await newThread('Stopped');
  const done2 = nextDone(chat.app, t2.id);
  let stopped: Promise<unknown> | undefined;
  const off2 = atFirstPiece(t2.id, () => (stopped = call('chat.stop', { threadId: t2.id })));
  await call('chat.send', { threadId: t2.id, content: 'Tell me a long story' });
  const plain = await done2;
  off2();
  await stopped;
  await chat.app.chat.idle();
  expect(plain).toMatchObject({ status: 'aborted', finishReason: 'aborted' });
});

test("the context use reaches the page while a reply streams and when it ended: the engine's count for the conversation", async () => {
  const t = await newThread('Meter');
  // a reply that goes on until it is stopped: greedy decoding, so the same reply every run (a sampled one
  // the tiny model sometimes ends by itself within the meter's 100 ms refresh bound, too soon to see it grow)
  chat.setChatDefaults({ maxTokens: 100000, temperature: 0 });
  // a context the reply cannot fill before it is stopped
  chat.app.store.modelSettings.set(spm, { contextSize: 32768, threads: 1 });
  await call('models.load', { path: spm });
  const used: number[] = [];
  const offState = chat.app.services.subscribe((event, payload) => {
    const s = payload as EventOf<'models.state'>;
    if (event === 'models.state' && s.loaded) used.push(s.loaded.tokensUsed);
  });
  let streamingUpdates = 0;
  let stopped: Promise<unknown> | undefined;
  // stop once the page was told the context use while the reply streams (the refresh runs at most every 100 ms here)
  const offPiece = chat.app.services.subscribe((event) => {
    if (event !== 'chat.piece' || stopped) return;
    streamingUpdates = used.length;
    if (streamingUpdates >= 2) stopped = call('chat.stop', { threadId: t.id });
  });
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a long story about the sea' });
  const reply = await done;
  offPiece();
  await stopped;
  await chat.app.chat.idle();
  await new Promise((r) => setTimeout(r, 200)); // the refresh after the reply is not awaited by the turn
  offState();
  expect(streamingUpdates).toBeGreaterThanOrEqual(2);
  expect(reply.status).toBe('aborted');
  // growing while it streamed, and at the end what the engine holds for the conversation
  expect(used[1]).toBeGreaterThan(used[0]);
  // the conversation's own sequence (main/chat/sessions.ts)
  const engineCount = ((await chat.engine.contextInfo('chat')).sequenceTokens as number[])[chat.app.sessions.seqOf(t.id)!];
  expect(used.at(-1)).toBe(engineCount);
  expect(engineCount).toBeGreaterThanOrEqual(reply.metrics!.promptTokens + reply.metrics!.generatedTokens - 1);
});

test('a message sent right after a model switch was asked for runs on the model switched to', async () => {
  const t = await newThread('Switch');
  chat.setChatDefaults({ maxTokens: 4 });
  expect((await call('models.state')).loaded.path).toBe(spm);
  const done = nextDone(chat.app, t.id);
  // as the page sends them: the load, then at once the message (nothing awaited in between)
  const switching = call('models.load', { path: bpe });
  const sending = call('chat.send', { threadId: t.id, content: 'Which model answers?' });
  const [state, sent] = await Promise.all([switching, sending]);
  const reply = await done;
  await chat.app.chat.idle();
  expect(state.loaded.path).toBe(bpe);
  expect(sent.reply.model).toBe('tiny-bpe');
  expect(reply).toMatchObject({ model: 'tiny-bpe', status: 'done' });
});
