/**
 * LoRA adapter and control vector files, told apart from models by their GGUF headers and matched to
 * the model they are for: the engine host checks a load's adapters with `adapterProblem` before
 * llama.cpp sees them (a clear error naming the file, not a log line), and the library lists each
 * model's adapters (`adaptersFor`: the adapter files beside the model or in an `adapters` folder there
 * whose architecture is the model's). A LoRA's pairs are checked against the model's tensors as
 * llama.cpp checks them when it loads one.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { GgufHeader, ggufNumber, ggufString, readGgufHeader } from './read';

export type AdapterKind = 'lora' | 'controlVector';

/** What kind of adapter a header is, or null for anything else (a model, a projector). */
export function adapterKind(h: Pick<GgufHeader, 'metadata' | 'tensors'>): AdapterKind | null {
  if (ggufString(h, 'general.type') === 'adapter' && ggufString(h, 'adapter.type') === 'lora') return 'lora';
  // llama.cpp's cvector-generator writes architecture "controlvector"; a vector is a tensor direction.<layer>
  if (ggufString(h, 'general.architecture') === 'controlvector' || (h.tensors.length > 0 && h.tensors.every((t) => /^direction\.\d+$/.test(t.name)))) return 'controlVector';
  return null;
}

/** The architecture an adapter is for (a control vector's `controlvector.model_hint`), when it says. */
export function adapterArchitecture(h: Pick<GgufHeader, 'metadata'>): string | undefined {
  const arch = ggufString(h, 'general.architecture');
  return arch === 'controlvector' ? ggufString(h, 'controlvector.model_hint') : arch;
}

/** The width of the model a file is for: a LoRA's widest lora_a input, a control vector's vectors. */
function widthsOf(h: Pick<GgufHeader, 'tensors'>, kind: AdapterKind): number[] {
  if (kind === 'controlVector') return h.tensors.map((t) => t.dims[0]);
  // lora_a of a matrix reading the residual stream (attention q/k/v, FFN gate/up): [n_embd, rank];
  // lora_b of one writing it (attention output, FFN down): [rank, n_embd]
  const reads = h.tensors.filter((t) => /\.(attn_q|attn_k|attn_v|ffn_gate|ffn_up)\.weight\.lora_a$/.test(t.name)).map((t) => t.dims[0]);
  const writes = h.tensors.filter((t) => /\.(attn_output|ffn_down)\.weight\.lora_b$/.test(t.name)).map((t) => t.dims[1]);
  return [...reads, ...writes];
}

/**
 * Why `adapter` cannot go with the model `model` as a `want` (null: it can, as far as headers tell).
 * Words for people, naming the file.
 */
export function adapterProblem(adapter: Pick<GgufHeader, 'path' | 'metadata' | 'tensors'>, model: Pick<GgufHeader, 'metadata' | 'tensors'>, want: AdapterKind): string | null {
  const name = path.basename(adapter.path);
  const kind = adapterKind(adapter);
  const what = want === 'lora' ? 'a LoRA adapter' : 'a control vector';
  if (kind !== want) return `${name} is not ${what} (its GGUF header says general.type ${ggufString(adapter, 'general.type') ?? 'none'})`;
  const modelArch = ggufString(model, 'general.architecture');
  const arch = adapterArchitecture(adapter);
  if (arch !== undefined && modelArch !== undefined && arch !== modelArch) return `${name} is for ${arch} models; this model is ${modelArch}`;
  const width = modelArch === undefined ? undefined : ggufNumber(model, `${modelArch}.embedding_length`);
  const wrong = width === undefined ? undefined : widthsOf(adapter, kind).find((w) => w !== width);
  if (wrong !== undefined) return `${name} is for a model ${wrong} wide; this model is ${width} wide`;
  // a LoRA holds at most a pair (lora_a, lora_b) for each of the model's tensors, a control vector one
  // direction per layer; more is no adapter of this model (and gguf's reader takes time that grows with
  // the square of a header's tensors)
  const layers = modelArch === undefined ? undefined : ggufNumber(model, `${modelArch}.block_count`);
  // a split model's first file holds only some of its tensors; its header counts them all
  const split = (ggufNumber(model, 'split.count') ?? 1) > 1;
  const modelTensors = (split ? ggufNumber(model, 'split.tensors.count') : undefined) ?? model.tensors.length;
  const most = kind === 'lora' ? 2 * modelTensors : layers;
  if (most !== undefined && adapter.tensors.length > most) {
    return `${name} has ${adapter.tensors.length} tensors; ${what} for this model has at most ${most} (${kind === 'lora' ? "a pair for each of the model's tensors" : 'one for each of its layers'})`;
  }
  return kind === 'lora' ? loraPairProblem(adapter, model, split) : null;
}

