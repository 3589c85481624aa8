/**
 * Test adapters for the test models (scripts/make-test-model.ts): a LoRA adapter GGUF as llama.cpp's
 * convert_lora_to_gguf.py writes one (general.type = adapter, adapter.type = lora,
 * adapter.lora.alpha, a `<tensor>.lora_a` [n_in, rank] and `<tensor>.lora_b` [rank, n_out] pair per
 * adapted matrix), and a control vector GGUF as llama.cpp's cvector-generator writes one (architecture
 * `controlvector`, an F32 `direction.<layer>` of the model's width per layer from 1). Seeded: the same
 * options give the same file. Its weights are noise, large enough to change the tiny model's output.
 */
import * as fs from 'fs';
import * as path from 'path';
import { GgufWriter } from '../main/gguf/write';
import { splitmix32, TEST_MODEL_HPARAMS, testModelTensors, type TestModelSize } from './make-test-model';

export interface TestLoraOptions {
  out: string;
  /** the test model's size it is for (default tiny) */
  size?: TestModelSize;
  /** another width than the size's: an adapter for another model (llama.cpp refuses it) */
  embeddingLength?: number;
  rank?: number;
  alpha?: number;
  /** the matrices adapted (names without blk.N.), default attention output and FFN down */
  targets?: readonly string[];
  /** the spread of the random A and B values */
  std?: number;
  seed?: number;
  /** an activated LoRA's (aLoRA) invocation tokens */
  aloraInvocationTokens?: number[];
  /** another FFN width than the size's: pairs of the model's width, but of the wrong shape for its FFN (llama.cpp refuses them) */
  feedForwardLength?: number;
  /** more tensors as given (zeros): a crafted file */
  rawTensors?: readonly { name: string; shape: number[] }[];
  /** that many more tensors (tiny, lora_a and lora_b in turn, for tensors no model has; an odd count leaves the last one unpaired): a file crowded past what the model could take */
  extraTensors?: number;
}

/** Seeded values uniform in [-std·√3, std·√3] (standard deviation `std`). */
function noise(n: number, std: number, seed: number): Float32Array {
  const next = splitmix32(seed);
  const out = new Float32Array(n);
  const a = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) out[i] = (next() / 0xffffffff) * 2 * a - a;
  return out;
}

/** Writes a LoRA adapter for the test model of `size`; returns its path. */
export async function writeTestLora(o: TestLoraOptions): Promise<string> {
  const hp = { ...TEST_MODEL_HPARAMS[o.size ?? 'tiny'] };
  if (o.embeddingLength !== undefined) hp.embeddingLength = o.embeddingLength;
  if (o.feedForwardLength !== undefined) hp.feedForwardLength = o.feedForwardLength;
  const rank = o.rank ?? 4;
  const std = o.std ?? 0.5;
  const seed = o.seed ?? 7;
  const targets = new Set(o.targets ?? ['attn_output', 'ffn_down']);
  const w = new GgufWriter();
  w.setString('general.architecture', 'llama');
  w.setString('general.type', 'adapter');
  w.setString('general.name', `hearth-test-lora-${hp.embeddingLength}`);
  w.setString('adapter.type', 'lora');
  w.setFloat32('adapter.lora.alpha', o.alpha ?? rank);
  if (o.aloraInvocationTokens) w.set('adapter.alora.invocation_tokens', { type: 'array', itemType: 'uint32', value: o.aloraInvocationTokens });
  let k = 0;
  // the vocabulary does not matter: token_embd is never adapted here
  for (const t of testModelTensors(hp, 1)) {
    const m = /^blk\.\d+\.(\w+)\.weight$/.exec(t.name);
    if (!m || !targets.has(m[1]) || t.shape.length !== 2) continue;
    const [nIn, nOut] = t.shape;
    w.addTensor({ name: `${t.name}.lora_a`, shape: [nIn, rank], type: 'F32', data: noise(nIn * rank, std, seed + k++) });
    w.addTensor({ name: `${t.name}.lora_b`, shape: [rank, nOut], type: 'F32', data: noise(rank * nOut, std, seed + k++) });
  }
  for (const t of o.rawTensors ?? []) w.addTensor({ name: t.name, shape: t.shape, type: 'F32', data: new Float32Array(t.shape.reduce((n, d) => n * d, 1)) });
  for (let i = 0; i < (o.extraTensors ?? 0); i++) w.addTensor({ name: `blk.0.extra${i >> 1}.weight.lora_${i % 2 ? 'b' : 'a'}`, shape: [1, 1], type: 'F32', data: new Float32Array(1) });
  await fs.promises.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  await w.write(o.out);
  return path.resolve(o.out);
}

export interface TestControlVectorOptions {
  out: string;
  size?: TestModelSize;
  embeddingLength?: number;
  std?: number;
  seed?: number;
  /** the layers given a direction (default: each from 1) */
  layers?: number[];
  /** every value this instead of noise (NaN: a broken file) */
  fill?: number;
}

/** Writes a control vector for the test model of `size` (a direction for each layer from 1); returns its path. */
export async function writeTestControlVector(o: TestControlVectorOptions): Promise<string> {
  const hp = TEST_MODEL_HPARAMS[o.size ?? 'tiny'];
  const nEmbd = o.embeddingLength ?? hp.embeddingLength;
  const w = new GgufWriter();
  w.setString('general.architecture', 'controlvector');
  w.setString('controlvector.model_hint', 'llama');
  w.setInt32('controlvector.layer_count', hp.blockCount - 1);
  for (const il of o.layers ?? Array.from({ length: hp.blockCount - 1 }, (_, i) => i + 1)) {
    const data = o.fill === undefined ? noise(nEmbd, o.std ?? 1, (o.seed ?? 11) + il) : new Float32Array(nEmbd).fill(o.fill);
    w.addTensor({ name: `direction.${il}`, shape: [nEmbd], type: 'F32', data });
  }
  await fs.promises.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  await w.write(o.out);
  return path.resolve(o.out);
}
