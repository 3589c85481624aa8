/**
 * The model load family (llama_model_params: where the weights go and how the file is read). Parsed
 * on the C++ side by parseLoad in native/src/params.cpp.
 */
import { z } from 'zod';
import { ADAPTER_SETTINGS } from './adapters';
import { boolean, choice, clearablePath, custom, integer, number, path, Rule } from './field';

/** The devices llama.cpp can split a model over (llama_max_devices()). */
export const MAX_DEVICES = 16;

/** The largest proportion of Tensor split (so that llama.cpp's sum of them stays finite). */
export const TENSOR_SPLIT_MAX = 1e6;

/** GPU layers: a count, "max" (every layer) or "auto" (as many as fit, keeping the fit margin free). */
export const GpuLayers = z.union([z.number().int().min(0).max(100_000), z.literal('max'), z.literal('auto')]);

/** The longest chat template a model's settings may hold, in characters (native/src/params.cpp holds the same). */
export const MAX_CHAT_TEMPLATE_CHARS = 200_000;

/** The most layers nCpuMoe may name: llama.cpp's LLAMA_MAX_LAYERS (native/src/tensor_overrides.h says the same). */
export const MAX_CPU_MOE_LAYERS = 512;
/**
 * Tensor overrides: at most this many entries (room for what llama.cpp's fit writes, one per layer,
 * with MAX_CPU_MOE_LAYERS more within its llama_max_tensor_buft_overrides() of 4096) of at most this
 * many characters.
 */
export const MAX_TENSOR_OVERRIDES = 1024;
export const MAX_TENSOR_OVERRIDE_LENGTH = 512;

/**
 * One tensor override, "pattern=buffer type" (llama.cpp's -ot): a regular expression over tensor
 * names, then the buffer type that holds the tensors it matches (CPU, Vulkan0, CUDA0, ... as
 * `hearth devices` names them). Its shape is checked here; whether the pattern compiles (with
 * std::regex, as llama.cpp matches it) and the buffer type exists on this machine, by the engine.
 */
export const TensorOverride = z
  .string()
  .min(1)
  .max(MAX_TENSOR_OVERRIDE_LENGTH)
  .refine((s) => {
    const eq = s.lastIndexOf('=');
    return eq > 0 && eq < s.length - 1;
  }, 'must be pattern=buffer type, like blk\\.1[0-9]\\.ffn_.*_exps=CPU');

/** The kinds of speculative decoding: a draft model, or llama.cpp's draft-free n-gram lookups (its names). */
export const SPECULATIVE_KINDS = ['auto', 'off', 'draft', 'ngram-simple', 'ngram-map-k', 'ngram-map-k4v', 'ngram-mod'] as const;

/**
 * Speculative decoding (native/src/speculative.cpp): a smaller model with the same vocabulary, or the
 * text so far, drafts tokens that the model checks in one batch; its sampler keeps the ones it would
 * have picked, so the output is the same, faster when drafts are accepted.
 */
