/**
 * A recurrent model's memory (Mamba: one state cell per sequence, not a cache of positions) through the
 * real engine on a generated tiny Mamba (writeTinyMamba): a follow-up reuses its state, a prompt that
 * leaves it behind partway is read again whole, and a saved state restores (llama.cpp saves the one
 * cell) and answers as a state never saved does — the same tokens and log-probabilities, which a state
 * lacking the conversation moves. A crafted cell count in a saved state is refused before llama.cpp
 * sizes anything by it or asserts on it; so is one in a hybrid's recurrent part (a generated tiny Jamba:
 * a KV cache for its attention layer, a recurrent state for its Mamba layer).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { CompletionRequest, TokenLogprobs } from '../../main/engine/protocol';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { writeTinyJamba, writeTinyMamba } from '../helpers/models';
import { agreeingSession, sessionLayout } from '../helpers/sessions';

jest.setTimeout(120_000);

let engine: EngineClient;
let dir: string;
const M = 'mamba';

const HYBRID = 'jamba';

beforeAll(async () => {
  dir = tempDir();
  engine = makeEngine();
  await engine.load(M, await writeTinyMamba(path.join(dir, 'tiny-mamba.gguf')), { contextSize: 512, threads: 2 });
  await engine.load(HYBRID, await writeTinyJamba(path.join(dir, 'tiny-jamba.gguf')), { contextSize: 512, threads: 2 });
});

afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `n` ordinary tokens of the llama-spm vocab, none repeated. */
const tokens = (n: number, start = 0) => Array.from({ length: n }, (_, i) => 1000 + ((start + i) * 7919) % 28000);

type Reply = { tokens: number[]; cached: number; logprobs: number[] };
/** A greedy reply of 4 tokens, with the 5 likeliest tokens' log-probabilities at each. */
async function reply(prompt: number[], opts: { fresh?: boolean; model?: string } = {}): Promise<Reply> {
  const model = opts.model ?? M;
  if (opts.fresh) await engine.clearSequence(model);
  const probs: TokenLogprobs[] = [];
  const req: CompletionRequest = { prompt, maxTokens: 4, ignoreEos: true, sampling: { temperature: 0, nProbs: 5 } };
  const r = await engine.complete(model, req, { onPiece: (_t, p) => probs.push(...(p ?? [])) });
  return { tokens: r.tokens, cached: r.timings.cachedTokens, logprobs: probs.flatMap((t) => t.top.map((x) => x.logprob)) };
}
/** how far apart two replies' log-probabilities are */
const distance = (a: Reply, b: Reply) => Math.max(...a.logprobs.map((x, i) => Math.abs(x - b.logprobs[i])));
function expectSame(a: Reply, b: Reply): void {
  expect(a.tokens).toEqual(b.tokens);
  expect(a.logprobs).toHaveLength(20);
  expect(b.logprobs).toHaveLength(20);
  expect(distance(a, b)).toBeLessThan(1e-3);
}

