/**
 * Test models written by test/global-setup.ts before any suite runs (tiny llama-architecture GGUFs
 * with random weights and real llama.cpp tokenizers; see scripts/make-test-model.ts).
 *
 * The weights are noise: output is gibberish, and with the tiny models' tied embeddings greedy
 * decoding repeats the last prompt token. Use them to exercise loading, tokenizing, evaluating,
 * sampling and embedding, not output quality.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { gguf, type GgmlTypeName, type GgufValue } from '../../main/gguf/types';
import { f16ToF32, f32ToF16, GgufWriter } from '../../main/gguf/write';
import { DEFAULT_CHAT_TEMPLATE, readTokenizerMetadata, resolveVocabFile, TEST_MODEL_HPARAMS, type TestModelOptions, writeTestModel } from '../../scripts/make-test-model';
import type { TestProjectorOptions } from '../../scripts/make-test-projector';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TEST_MODELS_DIR = path.join(REPO_ROOT, 'test-output', 'models');

/** Seed of every test model. */
export const TEST_MODEL_SEED = 1;

/** Tiny chat model with the Llama 2 SentencePiece vocab (32000 tokens) and its own output matrix, ~9 MB. */
export const TINY_SPM = path.join(TEST_MODELS_DIR, 'tiny-spm.gguf');
/** Tiny chat model with the Llama 3 BPE vocab (128256 tokens), ~24 MB. */
export const TINY_BPE = path.join(TEST_MODELS_DIR, 'tiny-bpe.gguf');
/** Tiny embedding model (llama-spm vocab, `llama.pooling_type` = mean), ~5 MB. */
export const TINY_EMBED = path.join(TEST_MODELS_DIR, 'tiny-embed.gguf');

/** Tiny BERT-style embedder: bidirectional attention (`llama.attention.causal` = false), mean pooling, ~5 MB. */
export const TINY_BERT = path.join(TEST_MODELS_DIR, 'tiny-embed-noncausal.gguf');
/**
 * Tiny reranker-shaped model (`llama.pooling_type` = rank: a score per sequence, not a vector), ~5 MB.
 * Bidirectional attention, as real rerankers (BERT-style): the first token, whose state the score is
 * read from, sees the whole query/document pair (a causal model's first token sees only itself).
 */
export const TINY_RERANK = path.join(TEST_MODELS_DIR, 'tiny-rerank.gguf');

/** Nested loops llama.cpp's Jinja engine runs for days: ~10^10 steps, no output. */
const ENDLESS = '{%- for a in range(99999) -%}{%- for b in range(99999) -%}{%- endfor -%}{%- endfor -%}';
/** A chat model whose chat template never ends: it hangs as soon as llama.cpp checks the template at load. */
export const HOSTILE_TEMPLATE = path.join(TEST_MODELS_DIR, 'tiny-hostile-template.gguf');
/** A message containing this makes HOSTILE_RENDER's template run endlessly; any other renders as ChatML. */
export const HANG_TRIGGER = 'please hang the renderer';
/** A chat model whose template loads and renders normally, but never ends rendering a message with HANG_TRIGGER. */
export const HOSTILE_RENDER = path.join(TEST_MODELS_DIR, 'tiny-hostile-render.gguf');

/**
 * Qwen 2.5's chat template (tools in <tools>, calls in <tool_call> tags): llama.cpp recognizes it as
 * the Hermes 2 Pro tool-call format, so a request with tools gets a grammar and its calls are parsed.
 */
export const TOOLS_CHAT_TEMPLATE = [
  "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}",
  '{{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}',
  '{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}',
  '{{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}',
  "{%- else %}{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endif %}",
  '{%- for message in messages %}',
  '{%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}',
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
  '{%- elif message.role == "assistant" %}',
  "{{- '<|im_start|>' + message.role }}{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}",
  '{%- for tool_call in message.tool_calls %}{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}',
  "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}",
  "{%- endfor %}{{- '<|im_end|>\\n' }}",
  '{%- elif message.role == "tool" %}',
  '{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}{{- \'<|im_start|>user\' }}{%- endif %}',
  "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}",
  '{%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}{{- \'<|im_end|>\\n\' }}{%- endif %}',
  '{%- endif %}{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
].join('');
/** A tiny chat model with TOOLS_CHAT_TEMPLATE: tool calls are parsed from its output. */
export const TINY_TOOLS = path.join(TEST_MODELS_DIR, 'tiny-tools.gguf');