/**
 * Why llama.cpp's `llama_adapter_lora_init` would refuse a LoRA's tensors for this model, checked as it
 * checks them: each tensor a `lora_a` or a `lora_b` (a `*_norm.weight` is skipped), each pair whole, for
 * a tensor the model has, of that tensor's shape (`lora_a` [in, rank], `lora_b` [rank, out]; token_embd's
 * pair the other way round), and what its graph assumes without checking (one rank for both halves, a
 * third dimension the tensor's own: a pair that breaks them passes the load and ends the process at
 * the first decode). A split model's first file holds only some of its tensors: a pair for one it does
 * not hold is left to llama.cpp. Null: none.
 */
function loraPairProblem(adapter: Pick<GgufHeader, 'path' | 'tensors'>, model: Pick<GgufHeader, 'tensors'>, split: boolean): string | null {
  const name = path.basename(adapter.path);
  const pairs = new Map<string, { a?: number[]; b?: number[] }>();
  for (const t of adapter.tensors) {
    const half = t.name.endsWith('.lora_a') ? 'a' : t.name.endsWith('.lora_b') ? 'b' : null;
    if (half === null) {
      if (t.name.endsWith('_norm.weight')) continue;
      return `${name} is not a LoRA adapter llama.cpp reads: its tensor ${t.name} is neither a lora_a nor a lora_b`;
    }
    const base = t.name.slice(0, -'.lora_a'.length);
    const pair = pairs.get(base) ?? {};
    pair[half] = t.dims;
    pairs.set(base, pair);
  }
  const modelShapes = new Map(model.tensors.map((t) => [t.name, t.dims] as const));
  for (const [base, { a, b }] of pairs) {
    if (!a || !b) return `${name} is not a LoRA adapter llama.cpp reads: ${base} has a lora_${a ? 'a' : 'b'} without its lora_${a ? 'b' : 'a'}`;
    const w = modelShapes.get(base);
    if (!w) {
      if (split) continue;
      return `${name} is not an adapter of this model: it changes ${base}, which the model does not have`;
    }
    const ne = (d: number[], i: number) => d[i] ?? 1;
    // llama.cpp's checks (ggml's order, ne0 first), and what its graph then assumes unchecked: the two
    // halves share their rank, and a pair is as deep as its tensor (an expert tensor's pair holds one
    // matrix per expert; any other is one matrix), or a decode asserts and ends the process
    const flat = (d: number[]) => ne(d, 3) === 1;
    const deep = ne(a, 2) === ne(w, 2) && ne(b, 2) === ne(w, 2) && flat(a) && flat(b) && flat(w);
    const fits = base.endsWith('token_embd.weight')
      ? ne(w, 0) === ne(b, 1) && ne(w, 1) === ne(a, 1) && ne(a, 0) === ne(b, 0) && deep
      : ne(w, 0) === ne(a, 0) && ne(w, 1) === ne(b, 1) && ne(a, 1) === ne(b, 0) && deep;
    if (!fits) return `${name} is not an adapter of this model: its ${base} pair is [${a.join(', ')}] and [${b.join(', ')}], the model's ${base} is [${w.join(', ')}]`;
  }
  return null;
}

/** A file found beside a model: an adapter of it. */
export interface AdapterFile {
  path: string;
  kind: AdapterKind;
}

/**
 * The adapter files for a model: GGUFs in the model's own folder and in its `adapters` subfolder
 * whose headers say they are adapters for the model's architecture and width. Unreadable files are
 * left out. `read` parses a header (the library's cache, or readGgufHeader).
 */
export async function adaptersFor(
  modelPath: string,
  model: Pick<GgufHeader, 'metadata' | 'tensors'>,
  read: (file: string) => Promise<Pick<GgufHeader, 'path' | 'metadata' | 'tensors'>> = readGgufHeader,
): Promise<AdapterFile[]> {
  const out: AdapterFile[] = [];
  for (const dir of [path.dirname(modelPath), path.join(path.dirname(modelPath), 'adapters')]) {
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const n of names.sort()) {
      if (!/\.gguf$/i.test(n)) continue;
      const file = path.join(dir, n);
      if (file === modelPath) continue;
      const h = await read(file).catch(() => null);
      const kind = h ? adapterKind(h) : null;
      if (h && kind && adapterProblem(h, model, kind) === null) out.push({ path: file, kind });
    }
  }
  return out;
}