test('a saved state of a recurrent model restores, and the follow-up reuses it and answers as one never saved', async () => {
  const prompt = tokens(40);
  const first = await reply(prompt, { fresh: true });
  const conversation = [...prompt, ...first.tokens.slice(0, 3)]; // the last token sampled is not decoded yet
  const next = [...conversation, first.tokens[3], 5];
  const file = path.join(dir, 'mamba.kv');
  expect((await engine.saveSession(M, file)).tokens).toBe(conversation.length);
  await engine.clearSequence(M);
  expect((await engine.restoreSession(M, file)).tokens).toBe(conversation.length);
  const follow = await reply(next);
  expect(follow.cached).toBe(conversation.length);
  const cold = await reply(next, { fresh: true });
  expect(cold.cached).toBe(0);
  expectSame(follow, cold);
  // the state matters: the last two tokens alone, without the conversation before them, answer otherwise
  expect(distance(await reply(next.slice(-2), { fresh: true }), cold)).toBeGreaterThan(1e-2);

  // the state's first field is its cell count (one cell for a sequence): made fifty million, the file's
  // own length and checksum agreeing, it is refused by Hearth's reader
  const buf = fs.readFileSync(file);
  const layout = sessionLayout(buf);
  expect(buf.readUInt32LE(layout.stateAt)).toBe(1);
  const crafted = path.join(dir, 'crafted.kv');
  const b = Buffer.from(buf);
  b.writeUInt32LE(50_000_000, layout.stateAt);
  fs.writeFileSync(crafted, agreeingSession(b, layout));
  expect(await errorOf(engine.restoreSession(M, crafted))).toEqual({
    code: 'session_mismatch', message: expect.stringMatching(/Hearth refused the saved state: its recurrent state holds 50000000 cells for one sequence, which has one/),
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
  expect(await errorOf(engine.restoreSession(M, two))).toEqual({
    code: 'session_mismatch', message: expect.stringMatching(/Hearth refused the saved state: its recurrent state holds 2 cells for one sequence, which has one/),
  });
  // and the file saved still restores, answering as before
  expect((await engine.restoreSession(M, file)).tokens).toBe(conversation.length);
  expectSame(await reply(next), cold);
});

test('a prompt that leaves the state behind partway is read again whole (a recurrent state cannot drop a tail), and answers as a fresh read does', async () => {
  const prompt = tokens(40, 300);
  const first = await reply(prompt, { fresh: true });
  // the same prompt continued: the state is reused
  const continued = [...prompt, ...first.tokens, 9];
  const reused = await reply(continued);
  expect(reused.cached).toBe(prompt.length + first.tokens.length - 1);
  // an edit partway: nothing of the state is usable
  const edited = [...prompt.slice(0, 20), 7, ...prompt.slice(21)];
  const again = await reply(edited);
  expect(again.cached).toBe(0);
  expectSame(again, await reply(edited, { fresh: true }));
  expectSame(reused, await reply(continued, { fresh: true }));
});

test("a hybrid model's saved state (a KV cache and a recurrent state) restores and answers as one never saved; two cells in its recurrent part are refused", async () => {
  const on = { model: HYBRID };
  const prompt = tokens(40, 600);
  const first = await reply(prompt, { ...on, fresh: true });
  const conversation = [...prompt, ...first.tokens.slice(0, 3)];
  const next = [...conversation, first.tokens[3], 5];
  const file = path.join(dir, 'jamba.kv');
  expect((await engine.saveSession(HYBRID, file)).tokens).toBe(conversation.length);
  await engine.clearSequence(HYBRID);
  expect((await engine.restoreSession(HYBRID, file)).tokens).toBe(conversation.length);
  const follow = await reply(next, on);
  expect(follow.cached).toBe(conversation.length);
  const cold = await reply(next, { ...on, fresh: true });
  expectSame(follow, cold);
  expect(distance(await reply(next.slice(-2), { ...on, fresh: true }), cold)).toBeGreaterThan(1e-2);

  // the recurrent part follows the KV cache's: its cell count (1), the cell's position (the last token's)
  // and seq_id count (0), then its transposition flag (0) and the model's layers (2)
  const buf = fs.readFileSync(file);
  const layout = sessionLayout(buf);
  const head = Buffer.alloc(20);
  [1, conversation.length - 1, 0, 0, 2].forEach((v, i) => head.writeUInt32LE(v, 4 * i));
  const at = buf.indexOf(head, layout.stateAt + 8);
  expect(at).toBeGreaterThan(layout.stateAt);
  expect(buf.indexOf(head, at + 1)).toBe(-1);
  const second = Buffer.from(buf.subarray(at + 4, at + 12));
  second.writeInt32LE(conversation.length, 0);
  const c = Buffer.concat([buf.subarray(0, at + 12), second, buf.subarray(at + 12)]);
  c.writeUInt32LE(2, at);
  const two = path.join(dir, 'jamba-two.kv');
  fs.writeFileSync(two, agreeingSession(c, layout));
  expect(await errorOf(engine.restoreSession(HYBRID, two))).toEqual({
    code: 'session_mismatch', message: expect.stringMatching(/Hearth refused the saved state: its recurrent state holds 2 cells for one sequence, which has one/),
  });
  expect((await engine.restoreSession(HYBRID, file)).tokens).toBe(conversation.length);
  expectSame(await reply(next, on), cold);
});
