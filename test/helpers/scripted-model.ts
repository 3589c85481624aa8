/**
 * A generated model that writes a script: its next token is a fixed function of its last one, so a
 * test sees what a real model writes (reasoning, then a call in its template's own format) where a
 * random-weight model writes noise. How: every layer's output projections (attn_output, ffn_down) are
 * zero, so the last position's state is its token's embedding alone; each token of the script but the
 * last gets an embedding of its own (one dimension set), and an output matrix (output.weight, written
 * over the model's own or its tied embedding) maps that dimension to the script's next token. Greedy or
 * not, the model then writes the script from any prompt that ends with its first token. The script's
 * tokens (all but the last) must differ from each other: each one names its successor.
 */
import { readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { f32ToF16, GgufWriter } from '../../main/gguf/write';
import { inAddon } from './addon';

/** The logit a script token's successor gets (every other token's is 0). */
const NEXT_LOGIT_WEIGHT = 10;

/**
 * Writes `from` again as `to`, writing `text` (its special-token text as those tokens, by the model's
 * own tokenizer) from its first token on, and then its end-of-generation token; `end: 'loop'`: instead,
 * the text's last token is its first again (the text names it twice), so the model writes the text
 * round and round. Answers the script's tokens.
 */
export async function writeScriptedModel(from: string, to: string, text: string, end: 'eos' | 'loop' = 'eos'): Promise<number[]> {
  const eos = (await readGgufHeader(from)).metadata.get('tokenizer.ggml.eos_token_id')?.value;
  if (typeof eos !== 'number') throw new Error(`${from} has no end-of-generation token`);
  const tokens = await inAddon<number[]>(
    `const m = await addon.loadModel(input.from, { gpuLayers: 0 }).promise;
     try { return Array.from(m.tokenize(input.text, { addSpecial: false, parseSpecial: true })); } finally { await m.dispose(); }`,
    { from, text },
  );
  if (end === 'loop' && tokens[tokens.length - 1] !== tokens[0]) throw new Error('a looping script ends with its first token');
  const script = end === 'loop' ? tokens : [...tokens, eos];
  await writeScript(from, to, script);
  return script;
}

/** Writes `from` again as `to`, writing `script` (token ids) from its first token on. */
async function writeScript(from: string, to: string, script: readonly number[]): Promise<void> {
  const h = await readGgufHeader(from);
  const embd = h.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd || embd.typeName !== 'F16') throw new Error(`${from}: an F16 token_embd.weight is needed`);
  const [width, vocab] = embd.dims;
  const keys = script.slice(0, -1);
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
    const silenced = /^blk\.\d+\.(attn_output|ffn_down)\.weight$/.test(t.name);
    const data =
      t.name === embd.name
        ? new Uint8Array(embedding.buffer)
        : t.name === 'output_norm.weight'
          ? new Float32Array(t.dims[0]).fill(1)
          : silenced
            ? new Float32Array(t.dims.reduce((a, b) => a * b, 1))
            : new Uint8Array(await readGgufTensorBytes(h, t.name));
    w.addTensor({ name: t.name, shape: t.dims, type: t.typeName, data });
  }
  w.addTensor({ name: 'output.weight', shape: [width, vocab], type: 'F16', data: new Uint8Array(output.buffer) });
  await w.write(to);
}