/**
 * Steering a random model into a tool call. llama.cpp's grammar for toolChoice 'required' lets free
 * text come before the first call (`root ::= <generation prompt> until-<call marker>? tool-calls`), and
 * the random model never writes Qwen's multi-token "<tool_call>\n" by itself. So this variant of
 * TOOLS_CHAT_TEMPLATE opens a call with ONE special token of the Llama 3 vocab (closed by another); a
 * test biases TOOL_CALL_OPEN by +100 (its id: TOOL_CALL_OPEN_ID), the model opens the call at once, and
 * the grammar writes the rest. Real models write their markers by themselves.
 */
export const TOOL_CALL_OPEN = '<|reserved_special_token_5|>';
export const TOOL_CALL_CLOSE = '<|reserved_special_token_6|>';
/** TOOL_CALL_OPEN's token id in the Llama 3 vocab (test/engine/tool-calls.test.ts checks it). */
export const TOOL_CALL_OPEN_ID = 128010;
export const STEERED_TOOLS_TEMPLATE = TOOLS_CHAT_TEMPLATE.replace(`'\\n<tool_call>\\n{"name": "'`, `'\\n${TOOL_CALL_OPEN}{"name": "'`).replace(`'}\\n</tool_call>'`, `'}${TOOL_CALL_CLOSE}'`);
/** TINY_TOOLS with STEERED_TOOLS_TEMPLATE. */
export const TINY_TOOLS_STEERED = path.join(TEST_MODELS_DIR, 'tiny-tools-steered.gguf');

/**
 * Tiny Gemma 3 model with sliding-window attention: a window of SWA_WINDOW tokens in layer 0, the whole
 * context in layer 1 (pattern 2). With swaFull off its sliding-window layer's KV cache holds about the
 * window, not the context.
 */
export const TINY_SWA = path.join(TEST_MODELS_DIR, 'tiny-swa.gguf');
export const SWA_WINDOW = 64;

/** Fill-in-the-middle markers of TINY_FIM: three reserved special tokens of the Llama 3 vocab. */
export const FIM_TOKENS = { pre: '<|reserved_special_token_10|>', suf: '<|reserved_special_token_11|>', mid: '<|reserved_special_token_12|>' } as const;
/** A tiny "code model": the Llama 3 vocab with FIM_TOKENS marked as its fill-in-the-middle tokens. */
export const TINY_FIM = path.join(TEST_MODELS_DIR, 'tiny-fim.gguf');

/**
 * A thinking template in DeepSeek R1's manner: ChatML whose generation prompt opens `<think>` for the
 * reply (an assistant message keeps only what follows its `</think>`). llama.cpp's chat library finds
 * the thinking tags in it, so a reasoning budget applies. The prompt ends right after `<think>`:
 * llama.cpp's budget sampler finds the start tag by its tokens, and with the Llama 3 vocab `<think>`
 * tokenizes alone as it does at the end of the prompt (followed by a newline it would not: `>\n` is
 * one token). Real thinking models have the tags as single special tokens.
 */
export const THINKING_CHAT_TEMPLATE =
  "{%- for message in messages -%}" +
  "{%- set content = message['content'] -%}" +
  "{%- if message['role'] == 'assistant' and '</think>' in content -%}{%- set content = content.split('</think>')[-1] -%}{%- endif -%}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>' -}}{%- endif -%}";
/** A tiny chat model with THINKING_CHAT_TEMPLATE. */
export const TINY_THINK = path.join(TEST_MODELS_DIR, 'tiny-think.gguf');

