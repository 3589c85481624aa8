/**
 * The MODEL argument of info, run and fit: a path to a .gguf, or the name of a model in the library
 * (the data folder's models folder and the models added by reference: its file name without
 * .gguf, as the picker shows it), as LM Studio's `lms` takes them. A name must match exactly one model.
 */
import fs from 'fs';
import path from 'path';
import { readGgufMetadata } from '../gguf/read';
import { fileRole, isListingKey, notAModel } from '../models/facts';
import { walkModels } from '../models/listing';
import { FILE_ROLE_LABELS, loadableRole, type FileRole } from '../params';
import { UsageError } from './args';

/** Names listed in a message, at most. */
const NAMES_SHOWN = 5;

/** A model file's name as the picker shows it: without .gguf. */
const modelName = (file: string) => path.basename(file).replace(/\.gguf$/i, '');

/**
 * The file `arg` names: itself when it exists or looks like a path, else the one library model of
 * that name. `library`: the models folder in use and the paths of the models added by reference (read only when needed).
 */
export async function resolveModelArg(arg: string, library: () => { folder: string; references: string[] }): Promise<string> {
  if (fs.existsSync(arg) || arg.includes('/') || arg.includes(path.sep)) return refuseNonModel(arg); // a path: the engine says what else is wrong with it
  const { folder: dir, references } = library();
  const listed = (await walkModels(dir)).models;
  const models = [...listed, ...references.filter((p) => !listed.some((m) => m.path === p)).map((p) => ({ path: p, name: modelName(p) }))];
  const name = modelName(arg);
  const matches = models.filter((m) => m.name === name);
  if (matches.length === 1) return refuseNonModel(matches[0].path);
  const list = (paths: string[]) => paths.slice(0, NAMES_SHOWN).join(', ') + (paths.length > NAMES_SHOWN ? `, … (${paths.length} in all)` : '');
  if (matches.length > 1) throw new UsageError(`${arg} names ${matches.length} models in ${dir}: give the path of one (${list(matches.map((m) => m.path).sort())})`);
  const names = [...new Set(models.map((m) => m.name))];
  throw new UsageError(
    `${arg} is no file, nor the name of a model in ${dir}: give a .gguf file's path or a model's name` + (names.length ? ` (${list(names)})` : ' (the folder has none)'),
  );
}

/** What `file` is by its header (fileRole); null when it cannot be read (the engine then says why). */
async function roleOf(file: string): Promise<FileRole | null> {
  const metadata = await readGgufMetadata(file, isListingKey).catch(() => null);
  return metadata ? fileRole({ metadata, tensors: [] }) : null;
}

/** `file`, unless its header says it is a projector or an adapter. */
async function refuseNonModel(file: string): Promise<string> {
  const role = await roleOf(file);
  if (!loadableRole(role)) throw new UsageError(notAModel(file, role));
  return file;
}

/**
 * A file a flag names to go with the model (--mmproj a projector, --draft a model): refused with a
 * usage error naming the flag when it is not there, or its header says it is something else (a file
 * that is no readable GGUF: the engine says why). An estimate would otherwise leave out a projector it
 * cannot read, without a word.
 */
export async function checkCompanionFile(flag: string, file: string, want: FileRole): Promise<void> {
  if (!fs.existsSync(file)) throw new UsageError(`--${flag}: ${file} does not exist`);
  const role = (await roleOf(file)) ?? want;
  if (role !== want) throw new UsageError(`--${flag}: ${file} is a ${FILE_ROLE_LABELS[role]}, not a ${FILE_ROLE_LABELS[want]}`);
}
