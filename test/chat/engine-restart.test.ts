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
import { composeApp, App } from '../../main/compose';
import { EngineClient } from '../../main/engine/client';
import { EventOf, MessageDTO } from '../../main/ipc/contract';
import { ensureDataDir } from '../../main/paths';
import { alive, makeEngine, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_SPM } from '../helpers/models';
import { nextDone } from '../helpers/chat';

let dir: string;
let engine: EngineClient;
let app: App;
let spm: string;
let bpe: string;

const call = <T = any>(channel: string, payload: unknown = {}) => app.services.handle(channel, payload) as Promise<T>;
const maxTokens = (n: number) => app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), maxTokens: n } });

/** Runs `fn` once, at the thread's first streamed piece. */
function atFirstPiece(threadId: string, fn: () => void): () => void {
  let fired = false;
  return app.services.subscribe((event, payload) => {
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
  dir = tempDir();
  const paths = ensureDataDir(dir);
  spm = path.join(paths.models, 'tiny-spm.gguf');
  bpe = path.join(paths.models, 'tiny-bpe.gguf');
  fs.copyFileSync(TINY_SPM, spm);
  fs.copyFileSync(TINY_BPE, bpe);
  engine = makeEngine({}, undefined, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1500 });
  app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: { debug() {}, info() {}, warn() {}, error() {} }, usageRefreshMs: 100 });
  for (const m of [spm, bpe]) app.store.modelSettings.set(m, { contextSize: 1024, threads: 1 });
  await call('models.load', { path: spm });
});

afterAll(async () => {
  await app.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the host killed mid-reply: the reply is interrupted by an engine restart, keeps its text, and continues in place', async () => {
  const t = await newThread('Killed');
  maxTokens(100000); // runs until the kill
  const done = nextDone(app, t.id);
  let streamed = '';
  const offText = app.services.subscribe((event, payload) => {
    if (event === 'chat.piece') streamed += (payload as EventOf<'chat.piece'>).content;
  });
  const pid = engine.pid!;
  const off = atFirstPiece(t.id, () => process.kill(pid, 'SIGKILL'));
  const sent = await call('chat.send', { threadId: t.id, content: 'Tell me a long story' });
  const reply = await done;
  off();
  offText();
  await app.chat.idle();
  expect(reply.id).toBe(sent.reply.id);
  expect(reply).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
  expect(reply.error).toMatch(/^engine_crashed: .*SIGKILL/);
  const stored = (await call('threads.get', { id: t.id })).messages.find((m: MessageDTO) => m.id === reply.id) as MessageDTO;
  expect(stored).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted', content: streamed });
  expect(streamed.length).toBeGreaterThan(0);

  // Continue: the same reply goes on after its text, on the restarted host
  maxTokens(6);
  const continued = nextDone(app, t.id);
  await call('chat.continue', { threadId: t.id, messageId: reply.id });
  const after = await continued;
  await app.chat.idle();
  expect(after.id).toBe(reply.id);
  expect(after.status).toBe('done');
  expect(after.content.startsWith(streamed)).toBe(true);
  expect(after.content.length).toBeGreaterThan(streamed.length);
  expect(engine.pid).not.toBe(pid);
});

test('Stop pressed while the host hangs: the host is killed and restarted, and the reply says it was cut off by that, not stopped', async () => {
  const t = await newThread('Hung');
  maxTokens(100000);
  const done = nextDone(app, t.id);
  const pid = engine.pid!;
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
  await app.chat.idle();
  // the heartbeat killed it
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  expect(alive(pid)).toBe(false);
  expect(reply).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
  expect(reply.content.length).toBeGreaterThan(0);

  // control: a stop the (new) host obeys is a plain stop
  const t2 = await newThread('Stopped');
  const done2 = nextDone(app, t2.id);
  let stopped: Promise<unknown> | undefined;
  const off2 = atFirstPiece(t2.id, () => (stopped = call('chat.stop', { threadId: t2.id })));
  await call('chat.send', { threadId: t2.id, content: 'Tell me a long story' });
  const plain = await done2;
  off2();
  await stopped;
  await app.chat.idle();
  expect(plain).toMatchObject({ status: 'aborted', finishReason: 'aborted' });
});

test("the context use reaches the page while a reply streams and when it ended: the engine's count for the conversation", async () => {
  const t = await newThread('Meter');
  maxTokens(100000);
  // a context the reply cannot fill before it is stopped (the tiny model may still end it by itself: then
  // the meter's refresh bound, 100 ms here, is what lets it update while streaming)
  app.store.modelSettings.set(spm, { contextSize: 32768, threads: 1 });
  await call('models.load', { path: spm });

  const used: number[] = [];
  const offState = app.services.subscribe((event, payload) => {
    const s = payload as EventOf<'models.state'>;
    if (event === 'models.state' && s.loaded) used.push(s.loaded.tokensUsed);
  });
  let streamingUpdates = 0;
  let stopped: Promise<unknown> | undefined;
  // stop once the page was told the context use while the reply streams (the refresh runs at most every 100 ms here)
  const offPiece = app.services.subscribe((event) => {
    if (event !== 'chat.piece' || stopped) return;
    streamingUpdates = used.length;
    if (streamingUpdates >= 2) stopped = call('chat.stop', { threadId: t.id });
  });
  const done = nextDone(app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a long story about the sea' });
  const reply = await done;
  offPiece();
  await stopped;
  await app.chat.idle();
  await new Promise((r) => setTimeout(r, 200)); // the refresh after the reply is not awaited by the turn
  offState();
  expect(streamingUpdates).toBeGreaterThanOrEqual(2);
  expect(reply.status).toBe('aborted');
  // growing while it streamed, and at the end what the engine holds for the conversation
  expect(used[1]).toBeGreaterThan(used[0]);
  const engineCount = ((await engine.contextInfo('chat')).sequenceTokens as number[])[0];
  expect(used.at(-1)).toBe(engineCount);
  expect(engineCount).toBeGreaterThanOrEqual(reply.metrics!.promptTokens + reply.metrics!.generatedTokens - 1);
});

test('a message sent right after a model switch was asked for runs on the model switched to', async () => {
  const t = await newThread('Switch');
  maxTokens(4);
  expect((await call('models.state')).loaded.path).toBe(spm);
  const done = nextDone(app, t.id);
  // as the page sends them: the load, then at once the message (nothing awaited in between)
  const switching = call('models.load', { path: bpe });
  const sending = call('chat.send', { threadId: t.id, content: 'Which model answers?' });
  const [state, sent] = await Promise.all([switching, sending]);
  const reply = await done;
  await app.chat.idle();
  expect(state.loaded.path).toBe(bpe);
  expect(sent.reply.model).toBe('tiny-bpe');
  expect(reply).toMatchObject({ model: 'tiny-bpe', status: 'done' });
});
