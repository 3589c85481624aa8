/**
 * A split model's file names (llama.cpp's gguf-split: `name-00001-of-00003.gguf`): the one pattern,
 * and what is derived from it (a part's number and every part's path, a name without the suffix), and
 * llama.cpp's own rule for the parts a load opens (splitPartPaths).
 */
import path from 'path';

/**
 * The most parts a split model the engine loads may have (llama.cpp takes up to 65,535): each is held
 * open and its header read while it loads, and real models come in at most a few hundred.
 */
export const MAX_SPLIT_PARTS = 1024;

/** `-<part>-of-<count>` (five digits each), the suffix gguf-split gives every part. */
const SUFFIX = '-(\\d{5})-of-(\\d{5})';

/** A split part's file name: groups 1 the model's name, 2 the part, 3 how many parts. */
export const SPLIT_GGUF = new RegExp(`^(.*)${SUFFIX}\\.gguf$`, 'i');

/** A model's name (its file name without `.gguf`) without a split part's suffix. */
export const withoutSplitSuffix = (name: string): string => name.replace(new RegExp(`${SUFFIX}$`, 'i'), '');

/** A part's name as gguf-split and llama.cpp write it (llama_split_path): `<prefix>-00002-of-00003.gguf`. */
const partName = (prefix: string, part: number, count: number | string): string => `${prefix}-${String(part).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;

/**
 * The paths of a split model's parts as llama.cpp names them from the first part's path and the header's
 * `split.count` (llama_get_list_splits: the path must end exactly with the first part's suffix for that
 * count), or null where it refuses the name.
 */
export function splitPartPaths(file: string, count: number): string[] | null {
  const first = partName('', 1, count);
  if (file.length <= first.length || !file.endsWith(first)) return null;
  const prefix = file.slice(0, -first.length);
  return Array.from({ length: count }, (_, i) => partName(prefix, i + 1, count));
}

/**
 * A split model's part: its number, how many there are, and every part's path (in order); null for a
 * file that is not a part (its name's count is 0 or its number outside 1 to the count), or whose name
 * counts more parts than the engine loads (MAX_SPLIT_PARTS): the library lists and imports such a file
 * as itself (the engine refuses it where its header says so).
 */
export function splitParts(file: string): { part: number; of: number; parts: string[] } | null {
  const m = SPLIT_GGUF.exec(path.basename(file));
  if (!m) return null;
  const of = Number(m[3]);
  const part = Number(m[2]);
  // no part of 0 parts, a part 0 or one past the count (gguf-split counts from 1)
  if (of < 1 || of > MAX_SPLIT_PARTS || part < 1 || part > of) return null;
  const parts = Array.from({ length: of }, (_, i) => path.join(path.dirname(file), partName(m[1], i + 1, m[3])));
  return { part, of, parts };
}
