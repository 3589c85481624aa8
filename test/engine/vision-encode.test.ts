/**
 * A long image encode is watched as a decode is: it stamps progress for the task watchdog and stops
 * when its request is stopped. The real host and addon, with a generated projector of 16 transformer
 * blocks over a 448-pixel image (3,136 image tokens: about a second's encode on this machine's CPU, in
 * some 500 graph nodes), and watchdog bounds shorter than that encode (the HEARTH_TEST_TASK_BOUNDS hook):
 * an encode that stamped nothing would be taken for a stall, and one that ran on after a stop (its own
 * request's, or another's on the same context, which would wait for it) for a host that does not stop;
 * either restarts the host, which these tests see as a new pid. The last test does the same for the
 * decode of an image's embeddings, long on a larger model.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { ChatMessage } from '../../main/engine/protocol';
import { TEST_MODEL_HPARAMS, writeTestModel } from '../../scripts/make-test-model';
import { projectorImageTokens, writeTestProjector, type TestProjectorOptions } from '../../scripts/make-test-projector';
import { hostStats, makeEngine, tempDir } from '../helpers/engine';
import { testPng } from '../helpers/images';
import { TEST_MODELS_DIR, TINY_BPE } from '../helpers/models';

const BOUND_MS = 600;
const M = 'vision';
const greedy = { temperature: 0 };
let engine: EngineClient;
let crashes: string[] = [];
let projector: TestProjectorOptions;

const withImage = (seed: number): ChatMessage[] => [
  { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image', data: testPng(seed).toString('base64') }, { type: 'text', text: 'What is it?' }] },
];

beforeAll(async () => {
  const dir = tempDir();
  projector = {
    out: path.join(dir, 'slow-mmproj.gguf'),
    projectionDim: TEST_MODEL_HPARAMS.tiny.embeddingLength,
    imageSize: 448,
    patchSize: 8,
    embeddingLength: 256,
    hiddenLength: 1024,
    blockCount: 16,
    headCount: 4,
  };
  await writeTestProjector(projector);
  engine = makeEngine({ HEARTH_TEST_TASK_BOUNDS: JSON.stringify({ stallMs: BOUND_MS, stopMs: BOUND_MS }) });
  engine.onCrash = (how) => crashes.push(how);
  // on the CPU (a GPU machine would encode there, in a fraction of the time), two sequences
  await engine.load(M, TINY_BPE, { contextSize: 8192, parallel: 2, gpuLayers: 0, threads: 2, mmproj: projector.out });
}, 60_000);

afterAll(async () => {
  await engine.close();
});

beforeEach(() => {
  crashes = [];
});

test('an encode longer than the stall bound is progress, not a stall: the reply comes from the same host', async () => {
  const pid = engine.pid;
  const started = Date.now();
  const r = await engine.chat(M, { messages: withImage(1), maxTokens: 2, ignoreEos: true, sampling: greedy });
  const tookMs = Date.now() - started;
  expect(r.timings.generatedTokens).toBe(2);
  const text = await engine.applyTemplate(M, { messages: withImage(1) });
  expect(r.timings.promptTokens).toBe(text.tokens);
  expect(r.timings.promptTokens).toBeGreaterThan(projectorImageTokens(projector));
  // the encode alone ran past the bound (else this test shows nothing), and the host went on
  expect(tookMs).toBeGreaterThan(BOUND_MS);
  expect(crashes).toEqual([]);
  expect(engine.pid).toBe(pid);
});

test('a stop while the image is encoded stops the encode: the host is not restarted, and the next turn reads the image again', async () => {
  await engine.clearSequence(M);
  const pid = engine.pid;
  const ac = new AbortController();
  let pieces = 0;
  const p = engine.chat(M, { messages: withImage(2), maxTokens: 2, ignoreEos: true, sampling: greedy }, { signal: ac.signal, onPiece: () => pieces++ });
  // stop once the context's worker has run the request for a fifth of a second: the projector's encode
  // (the text before the image is a handful of tokens, decoded at once)
  for (;;) {
    const s = await hostStats(engine);
    if (s.activities.some((a) => a.kind === 'work' && a.runningMs >= 200)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  ac.abort();
  // a stop ends a reply with what it had: here nothing (the prompt was not read)
  const r = await p;
  expect(r.stopReason).toBe('aborted');
  expect(r.tokens).toEqual([]);
  // the encode stopped: nothing is left running, well within the bound a host has to stop in
  const stopped = Date.now();
  let s = await hostStats(engine);
  while (s.activities.some((a) => a.kind === 'work') && Date.now() - stopped < 3 * BOUND_MS) {
    await new Promise((r) => setTimeout(r, 20));
    s = await hostStats(engine);
  }
  expect(s.activities.filter((a) => a.kind === 'work')).toEqual([]);
  await new Promise((r) => setTimeout(r, BOUND_MS)); // a restart the watchdog decided would show by now
  expect(crashes).toEqual([]);
  expect(engine.pid).toBe(pid);
  expect(pieces).toBe(0);
  // nothing of the stopped image stays cached: the next turn reuses the text before it at most
  const again = await engine.chat(M, { messages: withImage(2), maxTokens: 2, ignoreEos: true, sampling: greedy });
  expect(again.timings.generatedTokens).toBe(2);
  expect(again.timings.cachedTokens).toBeLessThan(again.timings.promptTokens - projectorImageTokens(projector));
  expect(engine.pid).toBe(pid);
});

/**
 * On `model` (sequences 0 and 1 free): a text reply runs on sequence 1; an image's request comes beside
 * it on sequence 0, and once the text has stalled for a fifth of a second (the worker is reading the
 * image) the text is stopped. What the stop took, and the image's reply with the one it has alone.
 */
