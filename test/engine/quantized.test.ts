/**
 * A quantized model, as people run them (Q8_0), evaluates its prompt and generates on this machine's
 * CPU backend. On a CPU with AMX (Intel Sapphire Rapids and later) ggml's AMX kernels, built by GCC,
 * fault on their first tile load (the tile configuration is compiled away) and the engine host dies
 * with SIGILL; the build leaves them out (CMakeLists.txt HEARTH_NO_AMX). Real addon, real host, a
 * model quantized by the test helper as llama-quantize does.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM, writeQ8_0 } from '../helpers/models';
import { readGgufHeader } from '../../main/gguf/read';

let engine: EngineClient;
let dir: string;
let q8: string;

beforeAll(async () => {
  dir = tempDir('hearth-q8-');
  q8 = await writeQ8_0(TINY_SPM, path.join(dir, 'tiny-spm-q8_0.gguf'));
  engine = makeEngine();
});

afterAll(async () => {
  await engine?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a Q8_0 model's prompt (a matrix product over many tokens) and its generation run on the CPU, without the host stopping", async () => {
  const h = await readGgufHeader(q8);
  expect(h.tensors.filter((t) => t.typeName === 'Q8_0').length).toBeGreaterThan(4); // the matrices are quantized
  let crashes = 0;
  engine.onCrash = () => void crashes++;
  const loaded = await engine.load('q8', q8, { contextSize: 512, threads: 2, gpuLayers: 0, parallel: 2 });
  expect(loaded.metadata.fileTypeName).toBe('Q8_0');
  const prompt = Array(12).fill('the quick brown fox').join(' ');
  const r = await engine.complete('q8', { prompt, maxTokens: 8, ignoreEos: true, sampling: { temperature: 0 } });
  expect(r.timings.promptTokens).toBeGreaterThanOrEqual(32);
  expect(r.timings.generatedTokens).toBe(8);
  // on another sequence, the whole prompt evaluated again: the same greedy reply (computed, not noise)
  const again = await engine.complete('q8', { prompt, maxTokens: 8, ignoreEos: true, sampling: { temperature: 0 }, seq: 1 });
  expect(again.timings.promptTokens).toBe(r.timings.promptTokens);
  expect(again.tokens).toEqual(r.tokens);
  expect(crashes).toBe(0);
  engine.onCrash = undefined;
});
