/**
 * Jest global setup: writes the test models of test/helpers/models.ts into test-output/models/.
 *
 * A model is regenerated only when its stamp (a hash of its options, of the generator sources and
 * of the vocab file's size and mtime) changed, so repeated runs start instantly. Generation is
 * deterministic, so a regenerated model is byte-identical as long as nothing it depends on changed.
 *
 * It also gives the run its own temporary folder (test/run-temp.ts), removed by the global teardown.
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { enterRunTemp } from './run-temp';
import { resolveVocabFile, testModelOptionsSchema, writeTestModel } from '../scripts/make-test-model';
import { testProjectorOptionsSchema, writeTestProjector } from '../scripts/make-test-projector';
import { REPO_ROOT, TEST_MODELS, TEST_MODELS_DIR, TEST_PROJECTORS } from './helpers/models';

const GENERATOR_SOURCES = ['main/gguf/types.ts', 'main/gguf/read.ts', 'main/gguf/write.ts', 'scripts/make-test-model.ts', 'scripts/make-test-projector.ts'];

async function stampFor(options: (typeof TEST_MODELS)[number]): Promise<string> {
  const hash = createHash('sha256');
  const parsed = testModelOptionsSchema.parse(options);
  hash.update(JSON.stringify({ ...parsed, out: path.basename(parsed.out) }));
  for (const file of GENERATOR_SOURCES) hash.update(await fsp.readFile(path.join(REPO_ROOT, file)));
  const vocab = await fsp.stat(resolveVocabFile(parsed.vocab, parsed.vocabDir));
  hash.update(`${vocab.size}:${vocab.mtimeMs}`);
  return hash.digest('hex');
}

async function upToDate(file: string, stamp: string): Promise<boolean> {
  try {
    const [saved] = await Promise.all([fsp.readFile(`${file}.stamp`, 'utf8'), fsp.access(file)]);
    return saved === stamp;
  } catch {
    return false;
  }
}

export default async function globalSetup(): Promise<void> {
  await fsp.mkdir(TEST_MODELS_DIR, { recursive: true });
  for (const options of TEST_MODELS) {
    const stamp = await stampFor(options);
    if (await upToDate(options.out, stamp)) continue;
    await writeTestModel(options);
    await fsp.writeFile(`${options.out}.stamp`, stamp);
  }
  for (const options of TEST_PROJECTORS) {
    const hash = createHash('sha256');
    const parsed = testProjectorOptionsSchema.parse(options);
    hash.update(JSON.stringify({ ...parsed, out: path.basename(parsed.out) }));
    for (const file of GENERATOR_SOURCES) hash.update(await fsp.readFile(path.join(REPO_ROOT, file)));
    const stamp = hash.digest('hex');
    if (await upToDate(options.out, stamp)) continue;
    await writeTestProjector(options);
    await fsp.writeFile(`${options.out}.stamp`, stamp);
  }
  // last: a setup that fails before it leaves nothing for a teardown jest then skips
  enterRunTemp();
}
