/**
 * The recommended models the first-run view shows (hub.recommended): a curated list of GGUF
 * repositories of the Hugging Face hub by use (chat, coding, reasoning, embedding) and size class,
 * kept in resources/recommended.json. The file ships inside the app (electron-builder.yml `files`)
 * and is read at each request from the project root (paths.ts projectRoot: the repository, or
 * app.asar when packaged), checked with recommendedFileSchema: a file that is missing, too large,
 * not JSON or not of that shape is refused with an error that names it and says what is wrong.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { recommendedFileSchema, type RecommendedModelDTO } from '../ipc/models';
import { projectRoot } from '../paths';

/** the most the file may hold */
export const RECOMMENDED_MAX_BYTES = 256 * 1024;

/** Where the list is: resources/recommended.json under the project root. */
export function recommendedFile(): string {
  return path.join(projectRoot(), 'resources', 'recommended.json');
}

/** The file could not be used: its message names it and says why. */
export class RecommendedFileError extends Error {}

/** The list in `file`, in the file's order; throws a RecommendedFileError naming the file and what is wrong with it. */
export async function loadRecommended(file: string = recommendedFile()): Promise<RecommendedModelDTO[]> {
  const refuse = (why: string) => new RecommendedFileError(`the recommended models (${file}) could not be read: ${why}`);
  let text: string;
  try {
    // stat + readFile, not open: Electron serves both from app.asar directly (an open copies the file out first)
    const { size } = await fsp.stat(file);
    if (size > RECOMMENDED_MAX_BYTES) throw refuse(`it is larger than ${RECOMMENDED_MAX_BYTES} bytes`);
    const bytes = await fsp.readFile(file);
    // (it may have grown between the two)
    if (bytes.length > RECOMMENDED_MAX_BYTES) throw refuse(`it is larger than ${RECOMMENDED_MAX_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof RecommendedFileError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw refuse(err.code === 'ENOENT' ? 'the file is missing' : err.message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw refuse(`it is not JSON (${(e as Error).message})`);
  }
  const parsed = recommendedFileSchema.safeParse(json);
  if (!parsed.success) throw refuse(parsed.error.issues.map((i) => `${i.path.join('.') || 'the file'}: ${i.message}`).join('; '));
  return parsed.data.models;
}
