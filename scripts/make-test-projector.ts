/**
 * Writes a tiny CLIP projector GGUF (an "mmproj", as llama.cpp's convert_hf_to_gguf.py writes for
 * LLaVA) with random weights, that llama.cpp's mtmd loads for a test model: projector type `mlp`, by
 * default no transformer blocks (clip.vision.block_count 0: the patch embeddings go straight to the
 * projector; `blockCount` adds a ViT's, of which LLaVA runs all but the last), a small square image cut
 * into patches. Each patch becomes one image token of the text model's
 * embedding width (`projectionDim`), so an image is (imageSize / patchSize)^2 tokens.
 *
 *   scripts/make-test-model's sibling: used by test/global-setup.ts (test/helpers/models.ts TEST_PROJECTORS)
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { gguf } from '../main/gguf/types';
import { GgufWriter } from '../main/gguf/write';
import { splitmix32 } from './make-test-model';

export const testProjectorOptionsSchema = z.object({
  out: z.string().min(1),
  /** the text model's embedding length (llama.embedding_length): mtmd refuses a projector that differs */
  projectionDim: z.number().int().min(1),
  imageSize: z.number().int().min(1).default(32),
  patchSize: z.number().int().min(1).default(8),
  /** the vision encoder's width */
  embeddingLength: z.number().int().min(1).default(32),
  /** the projector's hidden width (mm.0 -> gelu -> mm.2), and each transformer block's feed-forward width */
  hiddenLength: z.number().int().min(1).default(64),
  /** the vision encoder's transformer blocks (an encode then takes a graph of many nodes, as a real one) */
  blockCount: z.number().int().min(0).default(0),
  headCount: z.number().int().min(1).default(1),
  seed: z.number().int().default(1),
  name: z.string().optional(),
  /** as llama.cpp's older converter (convert_image_encoder_to_gguf.py) writes it: no general.type */
  legacy: z.boolean().default(false),
});
export type TestProjectorOptions = z.input<typeof testProjectorOptionsSchema>;

/** The image tokens one image becomes with these options. */
export function projectorImageTokens(o: TestProjectorOptions): number {
  const p = testProjectorOptionsSchema.parse(o);
  return (p.imageSize / p.patchSize) ** 2;
}

/** Uniform noise in [-scale, scale], deterministic per seed. */
function noise(n: number, scale: number, seed: number): Float32Array {
  const next = splitmix32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((next() / 0xffffffff) * 2 - 1) * scale;
  return out;
}

export async function writeTestProjector(options: TestProjectorOptions): Promise<{ path: string; bytes: number }> {
  const o = testProjectorOptionsSchema.parse(options);
  if (o.imageSize % o.patchSize !== 0) throw new Error('imageSize must be a multiple of patchSize');
  const nPatches = (o.imageSize / o.patchSize) ** 2;
  const w = new GgufWriter();
  w.setString('general.architecture', 'clip');
  if (!o.legacy) w.setString('general.type', 'mmproj');
  w.setString('general.name', o.name ?? `hearth-test-projector-${o.projectionDim}`);
  w.setUint32('general.file_type', 0); // all F32
  w.setString('clip.projector_type', 'mlp');
  w.setBool('clip.has_vision_encoder', true);
  w.setBool('clip.has_audio_encoder', false);
  w.setBool('clip.use_gelu', true);
  w.setUint32('clip.vision.image_size', o.imageSize);
  w.setUint32('clip.vision.patch_size', o.patchSize);
  w.setUint32('clip.vision.embedding_length', o.embeddingLength);
  w.setUint32('clip.vision.feed_forward_length', o.hiddenLength);
  w.setUint32('clip.vision.projection_dim', o.projectionDim);
  w.setUint32('clip.vision.attention.head_count', o.headCount);
  w.setFloat32('clip.vision.attention.layer_norm_epsilon', 1e-5);
  w.setUint32('clip.vision.block_count', o.blockCount);
  w.set('clip.vision.image_mean', gguf.arr('float32', [0.5, 0.5, 0.5]));
  w.set('clip.vision.image_std', gguf.arr('float32', [0.5, 0.5, 0.5]));
  const tensor = (name: string, shape: number[], scale: number, seed: number): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    w.addTensor({ name, shape, type: 'F32', data: noise(n, scale, o.seed * 1000 + seed) });
  };
  // ggml order, fastest first: the patch convolution's kernel is [kw, kh, channels in, channels out]
  tensor('v.patch_embd.weight', [o.patchSize, o.patchSize, 3, o.embeddingLength], 0.05, 1);
  tensor('v.patch_embd.bias', [o.embeddingLength], 0.01, 2);
  tensor('v.position_embd.weight', [o.embeddingLength, nPatches], 0.02, 3);
  for (let b = 0; b < o.blockCount; b++) {
    const seed = 100 + b * 20;
    const e = o.embeddingLength;
    for (const [i, ln] of ['ln1', 'ln2'].entries()) {
      w.addTensor({ name: `v.blk.${b}.${ln}.weight`, shape: [e], type: 'F32', data: new Float32Array(e).fill(1) });
      tensor(`v.blk.${b}.${ln}.bias`, [e], 0.01, seed + i);
    }
    for (const [i, attn] of ['attn_q', 'attn_k', 'attn_v', 'attn_out'].entries()) {
      tensor(`v.blk.${b}.${attn}.weight`, [e, e], 1 / Math.sqrt(e), seed + 2 + 2 * i);
      tensor(`v.blk.${b}.${attn}.bias`, [e], 0.01, seed + 3 + 2 * i);
    }
    tensor(`v.blk.${b}.ffn_up.weight`, [e, o.hiddenLength], 1 / Math.sqrt(e), seed + 10);
    tensor(`v.blk.${b}.ffn_up.bias`, [o.hiddenLength], 0.01, seed + 11);
    tensor(`v.blk.${b}.ffn_down.weight`, [o.hiddenLength, e], 1 / Math.sqrt(o.hiddenLength), seed + 12);
    tensor(`v.blk.${b}.ffn_down.bias`, [e], 0.01, seed + 13);
  }
  tensor('mm.0.weight', [o.embeddingLength, o.hiddenLength], 0.1, 4);
  tensor('mm.0.bias', [o.hiddenLength], 0.01, 5);
  tensor('mm.2.weight', [o.hiddenLength, o.projectionDim], 0.1, 6);
  tensor('mm.2.bias', [o.projectionDim], 0.01, 7);
  await fs.promises.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  const written = await w.write(o.out);
  return { path: path.resolve(o.out), bytes: written.bytes };
}
