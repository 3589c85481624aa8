/**
 * The recommended models (resources/recommended.json, main/models/recommended.ts): the real file
 * parses and covers every use and size class; a broken file (not JSON, the wrong shape, missing,
 * too large) is refused with an error naming the file and what is wrong, also through hub.recommended
 * as composeApp builds the app (the real store and engine host; no model).
 */
import fs from 'fs';
import path from 'path';
import { RECOMMENDED_SIZES, RECOMMENDED_USES, repoIdSchema } from '../../main/ipc/models';
import { loadRecommended, RECOMMENDED_MAX_BYTES, recommendedFile, RecommendedFileError } from '../../main/models/recommended';
import { chatApp, type ChatApp } from '../helpers/chat';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

jest.setTimeout(60_000);

let dir: string;
beforeAll(() => (dir = tempDir('hearth-recommended-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const REAL = path.join(REPO_ROOT, 'resources', 'recommended.json');
const realJson = () => JSON.parse(fs.readFileSync(REAL, 'utf8')) as { version: number; models: Record<string, unknown>[] };
const write = (name: string, content: string | object) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};

test('the real file is the default, parses, and lists every use in every size class with valid repositories and fields', async () => {
  expect(recommendedFile()).toBe(REAL);
  const models = await loadRecommended();
  expect(models).toHaveLength(realJson().models.length);
  for (const use of RECOMMENDED_USES) for (const size of RECOMMENDED_SIZES) expect([use, size, models.some((m) => m.use === use && m.size === size)]).toEqual([use, size, true]);
  for (const m of models) {
    expect(repoIdSchema.safeParse(m.repo).success).toBe(true);
    // the hub's GGUF repositories: the view opens their files
    expect(m.repo).toMatch(/GGUF$/i);
    expect(m.quant).toMatch(/^(Q\d|IQ\d|F16|BF16)/);
  }
  // size classes follow the parameter counts within each use
  for (const use of RECOMMENDED_USES) {
    const of = (size: string) => models.filter((m) => m.use === use && m.size === size).map((m) => m.parameters);
    expect(Math.max(...of('small'))).toBeLessThan(Math.min(...of('medium')));
    expect(Math.max(...of('medium'))).toBeLessThanOrEqual(Math.min(...of('large')));
  }
});

test('a file that is not JSON, of the wrong shape, missing or too large is refused, saying which file and why', async () => {
  const reason = async (file: string) => {
    const e = await loadRecommended(file).then(() => null, (err: Error) => err);
    expect(e).toBeInstanceOf(RecommendedFileError);
    expect(e!.message).toContain(file);
    return e!.message;
  };
  expect(await reason(write('cut.json', fs.readFileSync(REAL, 'utf8').slice(0, 200)))).toMatch(/not JSON/);
  const good = realJson();
  expect(await reason(write('use.json', { ...good, models: [{ ...good.models[0], use: 'poetry' }] }))).toMatch(/models\.0\.use/);
  expect(await reason(write('repo.json', { ...good, models: [{ ...good.models[0], repo: '../etc' }] }))).toMatch(/models\.0\.repo: a repository id is owner\/name/);
  expect(await reason(write('extra.json', { ...good, models: [{ ...good.models[0], url: 'https://example.com' }] }))).toMatch(/models\.0/);
  expect(await reason(write('twice.json', { ...good, models: [good.models[0], good.models[0]] }))).toMatch(/each repository is listed once/);
  expect(await reason(write('version.json', { ...good, version: 2 }))).toMatch(/version/);
  expect(await reason(write('empty.json', { version: 1, models: [] }))).toMatch(/models/);
  expect(await reason(path.join(dir, 'absent.json'))).toMatch(/missing/);
  expect(await reason(write('big.json', ' '.repeat(RECOMMENDED_MAX_BYTES + 1)))).toMatch(/larger than/);
  // the good one parses from elsewhere too
  await expect(loadRecommended(write('good.json', good))).resolves.toHaveLength(good.models.length);
});

describe('hub.recommended', () => {
  let a: ChatApp | undefined;
  afterEach(async () => {
    await a?.close();
    a = undefined;
  });

  test('answers the real list through IPC', async () => {
    a = chatApp({ model: null });
    const r = await a.app.services.handle('hub.recommended', {});
    expect((r as { models: unknown[] }).models).toHaveLength(realJson().models.length);
  });

  test('a broken file is an error reply naming it (the app stays up and answers the next call)', async () => {
    const broken = write('broken.json', '{"version": 1, "models": [');
    a = chatApp({ model: null, compose: { recommendedFile: broken } });
    const e = await a.app.services.handle('hub.recommended', {}).then(() => null, (err: { code: string; message: string }) => err);
    expect(e).toMatchObject({ code: 'internal' });
    expect(e!.message).toContain(broken);
    expect(e!.message).toMatch(/not JSON/);
    await expect(a.app.services.handle('models.list', {})).resolves.toEqual([]);
  });
});
