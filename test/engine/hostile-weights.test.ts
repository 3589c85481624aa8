/**
 * Files whose weights llama.cpp cannot compute with, and weights that make a model's output no number.
 *
 * - A tensor of a type ggml cannot convert to F32 (I16, I32, ...): llama.cpp loads such a model, draft,
 *   projector or LoRA adapter, and the first decode (or image) calls a null CPU kernel, ending the
 *   engine host; the client then reloads it and the next message ends it again. Now refused before
 *   llama.cpp computes anything (native/src/weight_types.cpp), by the load, the estimate and the fit alike.
 * - A LoRA alpha or a control vector that is NaN: the replies were NaN logits read as tokens (token 0 at
 *   temperature 0), an ordinary-looking reply. Now the alpha is refused at load, and a generation whose
 *   logits are not numbers fails with decode_failed (sampler.cpp finiteLogits), greedy or sampled.
 *
 * Real host, real addon; the crafted files are the test models rewritten (test/helpers/models.ts writeRetyped).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { writeTestControlVector, writeTestLora } from '../../scripts/make-test-adapter';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_PROJECTOR, TINY_SPM, writeExtraTensor, writeRetyped } from '../helpers/models';

let engine: EngineClient;
let dir: string;
let crashes = 0;
const BASE = { contextSize: 256, threads: 2 } as const;

beforeAll(() => {
  dir = tempDir('hearth-hostile-weights-');
  engine = makeEngine();
  engine.onCrash = () => {
    crashes++;
  };
});

afterAll(async () => {
  await engine?.close();
});

const greedy = { prompt: 'Once upon a time', maxTokens: 4, ignoreEos: true, sampling: { temperature: 0 } };
const sampled = { ...greedy, sampling: { temperature: 0.8, seed: 3 } };

describe('a weight of a type llama.cpp cannot compute with', () => {
  test('a model, its draft and its projector are refused by the load, the estimate and the fit, naming the tensor', async () => {
    const model = await writeRetyped(TINY_SPM, path.join(dir, 'i16-weight.gguf'), { 'blk.0.attn_output.weight': 'I16' });
    for (const e of [await errorOf(engine.load('bad', model, BASE)), await errorOf(engine.estimate(model, BASE)), await errorOf(engine.fit(model, BASE))]) {
      expect(e.code).toBe('load_failed');
      expect(e.message).toContain(`the model ${model} cannot be run: its tensor blk.0.attn_output.weight is of type i16, which llama.cpp cannot compute with`);
    }
    // the same file as a draft for a sound model
    const asDraft = { ...BASE, draftModel: model };
    for (const e of [await errorOf(engine.load('bad-draft', TINY_SPM, asDraft)), await errorOf(engine.estimate(TINY_SPM, asDraft)), await errorOf(engine.fit(TINY_SPM, asDraft))]) {
      expect(e.code).toBe('load_failed');
      expect(e.message).toContain(`the draft model ${model}`);
      expect(e.message).toContain('blk.0.attn_output.weight is of type i16');
    }
    const projector = await writeRetyped(TINY_PROJECTOR, path.join(dir, 'i32-mmproj.gguf'), { 'mm.0.weight': 'I32' });
    const withProjector = { ...BASE, mmproj: projector };
    for (const e of [await errorOf(engine.load('bad-proj', TINY_BPE, withProjector)), await errorOf(engine.estimate(TINY_BPE, withProjector))]) {
      expect(e.code).toBe('load_failed');
      expect(e.message).toContain(`the projector ${projector}`);
      expect(e.message).toContain('its tensor mm.0.weight is of type i32');
    }
    // a vector (a norm) of another type than F32: the CPU adds and multiplies vectors as F32 only (it aborted at the first decode)
    const norm = await writeRetyped(TINY_SPM, path.join(dir, 'f16-norm.gguf'), { 'blk.0.attn_norm.weight': 'F16' });
    for (const e of [await errorOf(engine.load('bad-norm', norm, BASE)), await errorOf(engine.estimate(norm, BASE))]) {
      expect(e.code).toBe('load_failed');
      expect(e.message).toContain('its tensor blk.0.attn_norm.weight is of type f16, which llama.cpp cannot compute with (a norm or bias takes f32)');
    }
    // the sound files load and answer
    await engine.load('ok', TINY_SPM, { ...BASE, draftModel: TINY_SPM });
    expect((await engine.complete('ok', greedy)).tokens).toHaveLength(4);
    await engine.unload('ok');
    expect(crashes).toBe(0);
  });

  test("a file rewritten in place is checked again (the check keeps a header's verdict only while the file is the same)", async () => {
    const file = path.join(dir, 'rewritten.gguf');
    fs.copyFileSync(TINY_SPM, file);
    await engine.estimate(file, BASE);
    // the same name, now with weights llama.cpp cannot compute with, written in place (the same inode)
    const bad = await writeRetyped(TINY_SPM, path.join(dir, 'rewritten-bad.gguf'), { 'blk.0.attn_output.weight': 'I16' });
    fs.writeFileSync(file, fs.readFileSync(bad));
    const e = await errorOf(engine.estimate(file, BASE));
    expect(e.message).toContain('blk.0.attn_output.weight is of type i16');
    // and mended: accepted again
    fs.copyFileSync(TINY_SPM, file);
    await engine.estimate(file, BASE);
    await engine.load('mended', file, BASE);
    expect((await engine.complete('mended', greedy)).tokens).toHaveLength(4);
    await engine.unload('mended');
  });

  test("an index table llama.cpp reads as integers (DeepSeek V4's ffn_gate_tid2eid) passes the check in its type, and no other; a one-row matrix is no norm", async () => {
    // the tiny model with such a table beside its weights: the check lets it through, and llama.cpp's own load refuses the extra tensor
    const table = (type: 'I32' | 'F32', file: string) => writeExtraTensor(TINY_SPM, path.join(dir, file), { name: 'blk.0.ffn_gate_tid2eid.weight', shape: [2, 32000], type, data: new Uint8Array(2 * 32000 * 4) });
    const ok = await errorOf(engine.load('tid2eid', await table('I32', 'tid2eid-i32.gguf'), BASE));
    expect(ok.code).toBe('load_failed');
    expect(ok.message).not.toContain('cannot compute with');
    expect(ok.message).toMatch(/wrong number of tensors|unused|tensor/);
    const wrong = await errorOf(engine.load('tid2eid-f32', await table('F32', 'tid2eid-f32.gguf'), BASE));
    expect(wrong.message).toContain('its tensor blk.0.ffn_gate_tid2eid.weight is of type f32, but llama.cpp computes with it only as i32');
    // a state-space layer's D (Mamba: multiplied into the activations as F32 only; its name has no ".weight"), the same way
    const ssmD = (type: 'F16' | 'F32', file: string) => writeExtraTensor(TINY_SPM, path.join(dir, file), { name: 'blk.0.ssm_d', shape: [64], type, data: new Uint8Array(64 * (type === 'F16' ? 2 : 4)) });
    expect((await errorOf(engine.load('ssm-d', await ssmD('F32', 'ssm-d-f32.gguf'), BASE))).message).not.toContain('llama.cpp computes with it only');
    expect((await errorOf(engine.load('ssm-d16', await ssmD('F16', 'ssm-d-f16.gguf'), BASE))).message).toContain('its tensor blk.0.ssm_d is of type f16, but llama.cpp computes with it only as f32');
    // a reranker's one-label classifier, [64, 1] in F16 as llama.cpp's converter writes it: a matrix, not a norm (the check passes it)
    const cls = await writeExtraTensor(TINY_SPM, path.join(dir, 'cls-f16.gguf'), { name: 'cls.output.weight', shape: [64, 1], type: 'F16', data: new Uint8Array(64 * 2) });
    expect((await errorOf(engine.load('cls', cls, BASE))).message).not.toContain('cannot compute with');
    expect(crashes).toBe(0);
  });

  test('a LoRA adapter with an integer half of a pair, or a NaN alpha, is refused at load', async () => {
    const lora = await writeTestLora({ out: path.join(dir, 'lora.gguf') });
    const intLora = await writeRetyped(lora, path.join(dir, 'i32-lora.gguf'), { 'blk.0.attn_output.weight.lora_a': 'I32' });
    const e = await errorOf(engine.load('int-lora', TINY_SPM, { ...BASE, loraAdapters: [{ path: intLora, scale: 1 }] }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toContain('its pair for blk.0.attn_output.weight is of type i32, which llama.cpp cannot compute with');
    const nanAlpha = await writeTestLora({ out: path.join(dir, 'nan-alpha-lora.gguf'), alpha: NaN });
    const n = await errorOf(engine.load('nan-lora', TINY_SPM, { ...BASE, loraAdapters: [{ path: nanAlpha, scale: 1 }] }));
    expect(n.code).toBe('invalid_argument');
    expect(n.message).toContain('its adapter.lora.alpha is not a finite number');
    // the sound adapter loads and answers
    await engine.load('lora', TINY_SPM, { ...BASE, loraAdapters: [{ path: lora, scale: 1 }] });
    expect((await engine.complete('lora', greedy)).tokens).toHaveLength(4);
    await engine.unload('lora');
    expect(crashes).toBe(0);
  });
});

describe('a model whose output is no number', () => {
  test('a NaN control vector: greedy and sampled replies fail with decode_failed, and the host goes on', async () => {
    const cvec = await writeTestControlVector({ out: path.join(dir, 'nan-cvec.gguf'), fill: NaN });
    await engine.load('nan', TINY_SPM, { ...BASE, controlVectors: [{ path: cvec, scale: 1 }] });
    for (const request of [greedy, sampled]) {
      const e = await errorOf(engine.complete('nan', request));
      expect(e.code).toBe('decode_failed');
      expect(e.message).toMatch(/output is not a number \(NaN or infinite logits\)/);
    }
    // the same host answers with the model loaded without it
    await engine.unload('nan');
    await engine.load('plain', TINY_SPM, BASE);
    expect((await engine.complete('plain', greedy)).tokens).toHaveLength(4);
    expect((await engine.complete('plain', sampled)).tokens).toHaveLength(4);
    await engine.unload('plain');
    expect(crashes).toBe(0);
  });
});