const SPECULATIVE_SETTINGS = {
  draftModel: clearablePath({
    label: 'Draft model',
    help: 'A smaller GGUF with the same vocabulary that drafts tokens for this model (its path). Blank: none.',
    group: 'Speculative decoding',
  }),
  speculative: choice(SPECULATIVE_KINDS, {
    label: 'Speculative decoding',
    help: 'What drafts tokens: the draft model, or lookups of repeated text (n-grams) in the conversation. Auto: the draft model when one is set.',
    group: 'Speculative decoding',
    labels: {
      auto: 'Auto (the draft model if set)',
      off: 'Off',
      draft: 'Draft model',
      'ngram-simple': 'N-gram lookup (simple)',
      'ngram-map-k': 'N-gram map (keys)',
      'ngram-map-k4v': 'N-gram map (keys, 4 values)',
      'ngram-mod': 'N-gram (rolling hash)',
    },
    default: 'auto',
  }),
  // the draft model's bounds, with llama.cpp's defaults (llama-server's --spec-draft-n-max, -n-min, -p-min;
  // native/src/params.h reads them from llama.cpp and test/engine/params-drift.test.ts holds the two equal)
  draftMax: integer({
    label: 'Draft model: longest draft',
    help: 'The most tokens the draft model drafts at a time. The n-gram kinds have their own limits.',
    group: 'Speculative decoding',
    min: 1,
    max: 256,
    default: 3,
  }),
  draftMin: integer({ label: 'Draft model: shortest draft', help: 'A shorter draft from the draft model is not checked.', group: 'Speculative decoding', min: 0, max: 256, default: 0 }),
  draftPMin: number({
    label: 'Draft model: p-min',
    help: 'The draft model stops drafting at a token it is less sure of than this (0: never stops early).',
    group: 'Speculative decoding',
    min: 0,
    max: 1,
    step: 0.05,
    default: 0,
  }),
  // the n-gram kinds' own limits, with llama.cpp's defaults (llama-server's --spec-ngram-* flags; the lookup
  // and the two maps share theirs, and only the map with values counts hits: native/src/params.h, held
  // equal by test/engine/params-drift.test.ts)
  ngramSizeN: integer({
    label: 'Lookup and maps: n-gram length',
    help: 'N-gram lookup and map kinds: how many of the last tokens are looked up in the text so far. Longer n-grams and drafts need more repeated text before anything is drafted.',
    unit: 'tokens',
    group: 'Speculative decoding',
    min: 1,
    max: 1024,
    default: 12,
  }),
  ngramSizeM: integer({
    label: 'Lookup and maps: longest draft',
    help: 'N-gram lookup and map kinds: the most tokens a draft takes from what followed the n-gram. The simple lookup drafts nothing when this is less than the n-gram length.',
    unit: 'tokens',
    group: 'Speculative decoding',
    min: 1,
    max: 1024,
    default: 48,
  }),
  ngramMinHits: integer({
    label: 'Map with values: min hits',
    help: 'N-gram map (keys, 4 values) only: how many times the same n-gram must have been looked up before it drafts.',
    group: 'Speculative decoding',
    min: 1,
    max: 1024,
    default: 1,
  }),
  ngramModMatch: integer({
    label: 'Rolling hash: n-gram length',
    help: 'N-gram (rolling hash) only: how many of the last tokens are looked up (fewer than 16 drafts poorly).',
    unit: 'tokens',
    group: 'Speculative decoding',
    min: 1,
    max: 1024,
    default: 24,
  }),
  ngramModMax: integer({
    label: 'Rolling hash: longest draft',
    help: 'N-gram (rolling hash) only: the most tokens a draft holds (0: it drafts nothing).',
    unit: 'tokens',
    group: 'Speculative decoding',
    min: 0,
    max: 1024,
    default: 64,
  }),
  ngramModMin: integer({
    label: 'Rolling hash: shortest draft',
    help: 'N-gram (rolling hash) only: a shorter draft is not checked (above the longest draft: only drafts of the longest length are).',
    unit: 'tokens',
    group: 'Speculative decoding',
    min: 0,
    max: 1024,
    default: 48,
  }),
};

/** Whether a load with these settings drafts with its draft model (native/src/load_params.cpp LoadParams::speculativeKind): one is given, and speculative is "auto" or "draft". */
export function usesDraftModel(p: { draftModel?: string | null; speculative?: string }): p is { draftModel: string; speculative?: string } {
  const kind = p.speculative ?? 'auto';
  return !!p.draftModel && (kind === 'auto' || kind === 'draft');
}

