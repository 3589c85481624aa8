/**
 * End to end: the picker follows the models folder, and a model's error says which file it is about
 * and goes once it no longer applies. `npm start` in browser mode with the real engine host, a model
 * generated into the folder while the page is open (scripts/make-test-model.ts), driven through
 * Debian's Chromium with playwright-core. Screenshots: test-output/screenshots/e2e-models-folder-*.png.
 */
import fs from 'fs';
import path from 'path';
import { Page } from 'playwright-core';
import { writeTestModel } from '../../scripts/make-test-model';
import { formatBytes } from '../../renderer/src/app/format';
import { BrowserMode, openBrowserMode, shot, until } from '../helpers/browser-mode';
import { TINY_BPE, TINY_SPM, writeHalfModel } from '../helpers/models';

/** How long a change of the folder may take to reach the page (the folder is followed, not polled by the page). */
const FOLLOW_WAIT = 15_000;
const WAIT = 60_000;
const BROKEN = 'half-downloaded.gguf';

jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;

const picker = () => page.getByRole('banner').getByRole('combobox', { name: 'Model' });
const options = async () => (await picker().locator('option').allTextContents()).map((t) => t.trim());
const errorAlert = () => page.getByRole('alert').filter({ has: page.getByRole('button', { name: 'Dismiss model error' }) });
const modelsDir = () => path.join(e2e.dataDir, 'models');

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-models-folder-',
    models: [TINY_SPM, TINY_BPE],
    prepare: (dataDir) => writeHalfModel(path.join(dataDir, 'models', BROKEN)),
  });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await until('the models in the picker', async () => (await picker().locator('option').count()) === 4, WAIT);
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

test('a model written into the models folder while the page is open appears in the picker; removed, it leaves it', async () => {
  expect(await options()).not.toContainEqual(expect.stringMatching(/^added-later/));
  const file = path.join(modelsDir(), 'added-later.gguf');
  await writeTestModel({ out: file, size: 'tiny', seed: 7, name: 'added later' });
  // listed with its whole size (a walk during the writes is followed by one after them)
  const label = `added-later · ${formatBytes(fs.statSync(file).size)}`;
  await until('the new model in the picker', async () => (await options()).includes(label), FOLLOW_WAIT);
  await shot(page, 'models-folder-added');
  expect(await picker().locator('option', { hasText: 'added-later' }).getAttribute('value')).toBe(file);
  fs.rmSync(file);
  await until('the removed model gone from the picker', async () => !(await options()).some((o) => o.startsWith('added-later')), FOLLOW_WAIT);
  expect(await options()).toEqual(['Choose a model…', expect.stringMatching(/^half-downloaded · /), expect.stringMatching(/^tiny-bpe · /), expect.stringMatching(/^tiny-spm · /)]);
});

test("a model's error names its file, and goes once another model loads", async () => {
  await picker().selectOption(path.join(modelsDir(), BROKEN));
  await errorAlert().waitFor({ timeout: WAIT });
  const text = (await errorAlert().textContent()) ?? '';
  expect(text).toMatch(new RegExp(`^${BROKEN.replace('.', '\\.')}: This model file cannot be read`));
  await shot(page, 'models-folder-error');
  await picker().selectOption(path.join(modelsDir(), path.basename(TINY_SPM)));
  await page.getByRole('meter', { name: 'Context used' }).waitFor({ timeout: WAIT });
  expect(await errorAlert().count()).toBe(0);
});

test('an error about a model goes when another load of a model starts elsewhere (another page)', async () => {
  await picker().selectOption(path.join(modelsDir(), BROKEN));
  await errorAlert().waitFor({ timeout: WAIT });
  // (the broken file was refused before anything loaded: tiny-spm is still loaded)
  // a second page loads another model: the first one's error no longer applies
  const other = await e2e.newPage();
  try {
    await other.goto(e2e.url);
    const otherPicker = other.getByRole('banner').getByRole('combobox', { name: 'Model' });
    await until('the second page\'s models', async () => (await otherPicker.locator('option').count()) === 4, WAIT);
    await otherPicker.selectOption(path.join(modelsDir(), path.basename(TINY_BPE)));
    await errorAlert().waitFor({ state: 'detached', timeout: WAIT });
  } finally {
    await other.close();
  }
});