/**
 * Tiny mixture-of-experts chat model, laid out as Mixtral (llama architecture, `llama.expert_count` 32,
 * 2 used per token, a router and 3-D `ffn_{gate,up,down}_exps` per layer): for MoE offload (nCpuMoe,
 * tensor overrides, the fit's expert placement), ~11 MB; 1.5 MiB of experts per layer, so a MiB of fit margin moves them.
 */
export const TINY_MOE = path.join(TEST_MODELS_DIR, 'tiny-moe.gguf');
export const TINY_MOE_EXPERTS = 32;

/** How each test model is generated (used by the global setup and by tests that check metadata). */
export const TEST_MODELS: readonly (TestModelOptions & { out: string })[] = [
  { out: TINY_SPM, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, untied: true },
  { out: TINY_BPE, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED },
  { out: TINY_EMBED, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, pooling: 'mean' },
  { out: TINY_BERT, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, pooling: 'mean', nonCausal: true },
  { out: TINY_RERANK, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, pooling: 'rank', nonCausal: true },
  { out: TINY_TOOLS, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED, chatTemplate: TOOLS_CHAT_TEMPLATE },
  { out: TINY_MOE, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, untied: true, experts: TINY_MOE_EXPERTS, expertsUsed: 2 },
  { out: TINY_TOOLS_STEERED, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED, chatTemplate: STEERED_TOOLS_TEMPLATE },
  { out: TINY_SWA, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, arch: 'gemma3', slidingWindow: SWA_WINDOW, slidingWindowPattern: 2 },
  { out: TINY_FIM, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED, fimTokens: FIM_TOKENS },
  { out: TINY_THINK, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED, chatTemplate: THINKING_CHAT_TEMPLATE },
  { out: HOSTILE_TEMPLATE, size: 'tiny', vocab: 'llama-spm', seed: TEST_MODEL_SEED, chatTemplate: ENDLESS + DEFAULT_CHAT_TEMPLATE },
  {
    out: HOSTILE_RENDER,
    size: 'tiny',
    vocab: 'llama-spm',
    seed: TEST_MODEL_SEED,
    chatTemplate: `{%- for message in messages -%}{%- if message['content'] is string and '${HANG_TRIGGER}' in message['content'] -%}${ENDLESS}{%- endif -%}{%- endfor -%}${DEFAULT_CHAT_TEMPLATE}`,
  },
];

/**
 * A tiny CLIP projector (mmproj, LLaVA's `mlp` type) for the tiny models (their embedding width): a
 * 32-pixel image in 8-pixel patches, so every image is 16 image tokens (scripts/make-test-projector.ts).
 */
export const TINY_PROJECTOR = path.join(TEST_MODELS_DIR, 'tiny-mmproj.gguf');
/** The image tokens TINY_PROJECTOR makes of any image. */
export const TINY_PROJECTOR_IMAGE_TOKENS = 16;

/** How each test projector is generated (by the global setup). */
export const TEST_PROJECTORS: readonly (TestProjectorOptions & { out: string })[] = [
  { out: TINY_PROJECTOR, projectionDim: TEST_MODEL_HPARAMS.tiny.embeddingLength, imageSize: 32, patchSize: 8, seed: TEST_MODEL_SEED },
];

/**
 * Copies a model into a models folder as an old file: its mtime set an hour back, so a listing
 * lists it without probing it (a .gguf written in the last few seconds is stat'ed again first).
 */
export function copyModel(from: string, to: string): void {
  fs.copyFileSync(from, to);
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(to, old, old);
}

/** A download that stopped half way: the first `bytes` of a real model (GGUF's magic, then a cut header), as a finished file. */
export function writeHalfModel(to: string, bytes = 4096): void {
  fs.writeFileSync(to, fs.readFileSync(TINY_SPM).subarray(0, bytes));
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(to, old, old);
}

/**
 * Writes `from` again as `to` with its weight matrices in ggml's Q8_0 (blocks of 32 values: an F16
 * scale, max |x| / 127, and 32 int8s rounded half away from zero, as ggml's reference quantizer does,
 * though in double precision), the norms and other vectors as they were: a quantized model as people
 * run one, whose matrix products take the CPU's quantized kernels.
 */
