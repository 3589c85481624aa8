/**
 * A long image encode is watched as a decode is: it stamps progress for the task watchdog and stops
 * when its request is stopped. The real host and addon, with a generated projector of 16 transformer
 * blocks over a 448-pixel image (3,136 image tokens: about a second's encode on this machine's CPU, in
 * some 500 graph nodes), and watchdog bounds shorter than that encode (the HEARTH_TEST_TASK_BOUNDS hook):
 * an encode that stamped nothing would be taken for a stall, and one that ran on after a stop (its own
 * request's, or another's on the same context, which would wait for it) for a host that does not stop;
 * either restarts the host, which these tests see as a new pid.
 */
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { ChatMessage } from '../../main/engine/protocol';
import { TEST_MODEL_HPARAMS } from '../../scripts/make-test-model';
import { projectorImageTokens, writeTestProjector, type TestProjectorOptions } from '../../scripts/make-test-projector';
import { hostStats, makeEngine, tempDir } from '../helpers/engine';
import { testPng } from '../helpers/images';
import { TINY_BPE } from '../helpers/models';

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

test("a stop of another request on the context while an image is encoded ends that request within the bound; the image's request then gets its whole reply", async () => {
  await engine.clearSequence(M, 0);
  const reference = await engine.chat(M, { messages: withImage(3), maxTokens: 4, ignoreEos: true, sampling: greedy, seq: 0 });
  await engine.clearSequence(M, 0);
  const pid = engine.pid;
  // sequence 1 generates text; then the image's request comes beside it on sequence 0
  const ac = new AbortController();
  let textPieces = 0;
  const text = engine.chat(M, { messages: [{ role: 'user', content: 'on and on' }], maxTokens: 4000, ignoreEos: true, sampling: greedy, seq: 1 }, { signal: ac.signal, onPiece: () => textPieces++ });
  while (textPieces === 0) await new Promise((r) => setTimeout(r, 10));
  const image = engine.chat(M, { messages: withImage(3), maxTokens: 4, ignoreEos: true, sampling: greedy, seq: 0 });
  image.catch(() => undefined); // awaited below; a host restarted meanwhile must fail the test, not end jest
  // once the text has stalled for a fifth of a second (the worker is encoding), stop the text
  for (let seen = textPieces, since = Date.now(); ; ) {
    await new Promise((r) => setTimeout(r, 20));
    if (textPieces !== seen) [seen, since] = [textPieces, Date.now()];
    else if (Date.now() - since >= 200) break;
  }
  const stoppedAt = Date.now();
  ac.abort();
  const t = await text;
  expect(t.stopReason).toBe('aborted');
  const stopMs = Date.now() - stoppedAt;
  const r = await image;
  await new Promise((res) => setTimeout(res, BOUND_MS)); // a restart the watchdog decided would show by now
  expect(crashes).toEqual([]);
  expect(engine.pid).toBe(pid);
  expect(stopMs).toBeLessThan(BOUND_MS);
  // the image was encoded again after the stop, whole: the reply is the one it has alone
  expect(r.tokens).toEqual(reference.tokens);
  expect(r.timings.promptTokens).toBe(reference.timings.promptTokens);
});
