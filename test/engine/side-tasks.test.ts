/**
 * A save or a restore of a small state, and a clearing, of a sequence no generation uses run between the
 * steps of running generations (a thread's state saved, or restored, while another thread's reply
 * generates), not after them; a restore without room beside the replies, one llama.cpp refuses there,
 * and anything on a sequence a generation uses wait for the generations. Real host, real addon, the
 * tiny model.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';
import { agreeingSession, sessionLayout } from '../helpers/sessions';

let engine: EngineClient;
const greedy = { temperature: 0 };
// long enough that the side tasks below are asked for while it generates
const LONG = { prompt: 'A long story about the sea', maxTokens: 3000, ignoreEos: true, sampling: greedy } as const;

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('m', TINY_SPM, { contextSize: 8192, parallel: 3, threads: 2 });
  // a small cache, where a reply and a restored conversation do not both fit
  await engine.load('small', TINY_SPM, { contextSize: 1024, parallel: 2, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

/** A reply generating on `seq` of `model` (its first piece arrived), and whether it has ended. */
async function generating(model: string, seq: number, req: { prompt: string; maxTokens: number }) {
  let pieces = 0;
  const state = { done: false };
  const reply = engine.complete(model, { ...req, ignoreEos: true, sampling: greedy, seq }, { onPiece: () => pieces++ }).finally(() => (state.done = true));
  while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
  return { reply, state };
}

/**
 * Sequence 2's conversation saved, then a copy of the file with `edit` made to its state, the file's
 * length and checksum agreeing (so that it reaches the state's reader): the copy's path.
 */
async function craftedSession(edit: (b: Buffer, stateAt: number) => void): Promise<string> {
  await engine.complete('m', { prompt: 'Another thread', maxTokens: 8, ignoreEos: true, sampling: greedy, seq: 2 });
  const dir = tempDir();
  const good = path.join(dir, 'good.kv');
  await engine.saveSession('m', good, 2);
  const buf = fs.readFileSync(good);
  const layout = sessionLayout(buf);
  edit(buf, layout.stateAt);
  const bad = path.join(dir, 'crafted.kv');
  fs.writeFileSync(bad, agreeingSession(buf, layout));
  return bad;
}

test('a save, a clearing and a restore of an idle sequence finish while another sequence generates, and change nothing of its reply', async () => {
  const alone = await engine.complete('m', { ...LONG, seq: 1 });
  await engine.clearSequence('m', 1);
  // sequence 2 holds a conversation to save
  await engine.complete('m', { prompt: 'Another thread', maxTokens: 8, ignoreEos: true, sampling: greedy, seq: 2 });
  const file = path.join(tempDir(), 'seq2.kv');
  const long = await generating('m', 1, LONG);
  const saved = await engine.saveSession('m', file, 2);
  await engine.clearSequence('m', 2);
  const restored = await engine.restoreSession('m', file, 2);
  const sideDone = long.state.done;
  const reply = await long.reply;
  expect(sideDone).toBe(false); // all three answered before the generation ended
  expect(restored.tokens).toBe(saved.tokens);
  expect(reply.tokens).toEqual(alone.tokens);
  // the restored sequence is the conversation it was: its next turn reuses it
  const next = await engine.complete('m', { prompt: 'Another thread', maxTokens: 1, sampling: greedy, seq: 2 });
  expect(next.timings.cachedTokens).toBeGreaterThan(0);
});

test('a restore llama.cpp refuses beside a running reply is tried again alone, after the reply: refused then, the file kept, the reply unchanged', async () => {
  await engine.clearSequence('m', 1);
  const alone = await engine.complete('m', { ...LONG, seq: 1 });
  await engine.clearSequence('m', 1);
  // its stream count made one llama.cpp refuses
  const bad = await craftedSession((b, stateAt) => b.writeUInt32LE(7, stateAt));
  const long = await generating('m', 1, LONG);
  const refused = await errorOf(engine.restoreSession('m', bad, 2));
  const refusedDone = long.state.done;
  const reply = await long.reply;
  expect(refused.code).toBe('session_mismatch');
  expect(refused.message).toMatch(/llama.cpp rejected the saved state/);
  expect(refusedDone).toBe(true);
  expect(reply.tokens).toEqual(alone.tokens);
  expect(fs.existsSync(bad)).toBe(true); // the engine deletes no file: the app decides
});

test("a restore Hearth's reader refuses beside a running reply is refused there, not tried again alone after it", async () => {
  await engine.clearSequence('m', 1);
  // a cell count of fifty million (after the stream count)
  const bad = await craftedSession((b, stateAt) => b.writeUInt32LE(50_000_000, stateAt + 4));
  const long = await generating('m', 1, LONG);
  const refused = await errorOf(engine.restoreSession('m', bad, 2));
  const refusedDone = long.state.done;
  await long.reply;
  expect(refused).toEqual({ code: 'session_mismatch', message: expect.stringMatching(/Hearth refused the saved state: it holds a field of 50000000/) });
  expect(refusedDone).toBe(false); // answered while the reply still ran
});

