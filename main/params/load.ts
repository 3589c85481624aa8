/**
 * The model load family (llama_model_params: where the weights go and how the file is read). Parsed
 * on the C++ side by parseLoad in native/src/params.cpp.
 */
import { z } from 'zod';
import { ADAPTER_SETTINGS } from './adapters';
import { boolean, choice, custom, integer, path } from './field';

/** The devices llama.cpp can split a model over (llama_max_devices()). */
export const MAX_DEVICES = 16;

/** GPU layers: a count, "max" (every layer) or "auto" (as many as fit, keeping the fit margin free). */
export const GpuLayers = z.union([z.number().int().min(0).max(100_000), z.literal('max'), z.literal('auto')]);

/** The longest chat template a model's settings may hold, in characters (native/src/params.cpp holds the same). */
export const MAX_CHAT_TEMPLATE_CHARS = 200_000;

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
  mainGpu: integer({ label: 'Main GPU', help: 'The GPU for the small tensors (and everything, with split mode none).', group: 'Several GPUs', min: 0, max: MAX_DEVICES - 1, default: 0 }),
  splitMode: choice(['layer', 'row', 'none'] as const, {
    label: 'Split mode',
    help: 'How the weights are spread over several GPUs.',
    group: 'Several GPUs',
    labels: { layer: 'By layer', row: 'By row', none: 'None (main GPU only)' },
    default: 'layer',
  }),
  tensorSplit: custom(z.array(z.number().min(0)).max(MAX_DEVICES), {
    kind: 'numbers',
    label: 'Tensor split',
    help: 'Proportions in GPU order, like 3, 1. Blank: by free memory.',
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
};

export const LOAD_ENGINE_ONLY = {
  /** memory to leave free on every device when gpuLayers is "auto" (also the app's setting of that name) */
  fitMarginMiB: integer({ label: 'Fit margin', help: 'Memory kept free on every GPU when GPU layers are auto.', unit: 'MiB', min: 0, max: 1 << 20, default: 1024 }),
  /** read the metadata without allocating the weights (model info) */
  noAlloc: boolean({ label: 'Metadata only', help: 'Read the model without allocating its weights.', default: false }),
  /** the model's projector for images (a CLIP GGUF, llama.cpp's mmproj): chat messages may then carry image parts */
  mmproj: path({ label: 'Projector (mmproj)', help: 'The vision projector file that lets the model read images.' }),
};

export const LOAD_FIELDS = { ...LOAD_SETTINGS, ...LOAD_ENGINE_ONLY };