export async function writeQ8_0(from: string, to: string): Promise<string> {
  const h = await readGgufHeader(from);
  const w = new GgufWriter();
  for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, k === 'general.file_type' ? gguf.u32(7) : v); // MOSTLY_Q8_0
  if (!h.metadata.has('general.quantization_version')) w.set('general.quantization_version', gguf.u32(2));
  for (const t of h.tensors) {
    const bytes = await readGgufTensorBytes(h, t.name);
    if (t.dims.length !== 2 || t.dims[0] % 32 !== 0 || (t.typeName !== 'F32' && t.typeName !== 'F16')) {
      w.addTensor({ name: t.name, shape: t.dims, type: t.typeName, data: new Uint8Array(bytes) });
      continue;
    }
    const n = t.dims[0] * t.dims[1];
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const at = (i: number) => (t.typeName === 'F32' ? dv.getFloat32(i * 4, true) : f16ToF32(dv.getUint16(i * 2, true)));
    const out = new Uint8Array((n / 32) * 34);
    const ov = new DataView(out.buffer);
    for (let b = 0; b < n / 32; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(at(b * 32 + i)));
      const d = amax / 127;
      ov.setUint16(b * 34, f32ToF16(d), true);
      for (let i = 0; i < 32; i++) ov.setInt8(b * 34 + 2 + i, d === 0 ? 0 : Math.sign(at(b * 32 + i)) * Math.round(Math.abs(at(b * 32 + i)) / d));
    }
    w.addTensor({ name: t.name, shape: t.dims, type: 'Q8_0', data: out });
  }
  await w.write(to);
  return to;
}

/**
 * Writes `from` again as `to` with the tensors `retype` names given another type, their bytes as they
 * were (so the new type must be as wide: F16 as I16, F32 as I32; an F32 one retyped F16 is converted),
 * and the metadata `metadata` gives replaced or added: a crafted file, whose header any GGUF reader accepts.
 */
export async function writeRetyped(
  from: string,
  to: string,
  retype: Readonly<Record<string, GgmlTypeName>>,
  metadata: Readonly<Record<string, GgufValue>> = {},
): Promise<string> {
  const h = await readGgufHeader(from);
  const w = new GgufWriter();
  for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, metadata[k] ?? v);
  for (const [k, v] of Object.entries(metadata)) if (!h.metadata.has(k)) w.set(k, v);
  for (const name of Object.keys(retype)) if (!h.tensors.some((t) => t.name === name)) throw new Error(`${from} has no tensor ${name}`);
  for (const t of h.tensors) {
    const bytes = await readGgufTensorBytes(h, t.name);
    if (t.typeName === 'F32' && retype[t.name] === 'F16') {
      w.addTensor({ name: t.name, shape: t.dims, type: 'F16', data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
    } else {
      w.addTensor({ name: t.name, shape: t.dims, type: retype[t.name] ?? t.typeName, data: new Uint8Array(bytes) });
    }
  }
  await w.write(to);
  return to;
}

/** ChatML as Qwen's templates write it: each message between <|im_start|> and <|im_end|>. */
export const CHATML_TEMPLATE =
  "{%- for m in messages -%}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' -}}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

/**
 * Tiny models in `dir` with the vocabularies the tokenizer's special cases need: `qwen` (Qwen2's BPE,
 * CHATML_TEMPLATE); `phi3` (Phi-3's SentencePiece: llama.cpp marks every special token of a model named
 * phi-3 rstrip, llama-vocab.cpp); `qwenUserDefined` (qwen with <|im_start|>, its template's, and
 * "table", not its template's, as Gemma's HTML tags, user-defined tokens: split out of any text, even
 * tokenized as text).
 */
export async function writeTokenizerModels(dir: string): Promise<{ qwen: string; phi3: string; qwenUserDefined: string }> {
  const qwen = path.join(dir, 'tiny-qwen2.gguf');
  const phi3 = path.join(dir, 'tiny-phi-3.gguf');
  await writeTestModel({ out: qwen, size: 'tiny', vocab: 'qwen2', seed: TEST_MODEL_SEED, chatTemplate: CHATML_TEMPLATE });
  await writeTestModel({ out: phi3, size: 'tiny', vocab: 'phi-3', seed: TEST_MODEL_SEED, name: 'hearth-test-phi-3' });
  const h = await readGgufHeader(qwen);
  const texts = h.metadata.get('tokenizer.ggml.tokens')!.value as string[];
  const types = Array.from(h.metadata.get('tokenizer.ggml.token_type')!.value as ArrayLike<number>);
  // LLAMA_TOKEN_TYPE_USER_DEFINED (llama.cpp makes an end-of-generation token such as <|im_end|> a control
  // token whatever its type, and gpt-oss's <|start|>, <|channel|> and <|message|> user-defined)
  for (const t of ['<|im_start|>', 'table']) {
    if (texts.indexOf(t) < 0) throw new Error(`Qwen2's vocab has no ${t}`);
    types[texts.indexOf(t)] = 4;
  }
  const qwenUserDefined = await writeRetyped(qwen, path.join(dir, 'tiny-qwen2-user-defined.gguf'), {}, { 'tokenizer.ggml.token_type': gguf.arr('int32', types) });
  return { qwen, phi3, qwenUserDefined };
}

/** A chat template of llama.cpp's copies (models/templates in the checkout this build cloned), by file name. */
export function llamaTemplate(file: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, 'build', 'llama.cpp', 'models', 'templates', file), 'utf8');
}