/**
 * A reply's draft acceptance low enough that speculative decoding likely slows it rather than speeds it:
 * each rejected token costs a verified position in the model's batch for nothing, and with a draft
 * model a draft step too. With a draft model a tenth of the model's cost, each drafted token costs about
 * a tenth of a step, whatever the draft's length, so the break-even is near 10% of the drafted tokens
 * accepted; n-gram drafts cost no model but their verification, which on a CPU is most of the cost.
 * Judged once enough were drafted to tell: more than one n-gram draft at llama.cpp's default limits
 * (ngramModMax, ngramSizeM). Counted in tokens, not drafts, whatever the limits: what a rejected draft
 * costs is its tokens' verification, so one long draft (limits raised to 1024) mostly rejected has cost
 * as much as many short ones.
 */
export const POOR_DRAFT_ACCEPTANCE = { minDrafted: 128, belowShare: 0.1 } as const;

/** Whether a reply's drafted and accepted counts are a poor acceptance (POOR_DRAFT_ACCEPTANCE). */
export function poorDraftAcceptance(drafted: number, accepted: number): boolean {
  return drafted >= POOR_DRAFT_ACCEPTANCE.minDrafted && accepted < drafted * POOR_DRAFT_ACCEPTANCE.belowShare;
}

/** What a user can do about a poor acceptance, in one sentence; `turnOff`: how to turn speculative decoding off where it is said. */
export function poorDraftAdvice(turnOff = "set Speculative decoding to Off in the model's settings"): string {
  return `Few drafted tokens were accepted, so speculative decoding likely costs more time than it saves here: with a draft model, choose one closer to this model (the same family, a smaller size); or ${turnOff}.`;
}

export const LOAD_SETTINGS = {
  gpuLayers: custom(GpuLayers, {
    kind: 'gpuLayers',
    label: 'GPU layers',
    help: 'Layers on the GPU. Auto puts as many on the GPU as fit, keeping the fit margin free.',
    group: 'GPU offload',
    max: 100_000,
    default: 'auto',
  }),
  useMmap: boolean({ label: 'Use mmap', help: 'Map the file instead of reading it: faster loads, memory shared with the file cache.', group: 'Memory', default: true }),
  useMlock: boolean({ label: 'Use mlock', help: 'Keep the model in RAM, never swapped out (needs the permission and the free RAM).', group: 'Memory', default: false }),
  mainGpu: integer({
    label: 'Main GPU',
    help: 'With split mode none, the one GPU that holds the model and its cache (llama.cpp reads it for nothing else).',
    group: 'Several GPUs',
    min: 0,
    max: MAX_DEVICES - 1,
    default: 0,
  }),
  // llama.cpp's "row" split needs a backend with split buffers, which only SYCL has in this llama.cpp
  // (Hearth builds none): it is not offered, and a stored one reads as "layer" (store/validation.ts)
  splitMode: choice(['layer', 'none'] as const, {
    label: 'Split mode',
    help: 'How the weights are spread over several GPUs.',
    group: 'Several GPUs',
    labels: { layer: 'By layer', none: 'None (main GPU only)' },
    default: 'layer',
  }),
  tensorSplit: custom(z.array(z.number().min(0).max(TENSOR_SPLIT_MAX)).max(MAX_DEVICES), {
    kind: 'numbers',
    label: 'Tensor split',
    help: "Proportions per GPU in llama.cpp's order (remote devices first, as Main GPU lists them), like 3, 1. Blank (or all zeros): by free memory, or with GPU layers Auto as llama.cpp's fit chooses. With several GPUs a split given here is kept: the fit moves no layers (it may still shorten an automatic context).",
    group: 'Several GPUs',
    maxItems: MAX_DEVICES,
  }),
  ...ADAPTER_SETTINGS,
  // common_chat_templates_init's override: applied when the model loads (the settings page previews it)
  chatTemplate: custom(z.string().max(MAX_CHAT_TEMPLATE_CHARS), {
    kind: 'text',
    label: 'Chat template',
    help: 'A Jinja chat template used instead of the one in the model file. Blank: the model\'s own.',
    group: 'Chat template',
    maxLength: MAX_CHAT_TEMPLATE_CHARS,
  }),
  nCpuMoe: integer({
    label: 'Experts on CPU',
    help: 'MoE models: keep the experts of the first N layers in system RAM, the rest of those layers on the GPU (llama.cpp --n-cpu-moe). Needs GPU layers set to Max or a number: with Auto the fit places the experts itself.',
    unit: 'layers',
    group: 'GPU offload',
    min: 0,
    max: MAX_CPU_MOE_LAYERS,
    default: 0,
  }),
  tensorOverrides: custom(z.array(TensorOverride).max(MAX_TENSOR_OVERRIDES), {
    kind: 'strings',
    label: 'Tensor overrides',
    help: 'One per line: pattern=buffer type (llama.cpp -ot), like blk\\.[0-9]+\\.ffn_.*_exps=CPU. The first pattern matching a tensor wins; they come before Experts on CPU. Needs GPU layers set to Max or a number.',
    group: 'GPU offload',
    advanced: true,
    maxItems: MAX_TENSOR_OVERRIDES,
    maxLength: MAX_TENSOR_OVERRIDE_LENGTH,
    default: [] as string[],
  }),
  ...SPECULATIVE_SETTINGS,
  /**
   * the model's projector for images (a CLIP GGUF, llama.cpp's mmproj): chat messages may then carry
   * image parts; absent, the one its folder pairs with it (main/models/projector-pick.ts)
   */
  mmproj: path({
    label: 'Projector (mmproj)',
    help: 'The vision projector file that lets the model read images (its path). Blank: the projector found beside the model, if any.',
    group: 'Images',
  }),
};

