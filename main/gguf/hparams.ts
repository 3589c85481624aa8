/**
 * Hyperparameter values llama.cpp asserts on while loading (llama-model.cpp `load_hparams`: a
 * GGML_ASSERT aborts the whole engine host). Checked on the parsed header before llama.cpp sees the
 * file, so such a file gets invalid_model instead. Mirrors llama.cpp's asserts; keep in step with it.
 */
import { GgufHeader, ggufNumber, ggufString } from './read';

/** llama.cpp's LLAMA_MAX_LAYERS and LLAMA_MAX_EXPERTS (src/llama-hparams.h). */
export const LLAMA_MAX_LAYERS = 512;
export const LLAMA_MAX_EXPERTS = 1024;

/** The largest value of a numeric key that may be a scalar or a per-layer array. */
function maxOf(h: GgufHeader, key: string): number | undefined {
  const v = h.metadata.get(key);
  if (v?.type === 'array' && v.itemType !== 'array' && v.itemType !== 'string' && v.itemType !== 'bool') {
    let m = 0;
    for (const x of v.value as Iterable<number | bigint>) m = Math.max(m, Number(x));
    return m;
  }
  return ggufNumber(h, key);
}

/** Why llama.cpp would abort on this header's hyperparameters, or null. */
export function hparamProblem(h: GgufHeader): string | null {
  const arch = ggufString(h, 'general.architecture');
  if (!arch) return null; // llama.cpp refuses it cleanly
  const k = (name: string) => `${arch}.${name}`;
  const layers = ggufNumber(h, k('block_count'));
  if (layers !== undefined && !(layers > 0 && layers <= LLAMA_MAX_LAYERS)) {
    return `${k('block_count')} is ${layers}; llama.cpp supports 1 to ${LLAMA_MAX_LAYERS} layers`;
  }
  const nextn = ggufNumber(h, k('nextn_predict_layers'));
  if (layers !== undefined && nextn !== undefined && nextn > layers) return `${k('nextn_predict_layers')} (${nextn}) is more than ${k('block_count')} (${layers})`;
  const experts = ggufNumber(h, k('expert_count')) ?? 0;
  const used = maxOf(h, k('expert_used_count')) ?? 0;
  const groups = ggufNumber(h, k('expert_group_count')) ?? 0;
  const groupUsed = ggufNumber(h, k('expert_group_used_count')) ?? 0;
  if (experts > LLAMA_MAX_EXPERTS) return `${k('expert_count')} is ${experts}; llama.cpp supports at most ${LLAMA_MAX_EXPERTS}`;
  if (used > experts) return `${k('expert_used_count')} (${used}) is more than ${k('expert_count')} (${experts})`;
  if (experts > 0) {
    if (used === 0) return `${k('expert_used_count')} is 0 with ${experts} experts`;
    if (groups >= experts) return `${k('expert_group_count')} (${groups}) is not less than ${k('expert_count')} (${experts})`;
    if (groups > 1 && (experts % groups !== 0 || groupUsed === 0 || groupUsed >= groups)) {
      return `${k('expert_group_count')} (${groups}) and ${k('expert_group_used_count')} (${groupUsed}) do not fit ${experts} experts`;
    }
  } else if (groups !== 0) {
    return `${k('expert_group_count')} is ${groups} without experts`;
  }
  return null;
}