/**
 * `qwen` (writeTokenizerModels' Qwen2 vocab) written again as `out` with `tokens` as user-defined tokens
 * (the texts of as many of its padding tokens: how a model's vocab adds its own) and llama.cpp's copy of
 * the chat template `template` (llamaTemplate).
 */
async function writeQwenWith(qwen: string, out: string, tokens: readonly string[], template: string): Promise<string> {
  const h = await readGgufHeader(qwen);
  const texts = [...(h.metadata.get('tokenizer.ggml.tokens')!.value as string[])];
  const types = Array.from(h.metadata.get('tokenizer.ggml.token_type')!.value as ArrayLike<number>);
  const pads = texts.flatMap((t, i) => (t.startsWith('[PAD') && types[i] === 4 ? [i] : [])).slice(0, tokens.length);
  if (pads.length < tokens.length) throw new Error("Qwen2's vocab has too few padding tokens");
  tokens.forEach((t, k) => (texts[pads[k]] = t));
  return writeRetyped(qwen, out, {}, { 'tokenizer.ggml.tokens': gguf.arr('string', texts), 'tokenizer.chat_template': gguf.str(llamaTemplate(template)) });
}

/**
 * A tiny Qwen3.5 in `dir`: Qwen2's vocab with <think>, </think>, <tool_call> and </tool_call> (as
 * Qwen3's vocab adds them) and Qwen3.5's chat template: its generation prompt opens <think>, it writes a
 * reply's reasoning back after the last user message, and llama.cpp parses its reasoning and its calls.
 */
export function writeQwen35Model(qwen: string, dir: string): Promise<string> {
  return writeQwenWith(qwen, path.join(dir, 'tiny-qwen3.5.gguf'), ['<think>', '</think>', '<tool_call>', '</tool_call>'], 'Qwen3.5-4B.jinja');
}

/** A tiny gpt-oss in `dir`: Qwen2's vocab with the harmony format's tokens, and gpt-oss's chat template. */
export function writeGptOssModel(qwen: string, dir: string): Promise<string> {
  return writeQwenWith(qwen, path.join(dir, 'tiny-gpt-oss.gguf'), ['<|start|>', '<|end|>', '<|message|>', '<|channel|>', '<|constrain|>', '<|return|>', '<|call|>'], 'openai-gpt-oss-120b.jinja');
}

/**
 * A tiny GLM-4.7 in `dir`: Qwen2's vocab with GLM's role, thinking and call tokens, and GLM-4.7-Flash's
 * chat template, which keeps earlier turns' reasoning when told to (llama.cpp's supports_preserve_reasoning:
 * its clear_thinking), and else writes a reply's reasoning only after the last user message.
 */