test('a restore without room beside a running reply waits for it, then takes its room from the idle cells it left', async () => {
  // sequence 1: a conversation of ~600 tokens, saved and cleared
  const words = Array.from({ length: 160 }, (_, i) => `w${i}`).join(' ');
  const conversation = await engine.complete('small', { prompt: words, maxTokens: 1, sampling: greedy, seq: 1 });
  const file = path.join(tempDir(), 'small1.kv');
  const saved = await engine.saveSession('small', file, 1);
  expect(saved.tokens).toBe(conversation.timings.promptTokens);
  await engine.clearSequence('small', 1);
  // sequence 0 generates: the cache's 1,024 cells cannot hold its reply, the conversation and a
  // micro-batch more, so the restore waits for the reply; the reply's cells (idle then) make its room
  const long = await generating('small', 0, { prompt: 'A long story about the sea', maxTokens: 900 });
  const restored = await engine.restoreSession('small', file, 1);
  const restoreDone = long.state.done;
  const reply = await long.reply;
  expect(reply.timings.generatedTokens).toBe(900);
  expect(restoreDone).toBe(true);
  expect(restored.tokens).toBe(saved.tokens);
  const next = await engine.complete('small', { prompt: words, maxTokens: 1, sampling: greedy, seq: 1 });
  expect(next.timings.cachedTokens).toBe(saved.tokens - 1);
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

describe('a save or a restore beside a reply, on a slow disk', () => {
  // the test hooks make each piece of state a save writes or a restore reads 1,000 bytes, after a 15 ms
  // pause (a slow disk): either takes seconds for this conversation, far past the 600 ms a stop has
  const BOUND_MS = 600;
  const words = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ');
  let slow: EngineClient;
  beforeAll(async () => {
    slow = makeEngine({ HEARTH_TEST_IO_PIECE: '1000', HEARTH_TEST_IO_DELAY_MS: '15', HEARTH_TEST_TASK_BOUNDS: JSON.stringify({ stopMs: BOUND_MS }) });
    await slow.load('m', TINY_SPM, { contextSize: 4096, parallel: 3, threads: 2 });
  });
  afterAll(async () => {
    await slow.close();
  });

  /**
   * A reply generating on sequence 1; `side` asked beside it, and once it has run for 300 ms the reply
   * stopped: how long the stop took, whether `side` was still running then, and its result.
   */
  async function stopBeside<T>(side: () => Promise<T>) {
    const pid = slow.pid;
    await slow.clearSequence('m', 1);
    const ac = new AbortController();
    let pieces = 0;
    const reply = slow.complete('m', { ...LONG, seq: 1 }, { signal: ac.signal, onPiece: () => pieces++ });
    while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    let sideDone = false;
    const running = side().finally(() => (sideDone = true));
    running.catch(() => undefined); // awaited below
    await new Promise((r) => setTimeout(r, 300)); // it runs beside the paused reply
    const stoppedAt = Date.now();
    ac.abort();
    const r = await reply;
    const stopMs = Date.now() - stoppedAt;
    const doneAtStop = sideDone;
    const result = await running;
    const sideMs = Date.now() - started;
    expect(r.stopReason).toBe('aborted');
    expect(r.tokens.length).toBeLessThan(LONG.maxTokens);
    expect(doneAtStop).toBe(false); // it gave way, and ran again after
    expect(stopMs).toBeLessThan(BOUND_MS);
    expect(sideMs).toBeGreaterThan(2 * BOUND_MS); // else this shows nothing
    expect(slow.pid).toBe(pid);
    return result;
  }

  test('a stop of the reply while a save writes ends the reply within the bound (the save gives way); the save then finishes', async () => {
    const conversation = await slow.complete('m', { prompt: words, maxTokens: 1, sampling: greedy, seq: 2 });
    const file = path.join(tempDir(), 'slow-save.kv');
    const saved = await stopBeside(() => slow.saveSession('m', file, 2));
    expect(saved.tokens).toBe(conversation.timings.promptTokens);
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    await slow.clearSequence('m', 2);
    expect((await slow.restoreSession('m', file, 2)).tokens).toBe(saved.tokens);
  }, 60_000);

  test('a stop of the reply while a restore reads ends the reply within the bound (the restore gives way); the restore then finishes', async () => {
    await slow.complete('m', { prompt: words, maxTokens: 1, sampling: greedy, seq: 2 });
    const file = path.join(tempDir(), 'slow.kv');
    const saved = await slow.saveSession('m', file, 2);
    await slow.clearSequence('m', 2);
    const restored = await stopBeside(() => slow.restoreSession('m', file, 2));
    expect(restored.tokens).toBe(saved.tokens);
    const next = await slow.complete('m', { prompt: words, maxTokens: 1, sampling: greedy, seq: 2 });
    expect(next.timings.cachedTokens).toBe(saved.tokens - 1);
  }, 60_000);
});
