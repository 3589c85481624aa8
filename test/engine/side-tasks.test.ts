/**
 * A save of a small state and a clearing, of a sequence no generation uses, run between the steps of
 * running generations (a thread's state saved while another thread's reply generates), not after them;
 * a restore, and anything on a sequence a generation uses, waits for the generations. Real host, real
 * addon, the tiny model.
 */
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

let engine: EngineClient;
const greedy = { temperature: 0 };
// long enough that the side tasks below are asked for while it generates
const LONG = { prompt: 'A long story about the sea', maxTokens: 3000, ignoreEos: true, sampling: greedy } as const;

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('m', TINY_SPM, { contextSize: 8192, parallel: 3, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

test("a save and a clearing of an idle sequence finish while another sequence generates, and change nothing of its reply; a restore waits for it", async () => {
  const alone = await engine.complete('m', { ...LONG, seq: 1 });
  await engine.clearSequence('m', 1);
  // sequence 2 holds a conversation to save
  await engine.complete('m', { prompt: 'Another thread', maxTokens: 8, ignoreEos: true, sampling: greedy, seq: 2 });
  const file = path.join(tempDir(), 'seq2.kv');
  let pieces = 0;
  let done = false;
  const long = engine.complete('m', { ...LONG, seq: 1 }, { onPiece: () => pieces++ }).finally(() => (done = true));
  while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
  const saved = await engine.saveSession('m', file, 2);
  await engine.clearSequence('m', 2);
  const sideDone = done;
  // a restore takes cells the running reply may still need: it waits for the reply
  const restored = await engine.restoreSession('m', file, 2);
  const restoreDone = done;
  const reply = await long;
  expect(sideDone).toBe(false); // the save and the clearing answered before the generation ended
  expect(restoreDone).toBe(true);
  expect(restored.tokens).toBe(saved.tokens);
  expect(reply.tokens).toEqual(alone.tokens);
  // the restored sequence is the conversation it was: its next turn reuses it
  const next = await engine.complete('m', { prompt: 'Another thread', maxTokens: 1, sampling: greedy, seq: 2 });
  expect(next.timings.cachedTokens).toBeGreaterThan(0);
});

test('a save of the sequence a generation uses waits for that generation', async () => {
  await engine.clearSequence('m', 1);
  const file = path.join(tempDir(), 'seq1.kv');
  let done = false;
  let pieces = 0;
  const long = engine.complete('m', { ...LONG, seq: 1 }, { onPiece: () => pieces++ }).finally(() => (done = true));
  while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
  const saved = await engine.saveSession('m', file, 1);
  expect(done).toBe(true);
  const reply = await long;
  expect(saved.tokens).toBe(reply.timings.promptTokens + reply.tokens.length - 1);
});