async function stopBesideImage(e: EngineClient, model: string, seed: number) {
  const messages = withImage(seed);
  await e.clearSequence(model, 0);
  const reference = await e.chat(model, { messages, maxTokens: 4, ignoreEos: true, sampling: greedy, seq: 0 });
  await e.clearSequence(model, 0);
  const ac = new AbortController();
  let textPieces = 0;
  const text = e.chat(model, { messages: [{ role: 'user', content: 'on and on' }], maxTokens: 1000, ignoreEos: true, sampling: greedy, seq: 1 }, { signal: ac.signal, onPiece: () => textPieces++ });
  while (textPieces === 0) await new Promise((r) => setTimeout(r, 10));
  const image = e.chat(model, { messages, maxTokens: 4, ignoreEos: true, sampling: greedy, seq: 0 });
  image.catch(() => undefined); // awaited below; a host restarted meanwhile must fail the test, not end jest
  for (let seen = textPieces, since = Date.now(); ; ) {
    await new Promise((r) => setTimeout(r, 20));
    if (textPieces !== seen) [seen, since] = [textPieces, Date.now()];
    else if (Date.now() - since >= 200) break;
  }
  const stoppedAt = Date.now();
  ac.abort();
  const t = await text;
  const stopMs = Date.now() - stoppedAt;
  const r = await image;
  await new Promise((res) => setTimeout(res, BOUND_MS)); // a restart the watchdog decided would show by now
  return { stopReason: t.stopReason, stopMs, r, reference };
}

test("a stop of another request on the context while an image is encoded ends that request within the bound; the image's request then gets its whole reply", async () => {
  const pid = engine.pid;
  const { stopReason, stopMs, r, reference } = await stopBesideImage(engine, M, 3);
  expect(stopReason).toBe('aborted');
  expect(crashes).toEqual([]);
  expect(engine.pid).toBe(pid);
  expect(stopMs).toBeLessThan(BOUND_MS);
  // the image was encoded again after the stop, whole: the reply is the one it has alone
  expect(r.tokens).toEqual(reference.tokens);
  expect(r.timings.promptTokens).toBe(reference.timings.promptTokens);
});

describe("an image's embeddings decoded into a larger model", () => {
  // the bench-size model (768 wide, 12 layers, ~134M parameters) and a projector with no transformer
  // blocks over a 320-pixel image: a quick encode, and 1,600 image tokens whose decode takes seconds
  // on this CPU, several times the bounds
  let big: EngineClient;
  let bigCrashes: string[] = [];
  beforeAll(async () => {
    const file = path.join(TEST_MODELS_DIR, 'bench.gguf');
    if (!fs.existsSync(file)) await writeTestModel({ out: file, size: 'bench', vocab: 'llama-spm', seed: 1 });
    const mmproj = path.join(tempDir(), 'wide-mmproj.gguf');
    await writeTestProjector({ out: mmproj, projectionDim: TEST_MODEL_HPARAMS.bench.embeddingLength, imageSize: 320, patchSize: 8, embeddingLength: 64, hiddenLength: 256 });
    // the stop bound only (the stall bound stays long: loading this model and creating its context
    // stamp no progress for longer on a busy machine)
    big = makeEngine({ HEARTH_TEST_TASK_BOUNDS: JSON.stringify({ stopMs: BOUND_MS }) });
    big.onCrash = (how) => bigCrashes.push(how);
    await big.load(M, file, { contextSize: 4096, parallel: 2, gpuLayers: 0, threads: 2, mmproj });
  }, 120_000);
  afterAll(async () => {
    await big.close();
  });

  test("a stop of another request while they decode ends that request within the bound (the decode stops; the image is read again), and the image's reply is the one it has alone", async () => {
    bigCrashes = [];
    const pid = big.pid;
    const { stopReason, stopMs, r, reference } = await stopBesideImage(big, M, 4);
    expect(stopReason).toBe('aborted');
    // the decode alone ran past the bound (else this shows nothing): the image's prompt took longer
    expect(reference.timings.promptMs).toBeGreaterThan(2 * BOUND_MS);
    expect(bigCrashes).toEqual([]);
    expect(big.pid).toBe(pid);
    expect(stopMs).toBeLessThan(BOUND_MS);
    expect(r.tokens).toEqual(reference.tokens);
    expect(r.timings.promptTokens).toBe(reference.timings.promptTokens);
    // the sequence holds the prompt and the reply once: nothing of the stopped decode stayed behind
    expect((await big.contextInfo(M)).sequenceTokens[0]).toBe(r.timings.promptTokens + r.tokens.length - 1);
  }, 60_000);
});