export function writeGlm47Model(qwen: string, dir: string): Promise<string> {
  const tokens = ['[gMASK]', '<sop>', '<|system|>', '<|user|>', '<|assistant|>', '<|observation|>', '<think>', '</think>', '<tool_call>', '</tool_call>', '<arg_key>', '</arg_key>', '<arg_value>', '</arg_value>'];
  return writeQwenWith(qwen, path.join(dir, 'tiny-glm-4.7.gguf'), tokens, 'GLM-4.7-Flash.jinja');
}

/** Writes `from` again as `to` with one more tensor (`tensor`, bytes in its type's encoding): a crafted file. */
export async function writeExtraTensor(from: string, to: string, tensor: { name: string; shape: number[]; type: GgmlTypeName; data: Uint8Array }): Promise<string> {
  const h = await readGgufHeader(from);
  const w = new GgufWriter();
  for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, v);
  for (const t of h.tensors) w.addTensor({ name: t.name, shape: t.dims, type: t.typeName, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
  w.addTensor(tensor);
  await w.write(to);
  return to;
}

/**
 * Writes `from` as a split model in `dir` the way llama.cpp's gguf-split does: `<base>-0000k-of-0000n.gguf`,
 * the tensors shared out in order, split.no / split.count / split.tensors.count in every part, the
 * model's metadata in the first. Old mtimes (see copyModel). Returns the parts' paths in order.
 */
export async function writeSplitModel(from: string, dir: string, base: string, n: number): Promise<string[]> {
  const h = await readGgufHeader(from);
  const per = Math.ceil(h.tensors.length / n);
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = new GgufWriter();
    if (i === 0) for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, v);
    w.set('split.no', gguf.u16(i));
    w.set('split.count', gguf.u16(n));
    w.set('split.tensors.count', gguf.i32(h.tensors.length));
    for (const t of h.tensors.slice(i * per, (i + 1) * per)) {
      w.addTensor({ name: t.name, shape: t.dims, type: t.typeName, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
    }
    const file = path.join(dir, `${base}-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.gguf`);
    await w.write(file);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(file, old, old);
    files.push(file);
  }
  return files;
}

/** Width, FFN width and layers of the tiny models of other architectures below. */
const OTHER = { nEmbd: 64, nFf: 128, layers: 2, heads: 4 } as const;

/**
 * A writer for a tiny model of architecture `arch` with the Llama 2 vocabulary: its hyperparameters
 * (`arch.`-prefixed keys; floats where `floats` says) set, and makers of its seeded random tensors.
 */
async function otherArch(arch: string, keys: Readonly<Record<string, number>>, floats: readonly string[] = []) {
  const { entries, nVocab } = await readTokenizerMetadata(resolveVocabFile('llama-spm'));
  const w = new GgufWriter();
  w.setString('general.architecture', arch);
  w.setString('general.name', `hearth-test-${arch}`);
  const all: Record<string, number> = {
    context_length: 512, embedding_length: OTHER.nEmbd, feed_forward_length: OTHER.nFf, block_count: OTHER.layers, 'attention.head_count': OTHER.heads, ...keys,
  };
  for (const [k, v] of Object.entries(all)) {
    if (floats.includes(k)) w.setFloat32(`${arch}.${k}`, v);
    else w.setUint32(`${arch}.${k}`, v);
  }
  for (const [k, v] of entries) w.set(k, v);
  w.setString('tokenizer.chat_template', DEFAULT_CHAT_TEMPLATE);
  let seed = 1;
  const noise = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.1);
  return {
    w,
    nVocab,
    matrix: (name: string, ne0: number, ne1: number) => void w.addTensor({ name, shape: [ne0, ne1], type: 'F16', data: noise(ne0 * ne1) }),
    /** a vector of `n` (default the width): ones, or noise */
    vector: (name: string, n: number = OTHER.nEmbd, random = false) => void w.addTensor({ name, shape: [n], type: 'F32', data: random ? noise(n) : new Float32Array(n).fill(1) }),
  };
}

