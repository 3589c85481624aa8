/**
 * The projector a model loads with (load parameter mmproj): the one chosen in its load settings, else
 * the one its folder pairs with it (main/models/projector.ts: by file name, header name, or the
 * folder's one model and projector; never one made for another width). Headers are read once per
 * file while it is unchanged; a folder's other GGUFs are read only when their name says `mmproj` or
 * they are small enough to be one (a projector is at most a couple of GB). A projector the user
 * chooses is checked when the setting is saved (`projectorFileProblem`).
 */
import { promises as fsp, type Stats } from 'fs';
import path from 'path';
import type { LoadedModel } from '../engine/methods';
import type { EngineError, LoadParamsInput } from '../engine/protocol';
import { ggufString, readGgufHeader } from '../gguf/read';
import type { GgufError } from '../gguf/types';
import { headerFacts, type HeaderFacts } from './facts';
import { pairProjectors, type PairFile } from './projector';
import { splitParts } from '../gguf/split-name';

/** A folder's GGUF larger than this is read for pairing only when its name says mmproj. */
const PROJECTOR_MAX_BYTES = 2 * 1024 ** 3;
const NAMED_PROJECTOR = /(^|[-_.])mmproj([-_.]|$)/i;
/** Headers kept at most. */
const KEPT = 500;

export class ProjectorPicker {
  private readonly facts = new Map<string, HeaderFacts | null>();

  private async factsOf(file: string, size: number, mtimeMs: number): Promise<HeaderFacts | null> {
    const key = `${file}\0${size}\0${mtimeMs}`;
    if (this.facts.has(key)) return this.facts.get(key)!;
    const got = await readGgufHeader(file).then(headerFacts, () => null);
    if (this.facts.size >= KEPT) this.facts.clear();
    this.facts.set(key, got);
    return got;
  }

  /** The projector paired with `modelPath` in its folder, or null (none, or the folder cannot be read). */
  async projectorFor(modelPath: string): Promise<string | null> {
    const file = path.resolve(modelPath);
    const dir = path.dirname(file);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    const models: PairFile[] = [];
    const projectors: PairFile[] = [];
    for (const name of names) {
      if (!/\.gguf$/i.test(name)) continue;
      const at = path.join(dir, name);
      // a split model's later parts are not models of their own
      const split = splitParts(at);
      if (split && split.parts[0] !== at) continue;
      const st = await fsp.stat(at).catch(() => undefined);
      if (!st?.isFile()) continue;
      if (at !== file && !NAMED_PROJECTOR.test(name) && st.size > PROJECTOR_MAX_BYTES) {
        models.push({ path: at, name: null }); // a model: counted, not read
        continue;
      }
      const f = await this.factsOf(at, st.size, st.mtimeMs);
      if (!f) continue;
      (f.projector ? projectors : models).push({ path: at, name: f.name, width: f.width });
    }
    if (!models.some((m) => m.path === file)) return null;
    return pairProjectors(models, projectors).get(file) ?? null;
  }

  /**
   * The settings of a load of `file` with, for images, the projector the settings choose, else the one
   * its folder pairs with it (`paired`: that one, null when the settings chose or none pairs). The app's
   * loads and estimates (library.ts) and the API server's (server/models.ts) take them from here.
   */
  async withProjector(file: string, settings: LoadParamsInput): Promise<{ params: LoadParamsInput; paired: string | null }> {
    const paired = settings.mmproj === undefined ? await this.projectorFor(file).catch(() => null) : null;
    return { params: paired ? { ...settings, mmproj: paired } : settings, paired };
  }
}

/**
 * Loads with the projector the folder paired (`paired`, already in params.mmproj): when llama.cpp
 * refuses that projector (another kind of model, positions the engine does not support), the model
 * loads without it and `warn` says why. A projector the user chose is never dropped (paired: null).
 */
export async function loadPaired(load: (params: LoadParamsInput) => Promise<LoadedModel>, params: LoadParamsInput, paired: string | null, warn: (message: string) => void): Promise<LoadedModel> {
  try {
    return await load(params);
  } catch (e) {
    const err = e as EngineError;
    if (!paired || err.code === 'aborted' || !/projector/i.test(err.message ?? '')) throw e;
    warn(`loads without its projector ${paired}: ${err.message}`);
    const { mmproj: _projector, ...without } = params;
    return load(without);
  }
}

/**
 * Why `file` cannot be the projector a user chooses for `model` (null: it can): it must be a regular
 * file whose GGUF header reads (main/gguf's reader) and says it is a vision projector (facts.ts), made
 * for a text model of the model's width where the projector is of llama.cpp's current converter
 * (general.type mmproj, a width over 0: older projectors' projection_dim is not the model's). Checked when
 * the setting is saved, so a wrong path is said then, not at the next load. Words for people, naming the
 * file.
 */
export async function projectorFileProblem(file: string, model: string): Promise<string | null> {
  let st: Stats;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? `${file} does not exist` : `${file} cannot be read (${err.code ?? err.message})`;
  }
  if (!st.isFile()) return `${file} is not a file${st.isDirectory() ? ' (it is a folder)' : ''}: choose the model's mmproj file`;
  let facts: HeaderFacts;
  let typed: boolean;
  try {
    const header = await readGgufHeader(file);
    facts = headerFacts(header);
    typed = ggufString(header, 'general.type') === 'mmproj';
  } catch (e) {
    const err = e as Partial<GgufError> & NodeJS.ErrnoException;
    return `${file} cannot be read as a GGUF file (${err.detail ?? err.code ?? err.message})`;
  }
  if (!facts.projector) return `${file} is not a vision projector (its architecture is ${facts.architecture ?? 'not given'}): choose the model's mmproj file`;
  // only llama.cpp's current converter (general.type mmproj) writes the text model's width there; the older one
  // (LLaVA 1.5/1.6, SigLIP projectors) writes the CLIP's own projection size or 0, which says nothing of the model
  const width = typed && facts.width ? await readGgufHeader(model).then((h) => headerFacts(h).width, () => null) : null;
  if (facts.width !== null && width !== null && facts.width !== width) {
    return `${file} is a projector for a model ${facts.width} wide, and ${path.basename(model)} is ${width} wide: choose the mmproj file made for this model`;
  }
  return null;
}
