/**
 * LoRA adapters and control vectors: load settings (applied to the model's context when it is
 * created) and a request's own adapter scales. Parsed on the C++ side by the load and request tables
 * of native/src/params.cpp (with native/src/adapters.cpp's list parser), applied by
 * native/src/adapters.cpp.
 *
 * A request's `loraAdapters` changes only the scales of the adapters the model was loaded with (named
 * by path; the others keep their load scale): llama.cpp applies a set to a context without reloading
 * the model, and the context's worker runs generations whose set differs one set at a time (a
 * request with another set waits until the running ones end: continuous batching shares one set).
 */
import { z } from 'zod';
import { custom, integer, MAX_PATH_CHARS } from './field';

/** Adapters (and control vectors) one load or request may name. */
export const MAX_ADAPTERS = 8;
/** The longest path of an adapter file, in characters (any path field's). */
export const MAX_ADAPTER_PATH = MAX_PATH_CHARS;
/** The bounds of an adapter's scale (a control vector's strength). */
export const ADAPTER_SCALE_MAX = 10;

/**
 * What a GGUF file of the library is, read from its header (main/models/facts.ts fileRole): a model to
 * load, or a file that goes with one (a vision projector, a LoRA adapter, a control vector), which is
 * listed but never loaded by itself.
 */
export const FILE_ROLES = ['model', 'projector', 'lora', 'controlVector'] as const;
export const FileRole = z.enum(FILE_ROLES);
export type FileRole = z.infer<typeof FileRole>;
/** How the library names a file of each role. */
export const FILE_ROLE_LABELS: Readonly<Record<FileRole, string>> = { model: 'model', projector: 'vision projector', lora: 'LoRA adapter', controlVector: 'control vector' };
/** Whether a file of this role (null or absent: its header could not be read, or main did not say) is offered as a model to load. */
export const loadableRole = (role: FileRole | null | undefined): boolean => role == null || role === 'model';

/** One adapter file and its scale (a control vector: its strength). 0: loaded, not applied. */
export const AdapterEntry = z
  .object({
    path: z.string().min(1).max(MAX_ADAPTER_PATH),
    scale: z.number().min(-ADAPTER_SCALE_MAX).max(ADAPTER_SCALE_MAX),
  })
  .strict();
export type AdapterEntry = z.infer<typeof AdapterEntry>;

/** What a repeated path's issue carries (`params`), for a form to word it its own way. */
export interface RepeatedAdapter {
  /** the index the path is first listed at */
  listedAt: number;
}

/**
 * A list of adapters: each file at most once. The engine names an adapter by its path (a request's
 * scales) and the API server by its index (llama-server's `lora` ids): a path listed twice would make
 * both ambiguous. Paths are compared as given, as the engine matches them.
 */
const AdapterList = z
  .array(AdapterEntry)
  .max(MAX_ADAPTERS)
  .superRefine((list, ctx) => {
    const first = new Map<string, number>();
    list.forEach((e, i) => {
      const at = first.get(e.path);
      if (at === undefined) first.set(e.path, i);
      else {
        const params: RepeatedAdapter = { listedAt: at };
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `${e.path} is already listed at ${at}: give one scale per adapter`, params });
      }
    });
  });
const NO_ADAPTERS: AdapterEntry[] = [];

/** A list of adapter files with their scales, as the settings page's "Adapters" group shows it. */
function adapterList(label: string, help: string) {
  return custom(AdapterList, { kind: 'adapters', label, help, group: 'Adapters', maxItems: MAX_ADAPTERS, min: -ADAPTER_SCALE_MAX, max: ADAPTER_SCALE_MAX, step: 0.05, default: NO_ADAPTERS });
}

/** The load settings (a model's settings page shows them in the "Adapters" group). */
export const ADAPTER_SETTINGS = {
  loraAdapters: adapterList('LoRA adapters', 'LoRA adapter files (GGUF, made for this model) and their scales. Scale 0 loads one without applying it: a request can set its scale.'),
  controlVectors: adapterList('Control vectors', 'Control vector files (GGUF, made for this model) and their strengths, added together.'),
  controlVectorLayerStart: integer({
    label: 'Control vector from layer',
    help: 'The first layer the control vectors steer (layer 0 is never steered).',
    group: 'Adapters',
    min: 1,
    max: 4096,
    default: 1,
    advanced: true,
  }),
  controlVectorLayerEnd: integer({
    label: 'Control vector to layer',
    help: 'The last layer the control vectors steer; 0: the model\'s last layer.',
    group: 'Adapters',
    min: 0,
    max: 4096,
    default: 0,
    advanced: true,
  }),
};

/** A request's own scales for the adapters its model was loaded with (absent: the load's). */
export const ADAPTER_REQUEST = {
  loraAdapters: custom(AdapterList, {
    kind: 'adapters',
    label: 'LoRA scales',
    help: 'Scales for this request of LoRA adapters the model was loaded with, by path; the others keep their load scale.',
    maxItems: MAX_ADAPTERS,
    min: -ADAPTER_SCALE_MAX,
    max: ADAPTER_SCALE_MAX,
  }),
};
