/**
 * Chat settings defined once in main/params, through the IPC entry point (Services.handle) with the
 * real store and engine: an assistant with maxTokens -1 ("until the context is full") saves, the new
 * sampler settings round-trip through assistants and the app's chat defaults, and every one of them
 * reaches the engine (nProbs: the streamed pieces carry their tokens' log-probabilities).
 */
import { EventName, EventOf } from '../../main/ipc/contract';
import { CHAT_DEFAULTS, ChatSettings } from '../../main/params';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';
import { errorOf } from '../helpers/engine';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);
const events: { event: EventName; payload: unknown }[] = [];

beforeAll(() => {
  chat = chatApp();
  chat.app.services.subscribe((event, payload) => events.push({ event, payload }));
});

afterAll(() => chat.close());

const NEW_SAMPLERS: ChatSettings = {
  dryMultiplier: 0.8,
  dryBase: 1.75,
  dryAllowedLength: 3,
  dryPenaltyLastN: -1,
  drySequenceBreakers: ['\n', '.'],
  xtcProbability: 0.5,
  xtcThreshold: 0.1,
  mirostat: 2,
  mirostatTau: 4,
  mirostatEta: 0.2,
  topNSigma: 1.5,
  dynatempRange: 0.3,
  dynatempExponent: 1.2,
  nProbs: 4,
};

test('an assistant with maxTokens -1 (until the context is full) saves, over IPC and in the store', async () => {
  const a = await call('assistants.create', { name: 'Long writer', sampling: { maxTokens: -1, temperature: 0.5 } });
  expect(a.sampling).toEqual({ maxTokens: -1, temperature: 0.5 });
  expect((await call('assistants.list')).find((x: { id: string }) => x.id === a.id).sampling.maxTokens).toBe(-1);
  const updated = await call('assistants.update', { id: a.id, patch: { sampling: { maxTokens: -1, topK: 5 } } });
  expect(updated.sampling).toEqual({ maxTokens: -1, topK: 5 });
  expect(chat.app.store.assistants.get(a.id).sampling).toEqual({ maxTokens: -1, topK: 5 });
  const stored = chat.app.store.assistants.create({ name: 'Direct', sampling: { maxTokens: -1 } });
  expect(chat.app.store.assistants.get(stored.id).sampling.maxTokens).toBe(-1);
  // 0 would make every reply empty: refused as a setting, with the same rule everywhere
  expect((await errorOf(call('assistants.create', { name: 'Empty', sampling: { maxTokens: 0 } }))).code).toBe('invalid_input');
  expect(() => chat.app.store.assistants.create({ name: 'Empty', sampling: { maxTokens: 0 } })).toThrow(/maxTokens must be -1 or at least 1/);
  expect((await errorOf(call('settings.update', { chatDefaults: { maxTokens: 0 } }))).code).toBe('invalid_input');
});

test('the new samplers round-trip through an assistant and the chat defaults', async () => {
  const a = await call('assistants.create', { name: 'Sampler', sampling: NEW_SAMPLERS });
  expect(a.sampling).toEqual(NEW_SAMPLERS);
  const s = await call('settings.update', { chatDefaults: NEW_SAMPLERS });
  expect(s.chatDefaults).toEqual({ ...CHAT_DEFAULTS, ...NEW_SAMPLERS });
  expect((await call('settings.get')).chatDefaults).toEqual({ ...CHAT_DEFAULTS, ...NEW_SAMPLERS });
  expect((await errorOf(call('settings.update', { chatDefaults: { mirostat: 3 } }))).code).toBe('invalid_input');
  expect((await errorOf(call('settings.update', { chatDefaults: { noSuchSampler: 1 } }))).code).toBe('invalid_input');
});

test('every chat setting reaches the engine: with nProbs the streamed pieces carry log-probabilities', async () => {
  await call('models.load', { path: chat.modelPath });
  await call('settings.update', { chatDefaults: { ...NEW_SAMPLERS, mirostat: 0, maxTokens: 12, nProbs: 3 } });
  const t = await call('threads.create', {});
  events.length = 0;
  const done = nextDone(chat.app, t.id);
  await call('chat.send', { threadId: t.id, content: 'Tell me a story' });
  const final = await done;
  expect(final.status).toBe('done');
  const pieces = events.filter((e) => e.event === 'chat.piece').map((e) => e.payload as EventOf<'chat.piece'>);
  const probs = pieces.flatMap((p) => p.probs ?? []);
  expect(probs.length).toBe(final.metrics!.generatedTokens);
  for (const p of probs) {
    expect(p.top).toHaveLength(3);
    expect(p.logprob).toBeLessThanOrEqual(0);
  }
  await chat.app.chat.idle();
});
