/**
 * Vision projector pairing in the models folder: which mmproj file goes with which model. A projector
 * pairs with the models in its own folder, by file name first (`mmproj-<model>-f16.gguf` or
 * `<model>-mmproj.gguf` against `<model>-Q4_K_M.gguf`: the names without `mmproj`, the
 * quantization and the split suffix), then by metadata (the headers' `general.name` alike). A
 * projector that matches neither pairs with nothing (the models folder is often flat: the one
 * projector there is not every model's), unless the folder holds that one model and that one
 * projector and their widths agree (LM Studio's <publisher>/<repo>/ folders). A projector made for
 * another width (its clip.vision.projection_dim against the model's embedding length, where both
 * headers say) never pairs: llama.cpp's mtmd refuses it.
 */
import path from 'path';
import { quantOf } from './hub';
import { withoutSplitSuffix } from '../gguf/split-name';

export interface PairFile {
  path: string;
  /** the header's general.name */
  name: string | null;
  /** a model's embedding length, a projector's projection dim (HeaderFacts.width); null or absent: unknown */
  width?: number | null;
}

/** Whether the widths allow the pair (unknown allows it). */
function widthsAgree(model: PairFile, projector: PairFile): boolean {
  return model.width == null || projector.width == null || model.width === projector.width;
}

/** A file's name reduced to what names the model: no .gguf, split suffix, quantization or `mmproj`. */
export function modelStem(file: string, p: path.PlatformPath = path): string {
  let base = withoutSplitSuffix(p.basename(file).replace(/\.gguf$/i, ''));
  const quant = quantOf(`${base}.gguf`);
  if (quant) base = base.slice(0, base.length - quant.length);
  return base
    .toLowerCase()
    .replace(/(^|[-_.])mmproj(?=$|[-_.])/g, '$1')
    .replace(/[-_.]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The projector for each model that has one: model path → projector path. */
export function pairProjectors(models: readonly PairFile[], projectors: readonly PairFile[], p: path.PlatformPath = path): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of models) {
    const here = projectors.filter((x) => p.dirname(x.path) === p.dirname(m.path) && widthsAgree(m, x));
    if (here.length === 0) continue;
    const stem = modelStem(m.path, p);
    // the same stem first, else the longest that starts the model's (gemma-3-4b-it-qat pairs with
    // mmproj-gemma-3-4b-it-qat before mmproj-gemma-3-4b-it, whatever the folder's order)
    const byName = here
      .map((x) => ({ x, s: modelStem(x.path, p) }))
      .filter(({ s }) => s !== '' && (stem === s || stem.startsWith(`${s}-`)))
      .sort((a, b) => b.s.length - a.s.length || (a.x.path < b.x.path ? -1 : a.x.path > b.x.path ? 1 : 0))[0]?.x;
    const byMeta = m.name ? here.find((x) => x.name !== null && x.name.toLowerCase() === m.name!.toLowerCase()) : undefined;
    // the folder's one model and one projector, whose widths both headers give and agree
    const alone = models.filter((x) => p.dirname(x.path) === p.dirname(m.path)).length === 1 &&
      projectors.filter((x) => p.dirname(x.path) === p.dirname(m.path)).length === 1 && m.width != null && here[0].width != null ? here[0] : undefined;
    const chosen = byName ?? byMeta ?? alone;
    if (chosen) out.set(m.path, chosen.path);
  }
  return out;
}