/** A T5 of 2 encoder and 2 decoder layers (llama.cpp src/models/t5.cpp's tensors). */
export async function writeTinyT5(out: string, o: { positionBias?: boolean } = {}): Promise<string> {
  const { nEmbd, nFf, layers, heads } = OTHER;
  const m = await otherArch('t5', { 'attention.relative_buckets_count': 32, 'attention.layer_norm_rms_epsilon': 1e-6, decoder_start_token_id: 0 }, ['attention.layer_norm_rms_epsilon']);
  m.matrix('token_embd.weight', nEmbd, m.nVocab);
  m.vector('enc.output_norm.weight');
  m.vector('dec.output_norm.weight');
  for (let i = 0; i < layers; i++) {
    for (const part of ['enc', 'dec']) {
      m.vector(`${part}.blk.${i}.attn_norm.weight`);
      // the relative position bias, in the first layer (llama.cpp's T5 graph reads layer 0's)
      if (i === 0 && o.positionBias !== false) m.matrix(`${part}.blk.0.attn_rel_b.weight`, heads, 32);
      for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_o']) m.matrix(`${part}.blk.${i}.${t}.weight`, nEmbd, nEmbd);
      if (part === 'dec') {
        m.vector(`dec.blk.${i}.cross_attn_norm.weight`);
        for (const t of ['cross_attn_q', 'cross_attn_k', 'cross_attn_v', 'cross_attn_o']) m.matrix(`dec.blk.${i}.${t}.weight`, nEmbd, nEmbd);
      }
      m.vector(`${part}.blk.${i}.ffn_norm.weight`);
      m.matrix(`${part}.blk.${i}.ffn_up.weight`, nEmbd, nFf);
      m.matrix(`${part}.blk.${i}.ffn_down.weight`, nFf, nEmbd);
    }
  }
  await m.w.write(out);
  return out;
}

/** A BERT of 2 layers, mean pooling (llama.cpp src/models/bert.cpp's tensors): an encoder-only embedder, which keeps no cache. */
export async function writeTinyBert(out: string): Promise<string> {
  const { nEmbd, nFf, layers } = OTHER;
  const m = await otherArch('bert', { 'attention.layer_norm_epsilon': 1e-12, pooling_type: 1 }, ['attention.layer_norm_epsilon']);
  m.w.setBool('bert.attention.causal', false);
  m.w.setUint32('tokenizer.ggml.token_type_count', 2);
  m.matrix('token_embd.weight', nEmbd, m.nVocab);
  // F32, as llama.cpp's converter writes it: the graph adds it to F32 activations, which the CPU does not for F16
  m.w.addTensor({ name: 'token_types.weight', shape: [nEmbd, 2], type: 'F32', data: new Float32Array(nEmbd * 2).fill(0.01) });
  m.matrix('position_embd.weight', nEmbd, 512);
  m.vector('token_embd_norm.weight');
  m.vector('token_embd_norm.bias', nEmbd, true);
  for (let i = 0; i < layers; i++) {
    for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) m.matrix(`blk.${i}.${t}.weight`, nEmbd, nEmbd);
    m.vector(`blk.${i}.attn_output_norm.weight`);
    m.vector(`blk.${i}.attn_output_norm.bias`, nEmbd, true);
    m.matrix(`blk.${i}.ffn_up.weight`, nEmbd, nFf);
    m.matrix(`blk.${i}.ffn_down.weight`, nFf, nEmbd);
    m.vector(`blk.${i}.layer_output_norm.weight`);
    m.vector(`blk.${i}.layer_output_norm.bias`, nEmbd, true);
  }
  await m.w.write(out);
  return out;
}

/** The state-space sizes of the tiny Mamba and Jamba below (llama.cpp takes only d_inner = 2 × the width). */
const SSM = { dInner: 2 * OTHER.nEmbd, dState: 16, dConv: 4, dtRank: 4 } as const;
const SSM_KEYS = { 'ssm.conv_kernel': SSM.dConv, 'ssm.inner_size': SSM.dInner, 'ssm.state_size': SSM.dState, 'ssm.time_step_rank': SSM.dtRank } as const;