export const LOAD_ENGINE_ONLY = {
  /** memory to leave free on every device when gpuLayers is "auto" (also the app's setting of that name) */
  fitMarginMiB: integer({ label: 'Fit margin', help: 'Memory kept free on every GPU when GPU layers are auto.', unit: 'MiB', min: 0, max: 1 << 20, default: 1024 }),
  /** read the metadata without allocating the weights (model info) */
  noAlloc: boolean({ label: 'Metadata only', help: 'Read the model without allocating its weights.', default: false }),
};

export const LOAD_FIELDS = { ...LOAD_SETTINGS, ...LOAD_ENGINE_ONLY };

type LoadValues = { gpuLayers?: number | 'max' | 'auto'; nCpuMoe?: number; tensorOverrides?: string[]; speculative?: string; draftModel?: string | null };

/**
 * The load settings' combinations: where tensors go, decided by the user, needs the layers decided by
 * the user (llama.cpp's fit refuses overrides it did not write); drafting with a draft model needs one.
 */
export const LOAD_RULES: readonly Rule<LoadValues>[] = [
  {
    path: 'nCpuMoe',
    reads: ['nCpuMoe', 'gpuLayers'],
    ok: (p) => !p.nCpuMoe || (p.gpuLayers !== undefined && p.gpuLayers !== 'auto'),
    message: 'nCpuMoe needs gpuLayers set to a number or "max": with "auto" llama.cpp\'s fit places the experts itself',
    hint: 'Experts on CPU needs GPU layers set to Max or Custom: with Auto the fit places the experts itself.',
  },
  {
    path: 'tensorOverrides',
    reads: ['tensorOverrides', 'gpuLayers'],
    ok: (p) => !p.tensorOverrides?.length || (p.gpuLayers !== undefined && p.gpuLayers !== 'auto'),
    message: 'tensorOverrides needs gpuLayers set to a number or "max": with "auto" llama.cpp\'s fit places the tensors itself',
    hint: 'Tensor overrides need GPU layers set to Max or Custom: with Auto the fit places the tensors itself.',
  },
  {
    path: 'speculative',
    reads: ['speculative', 'draftModel'],
    ok: (p) => p.speculative !== 'draft' || !!p.draftModel,
    message: 'speculative is "draft" but no draftModel is set: give a draft model (a smaller model with the same vocabulary), or set speculative to "auto"',
    hint: 'Speculative decoding is set to Draft model, but no draft model file is chosen: choose one, or set it to Auto.',
  },
];
