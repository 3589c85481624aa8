/**
 * End to end: the Library page ("My models"). `npm start` in browser mode with the real engine host
 * over a data folder holding two tiny generated models and a split one (written with main/gguf's
 * writer), driven through Debian's Chromium with playwright-core: the page lists the models with their
 * header's facts, Delete asks first (Cancel keeps the files, Delete removes every part from disk and
 * the list), Load settings opens Settings → Models on that model, and a typed path is imported (a file
 * that is not a model refused with main's reason). Screenshots: test-output/screenshots/e2e-library-*.png.
 */
import fs from 'fs';
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, shot, until } from '../helpers/browser-mode';
import { tempDir } from '../helpers/engine';
import { copyModel, TINY_BPE, TINY_SPM, writeSplitModel } from '../helpers/models';

const WAIT = 60_000;

jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;
let split: string[] = [];
let outside: string;

const table = () => page.getByRole('table', { name: 'Models' });
const row = (name: string) => table().getByRole('row', { name, exact: true });
const names = async () => (await table().locator('tbody th > span:first-child').allTextContents()).map((t) => t.trim());

beforeAll(async () => {
  outside = tempDir('hearth-e2e-library-outside-');
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-library-',
    models: [TINY_SPM, TINY_BPE],
    prepare: () => undefined,
  });
  split = await writeSplitModel(TINY_SPM, path.join(e2e.dataDir, 'models'), 'big', 2);
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await page.getByRole('button', { name: 'My models' }).click();
  await page.getByRole('heading', { name: 'My models' }).waitFor({ timeout: WAIT });
  await until('the three models with their facts', async () => (await table().getByRole('row').count()) === 4 && (await table().getByText('llama').count()) === 3, WAIT);
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  fs.rmSync(outside, { recursive: true, force: true });
  expect(stopped).toBe(true);
});

test('the page lists the models with size, quantization, architecture, parameters and where they come from', async () => {
  expect(await names()).toEqual(['big', 'tiny-bpe', 'tiny-spm']);
  const cells = async (name: string) => (await row(name).getByRole('cell').allTextContents()).map((t) => t.trim());
  const spm = await cells('tiny-spm');
  expect(spm[0]).toMatch(/MiB$/);
  expect(spm[1]).toMatch(/^(F32|F16|Q\w+|BF16)$/);
  expect(spm[2]).toBe('llama');
  expect(spm[3]).toMatch(/^[\d.]+ [KMB]$/);
  expect(spm[4]).toBe('Models folder');
  // the split model is one row, its parts counted, its parameters those of the whole
  expect(await row('big').getByText('2 parts').count()).toBe(1);
  expect((await cells('big'))[3]).toBe(spm[3]);
  expect(await page.getByText(path.join(e2e.dataDir, 'models')).count()).toBe(1);
  await shot(page, 'library-list');
});

