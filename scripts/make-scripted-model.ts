/**
 * Writes a model that writes a script: its next token is a fixed function of its last one, so a test or
 * a bench sees what a real model writes (reasoning, then a call in its template's own format; a text
 * that repeats) where a random-weight model writes noise. How: every layer's output projections
 * (attn_output, ffn_down) are zero, so the last position's state is its token's embedding alone; each
 * token of the script but the last gets an embedding of its own (one dimension set), and an output
 * matrix (output.weight, written over the model's own or its tied embedding) maps that dimension to the
 * script's next token. Greedy or not, the model then writes the script from any prompt that ends with
 * its first token; a script whose last token is its first goes round and round. The script's tokens
 * (all but the last) must differ from each other: each one names its successor.
 *
 *   scripts/make-test-model's sibling: used by test/helpers/scripted-model.ts and bench/speculative.ts
 */
import { readGgufHeader, readGgufTensorBytes } from '../main/gguf/read';
import { f32ToF16, GgufWriter } from '../main/gguf/write';

/** The logit a script token's successor gets (every other token's is 0). */
const NEXT_LOGIT_WEIGHT = 10;

/** Writes `from` (an F16 token embedding) again as `to`, writing `script` (token ids) from its first token on. */
export async function writeScriptedModel(from: string, to: string, script: readonly number[]): Promise<void> {
  const h = await readGgufHeader(from);
  // a dense llama whose layers' only ways into the residual stream are the two projections zeroed here
  // (a bias, an expert's or a shared expert's projection, Gemma's scaled embeddings would go on writing)
  const arch = h.metadata.get('general.architecture')?.value;
  if (arch !== 'llama') throw new Error(`${from} is a ${String(arch)} model; a llama-architecture one is needed`);
  const other = h.tensors.find((t) => /bias$|_exps?\.|_shexp\./.test(t.name));
  if (other) throw new Error(`${from} has ${other.name}, which would write into the residual stream: a dense model without biases is needed`);
  const embd = h.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd || embd.typeName !== 'F16') throw new Error(`${from}: an F16 token_embd.weight is needed`);
  const [width, vocab] = embd.dims;
  const keys = script.slice(0, -1);
  if (script.length < 2) throw new Error('a script has at least two tokens');
  if (new Set(keys).size !== keys.length) throw new Error('a script token other than the last appears twice: the model could not tell what follows it');
  if (keys.length > width) throw new Error(`a script of ${script.length} tokens needs an embedding at least ${keys.length} wide (${width})`);
  if (script.some((t) => !Number.isInteger(t) || t < 0 || t >= vocab)) throw new Error('a script token is not in the vocabulary');

  const bytes = await readGgufTensorBytes(h, embd.name);
  const embedding = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const output = new Uint16Array(width * vocab);
  const one = f32ToF16(1);
  const next = f32ToF16(NEXT_LOGIT_WEIGHT);
  keys.forEach((token, dim) => {
    embedding.fill(0, token * width, (token + 1) * width);
    embedding[token * width + dim] = one;
    output[script[dim + 1] * width + dim] = next;
  });

  const w = new GgufWriter();
  for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, v);
  // the model's own output matrix, if it has one, is replaced
  for (const t of h.tensors.filter((x) => x.name !== 'output.weight')) {
    const spec = { name: t.name, shape: t.dims };
    if (t.name === embd.name) w.addTensor({ ...spec, type: 'F16', data: new Uint8Array(embedding.buffer) });
    else if (t.name === 'output_norm.weight') w.addTensor({ ...spec, type: 'F32', data: new Float32Array(t.dims[0]).fill(1) });
    else if (/^blk\.\d+\.(attn_output|ffn_down)\.weight$/.test(t.name)) {
      if (t.typeName !== 'F16' && t.typeName !== 'F32') throw new Error(`${from}: ${t.name} is ${t.typeName}; an F16 or F32 model is needed`);
      w.addTensor({ ...spec, type: t.typeName, data: new Float32Array(t.dims.reduce((a, b) => a * b, 1)) });
    } else w.addTensor({ ...spec, type: t.typeName, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
  }
  w.addTensor({ name: 'output.weight', shape: [width, vocab], type: 'F16', data: new Uint8Array(output.buffer) });
  await w.write(to);
}
