/**
 * A split model's file names (llama.cpp's gguf-split: `name-00001-of-00003.gguf`): the one pattern,
 * and what is derived from it (a part's number and every part's path, a name without the suffix).
 */
import path from 'path';

/** `-<part>-of-<count>` (five digits each), the suffix gguf-split gives every part. */
const SUFFIX = '-(\\d{5})-of-(\\d{5})';

/** A split part's file name: groups 1 the model's name, 2 the part, 3 how many parts. */
export const SPLIT_GGUF = new RegExp(`^(.*)${SUFFIX}\\.gguf$`, 'i');

/** A model's name (its file name without `.gguf`) without a split part's suffix. */
export const withoutSplitSuffix = (name: string): string => name.replace(new RegExp(`${SUFFIX}$`, 'i'), '');

/** A split model's part: its number, how many there are, and every part's path (in order); null for a file that is not a part. */
export function splitParts(file: string): { part: number; of: number; parts: string[] } | null {
  const m = SPLIT_GGUF.exec(path.basename(file));
  if (!m) return null;
  const of = Number(m[3]);
  const parts = Array.from({ length: of }, (_, i) => path.join(path.dirname(file), `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[3]}.gguf`));
  return { part: Number(m[2]), of, parts };
}
