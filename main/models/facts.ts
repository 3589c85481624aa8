/**
 * What a model's GGUF header says about it, as the library shows it (architecture, name,
 * quantization, parameters, layers, trained context, chat template, vision projector), read from the
 * header main/gguf parses (no second reader) without loading the model.
 */
import { GgufHeader, ggufNumber, ggufString } from '../gguf/read';
import type { GgufValue } from '../gguf/types';
import { FILE_TYPE_NAMES } from '../engine/protocol';
import { poolingOf, type Pooling } from '../params/docs';
import { FILE_ROLE_LABELS, type FileRole } from '../params/adapters';
import { adapterKind } from '../gguf/adapters';

export interface HeaderFacts {
  architecture: string | null;
  /** general.name */
  name: string | null;
  /** general.file_type by llama.cpp's name (Q4_K_M, F16, …) */
  fileType: string | null;
  /** elements summed over the tensors */
  parameters: number;
  layers: number | null;
  trainedContext: number | null;
  hasChatTemplate: boolean;
  /** what the file is (fileRole): a model, or a projector or adapter that goes with one */
  role: FileRole;
  /** a vision projector (mmproj), not a model to chat with (role projector) */
  projector: boolean;
  /**
   * The width that pairs a model with a projector: a model's embedding length, a projector's
   * projection dim (clip.vision.projection_dim: the text model's width it was made for); null when
   * the header does not say.
   */
  width: number | null;
}

export function headerFacts(h: GgufHeader): HeaderFacts {
  const architecture = ggufString(h, 'general.architecture') ?? null;
  const ft = ggufNumber(h, 'general.file_type');
  const arch = (key: string) => (architecture === null ? undefined : ggufNumber(h, `${architecture}.${key}`));
  const role = fileRole(h);
  const projector = role === 'projector';
  return {
    role,
    architecture,
    name: ggufString(h, 'general.name') ?? null,
    fileType: ft === undefined ? null : FILE_TYPE_NAMES[ft] ?? `type ${ft}`,
    parameters: h.tensors.reduce((n, t) => n + t.nElements, 0),
    layers: arch('block_count') ?? null,
    trainedContext: arch('context_length') ?? null,
    hasChatTemplate: ggufString(h, 'tokenizer.chat_template') !== undefined,
    projector,
    width: (projector ? ggufNumber(h, 'clip.vision.projection_dim') : arch('embedding_length')) ?? null,
  };
}

/**
 * What a file is (FILE_ROLES): a vision projector (architecture clip, or general.type mmproj), a LoRA
 * adapter or a control vector (main/gguf/adapters.ts adapterKind), else a model. From the metadata alone
 * (no tensors) a control vector is told by its architecture, controlvector, as llama.cpp writes it.
 */
export function fileRole(h: Pick<GgufHeader, 'metadata' | 'tensors'>): FileRole {
  if (ggufString(h, 'general.architecture') === 'clip' || ggufString(h, 'general.type') === 'mmproj') return 'projector';
  return adapterKind(h) ?? 'model';
}

/** Why `file`, of `role` (null: unreadable), is not loaded as a model; what to do with it instead. */
export function notAModel(file: string, role: FileRole | null): string {
  if (role === 'projector') return `${file} is a vision projector, not a model: it loads with the model it belongs to (its Projector load setting, or paired by its folder)`;
  if (role === 'lora' || role === 'controlVector') return `${file} is a ${FILE_ROLE_LABELS[role]}, not a model: add it to a model's load settings (Adapters)`;
  return `${file} is not a model`;
}

/** Whether a metadata key is one headerPooling or fileRole reads (readGgufMetadata decodes only these). */
export const isListingKey = (key: string): boolean =>
  key === 'general.architecture' || key === 'general.type' || key === 'adapter.type' || key.endsWith('.pooling_type');

/**
 * Whether `found` holds the architecture and its pooling_type, so a read can stop there: a file with a
 * pooling is a model (an embedder or a reranker; the keys fileRole reads are in the metadata before it,
 * as llama.cpp's converters write them, or absent).
 */
export function hasListingKeys(found: ReadonlyMap<string, GgufValue>): boolean {
  const arch = found.get('general.architecture');
  return arch?.type === 'string' && found.has(`${arch.value}.pooling_type`);
}

/**
 * How llama.cpp pools the model (main/params/docs.ts poolingOf): its `<arch>.pooling_type`, none
 * when absent; what tells an embedding model or a reranker from a model to chat with.
 */
export function headerPooling(h: Pick<GgufHeader, 'metadata'>): Pooling {
  const architecture = ggufString(h, 'general.architecture');
  return poolingOf(architecture === undefined ? undefined : ggufNumber(h, `${architecture}.pooling_type`));
}