/**
 * Layer `i`'s Mamba block (llama.cpp src/models/mamba.cpp's tensors; Jamba's adds norms of dt, B and C).
 * The convolution's kernel and the state's A and D are F32, as llama.cpp's converter writes them (its CPU
 * kernels take no other); A = -exp(A_log) is negative, so the state decays.
 */
function mambaBlock(m: Awaited<ReturnType<typeof otherArch>>, i: number, o: { norms?: boolean } = {}): void {
  const { nEmbd } = OTHER;
  const { dInner, dState, dConv, dtRank } = SSM;
  m.matrix(`blk.${i}.ssm_in.weight`, nEmbd, 2 * dInner);
  m.w.addTensor({ name: `blk.${i}.ssm_conv1d.weight`, shape: [dConv, dInner], type: 'F32', data: new Float32Array(dConv * dInner).fill(0.25) });
  m.vector(`blk.${i}.ssm_conv1d.bias`, dInner, true);
  m.matrix(`blk.${i}.ssm_x.weight`, dInner, dtRank + 2 * dState);
  m.matrix(`blk.${i}.ssm_dt.weight`, dtRank, dInner);
  m.vector(`blk.${i}.ssm_dt.bias`, dInner, true);
  if (o.norms) {
    m.vector(`blk.${i}.ssm_dt_norm.weight`, dtRank);
    m.vector(`blk.${i}.ssm_b_norm.weight`, dState);
    m.vector(`blk.${i}.ssm_c_norm.weight`, dState);
  }
  m.w.addTensor({ name: `blk.${i}.ssm_a`, shape: [dState, dInner], type: 'F32', data: Float32Array.from({ length: dState * dInner }, (_, j) => -1 - (j % dState)) });
  m.vector(`blk.${i}.ssm_d`, dInner);
  m.matrix(`blk.${i}.ssm_out.weight`, dInner, nEmbd);
}

/** A Mamba of 2 layers: a recurrent model, whose memory is one state cell per sequence, not a cache of positions. */
export async function writeTinyMamba(out: string): Promise<string> {
  const m = await otherArch('mamba', { 'attention.head_count': 0, feed_forward_length: 0, 'attention.layer_norm_rms_epsilon': 1e-5, ...SSM_KEYS }, ['attention.layer_norm_rms_epsilon']);
  m.matrix('token_embd.weight', OTHER.nEmbd, m.nVocab);
  m.vector('output_norm.weight');
  for (let i = 0; i < OTHER.layers; i++) {
    m.vector(`blk.${i}.attn_norm.weight`);
    mambaBlock(m, i);
  }
  await m.w.write(out);
  return out;
}

/**
 * A Jamba of 2 layers (llama.cpp src/models/jamba.cpp's tensors): a Mamba layer, then an attention layer
 * (its KV heads per layer, 0 for the Mamba one), each with a feed-forward block: a hybrid model, whose
 * memory is a KV cache for the one and a recurrent state for the other.
 */
export async function writeTinyJamba(out: string): Promise<string> {
  const { nEmbd, nFf, heads } = OTHER;
  const m = await otherArch('jamba', { 'attention.layer_norm_rms_epsilon': 1e-5, ...SSM_KEYS }, ['attention.layer_norm_rms_epsilon']);
  m.w.set('jamba.attention.head_count_kv', gguf.arr('uint32', [0, heads]));
  m.matrix('token_embd.weight', nEmbd, m.nVocab);
  m.vector('output_norm.weight');
  for (let i = 0; i < 2; i++) {
    m.vector(`blk.${i}.attn_norm.weight`);
    if (i === 0) mambaBlock(m, i, { norms: true });
    else for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) m.matrix(`blk.${i}.${t}.weight`, nEmbd, nEmbd);
    m.vector(`blk.${i}.ffn_norm.weight`);
    m.matrix(`blk.${i}.ffn_gate.weight`, nEmbd, nFf);
    m.matrix(`blk.${i}.ffn_up.weight`, nEmbd, nFf);
    m.matrix(`blk.${i}.ffn_down.weight`, nFf, nEmbd);
  }
  await m.w.write(out);
  return out;
}