test('Load settings opens Settings → Models on that model', async () => {
  await row('tiny-bpe').getByRole('button', { name: 'Load settings of tiny-bpe' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.waitFor({ timeout: WAIT });
  expect(await dialog.getByRole('tab', { name: 'Models', exact: true }).getAttribute('aria-selected')).toBe('true');
  const select = dialog.getByRole('combobox', { name: 'Model to set up' });
  await until('the model chosen', async () => (await select.inputValue()) === path.join(e2e.dataDir, 'models', 'tiny-bpe.gguf'), WAIT);
  // the model's settings, not the folder/token/proxy above them: its picker focused and in view
  await until('the picker focused', async () => select.evaluate((el) => el === document.activeElement), WAIT);
  await until('the picker in view', async () => select.evaluate((el) => {
    const body = el.closest('.dialog-body') ?? el.closest('[role="dialog"]')!;
    const r = el.getBoundingClientRect(), b = body.getBoundingClientRect();
    return r.top >= b.top && r.bottom <= b.bottom;
  }), WAIT);
  await shot(page, 'library-load-settings');
  await dialog.getByRole('button', { name: 'Close' }).first().click();
  await dialog.waitFor({ state: 'detached' });
});

test('Delete asks first: Cancel keeps the files; Delete removes every part from disk and from the list', async () => {
  await row('big').getByRole('button', { name: 'Delete big' }).click();
  const ask = page.getByRole('dialog', { name: 'Delete big?' });
  await ask.waitFor();
  expect((await ask.getByRole('list', { name: 'Files to delete' }).getByRole('listitem').allTextContents()).map((t) => t.trim())).toEqual(split.map((p) => path.basename(p)));
  await shot(page, 'library-delete-ask');
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await ask.waitFor({ state: 'detached' });
  for (const p of split) expect(fs.existsSync(p)).toBe(true);

  await row('big').getByRole('button', { name: 'Delete big' }).click();
  await ask.getByRole('button', { name: 'Delete', exact: true }).click();
  await until('the split model gone from the list', async () => !(await names()).some((n) => n.startsWith('big')), WAIT);
  for (const p of split) expect(fs.existsSync(p)).toBe(false);
  expect(await names()).toEqual(['tiny-bpe', 'tiny-spm']);
});

test('the loaded model deleted: unloaded first, then gone', async () => {
  await row('tiny-bpe').getByRole('button', { name: 'Load tiny-bpe' }).click();
  await until('tiny-bpe loaded', async () => (await row('tiny-bpe').getByText('Loaded', { exact: true }).count()) === 1, WAIT);
  await row('tiny-bpe').getByRole('button', { name: 'Delete tiny-bpe' }).click();
  const ask = page.getByRole('dialog', { name: 'Delete tiny-bpe?' });
  expect(await ask.getByText('It is loaded: it is unloaded first.').count()).toBe(1);
  await ask.getByRole('button', { name: 'Delete', exact: true }).click();
  await until('tiny-bpe gone', async () => (await names()).join() === 'tiny-spm', WAIT);
  expect(fs.existsSync(path.join(e2e.dataDir, 'models', 'tiny-bpe.gguf'))).toBe(false);
});

test('import by path: a file that is not a model is refused with the reason; a model is copied in; a reference is removed, its file kept', async () => {
  const pathBox = page.getByRole('textbox', { name: 'Path of a .gguf file' });
  const how = page.getByRole('combobox', { name: 'How' });
  const bad = path.join(outside, 'notes.gguf');
  fs.writeFileSync(bad, 'not a model\n');
  await pathBox.fill(bad);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const refusal = page.locator('.library-import').getByRole('alert');
  await refusal.waitFor({ timeout: WAIT });
  expect((await refusal.textContent())!.length).toBeGreaterThan(10);
  await shot(page, 'library-import-refused');

  const good = path.join(outside, 'imported.gguf');
  copyModel(TINY_BPE, good);
  await pathBox.fill(good);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('.library-import').getByRole('status').filter({ hasText: 'Copied into the models folder: imported.gguf' }).waitFor({ timeout: WAIT });
  await until('the imported model listed', async () => (await names()).includes('imported'), WAIT);
  expect(fs.existsSync(path.join(e2e.dataDir, 'models', 'imported.gguf'))).toBe(true);

  const ref = path.join(outside, 'referenced.gguf');
  copyModel(TINY_SPM, ref);
  await pathBox.fill(ref);
  await how.selectOption('link');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  // a reference is named by its file, as the folder's models are
  const refName = 'referenced';
  await until('the reference listed', async () => (await names()).includes(refName), WAIT);
  expect(await row(refName).getByRole('cell').nth(4).textContent()).toBe('A file (by reference)');
  expect(await row(refName).getByRole('button', { name: `Delete ${refName}` }).count()).toBe(0);
  await shot(page, 'library-imported');
  await row(refName).getByRole('button', { name: `Remove ${refName} from library` }).click();
  await until('the reference gone', async () => !(await names()).includes(refName), WAIT);
  // a toast says the file stays
  await page.getByRole('status').filter({ hasText: `${refName} removed from the library; the file stays at ${ref}` }).waitFor({ timeout: WAIT });
  expect(fs.existsSync(ref)).toBe(true);
});

test('an empty library says so and links to Find models', async () => {
  for (const name of await names()) {
    await row(name).getByRole('button', { name: `Delete ${name}` }).click();
    await page.getByRole('dialog', { name: `Delete ${name}?` }).getByRole('button', { name: 'Delete', exact: true }).click();
    await until(`${name} gone`, async () => !(await names()).includes(name), WAIT);
  }
  await page.getByText('No models yet.').waitFor({ timeout: WAIT });
  await shot(page, 'library-empty');
  await page.getByRole('button', { name: 'Find models' }).last().click();
  await page.getByRole('heading', { name: 'Find models' }).waitFor();
});
