/**
 * A recurrent model's memory (Mamba: one state cell per sequence, not a cache of positions) through the
 * real engine on a generated tiny Mamba (writeTinyMamba): a follow-up reuses its state, and a saved
 * state restores (llama.cpp saves the one cell) and answers as a state never saved does; a crafted cell
 * count in a saved state is refused before llama.cpp sizes anything by it.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { writeTinyMamba } from '../helpers/models';
import { agreeingSession, sessionLayout } from '../helpers/sessions';

jest.setTimeout(120_000);

let engine: EngineClient;
let dir: string;
const greedy = { temperature: 0 };

beforeAll(async () => {
  dir = tempDir();
  engine = makeEngine();
  await engine.load('mamba', await writeTinyMamba(path.join(dir, 'tiny-mamba.gguf')), { contextSize: 512, threads: 2 });
});

afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `n` ordinary tokens of the llama-spm vocab, none repeated. */
const tokens = (n: number) => Array.from({ length: n }, (_, i) => 1000 + (i * 7919) % 28000);

test('a saved state of a recurrent model restores, and the follow-up reuses it and answers as one never saved', async () => {
  const prompt = tokens(40);
  const first = await engine.complete('mamba', { prompt, maxTokens: 4, ignoreEos: true, sampling: greedy });
  const conversation = [...prompt, ...first.tokens.slice(0, 3)]; // the last token sampled is not decoded yet
  const next = [...conversation, first.tokens[3], 5];
  const file = path.join(dir, 'mamba.kv');
  expect((await engine.saveSession('mamba', file)).tokens).toBe(conversation.length);
  await engine.clearSequence('mamba');
  expect((await engine.restoreSession('mamba', file)).tokens).toBe(conversation.length);
  const follow = await engine.complete('mamba', { prompt: next, maxTokens: 4, ignoreEos: true, sampling: greedy });
  expect(follow.timings.cachedTokens).toBe(conversation.length);
  await engine.clearSequence('mamba');
  const cold = await engine.complete('mamba', { prompt: next, maxTokens: 4, ignoreEos: true, sampling: greedy });
  expect(cold.timings.cachedTokens).toBe(0);
  expect(follow.tokens).toEqual(cold.tokens);

  // the state's first field is its cell count (one cell for a sequence): made fifty million, the file's own
  // length and checksum agreeing, it is refused by Hearth's reader, and the sequence restores after
  const buf = fs.readFileSync(file);
  const layout = sessionLayout(buf);
  expect(buf.readUInt32LE(layout.stateAt)).toBe(1);
  const crafted = path.join(dir, 'crafted.kv');
  const b = Buffer.from(buf);
  b.writeUInt32LE(50_000_000, layout.stateAt);
  fs.writeFileSync(crafted, agreeingSession(b, layout));
  expect(await errorOf(engine.restoreSession('mamba', crafted))).toEqual({
    code: 'session_mismatch', message: expect.stringMatching(/a count of 50000000, more than this context has room for \(\d+\)/),
  });
  // two cells for one sequence (a second cell's position and seq_id count after the first's), which
  // llama.cpp's check of the cells it found asserts on (an abort of the host): refused the same way
  const two = path.join(dir, 'two.kv');
  const cell = buf.subarray(layout.stateAt + 4, layout.stateAt + 12);
  const second = Buffer.from(cell);
  second.writeInt32LE(cell.readInt32LE(0) + 1, 0);
  const c = Buffer.concat([buf.subarray(0, layout.stateAt + 12), second, buf.subarray(layout.stateAt + 12)]);
  c.writeUInt32LE(2, layout.stateAt);
  fs.writeFileSync(two, agreeingSession(c, layout));
  expect(await errorOf(engine.restoreSession('mamba', two))).toEqual({
    code: 'session_mismatch', message: expect.stringMatching(/a count of 2, more than this context has room for \(1\)/),
  });
  expect((await engine.restoreSession('mamba', file)).tokens).toBe(conversation.length);
  const again = await engine.complete('mamba', { prompt: next, maxTokens: 4, ignoreEos: true, sampling: greedy });
  expect(again.tokens).toEqual(cold.tokens);
});
